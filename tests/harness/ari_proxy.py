#!/usr/bin/env python3
"""An HTTPS reverse proxy that gives the harness's Pebble ARI (RFC 9773).

It exists because Pebble 2.4.0 (Debian 12) has no renewalInfo resource and
ignores "replaces" in newOrder, so libacme's ARI code could otherwise only be
tested against canned replies. Everything except renewalInfo is the real
Pebble: the proxy forwards each request unchanged, Host header included, so
Pebble builds every URL it hands out (directory, Location, Link) from the
proxy's address and checks the JWS "url" of each POST against it.

    ari_proxy.py [--cert CERT --key KEY] -- CMD [ARGS...]

Run it inside pebble_harness.py, which exports ACME_TEST_DIRECTORY (the
Pebble to forward to), ACME_TEST_CA_BUNDLE (trusted for Pebble's listener and
for this one) and ACME_TEST_SERVER_CERT / ACME_TEST_SERVER_KEY (the default
CERT and KEY). CMD runs with these variables added:

  ACME_TEST_ARI_DIRECTORY        https://127.0.0.1:PORT/dir: Pebble's directory plus
                                 "renewalInfo" (and the control's "directory_extra")
  ACME_TEST_ARI_PLAIN_DIRECTORY  https://127.0.0.1:PORT/dir-plain: Pebble's directory
                                 as it is (no renewalInfo), still through the proxy
  ACME_TEST_ARI_CONTROL          the control file (JSON), read on every request
  ACME_TEST_ARI_LOG              what the proxy saw, one JSON object per line

The control file (write it atomically, e.g. to a temporary name and rename):
  window              {"start": S, "end": E}: the suggestedWindow; a string is sent
                      as it is (so malformed times can be tested), a number is
                      seconds from now (the proxy's clock), sent as RFC 3339
  retry_after         Retry-After header value of renewalInfo replies (optional)
  retry_after_for     {certID: value}: Retry-After for these certificates instead
  delay               seconds each renewalInfo reply waits before it is sent, so
                      that concurrent requests overlap (optional)
  status              HTTP status of renewalInfo replies (default 200); a non-2xx
                      status answers with a problem document
  body, content_type  send this body verbatim instead of the window (default type
                      application/json)
  already_replaced_once
                      true: the next newOrder that carries "replaces" is answered
                      409 urn:ietf:params:acme:error:alreadyReplaced (with a fresh
                      nonce from Pebble) and the proxy sets this back to false in
                      the file; later newOrders go to Pebble
  replaces_malformed_once
                      the same, answered as CAs that predate alreadyReplaced do
                      (Pebble before 2.10, older Boulder): 409
                      urn:ietf:params:acme:error:malformed
  directory_extra     object merged into /dir (e.g. {"renewalInfo": ""})

Log lines (keys sorted, no spaces):
  {"certID":ID,"conn":PORT,"in_flight":N,"kind":"renewalInfo","status":N}
      conn: the client's port (one per connection); in_flight: renewalInfo
      requests being answered when this one arrived, itself included (the
      largest over a run is the most that were in flight at once)
  {"kind":"newOrder","problem":TYPE-or-null,"replaces":ID-or-null,"status":N}
  (Pebble refuses a share of good nonces with badNonce; such newOrders are
  logged too, and the client sends them again.)

CMD runs behind ACME_TEST_WRAP (e.g. valgrind) when that is set. The
forwarding plumbing is acme_proxy.py, shared with hostile_proxy.py.
"""
import datetime
import json
import threading
import time

import acme_proxy
from acme_proxy import jws_payload, problem_type

ALREADY_REPLACED = "urn:ietf:params:acme:error:alreadyReplaced"
MALFORMED = "urn:ietf:params:acme:error:malformed"
# One-shot refusals of a newOrder that carries "replaces": control key ->
# the problem type of the 409 and its detail.
REPLACES_REFUSALS = (
    ("already_replaced_once", ALREADY_REPLACED, "ari_proxy: certificate {} was already replaced"),
    ("replaces_malformed_once", MALFORMED,
     "ari_proxy: cannot replace certificate {}: it already has a replacement order"),
)


