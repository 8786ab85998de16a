#!/usr/bin/env python3
"""An HTTPS reverse proxy that makes the harness's Pebble hostile, step by step.

It exists because Pebble never misbehaves: its replies are always well formed,
on its own origin, of the right type and size, and prompt. libacme must still
fail cleanly (the right error code, a message naming the cause, no crash, no
hang, no file outside its store) when a CA's reply to an order-flow request is
broken or malicious, so this proxy breaks the one reply a test asks for and
forwards everything else to the real Pebble unchanged, Host header included
(so Pebble builds every URL from the proxy's address). Directory-level
hostility is scripted_server.py's job; this is the flow after it.

    hostile_proxy.py [--cert CERT --key KEY] -- CMD [ARGS...]

Run it inside pebble_harness.py (see acme_proxy.py for the variables it
needs). CMD runs behind ACME_TEST_WRAP with these added:

  ACME_TEST_HOSTILE_DIRECTORY  https://127.0.0.1:PORT/dir (Pebble's, through the proxy)
  ACME_TEST_HOSTILE_OTHER      https://localhost:PORT: the same proxy under another
                               origin; URLs the proxy plants on "another host" point
                               here (under /evil/), so a request the client should
                               have refused would show up in the log
  ACME_TEST_HOSTILE_CONTROL    the control file (JSON), read on every request
  ACME_TEST_HOSTILE_LOG        what the proxy did, one JSON object per line

The control file (write it atomically): {"case": ID, STEP: SCENARIO, ...}.
STEP is the request being answered:
  newAccount   POST to newAccount           newOrder   POST to newOrder
  order        POST-as-GET of an order      authz      POST-as-GET of an authorization
  challenge    POST to a challenge          finalize   POST to an order's finalize URL
  cert         POST-as-GET of a certificate (default or alternate chain)
and SCENARIO one of these (unknown names are forwarded untouched):
  Pebble's reply, changed:
    location-other-host, location-http      Location on https://localhost:PORT/evil/...
                                            or on http:// (newAccount, newOrder)
    content-type-html, content-type-text    Content-Type text/html, text/plain
    truncated-json, invalid-json, deep-json the body cut in half, not JSON, or
                                            100 000 nested arrays
    status-number                           "status": 7
    authorizations-missing, -object, -number  "authorizations" absent, {...}, 3
    finalize-other-host, certificate-other-host  that URL on the other origin
    token-dotdot-path, token-dotdot, token-slash, token-empty
                                            every challenge token "../../../etc/x",
                                            "..", "a/b", ""
    challenge-url-other-host                every challenge URL on the other origin
    identifier-missing                      no "identifier"
    challenges-10000, challenges-10000-and-real
                                            10 000 challenges of unknown types,
                                            instead of or before the real ones
    other-leaf, root-leaf                   the first chain Pebble issued through the
                                            proxy (another key), or Pebble's root
    huge                                    2 MiB of text after the chain
    garbage-base64                          non-base64 in the leaf's PEM body
    link-alternate-other-host               a Link rel="alternate" on the other origin
  made up, Pebble not asked:
    503-twice     503 with Retry-After: 0 the first two times, then forwarded
    500-always    500 with a serverInternal problem, every time
    problem-5000  403 rejectedIdentifier with 5000 subproblems
    stall         200, headers promising 2000 bytes, 15 of them, then 30 s of silence
    redirect-self 302 to the request's own URL
    ratelimited   429 rateLimited with Retry-After: 3600, naming Let's Encrypt's
                  new-orders-per-account limit (Pebble 2.4 has no rate limits)
    paused        429 rateLimited for a paused identifier: an unpause URL in the
                  detail, no Retry-After
    close         the connection closed without a reply, every time (a CA whose
                  server died mid-request)
    silent-after-N  forwarded N times, then no answer at all (a CA that stops
                  answering): the connection is held silent for 120 s
Counters ("the first two times") are kept per case and step, so a new case
starts afresh. A badNonce problem from Pebble is always passed on untouched
(Pebble refuses a share of good nonces; the client sends the request again),
and replies the proxy makes up carry a fresh nonce from Pebble.

Log lines: {"action":A,"case":ID,"path":P,"scenario":S,"status":N,"step":STEP}
with action "forward" (untouched), "mutate" (Pebble's reply, changed),
"answer" (made up without asking Pebble), "badNonce" (passed on), or
"foreign" for any request that reached a planted /evil/ URL (answered 404):
the client should never send one.
"""
import http.client
import json
import os
import time
import urllib.parse

