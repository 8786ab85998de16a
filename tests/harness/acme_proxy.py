"""Plumbing shared by the HTTPS reverse proxies that stand in front of the
harness's Pebble (ari_proxy.py, hostile_proxy.py).

A proxy listens on 127.0.0.1 with the harness's server certificate (so the
client trusts it through ACME_TEST_CA_BUNDLE), forwards every request it does
not intercept to Pebble unchanged, Host header included, so that Pebble builds
every URL it hands out (directory, Location, Link) from the proxy's address
and checks the JWS "url" of each POST against it. It reads a control file,
which the test rewrites between steps, on every request, and logs what it
did, one JSON object per line, for the test to read.

What is here: the TLS server, forwarding, a fresh nonce from Pebble for
replies the proxy makes up, decoding of JWS payloads, the control file, the
log, and running the test command (behind ACME_TEST_WRAP, e.g. valgrind).
What a proxy intercepts is its own business: it subclasses Handler.

Needs only Python 3's standard library.
"""
import argparse
import base64
import http.client
import http.server
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse

from pebble_harness import wrapped

# Hop-by-hop headers, and those that the sending side sets itself.
NOT_FORWARDED = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                 "te", "trailer", "transfer-encoding", "upgrade", "content-length",
                 "date", "server"}
EXIT_SETUP_ERROR = 99  # meson: harness error, not a test failure
SERVER_INTERNAL = "urn:ietf:params:acme:error:serverInternal"


