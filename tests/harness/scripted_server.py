#!/usr/bin/env python3
"""A small scripted HTTPS server for what a real Pebble cannot do.

Pebble 2.4.0 has no renewalInfo, no profiles and never misbehaves, so the
tests that need a hostile or feature-rich server talk to this one instead.
Every reply is canned per path (see ROUTES); nothing here implements ACME.

Usage: scripted_server.py --cert CERT --key KEY -- CMD [ARGS...]
Runs CMD with ACME_TEST_SCRIPTED=https://127.0.0.1:PORT in its environment
and exits with CMD's status. CERT/KEY default to ACME_TEST_SERVER_CERT and
ACME_TEST_SERVER_KEY, which pebble_harness.py exports.
"""
import argparse
import http.server
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time

from pebble_harness import wrapped

BASE = ""  # https://127.0.0.1:PORT, set at start


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
        self.rfile.read(length)
        self.do_GET()

    def do_GET(self):
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


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients abort on purpose here (size caps, timeouts): not an error.
        if os.environ.get("ACME_TEST_VERBOSE"):
            super().handle_error(request, client_address)


def main():
    global BASE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert", default=os.environ.get("ACME_TEST_SERVER_CERT"))
    ap.add_argument("--key", default=os.environ.get("ACME_TEST_SERVER_KEY"))
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
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
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