import acme_proxy
from acme_proxy import problem_type

BAD_NONCE = "urn:ietf:params:acme:error:badNonce"
OTHER_PREFIX = "/evil"
STALL_SECONDS = 30
CAP_PADDING = 2 * 1024 * 1024  # beyond libacme's default 1 MiB reply cap

# Pebble 2.4.0's resource paths (wfe.go); newAccount and newOrder come from
# its directory.
RESOURCE_PREFIXES = (
    ("/my-order/", "order"),
    ("/finalize-order/", "finalize"),
    ("/authZ/", "authz"),
    ("/chalZ/", "challenge"),
    ("/certZ/", "cert"),
)


class HostileProxy(acme_proxy.Proxy):
    def __init__(self, *args):
        super().__init__(*args)
        self.counts = {}
        self.first_cert = None  # the first chain Pebble issued, for "another leaf"

    def count(self, case, step):
        with self.lock:
            n = self.counts.get((case, step), 0) + 1
            self.counts[(case, step)] = n
            return n

    def other(self, url):
        """url moved to the other origin (same server, under /evil/)."""
        u = urllib.parse.urlsplit(url)
        return f"https://localhost:{self.port}{OTHER_PREFIX}{u.path}"

    def http_scheme(self, url):
        """url with http:// instead of https:// (same host and port)."""
        return "http://" + url.split("://", 1)[1]

    def pebble_root(self):
        """Pebble's issuing root (PEM), from its management API."""
        mgmt = urllib.parse.urlsplit(os.environ["ACME_TEST_PEBBLE_MGMT"])
        conn = http.client.HTTPSConnection(mgmt.hostname, mgmt.port, context=self.ctx,
                                           timeout=30)
        try:
            conn.request("GET", "/roots/0")
            return conn.getresponse().read()
        finally:
            conn.close()


# ---- reply mutations: f(proxy, status, headers, body) -> (status, headers, body)

def header_set(headers, name, value):
    out = [(k, v) for k, v in headers if k.lower() != name.lower()]
    if value is not None:
        out.append((name, value))
    return out