class Proxy:
    """What the handlers share: the upstream Pebble, the control file and
    the log."""

    def __init__(self, name, upstream, ca_bundle, control, log):
        self.name = name
        u = urllib.parse.urlsplit(upstream)
        self.up_host, self.up_port = u.hostname, u.port or 443
        self.up_dir_path = u.path or "/"
        self.ctx = ssl.create_default_context(cafile=ca_bundle)
        self.control_path = control
        self.log_path = log
        self.lock = threading.Lock()
        self.base = ""        # https://127.0.0.1:PORT, set once listening
        self.port = 0
        self.paths = {}       # directory resource name -> path at Pebble

    # -- upstream ------------------------------------------------------------

    def upstream(self, method, path, headers, body):
        """(status, [(name, value)], body) of Pebble's reply."""
        conn = http.client.HTTPSConnection(self.up_host, self.up_port, context=self.ctx,
                                           timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            res = conn.getresponse()
            data = res.read()
            return res.status, res.getheaders(), data
        finally:
            conn.close()

    def learn_paths(self):
        """The paths of Pebble's directory resources (they do not depend on
        the Host header), by name: "newOrder", "newNonce", ..."""
        status, _, data = self.upstream("GET", self.up_dir_path, {}, None)
        if status != 200:
            raise RuntimeError(f"Pebble's directory: HTTP {status}")
        d = json.loads(data)
        self.paths = {k: urllib.parse.urlsplit(v).path
                      for k, v in d.items() if isinstance(v, str)}
        if "newNonce" not in self.paths or "newOrder" not in self.paths:
            raise RuntimeError("Pebble's directory lacks newNonce or newOrder")

    def fresh_nonce(self, host):
        """A good nonce from Pebble, for a reply the proxy makes up (the
        client then needs no extra newNonce request), or None."""
        try:
            _, headers, _ = self.upstream("HEAD", self.paths["newNonce"], {"Host": host}, None)
        except (OSError, http.client.HTTPException):
            return None
        for k, v in headers:
            if k.lower() == "replay-nonce":
                return v
        return None

    # -- control and log --------------------------------------------------------

    def control(self):
        """The control file as an object ({} when missing or malformed)."""
        try:
            with open(self.control_path, "rb") as f:
                c = json.loads(f.read() or b"{}")
            return c if isinstance(c, dict) else {}
        except (OSError, ValueError):
            return {}

    def update_control(self, change):
        """Rewrite the control file atomically with change(c), under the
        proxy's lock (for one-shot settings the proxy clears itself); when
        change returns None the file is left as it is. Returns that result."""
        with self.lock:
            c = change(self.control())
            if c is not None:
                write_atomic(self.control_path, json.dumps(c).encode())
            return c

    def record(self, **entry):
        """Append one entry to the log (keys sorted, no spaces)."""
        line = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
        with self.lock, open(self.log_path, "a") as f:
            f.write(line)


def write_atomic(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".control-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def problem_type(body):
    """The "type" of a problem document, or None."""
    try:
        v = json.loads(body)
        return v.get("type") if isinstance(v, dict) else None
    except (ValueError, TypeError):
        return None


def jws_payload(body):
    """The decoded payload object of a flattened JWS, or None (also for
    POST-as-GET, whose payload is empty)."""
    try:
        p = json.loads(body)["payload"]
        p += "=" * (-len(p) % 4)
        v = json.loads(base64.urlsafe_b64decode(p)) if p else None
        return v if isinstance(v, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def is_post_as_get(body):
    """True for a JWS with an empty payload (RFC 8555 6.3)."""
    try:
        return json.loads(body)["payload"] == ""
    except (ValueError, KeyError, TypeError):
        return False


class Handler(http.server.BaseHTTPRequestHandler):
    """Forwards everything; subclasses intercept what they need."""

    protocol_version = "HTTP/1.1"
    proxy = None  # set by run()

    def log_message(self, fmt, *args):
        if os.environ.get("ACME_TEST_VERBOSE"):
            sys.stderr.write(f"{self.proxy.name}: " + fmt % args + "\n")

    def path_only(self):
        return urllib.parse.urlsplit(self.path).path

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in NOT_FORWARDED:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def problem(self, status, ptype, detail, extra_headers=(), body=None):
        if body is None:
            body = json.dumps({"type": ptype, "detail": detail, "status": status}).encode()
        self.reply(status, [("Content-Type", "application/problem+json"),
                            ("Cache-Control", "no-store"), *extra_headers], body)

    def nonce_header(self):
        """[("Replay-Nonce", fresh)] or [] when Pebble gave none."""
        nonce = self.proxy.fresh_nonce(self.headers.get("Host", ""))
        return [("Replay-Nonce", nonce)] if nonce else []

    def forwarded_headers(self):
        return {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}

    def ask_pebble(self, body=None, method=None, path=None):
        """Pebble's reply to this request: (status, headers, body), or
        (502, None, message) when Pebble did not answer."""
        try:
            return self.proxy.upstream(method or self.command, path or self.path,
                                       self.forwarded_headers(), body)
        except (OSError, http.client.HTTPException) as e:
            return 502, None, f"{self.proxy.name}: Pebble did not answer: {e}".encode()

    def send_on(self, status, rh, data):
        """Send a reply from ask_pebble() back to the client."""
        if rh is None:
            self.problem(502, SERVER_INTERNAL, data.decode("utf-8", "replace"))
        else:
            self.reply(status, rh, data)

    def forward(self, body=None, before_reply=None):
        """Send the request on to Pebble and its reply back; before_reply(status,
        body) runs in between, so that the log is written before the client can
        read it."""
        status, rh, data = self.ask_pebble(body)
        if before_reply:
            before_reply(status, data)
        self.send_on(status, rh, data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.forward()

    def do_POST(self):
        self.forward(self.read_body())


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client closing a kept-alive connection, or giving up on purpose
        # (size caps, timeouts), is not an error.
        if os.environ.get("ACME_TEST_VERBOSE"):
            super().handle_error(request, client_address)


def parse_args(description):
    """--cert, --key and -- CMD [ARGS...]; exits on misuse."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--cert", default=os.environ.get("ACME_TEST_SERVER_CERT"))
    ap.add_argument("--key", default=os.environ.get("ACME_TEST_SERVER_KEY"))
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    args.cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    args.upstream = os.environ.get("ACME_TEST_DIRECTORY")
    args.ca_bundle = os.environ.get("ACME_TEST_CA_BUNDLE")
    if not args.cmd or not args.cert or not args.key or not args.upstream or not args.ca_bundle:
        ap.error("run under pebble_harness.py (or give --cert, --key, "
                 "ACME_TEST_DIRECTORY and ACME_TEST_CA_BUNDLE) and a command")
    return args


def run(name, handler_cls, env_of, description, proxy_cls=Proxy, initial_control=b"{}"):
    """The whole life of a proxy: parse the arguments, set up the control
    file and the log in a temp dir, learn Pebble's paths, listen, run the
    command with the variables env_of(proxy, control, log) added (behind
    ACME_TEST_WRAP), stop, clean up, and exit with the command's status."""
    args = parse_args(description)
    workdir = tempfile.mkdtemp(prefix=f"acme-{name}-")
    control = os.path.join(workdir, "control.json")
    log = os.path.join(workdir, "log.jsonl")
    write_atomic(control, initial_control)
    open(log, "w").close()

    def cleanup():
        for f in os.listdir(workdir):
            os.unlink(os.path.join(workdir, f))
        os.rmdir(workdir)

    proxy = proxy_cls(name, args.upstream, args.ca_bundle, control, log)
    try:
        proxy.learn_paths()
    except (OSError, ValueError, KeyError, RuntimeError, http.client.HTTPException) as e:
        print(f"{name}: cannot read Pebble's directory: {e}", file=sys.stderr)
        cleanup()
        sys.exit(EXIT_SETUP_ERROR)
    handler_cls.proxy = proxy
    server = QuietServer(("127.0.0.1", 0), handler_cls)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    proxy.port = server.server_address[1]
    proxy.base = "https://127.0.0.1:%d" % proxy.port
    threading.Thread(target=server.serve_forever, daemon=True).start()

    env = dict(os.environ, **env_of(proxy, control, log))
    child = subprocess.Popen(wrapped(args.cmd), env=env)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    rc = child.wait()
    server.shutdown()
    cleanup()
    sys.exit(rc if rc >= 0 else 128 - rc)
