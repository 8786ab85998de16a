#!/usr/bin/env python3
"""A small scripted HTTPS server for what a real Pebble cannot do.

Pebble 2.4.0 has no renewalInfo, no profiles and never misbehaves, so the
tests that need a hostile or feature-rich server talk to this one instead.
Every reply under /dir/ is canned per path (see ROUTES).

Under /ca/ is a small ACME CA (class MiniCA) for what Pebble 2.4 lacks:
profiles (draft-ietf-acme-profiles), dns-account-01
(draft-ietf-acme-dns-account-label), dns-persist-01
(draft-ietf-acme-dns-persist) and a made-up type, "example-proof-01", that
wants a payload of its own. It validates the DNS types by asking
pebble-challtestsrv's DNS (ACME_TEST_DNS) for the TXT records, issues with
openssl from a throw-away CA, and does not check JWS signatures (the
library's signing is tested against Pebble). GET /ca/log returns the
requests received since the last GET /ca/log, as [method, path] pairs.

Usage: scripted_server.py --cert CERT --key KEY [--dns-var VAR] [--offer TYPE,...] -- CMD...
--dns-var names the variable holding the DNS server (HOST:PORT) the CA asks
instead of ACME_TEST_DNS (e.g. ACME_TEST_KNOT_RESOLVER, to validate against
the Knot server of pebble_harness.py --knot); --offer limits the challenge
types the CA offers.
Runs CMD with ACME_TEST_SCRIPTED=https://127.0.0.1:PORT in its environment
and exits with CMD's status. CERT/KEY default to ACME_TEST_SERVER_CERT and
ACME_TEST_SERVER_KEY, which pebble_harness.py exports.
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import random
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

from pebble_harness import wrapped

BASE = ""  # https://127.0.0.1:PORT, set at start
DNS_VAR = "ACME_TEST_DNS"  # --dns-var
OFFER = None  # --offer: the challenge types offered, None for all


def directory(**extra):
    d = {
        "newNonce": BASE + "/acme/new-nonce",
        "newAccount": BASE + "/acme/new-account",
        "newOrder": BASE + "/acme/new-order",
        "revokeCert": BASE + "/acme/revoke-cert",
        "keyChange": BASE + "/acme/key-change",
    }
    d.update(extra)
    return d


def full_directory():
    return directory(
        renewalInfo=BASE + "/acme/renewal-info",
        newAuthz=BASE + "/acme/new-authz",
        meta={
            "termsOfService": "https://example.com/tos.pdf",
            "website": "https://example.com/",
            "caaIdentities": ["example.com", "ca.example.net"],
            "externalAccountRequired": True,
            "profiles": {
                "classic": "The same profile you're accustomed to",
                "tlsserver": "Certificates for TLS servers only",
            },
        },
    )


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits = {}
    lock = threading.Lock()

    def log_message(self, fmt, *args):
        if os.environ.get("ACME_TEST_VERBOSE"):
            sys.stderr.write("scripted: " + fmt % args + "\n")

    def count(self):
        with self.lock:
            n = self.hits.get(self.path, 0) + 1
            self.hits[self.path] = n
        return n

    def reply(self, status, body=b"", ctype="application/json", headers=None, length=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Replay-Nonce", "c2NyaXB0ZWQtbm9uY2U")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path.startswith("/ca/"):
            CA.handle(self, body)
            return
        self.do_GET()

    def do_GET(self):
        if self.path.startswith("/ca/"):
            CA.handle(self, None)
            return
        route = ROUTES.get(self.path)
        if route is None:
            self.reply(404, json.dumps({"type": "urn:ietf:params:acme:error:malformed",
                                        "detail": "no such path"}), "application/problem+json")
            return
        route(self)


def r_full(h):
    h.reply(200, json.dumps(full_directory()))


def r_truncated(h):
    text = json.dumps(directory())
    h.reply(200, text[: len(text) // 2])


def r_cut(h):
    # Promise more bytes than are sent, then close: a reply cut mid-way.
    h.reply(200, json.dumps(directory())[:40], length=4000)
    h.close_connection = True


def r_notjson(h):
    h.reply(200, "<html><body>Welcome to nginx!</body></html>", "text/html")


def r_wrongtype(h):
    h.reply(200, json.dumps(directory()), "text/plain")


def r_big(h):
    pad = "x" * (2 * 1024 * 1024)
    h.reply(200, json.dumps(dict(directory(), padding=pad)))


def r_stall(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", "1000")
    h.end_headers()
    h.wfile.write(b'{"newNonce":')
    h.wfile.flush()
    time.sleep(10)
    h.close_connection = True


def r_flaky(h):
    # 503 with Retry-After twice, then the directory.
    if h.count() <= 2:
        h.reply(503, json.dumps({"type": "urn:ietf:params:acme:error:serverInternal",
                                 "detail": "try later"}), "application/problem+json",
                {"Retry-After": "0"})
    else:
        h.reply(200, json.dumps(directory()))


def r_always503(h):
    h.reply(503, "", None, {"Retry-After": "0"})


def r_slow503(h):
    # Always 503, each time asking for 2 s: retries that would outlast the
    # request's timeout.
    h.reply(503, json.dumps({"type": "urn:ietf:params:acme:error:serverInternal",
                             "detail": "down for a while"}), "application/problem+json",
            {"Retry-After": "2"})


def r_ratelimited(h):
    h.reply(429, json.dumps({"type": "urn:ietf:params:acme:error:rateLimited",
                             "detail": "too many"}), "application/problem+json",
            {"Retry-After": "3600"})


def r_missing(h):
    d = directory()
    del d["newOrder"]
    h.reply(200, json.dumps(d))


def r_http_urls(h):
    d = directory()
    d["newAccount"] = d["newAccount"].replace("https:", "http:")
    h.reply(200, json.dumps(d))


def r_redirect(h):
    h.reply(302, "", None, {"Location": "/dir/redirect"})


def r_deep(h):
    h.reply(200, "[" * 100000 + "]" * 100000)


def r_problem_huge(h):
    subs = [{"type": "urn:ietf:params:acme:error:rejectedIdentifier",
             "detail": "no", "identifier": {"type": "dns", "value": "n%d.example" % i}}
            for i in range(5000)]
    h.reply(400, json.dumps({"type": "urn:ietf:params:acme:error:rejectedIdentifier",
                             "detail": "many", "subproblems": subs}),
            "application/problem+json")


ROUTES = {
    "/dir/full": r_full,
    "/dir/truncated": r_truncated,
    "/dir/cut": r_cut,
    "/dir/notjson": r_notjson,
    "/dir/wrongtype": r_wrongtype,
    "/dir/big": r_big,
    "/dir/stall": r_stall,
    "/dir/flaky": r_flaky,
    "/dir/always503": r_always503,
    "/dir/slow503": r_slow503,
    "/dir/ratelimited": r_ratelimited,
    "/dir/missing": r_missing,
    "/dir/http-urls": r_http_urls,
    "/dir/redirect": r_redirect,
    "/dir/deep": r_deep,
    "/dir/problem-huge": r_problem_huge,
}


# ---------------------------------------------------------------------------
# MiniCA: the ACME CA under /ca/


def b64u(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_thumbprint(jwk):
    # RFC 7638: the required members only, sorted, no whitespace.
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"),
                "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canon = json.dumps({k: jwk[k] for k in required}, sort_keys=True, separators=(",", ":"))
    return b64u(hashlib.sha256(canon.encode()).digest())


def account_label(url):
    # draft-ietf-acme-dns-account-label: base32 of SHA-256(URL)[:10], lowercase.
    return base64.b32encode(hashlib.sha256(url.encode()).digest()[:10]).decode().lower()


def dns_txt(name):
    """TXT strings at name, asked of challtestsrv's DNS (or --dns-var's) over UDP."""
    host, port = os.environ[DNS_VAR].rsplit(":", 1)
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 16, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(q, (host, int(port)))
        r = s.recv(65535)
    _, _, qd, an, _, _ = struct.unpack(">HHHHHH", r[:12])
    pos = 12

    def skip_name(pos):
        while True:
            n = r[pos]
            if n == 0:
                return pos + 1
            if n & 0xC0 == 0xC0:
                return pos + 2
            pos += 1 + n

    for _ in range(qd):
        pos = skip_name(pos) + 4
    out = []
    for _ in range(an):
        pos = skip_name(pos)
        rtype, _, _, rdlen = struct.unpack(">HHIH", r[pos:pos + 10])
        pos += 10
        rdata = r[pos:pos + rdlen]
        pos += rdlen
        if rtype != 16:
            continue
        text, i = b"", 0
        while i < len(rdata):
            text += rdata[i + 1:i + 1 + rdata[i]]
            i += 1 + rdata[i]
        out.append(text.decode())
    return out


def persist_matches(record, issuers, accounturi, wildcard, now):
    """draft-ietf-acme-dns-persist: "<issuer>; accounturi=<uri>[; policy=wildcard]
    [; persistUntil=<unix seconds>]", the accounturi compared exactly."""
    parts = [p.strip() for p in record.split(";")]
    if parts[0].lower() not in issuers:
        return False
    params = {}
    for p in parts[1:]:
        if "=" not in p:
            return False
        k, v = p.split("=", 1)
        params[k.strip().lower()] = v.strip()
    if params.get("accounturi") != accounturi:
        return False
    if wildcard and params.get("policy", "").lower() != "wildcard":
        return False
    until = params.get("persistuntil")
    if until is not None and (not until.isdigit() or int(until) < now):
        return False
    return True