def rfc3339(value):
    """A control time: strings verbatim, numbers as seconds from now."""
    if isinstance(value, str):
        return value
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=value)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def take_once(proxy, key):
    """True once per key=true written by the test."""
    def change(c):
        if not c.get(key):
            return None  # nothing to take: the file is left alone
        c[key] = False
        return c
    return proxy.update_control(change) is not None


class AriProxy(acme_proxy.Proxy):
    def __init__(self, *args):
        super().__init__(*args)
        self.in_flight = 0
        self.flight_lock = threading.Lock()


class Handler(acme_proxy.Handler):
    # -- routes -----------------------------------------------------------------

    def do_GET(self):
        path = self.path_only()
        if path == "/dir":
            self.directory(ari=True)
        elif path == "/dir-plain":
            self.directory(ari=False)
        elif path.startswith("/renewal-info/"):
            self.renewal_info(path[len("/renewal-info/"):])
        else:
            self.forward()

    def do_POST(self):
        body = self.read_body()
        if self.path_only() == self.proxy.paths["newOrder"]:
            payload = jws_payload(body) or {}
            replaces = payload.get("replaces")
            for key, ptype, detail in REPLACES_REFUSALS:
                if replaces is not None and take_once(self.proxy, key):
                    self.proxy.record(kind="newOrder", replaces=replaces, status=409,
                                      problem=ptype)
                    self.problem(409, ptype, detail.format(replaces), self.nonce_header())
                    return
            self.forward(body, lambda status, data: self.proxy.record(
                kind="newOrder", replaces=replaces, status=status, problem=problem_type(data)))
            return
        self.forward(body)

    def directory(self, ari):
        status, rh, data = self.ask_pebble(method="GET", path=self.proxy.up_dir_path)
        try:
            d = json.loads(data) if status == 200 and rh is not None else None
        except ValueError as e:
            self.problem(502, acme_proxy.SERVER_INTERNAL, f"ari_proxy: Pebble's directory: {e}")
            return
        if d is None:
            self.send_on(status, rh, data)
            return
        if ari:
            d["renewalInfo"] = self.proxy.base + "/renewal-info"
            extra = self.proxy.control().get("directory_extra")
            if isinstance(extra, dict):
                d.update(extra)
        self.reply(200, [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                   json.dumps(d, indent=2).encode())

    def renewal_info(self, cert_id):
        with self.proxy.flight_lock:
            self.proxy.in_flight += 1
            in_flight = self.proxy.in_flight
        try:
            self.renewal_info_reply(cert_id, in_flight)
        finally:
            with self.proxy.flight_lock:
                self.proxy.in_flight -= 1

    def renewal_info_reply(self, cert_id, in_flight):
        c = self.proxy.control()
        status = int(c.get("status", 200))
        self.proxy.record(kind="renewalInfo", certID=cert_id, status=status,
                          conn=self.client_address[1], in_flight=in_flight)
        time.sleep(float(c.get("delay", 0)))
        headers = [("Cache-Control", "no-store")]
        retry_after = (c.get("retry_after_for") or {}).get(cert_id, c.get("retry_after"))
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        if not 200 <= status < 300:
            self.problem(status, "urn:ietf:params:acme:error:malformed",
                         f"ari_proxy: renewalInfo answers {status} (control file)", headers)
            return
        if "body" in c:
            body = str(c["body"]).encode()
        else:
            w = c.get("window") or {}
            body = json.dumps({"suggestedWindow": {k: rfc3339(v) for k, v in w.items()}}).encode()
        headers.append(("Content-Type", c.get("content_type", "application/json")))
        self.reply(status, headers, body)


def env_of(proxy, control, log):
    return {
        "ACME_TEST_ARI_DIRECTORY": proxy.base + "/dir",
        "ACME_TEST_ARI_PLAIN_DIRECTORY": proxy.base + "/dir-plain",
        "ACME_TEST_ARI_CONTROL": control,
        "ACME_TEST_ARI_LOG": log,
    }


if __name__ == "__main__":
    acme_proxy.run("ari_proxy", Handler, env_of, __doc__.splitlines()[0], proxy_cls=AriProxy)