def header_get(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def json_change(change):
    """A mutation of the reply's JSON object."""
    def mutate(proxy, status, headers, body):
        obj = json.loads(body)
        change(proxy, obj)
        return status, headers, json.dumps(obj, separators=(",", ":")).encode()
    return mutate


def location(to):
    def mutate(proxy, status, headers, body):
        loc = header_get(headers, "Location")
        return status, header_set(headers, "Location", to(proxy, loc) if loc else None), body
    return mutate


def content_type(value):
    def mutate(proxy, status, headers, body):
        return status, header_set(headers, "Content-Type", value), body
    return mutate


def truncated(proxy, status, headers, body):
    return status, headers, body[: len(body) // 2]


def invalid_json(proxy, status, headers, body):
    return status, headers, b'{"status": pending, "expires": }'


def deep_json(proxy, status, headers, body):
    return status, headers, b"[" * 100000 + b"]" * 100000


def set_field(name, value):
    def change(proxy, obj):
        obj[name] = value
    return json_change(change)


def drop_field(name):
    def change(proxy, obj):
        obj.pop(name, None)
    return json_change(change)


def other_field(name):
    """The URL in obj[name], when there is one, moved to the other origin."""
    def change(proxy, obj):
        if isinstance(obj.get(name), str):
            obj[name] = proxy.other(obj[name])
    return json_change(change)


def tokens(value):
    def change(proxy, obj):
        for ch in obj.get("challenges", []):
            ch["token"] = value
    return json_change(change)


def challenge_urls_other(proxy, obj):
    for ch in obj.get("challenges", []):
        ch["url"] = proxy.other(ch["url"])


def many_challenges(keep_real):
    def change(proxy, obj):
        # Small ones, so that 10 000 stay under libacme's 1 MiB reply cap.
        base = proxy.base
        junk = [{"type": "x-%d" % i, "url": "%s/x/%d" % (base, i), "token": "dG9rZW4"}
                for i in range(10000)]
        obj["challenges"] = junk + (obj["challenges"] if keep_real else [])
    return json_change(change)


def other_leaf(proxy, status, headers, body):
    """The chain of the first order the proxy saw (another key than any
    later order's, since keys are only reused for the same name), or
    Pebble's root."""
    return status, headers, proxy.first_cert or proxy.pebble_root()


def root_leaf(proxy, status, headers, body):
    return status, headers, proxy.pebble_root()


def huge_pem(proxy, status, headers, body):
    # Text outside PEM blocks is allowed (RFC 7468), so this is a valid chain
    # but for its size.
    pad = (b"x" * 76 + b"\n") * (CAP_PADDING // 77 + 1)
    return status, headers, body + pad


def garbage_base64(proxy, status, headers, body):
    text = body.decode()
    begin = text.index("-----BEGIN CERTIFICATE-----\n") + len("-----BEGIN CERTIFICATE-----\n")
    return status, headers, (text[:begin + 64] + "!*@#%^&(" * 8 + text[begin + 128:]).encode()


def link_alternate_other(proxy, status, headers, body):
    url = f"https://localhost:{proxy.port}{OTHER_PREFIX}/alternate/1"
    return status, headers + [("Link", f'<{url}>;rel="alternate"')], body


MUTATIONS = {
    # Location (newAccount, newOrder)
    "location-other-host": location(lambda p, u: p.other(u)),
    "location-http": location(lambda p, u: p.http_scheme(u)),
    # any JSON reply
    "content-type-html": content_type("text/html"),
    "truncated-json": truncated,
    "invalid-json": invalid_json,
    "deep-json": deep_json,
    "status-number": set_field("status", 7),
    # order objects (newOrder, order, finalize)
    "authorizations-missing": drop_field("authorizations"),
    "authorizations-object": set_field("authorizations", {"a": "b"}),
    "authorizations-number": set_field("authorizations", 3),
    "finalize-other-host": other_field("finalize"),
    "certificate-other-host": other_field("certificate"),
    # authorizations
    "token-dotdot-path": tokens("../../../etc/x"),
    "token-dotdot": tokens(".."),
    "token-slash": tokens("a/b"),
    "token-empty": tokens(""),
    "challenge-url-other-host": json_change(challenge_urls_other),
    "identifier-missing": drop_field("identifier"),
    "challenges-10000": many_challenges(False),
    "challenges-10000-and-real": many_challenges(True),
    # certificates
    "other-leaf": other_leaf,
    "root-leaf": root_leaf,
    "content-type-text": content_type("text/plain"),
    "huge": huge_pem,
    "garbage-base64": garbage_base64,
    "link-alternate-other-host": link_alternate_other,
}


# ---- made-up answers: f(handler, n, log) with n the count in this case and
# step; each returns the status it sent, or None to forward the request
# instead. log(status) records the answer before it is sent.

def server_error(status, retry_after, times):
    def answer(h, n, log):
        if times and n > times:
            return None
        extra = [("Retry-After", retry_after)] if retry_after is not None else []
        log(status)
        h.problem(status, acme_proxy.SERVER_INTERNAL,
                  f"hostile_proxy: HTTP {status} number {n} (control file)",
                  extra + h.nonce_header())
        return status
    return answer


def many_subproblems(h, n, log):
    subs = [{"type": "urn:ietf:params:acme:error:rejectedIdentifier",
             "detail": "no", "identifier": {"type": "dns", "value": "n%d.example" % i}}
            for i in range(5000)]
    body = json.dumps({"type": "urn:ietf:params:acme:error:rejectedIdentifier",
                       "detail": "hostile_proxy: 5000 subproblems", "status": 403,
                       "subproblems": subs}).encode()
    log(403)
    h.problem(403, None, None, h.nonce_header(), body=body)
    return 403


def stall(h, n, log):
    """Headers promising 2000 bytes, a few of them, then silence."""
    log(200)
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", "2000")
    for k, v in h.nonce_header():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(b'{"status":"proc')
    h.wfile.flush()
    time.sleep(STALL_SECONDS)
    h.close_connection = True
    return 200


def redirect_self(h, n, log):
    log(302)
    h.reply(302, [("Location", h.path), *h.nonce_header()], b"")
    return 302


RATE_LIMITED = "urn:ietf:params:acme:error:rateLimited"


def rate_limited(detail, retry_after):
    def answer(h, n, log):
        log(429)
        extra = [("Retry-After", retry_after)] if retry_after else []
        h.problem(429, RATE_LIMITED, detail, extra + h.nonce_header())
        return 429
    return answer


SILENT_SECONDS = 120


def silent_after(limit):
    def answer(h, n, log):
        if n <= limit:
            return None
        log(0)
        time.sleep(SILENT_SECONDS)
        h.close_connection = True
        return 0
    return answer


def close(h, n, log):
    log(0)
    h.close_connection = True
    return 0


def answer_of(scenario):
    if scenario and scenario.startswith("silent-after-"):
        return silent_after(int(scenario[len("silent-after-"):]))
    return ANSWERS.get(scenario)


ANSWERS = {
    "ratelimited": rate_limited(
        "too many new orders (300) from this account in the last 3h0m0s, retry after "
        "2099-01-01 00:00:00 UTC: see "
        "https://letsencrypt.org/docs/rate-limits/#new-orders-per-account", "3600"),
    "close": close,
    "paused": rate_limited(
        "Your account is temporarily prevented from requesting certificates for "
        "paused.example and possibly others. Please visit: "
        "https://portal.example/sfe/v1/unpause?jwt=eyJhbGciOi.e30.c2ln", None),
    "503-twice": server_error(503, "0", 2),
    "500-always": server_error(500, None, 0),
    "problem-5000": many_subproblems,
    "stall": stall,
    "redirect-self": redirect_self,
}


class Handler(acme_proxy.Handler):
    def step(self, path):
        if self.command != "POST":
            return None
        if path == self.proxy.paths.get("newAccount"):
            return "newAccount"
        if path == self.proxy.paths.get("newOrder"):
            return "newOrder"
        for prefix, step in RESOURCE_PREFIXES:
            if path.startswith(prefix):
                return step
        return None

    def log(self, **entry):
        self.proxy.record(path=self.path_only(), **entry)

    def foreign(self):
        self.log(action="foreign", case=None, scenario=None, status=404, step=None)
        self.problem(404, "urn:ietf:params:acme:error:malformed",
                     "hostile_proxy: a planted URL on another origin was requested")

    def do_GET(self):
        if self.path_only().startswith(OTHER_PREFIX + "/"):
            self.foreign()
            return
        self.forward()

    def do_POST(self):
        body = self.read_body()
        path = self.path_only()
        if path.startswith(OTHER_PREFIX + "/"):
            self.foreign()
            return
        step = self.step(path)
        c = self.proxy.control()
        case = c.get("case")
        scenario = c.get(step) if step else None
        n = self.proxy.count(case, step) if scenario else 0
        answer = answer_of(scenario)
        if answer and answer(self, n, lambda status: self.log(
                action="answer", case=case, scenario=scenario, status=status,
                step=step)) is not None:
            return
        status, rh, data = self.ask_pebble(body)
        action = "forward"
        mutate = MUTATIONS.get(scenario)
        if rh is not None and problem_type(data) == BAD_NONCE:
            action = "badNonce"
        elif rh is not None and mutate and 200 <= status < 300:
            status, rh, data = mutate(self.proxy, status, rh, data)
            action = "mutate"
        elif rh is not None and step == "cert" and status == 200 and not self.proxy.first_cert:
            self.proxy.first_cert = data
        self.log(action=action, case=case, scenario=scenario, status=status, step=step)
        self.send_on(status, rh, data)


def env_of(proxy, control, log):
    return {
        "ACME_TEST_HOSTILE_DIRECTORY": proxy.base + "/dir",
        "ACME_TEST_HOSTILE_OTHER": f"https://localhost:{proxy.port}",
        "ACME_TEST_HOSTILE_CONTROL": control,
        "ACME_TEST_HOSTILE_LOG": log,
    }


if __name__ == "__main__":
    acme_proxy.run("hostile_proxy", Handler, env_of, __doc__.splitlines()[0],
                   proxy_cls=HostileProxy)