class MiniCA:
    PROFILES = {
        "classic": ("The ordinary 90-day certificate", 90),
        "shortlived": ("Six-day certificates, renewed often", 6),
        "tlsserver": ("Certificates for TLS servers only", 90),
    }
    ISSUERS = ["scripted.test", "ca.scripted.test"]
    PROOF_TYPE = "example-proof-01"

    def __init__(self):
        self.lock = threading.Lock()
        self.log = []
        self.accounts = {}   # url -> jwk
        self.orders = {}     # id -> dict
        self.authzs = {}     # id -> dict
        self.certs = {}      # id -> pem
        self.responses = []  # (type, payload) of every challenge POST
        self.next_id = 1
        self.dir = None

    def ensure_ca(self):
        if self.dir:
            return
        self.dir = tempfile.mkdtemp(prefix="miniCA-")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
                        "/CN=scripted test CA", "-keyout", self.path("ca.key"),
                        "-out", self.path("ca.pem")], check=True, capture_output=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def new_id(self):
        self.next_id += 1
        return str(self.next_id)

    def url(self, path):
        return BASE + path

    def directory(self):
        return {
            "newNonce": self.url("/ca/new-nonce"),
            "newAccount": self.url("/ca/new-account"),
            "newOrder": self.url("/ca/new-order"),
            "revokeCert": self.url("/ca/revoke-cert"),
            "keyChange": self.url("/ca/key-change"),
            "meta": {
                "termsOfService": "https://scripted.test/terms",
                "website": "https://scripted.test/",
                "caaIdentities": self.ISSUERS,
                "externalAccountRequired": False,
                "profiles": {k: v[0] for k, v in self.PROFILES.items()},
            },
        }

    @staticmethod
    def problem(h, status, kind, detail):
        h.reply(status, json.dumps({"type": "urn:ietf:params:acme:error:" + kind,
                                    "detail": detail, "status": status}),
                "application/problem+json")

    def handle(self, h, body):
        path = h.path
        if path == "/ca/log":
            with self.lock:
                log, self.log = self.log, []
            h.reply(200, json.dumps(log))
            return
        if path == "/ca/responses":
            with self.lock:
                h.reply(200, json.dumps(self.responses))
            return
        with self.lock:
            self.log.append([h.command, path])
            self.ensure_ca()
            if path == "/ca/dir":
                h.reply(200, json.dumps(self.directory()))
                return
            if path == "/ca/new-nonce":
                h.reply(200 if h.command == "HEAD" else 204, "", None,
                        {"Cache-Control": "no-store"})
                return
            if body is None:
                self.problem(h, 405, "malformed", "POST only")
                return
            try:
                jws = json.loads(body)
                protected = json.loads(b64u_decode(jws["protected"]))
                payload = b64u_decode(jws["payload"]) if jws["payload"] else b""
                payload = json.loads(payload) if payload else None
            except (ValueError, KeyError) as e:
                self.problem(h, 400, "malformed", "not a JWS: %s" % e)
                return
            if protected.get("url") != self.url(path):
                self.problem(h, 400, "unauthorized", "url in the JWS is not the request's")
                return
            try:
                self.post(h, path, protected, payload)
            except KeyError as e:
                self.problem(h, 404, "malformed", "no such object: %s" % e)

    def post(self, h, path, protected, payload):
        if path == "/ca/new-account":
            jwk = protected["jwk"]
            tp = jwk_thumbprint(jwk)
            url = self.url("/ca/acct/" + tp[:16])
            exists = url in self.accounts
            if not exists and (payload or {}).get("onlyReturnExisting"):
                self.problem(h, 400, "accountDoesNotExist", "no account for this key")
                return
            self.accounts[url] = jwk
            h.reply(200 if exists else 201, json.dumps({"status": "valid", "contact":
                                                         (payload or {}).get("contact", [])}),
                    headers={"Location": url})
            return
        account = protected.get("kid")
        if account not in self.accounts:
            self.problem(h, 400, "accountDoesNotExist", "unknown kid")
            return
        if path.startswith("/ca/acct/"):
            h.reply(200, json.dumps({"status": "valid"}), headers={"Location": account})
            return
        if path == "/ca/new-order":
            self.new_order(h, account, payload)
        elif path.startswith("/ca/order/") and path.endswith("/finalize"):
            self.finalize(h, self.orders[path.split("/")[3]], payload)
        elif path.startswith("/ca/order/"):
            o = self.orders[path.split("/")[3]]
            h.reply(200, json.dumps(self.order_json(o)), headers={"Location": o["url"]})
        elif path.startswith("/ca/authz/"):
            h.reply(200, json.dumps(self.authz_json(self.authzs[path.split("/")[3]])))
        elif path.startswith("/ca/chall/"):
            _, _, _, aid, ctype = path.split("/")
            self.challenge(h, self.authzs[aid], ctype, payload)
        elif path.startswith("/ca/cert/"):
            h.reply(200, self.certs[path.split("/")[3]], "application/pem-certificate-chain")
        else:
            self.problem(h, 404, "malformed", "no such path")

    def new_order(self, h, account, payload):
        profile = payload.get("profile")
        if profile is not None and profile not in self.PROFILES:
            self.problem(h, 400, "invalidProfile", "no profile %r" % profile)
            return
        oid = self.new_id()
        o = {"id": oid, "url": self.url("/ca/order/" + oid), "account": account,
             "identifiers": payload["identifiers"], "profile": profile or "classic",
             "authzs": [], "status": "pending", "cert": None}
        for ident in payload["identifiers"]:
            aid = self.new_id()
            value = ident["value"]
            wildcard = value.startswith("*.")
            self.authzs[aid] = {"id": aid, "account": account, "wildcard": wildcard,
                                "value": value[2:] if wildcard else value,
                                "token": b64u(os.urandom(16)), "status": "pending",
                                "error": None, "solved": None}
            o["authzs"].append(aid)
        self.orders[oid] = o
        h.reply(201, json.dumps(self.order_json(o)), headers={"Location": o["url"]})

    def order_json(self, o):
        if o["status"] == "pending" and all(self.authzs[a]["status"] == "valid"
                                            for a in o["authzs"]):
            o["status"] = "ready"
        if any(self.authzs[a]["status"] == "invalid" for a in o["authzs"]):
            o["status"] = "invalid"
        j = {"status": o["status"], "identifiers": o["identifiers"], "profile": o["profile"],
             "authorizations": [self.url("/ca/authz/" + a) for a in o["authzs"]],
             "finalize": o["url"] + "/finalize",
             "expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))}
        if o["cert"]:
            j["certificate"] = self.url("/ca/cert/" + o["cert"])
        return j

    def challenges(self, a):
        aid = a["id"]
        chs = [{"type": "dns-01", "token": a["token"]},
               {"type": "dns-account-01", "token": a["token"]},
               {"type": "dns-persist-01", "accounturi": a["account"],
                "issuer-domain-names": self.ISSUERS}]
        if not a["wildcard"]:
            chs.append({"type": self.PROOF_TYPE, "token": a["token"]})
        if OFFER is not None:
            chs = [c for c in chs if c["type"] in OFFER]
        for c in chs:
            c["url"] = self.url("/ca/chall/%s/%s" % (aid, c["type"]))
            c["status"] = a["status"] if a["solved"] in (None, c["type"]) else "pending"
            if a["error"] and a["solved"] == c["type"]:
                c["error"] = a["error"]
        return chs

    def authz_json(self, a):
        j = {"status": a["status"], "identifier": {"type": "dns", "value": a["value"]},
             "challenges": self.challenges(a),
             "expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))}
        if a["wildcard"]:
            j["wildcard"] = True
        return j

    def challenge(self, h, a, ctype, payload):
        self.responses.append([ctype, payload])
        keyauth = a["token"] + "." + jwk_thumbprint(self.accounts[a["account"]])
        digest = b64u(hashlib.sha256(keyauth.encode()).digest())
        if a["status"] == "pending":
            ok, why = False, ""
            if ctype == self.PROOF_TYPE and not a["wildcard"]:
                ok = payload == {"keyAuthorization": keyauth}
                why = "the payload is not {\"keyAuthorization\": ...}: %r" % (payload,)
            elif payload != {}:
                why = "the response to %s must be {}" % ctype
            elif ctype == "dns-01":
                found = dns_txt("_acme-challenge." + a["value"])
                ok, why = digest in found, "no TXT %s at _acme-challenge (%r)" % (digest, found)
            elif ctype == "dns-account-01":
                name = "_%s._acme-challenge.%s" % (account_label(a["account"]), a["value"])
                found = dns_txt(name)
                ok, why = digest in found, "no TXT %s at %s (%r)" % (digest, name, found)
            elif ctype == "dns-persist-01":
                found = dns_txt("_validation-persist." + a["value"])
                ok = any(persist_matches(r, self.ISSUERS, a["account"], a["wildcard"],
                                         time.time()) for r in found)
                why = "no matching record at _validation-persist (%r)" % (found,)
            else:
                why = "no such challenge type %s" % ctype
            a["solved"] = ctype
            a["status"] = "valid" if ok else "invalid"
            if not ok:
                a["error"] = {"type": "urn:ietf:params:acme:error:unauthorized", "detail": why,
                              "status": 403}
        ch = [c for c in self.challenges(a) if c["type"] == ctype]
        h.reply(200, json.dumps(ch[0] if ch else {}),
                headers={"Link": "<%s>;rel=\"up\"" % self.url("/ca/authz/" + a["id"])})

    def finalize(self, h, o, payload):
        self.order_json(o)
        if o["status"] != "ready":
            self.problem(h, 403, "orderNotReady", "order is %s" % o["status"])
            return
        der = b64u_decode(payload["csr"])
        csr = self.path("csr-%s.pem" % o["id"])
        with open(csr, "w") as f:
            f.write("-----BEGIN CERTIFICATE REQUEST-----\n%s\n-----END CERTIFICATE REQUEST-----\n"
                    % base64.encodebytes(der).decode().strip())
        days = self.PROFILES[o["profile"]][1]
        proc = subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", self.path("ca.pem"),
                               "-CAkey", self.path("ca.key"), "-days", str(days),
                               "-copy_extensions", "copyall", "-set_serial",
                               str(random.randrange(1, 2 ** 63))],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            self.problem(h, 400, "badCSR", proc.stderr.strip())
            return
        with open(self.path("ca.pem")) as f:
            self.certs[o["id"]] = proc.stdout + f.read()
        o["cert"] = o["id"]
        o["status"] = "valid"
        h.reply(200, json.dumps(self.order_json(o)), headers={"Location": o["url"]})


CA = MiniCA()


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients abort on purpose here (size caps, timeouts): not an error.
        if os.environ.get("ACME_TEST_VERBOSE"):
            super().handle_error(request, client_address)


def main():
    global BASE, DNS_VAR, OFFER
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert", default=os.environ.get("ACME_TEST_SERVER_CERT"))
    ap.add_argument("--key", default=os.environ.get("ACME_TEST_SERVER_KEY"))
    ap.add_argument("--dns-var", default=DNS_VAR)
    ap.add_argument("--offer")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    DNS_VAR = args.dns_var
    if args.offer:
        OFFER = set(args.offer.split(","))
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd or not args.cert or not args.key:
        ap.error("need --cert, --key (or the harness's variables) and a command")

    server = QuietServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    BASE = "https://127.0.0.1:%d" % server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

    env = dict(os.environ, ACME_TEST_SCRIPTED=BASE)
    child = subprocess.Popen(wrapped(cmd), env=env)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    rc = child.wait()
    server.shutdown()
    if CA.dir:
        shutil.rmtree(CA.dir, ignore_errors=True)
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
