#!/usr/bin/env python3
"""Drive the built acmectl against a real Pebble (tests/harness/).

    test_cli.py ACMECTL SCENARIO

Scenarios (each a meson test, some with their own harness options):
  bad        bad invocations exit 2 with a one-line reason and create nothing
  basics     register, account, update-contact, rollover, recover; issue with
             the standalone http-01 responder (www. brings the base name);
             nothing due places no order; --force; --no-www-base; --csr;
             revoke by name and by certificate key; -q; deactivate
  tls-alpn   issue with the standalone tls-alpn-01 responder on the TLS port
  webroot    issue through --webroot served by a tiny static server
  hook-http  the hook solver with challtestsrv answering http-01 (--http01
             challtestsrv): begin/done, and failed when validation fails
  hook-dns   the hook solver for dns-01 through challtestsrv, with a
             wildcard; declined types fall through to the next preferred
  ensure     want file of three certificates from an empty state dir; a
             second ensure places no order and changes nothing; editing a
             want reissues that one; renew with nothing due; renew after a
             forced due date (ACMECTL_NOW) runs the deploy hook; want dirs
  bad-days   failed validations: status shows failures, next attempt and
             the last error; a second ensure skips them in backoff and
             places no order; status --reset; --deadline; --force
  keys       a new certificate key for every renewal (renew --force), the
             same one with --reuse-key or a want's reuse-key=yes; after
             revoke --reason keyCompromise, renew (even with --reuse-key)
             gives a certificate on another key, and the key is recorded;
             a host's key (--csr) revoked with --cert-key for keyCompromise
             is recorded and its CSR refused before any order
  chains     --preferred-chain with alternate roots (PEBBLE_ALTERNATE_ROOTS=1)
  eab        a CA that requires external account binding (--eab)
  modern     the scripted CA (tests/harness/scripted_server.py, MiniCA) plays
             the CA, for Pebble 2.4 has neither dns-account-01, dns-persist-01
             nor profiles; it looks the TXT records up in challtestsrv's DNS:
             directory; dns-account-01 through the hook (wildcard and base);
             persist-record and dns-persist-01 (wildcard, plain, expired);
             --profile shortlived, renewal at half its life, the profile kept
             on renewal and a change reissuing; a missing mandatory profile
             refused with no request after the directory; a missing preferred
             one ordered without; profile= in a want file
  dns        Knot DNS (--knot) as the zones' authoritative servers: a wildcard
             and its base through --solver rfc2136 (both TXT values at once,
             none after cleanup); a wrong TSIG key refused and named; the
             propagation check holds validation until a late second server
             serves the value, and names the server that never does; a hook
             that publishes late still validates

ACMECTL_TEST_WRAPPER, when set, is put before every acmectl command (e.g.
"valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99").
Python 3 standard library only, plus openssl.
"""

import http.server
import json
import os
import re
import shlex
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
import urllib.request

ACMECTL = os.path.abspath(sys.argv[1])
SCENARIO = sys.argv[2]
WRAPPER = shlex.split(os.environ.get("ACMECTL_TEST_WRAPPER", ""))
ENV = os.environ
TMP = ENV.get("ACME_TEST_TMPDIR", "/tmp")
DIRECTORY = ENV.get("ACME_TEST_DIRECTORY", "https://127.0.0.1:1/dir")
CA_BUNDLE = ENV.get("ACME_TEST_CA_BUNDLE", "/dev/null")
HTTP_PORT = ENV.get("ACME_TEST_HTTP_PORT", "")
TLS_PORT = ENV.get("ACME_TEST_TLS_PORT", "")
EMAIL = "ops@example.com"
FAILURES = []


class TestFailure(Exception):
    pass


class TestSkip(Exception):
    """What the scenario needs is not built in (after checking the refusal)."""


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def log(msg):
    print(f"test_cli[{SCENARIO}]: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# running acmectl


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def lines(self):
        return [l for l in self.out.splitlines() if l.strip()]


RUNS = [0]


def acmectl(*args, state=None, expect=0, env=None, ca=True, timeout=240):
    """Run acmectl with the test CA's directory and bundle and the state dir."""
    RUNS[0] += 1
    wrapper = list(WRAPPER)
    vg_log = None
    if wrapper and os.path.basename(wrapper[0]) == "valgrind":
        # valgrind's report goes to a file: stderr stays acmectl's own.
        vg_log = os.path.join(TMP, f"valgrind-{RUNS[0]}.log")
        wrapper.insert(1, f"--log-file={vg_log}")
    argv = wrapper + [ACMECTL]
    if ca:
        argv += ["--directory", DIRECTORY, "--ca-bundle", CA_BUNDLE]
    if state is not None:
        argv += ["--state", state]
    argv += [str(a) for a in args]
    full_env = dict(ENV)
    full_env.pop("ACMECTL_STATE", None)
    full_env.pop("ACMECTL_NOW", None)
    if env:
        full_env.update(env)
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=full_env, timeout=timeout)
    res = Result(proc)
    shown = " ".join(shlex.quote(a) for a in argv[len(wrapper):])
    report = ""
    if vg_log and os.path.exists(vg_log):
        with open(vg_log, errors="replace") as f:
            report = f.read()
        if "ERROR SUMMARY: 0 errors" not in report:
            raise TestFailure(f"`{shown}`: valgrind reported errors\n{report}")
    if expect is not None and res.rc != expect:
        raise TestFailure(f"`{shown}` exited {res.rc}, expected {expect}\n"
                          f"--- stdout\n{res.out}--- stderr\n{res.err}{report}")
    return res


def state_dir(name):
    return os.path.join(TMP, name)


# ---------------------------------------------------------------------------
# inspecting results


def openssl(*args, data=None):
    res = subprocess.run(["openssl", *args], input=data, capture_output=True, text=True)
    if res.returncode != 0:
        raise TestFailure(f"openssl {' '.join(args)}: {res.stderr}")
    return res.stdout


def pem_blocks(path):
    with open(path) as f:
        text = f.read()
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", text, re.S)


def sans(chain_path):
    """The leaf's subjectAltName entries, as a set of names."""
    leaf = pem_blocks(chain_path)[0]
    text = openssl("x509", "-noout", "-ext", "subjectAltName", data=leaf)
    return set(re.findall(r"(?:DNS|IP Address):([^,\s]+)", text))


def serial_of(chain_path):
    leaf = pem_blocks(chain_path)[0]
    return openssl("x509", "-noout", "-serial", data=leaf).strip().split("=", 1)[1]


def issuer_cn(pem):
    text = openssl("x509", "-noout", "-issuer", "-nameopt", "multiline", data=pem)
    m = re.search(r"commonName\s*=\s*(.+)", text)
    return m.group(1).strip() if m else ""


def subject_cn(pem):
    text = openssl("x509", "-noout", "-subject", "-nameopt", "multiline", data=pem)
    m = re.search(r"commonName\s*=\s*(.+)", text)
    return m.group(1).strip() if m else ""


def public_key(chain_path):
    """The leaf's public key (PEM)."""
    return openssl("x509", "-noout", "-pubkey", data=pem_blocks(chain_path)[0])


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def mgmt_get(path):
    ctx = ssl.create_default_context(cafile=CA_BUNDLE)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=ctx))
    with opener.open(ENV["ACME_TEST_PEBBLE_MGMT"] + path, timeout=10) as resp:
        return resp.read().decode()


def revoked(serial_hex):
    reply = mgmt_get("/cert-status-by-serial/" + serial_hex.lower())
    return json.loads(reply).get("Status") == "Revoked"


def orders():
    """(orders Pebble created, newOrder requests it received). They differ
    when Pebble refuses a request's nonce (badNonce, 5% by default) and the
    client sends it again. "Nothing due" must leave both unchanged."""
    with open(ENV["ACME_TEST_PEBBLE_LOG"], errors="replace") as f:
        text = f.read()
    return text.count("Added order "), text.count("POST /order-plz")


def new_orders(before):
    """Orders created since `before` (a value of orders())."""
    return orders()[0] - before[0]


def no_new_orders(before):
    """Not a single newOrder request since `before`."""
    return orders() == before


def snapshot(root):
    """(path, size, mtime) of every file under root but the lock files."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if os.path.relpath(dirpath, root).split(os.sep)[0] == "locks":
            continue
        for fn in filenames:
            p = os.path.join(dirpath, fn)
            st = os.stat(p)
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns)
    return out


def absent_or_empty(path):
    return not os.path.exists(path) or not os.listdir(path)


def write(path, text, mode=None):
    with open(path, "w") as f:
        f.write(text)
    if mode is not None:
        os.chmod(path, mode)


def register(state, email=EMAIL, extra=()):
    res = acmectl("register", email, "--agree-tos", *extra, state=state)
    check(res.lines() and res.lines()[0].startswith("https://"), "register prints the account URL")
    return res.lines()[0]


def issued_paths(res):
    lines = res.lines()
    check(len(lines) == 2, f"issue prints the chain and key paths, got {lines}")
    return lines[0], lines[1]


# ---------------------------------------------------------------------------
# scenarios


def scenario_bad():
    state = state_dir("bad-state")
    hook = os.path.join(TMP, "no-such-hook")
    wants = os.path.join(TMP, "bad.wants")
    write(wants, "# wants\ngood.example\n\nbad..name other.example\n")
    wants_key = os.path.join(TMP, "badkey.wants")
    write(wants_key, "x.example key=dsa\n")
    wants_dir = os.path.join(TMP, "wants.d")
    os.makedirs(wants_dir)
    write(os.path.join(wants_dir, "a.want"), "a.example\n")
    write(os.path.join(wants_dir, "b.want"), "# b\nb.example\nbad..name\n")
    cases = [
        (["frobnicate"], "unknown command"),
        (["issue", "bad..name"], "bad..name"),
        (["issue", "a*.example.com"], "a*.example.com"),
        (["issue", "*.example.com"], "dns-01"),
        (["register", EMAIL], "--agree-tos"),
        (["register", "not-an-email", "--agree-tos"], "e-mail"),
        (["issue", "x.example.com", "--solver", "hook", "--hook", hook], "no-such-hook"),
        (["issue", "x.example.com", "--solver", "hook"], "--hook"),
        (["issue", "x.example.com", "--solver", "webroot", "--webroot", hook], "webroot"),
        (["issue", "x.example.com", "--challenge", "dns-01"], "dns-01"),
        (["issue"], "NAME"),
        (["issue", "x.example.com", "--bogus"], "--bogus"),
        (["--key-type", "rsa1024", "issue", "x.example.com"], "rsa1024"),
        (["--bogus", "account"], "--bogus"),
        (["ensure"], "--wants"),
        (["ensure", "--wants", wants, "--email", EMAIL, "--agree-tos"], wants + ":4"),
        (["ensure", "--wants", wants_key, "--email", EMAIL, "--agree-tos"], wants_key + ":1"),
        (["ensure", "--wants", wants_dir, "--email", EMAIL, "--agree-tos"], "b.want:3"),
        (["ensure", "--wants", os.path.join(wants_dir, "a.want"), "--email", EMAIL],
         "--agree-tos"),
        (["revoke"], "NAME"),
        (["revoke", "x", "--reason", "7"], "reason"),
        (["issue", "x.example.com", "--http-port", "99999"], "port"),
        (["ensure", "--wants", wants, "--parallel", "0"], "--parallel"),
    ]
    for args, needle in cases:
        res = acmectl(*args, state=state, expect=2)
        err_lines = res.err.strip().splitlines()
        check(len(err_lines) == 1, f"{args}: one line on stderr, got {res.err!r}")
        check(err_lines[0].startswith("acmectl: "), f"{args}: reason starts with acmectl: {res.err!r}")
        check(needle in err_lines[0], f"{args}: reason names {needle!r}: {res.err!r}")
        check(res.out == "", f"{args}: nothing on stdout")
        check(not os.path.exists(state), f"{args}: created {state}")
    # Failures that are not usage errors exit 1, and still create nothing.
    res = acmectl("account", state=state, expect=1)
    check(not os.path.exists(state), "account without state creates nothing")
    res = acmectl("issue", "x.example.com", state=state, expect=2)
    check("register" in res.err, "issue without account says how to make one")
    check(not os.path.exists(state), "issue without account creates nothing")
    res = acmectl("renew", state=state, expect=0)
    check(not os.path.exists(state), "renew without state creates nothing")
    res = acmectl("--help", ca=False, expect=0)
    check("usage: acmectl" in res.out and "Exit status" in res.out, "--help")
    res = acmectl("--version", ca=False, expect=0)
    check(res.out.startswith("acmectl "), "--version")


def scenario_basics():
    state = state_dir("state")
    url = register(state)
    key_files = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(state, "accounts"))
                 for f in fs if f == "key.pem"]
    check(len(key_files) == 1 and mode_of(key_files[0]) == 0o600, "account key stored 0600")
    with open(os.path.join(state, "acmectl.conf")) as f:
        check(f"email = {EMAIL}" in f.read(), "the e-mail is remembered")
    res = acmectl("register", EMAIL, "--agree-tos", state=state)
    check(res.lines() == [url] and "already" in res.err, "register again finds the account")

    # Later commands need neither --directory nor the e-mail: both are remembered.
    res = acmectl("account", state=state, ca=False)
    check(f"url: {url}" in res.out and "status: valid" in res.out
          and f"contact: mailto:{EMAIL}" in res.out and "key: ec256" in res.out,
          f"account shows the account: {res.out}")
    res = acmectl("update-contact", "a@example.com", "b@example.com", state=state)
    res = acmectl("account", state=state)
    check("contact: mailto:a@example.com" in res.out and "contact: mailto:b@example.com" in res.out,
          f"update-contact: {res.out}")
    with open(key_files[0]) as f:
        old_key = f.read()
    res = acmectl("rollover", state=state)
    with open(key_files[0]) as f:
        check(f.read() != old_key, "rollover replaced the stored key")
    check(mode_of(key_files[0]) == 0o600, "the new key is 0600")
    check(not os.path.exists(os.path.join(state, "acmectl-rollover-key.pem")), "no key left aside")
    res = acmectl("recover", EMAIL, state=state)
    check(res.lines() == [url], "recover finds the same account with the new key")

    # issue, standalone http-01; www. brings the base name.
    before = orders()
    res = acmectl("issue", "www.basic.example", "--http-port", HTTP_PORT, state=state)
    chain, key = issued_paths(res)
    check(chain == os.path.join(state, "certs/www.basic.example/chain.pem"), f"chain path {chain}")
    check(key == os.path.join(state, "certs/www.basic.example/key.pem"), f"key path {key}")
    check(sans(chain) == {"www.basic.example", "basic.example"}, f"SANs {sans(chain)}")
    check(mode_of(key) == 0o600, "certificate key 0600")
    check(new_orders(before) == 1, "one order")
    for step in ("ordering", "authorization www.basic.example: presented http-01",
                 "authorization basic.example: valid", "certificate downloaded", "saved chain"):
        check(step in res.err, f"progress shows {step!r}: {res.err}")
    # Not due: no order; -q prints nothing.
    mark = orders()
    res = acmectl("-q", "issue", "www.basic.example", "--http-port", HTTP_PORT, state=state)
    check(no_new_orders(mark), "nothing due places no order")
    check(res.err == "", f"-q is quiet: {res.err!r}")
    check(issued_paths(res) == (chain, key), "paths printed when not due")
    with open(chain) as f:
        first = f.read()
    res = acmectl("issue", "www.basic.example", "--http-port", HTTP_PORT, "--force", state=state)
    check(new_orders(before) == 2, "--force orders")
    with open(chain) as f:
        check(f.read() != first, "--force renewed the chain")
    # -v adds timings and requests.
    res = acmectl("-v", "issue", "nowww.example", "www.nowww.example", "--name", "nowww",
                  "--no-www-base", "--http-port", HTTP_PORT, state=state)
    check(re.search(r"^\[\s*\d+\.\d{3}\] POST https://\S+/order-plz -> 201$", res.err, re.M),
          f"-v shows timed requests: {res.err}")
    nowww_chain, nowww_key = issued_paths(res)
    check(sans(nowww_chain) == {"nowww.example", "www.nowww.example"}, "--name")
    res = acmectl("issue", "www.only.example", "--no-www-base", "--http-port", HTTP_PORT,
                  state=state)
    check(sans(issued_paths(res)[0]) == {"www.only.example"}, "--no-www-base")

    # --csr: the host's key; the chain goes to csr/NAME.chain.pem or --out.
    csr_key = os.path.join(TMP, "csr.key")
    csr = os.path.join(TMP, "csr.pem")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", csr_key, "-out", csr, "-subj", "/CN=csr.example",
            "-addext", "subjectAltName=DNS:csr.example,DNS:www.csr.example")
    res = acmectl("issue", "--csr", csr, "--http-port", HTTP_PORT, state=state)
    check(res.lines() == [os.path.join(state, "csr/csr.example.chain.pem")], f"csr path {res.out}")
    check(sans(res.lines()[0]) == {"csr.example", "www.csr.example"}, "CSR names")
    out = os.path.join(TMP, "csr-chain.pem")
    res = acmectl("issue", "--csr", csr, "csr.example", "www.csr.example", "--out", out,
                  "--http-port", HTTP_PORT, state=state)
    check(res.lines() == [out] and sans(out) == {"csr.example", "www.csr.example"}, "--out")
    res = acmectl("issue", "--csr", csr, "other.example", "--http-port", HTTP_PORT, state=state,
                  expect=2)

    # Revocation: by name (account key), then by certificate key without any state.
    serial = serial_of(chain)
    check(not revoked(serial), "not revoked yet")
    res = acmectl("revoke", "www.basic.example", "--reason", "superseded", state=state)
    check(revoked(serial), "revoke by name: Pebble says revoked")
    nowww_serial = serial_of(nowww_chain)
    empty = state_dir("never-created")
    res = acmectl("revoke", "--cert", nowww_chain, "--cert-key", nowww_key, "--reason",
                  "superseded", state=empty)
    check(revoked(nowww_serial), "revoke by certificate key: Pebble says revoked")
    check(res.lines() == [nowww_serial.lower().lstrip("0")] or
          res.lines()[0].lower() == nowww_serial.lower(), f"serial printed: {res.out}")
    check(not os.path.exists(empty), "revoking by certificate key needs no state dir")
    acmectl("revoke", "www.basic.example", state=state, expect=1)  # alreadyRevoked
    acmectl("revoke", "nothing-here", state=state, expect=1)
    # The revoked certificate is replaced by the next issue.
    res = acmectl("issue", "www.basic.example", "--http-port", HTTP_PORT, state=state)
    check("revoked" in res.err, "a revoked certificate is reissued")

    # Deactivation is final: the stored account is set aside.
    res = acmectl("deactivate", state=state)
    check(res.lines() == [url], "deactivate prints the URL")
    acmectl("account", state=state, expect=1)
    check(any(".deactivated-" in d for _, ds, _ in os.walk(os.path.join(state, "accounts"))
              for d in ds), "account files moved aside")


def scenario_tls_alpn():
    state = state_dir("state")
    register(state)
    res = acmectl("issue", "alpn.example", "--challenge", "tls-alpn-01", "--tls-port", TLS_PORT,
                  state=state)
    chain, key = issued_paths(res)
    check(sans(chain) == {"alpn.example"}, "SANs")
    check("presented tls-alpn-01" in res.err, f"tls-alpn-01 was used: {res.err}")
    check("http-01 responder" not in res.err, "no http-01 responder started")
    # Preference order: tls-alpn-01 first, http-01 second (no one on the http port).
    res = acmectl("issue", "alpn2.example", "--challenge", "tls-alpn-01", "--challenge", "http-01",
                  "--tls-port", TLS_PORT, "--http-port", HTTP_PORT, state=state)
    check("presented tls-alpn-01" in res.err, "first preference used")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests = []

    def log_message(self, fmt, *args):
        QuietHandler.requests.append(self.path)


def scenario_webroot():
    state = state_dir("state")
    register(state)
    webroot = os.path.join(TMP, "www")
    os.makedirs(webroot)

    class Handler(QuietHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=webroot, **kw)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(HTTP_PORT)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        res = acmectl("issue", "web.example", "www.web.example", "--solver", "webroot",
                      "--webroot", webroot, state=state)
        chain, _ = issued_paths(res)
        check(sans(chain) == {"web.example", "www.web.example"}, "SANs")
        check(any(p.startswith("/.well-known/acme-challenge/") for p in QuietHandler.requests),
              f"the CA fetched the challenge from the web server: {QuietHandler.requests}")
        left = os.listdir(os.path.join(webroot, ".well-known", "acme-challenge"))
        check(left == [], f"challenge files removed: {left}")
        # --webroot alone implies the webroot solver.
        res = acmectl("issue", "web2.example", "--webroot", webroot, state=state)
        check("http-01 responder" not in res.err, "--webroot implies --solver webroot")
    finally:
        server.shutdown()


HOOK = r'''#!/usr/bin/env python3
# A uacme-style hook: METHOD TYPE IDENT TOKEN AUTH. Logs every call; answers
# through pebble-challtestsrv. HOOK_TYPES: the types it accepts.
import json, os, sys, urllib.request
method, typ, ident, token, auth = sys.argv[1:6]
with open(os.environ["HOOK_LOG"], "a") as f:
    f.write(" ".join(sys.argv[1:6]) + "\n")
def cts(path, body):
    req = urllib.request.Request(os.environ["ACME_TEST_CHALLTESTSRV"] + path,
                                 data=json.dumps(body).encode(), method="POST")
    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10).read()
if typ not in os.environ.get("HOOK_TYPES", "").split(","):
    sys.exit(1)                       # decline: the next preferred type is tried
print("hook output goes to stderr")   # never to acmectl's stdout
if typ == "http-01":
    if method == "begin":
        wrong = os.environ.get("HOOK_WRONG", "")   # "1": every name; else one name
        content = "wrong" if wrong in ("1", ident) else auth
        cts("/add-http01", {"token": token, "content": content})
    else:
        cts("/del-http01", {"token": token})
elif typ == "dns-01":
    if method == "begin":
        cts("/set-txt", {"host": "_acme-challenge." + ident + ".", "value": auth})
    else:
        cts("/clear-txt", {"host": "_acme-challenge." + ident + "."})
elif typ == "dns-account-01":
    # The name depends on the account: only ACMECTL_TXT_NAME gives it.
    if method == "begin":
        cts("/set-txt", {"host": os.environ["ACMECTL_TXT_NAME"] + ".", "value": auth})
    else:
        cts("/clear-txt", {"host": os.environ["ACMECTL_TXT_NAME"] + "."})
if os.environ.get("HOOK_JSON_LOG"):
    with open(os.environ["HOOK_JSON_LOG"], "a") as f:
        f.write(json.dumps({"argv": sys.argv[1:6],
                            "txt_name": os.environ.get("ACMECTL_TXT_NAME")}) + "\n")
'''


def make_hook():
    path = os.path.join(TMP, "hook.py")
    write(path, HOOK, 0o755)
    hook_log = os.path.join(TMP, "hook.log")
    return path, hook_log


def read_calls(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [l.split() for l in f.read().splitlines()]


def scenario_hook_http():
    state = state_dir("state")
    register(state)
    hook, hook_log = make_hook()
    env = {"HOOK_LOG": hook_log, "HOOK_TYPES": "http-01"}
    res = acmectl("issue", "hooked.example", "--solver", "hook", "--hook", hook, state=state,
                  env=env)
    chain, _ = issued_paths(res)
    check(sans(chain) == {"hooked.example"}, "SANs")
    check("hook output goes to stderr" in res.err, "hook stdout is sent to stderr")
    calls = read_calls(hook_log)
    check(len(calls) == 2, f"begin and done: {calls}")
    begin, done = calls
    check(begin[:3] == ["begin", "http-01", "hooked.example"], f"begin args {begin}")
    check(begin[4].startswith(begin[3] + ".") and len(begin[4]) == len(begin[3]) + 44,
          f"AUTH is the key authorization TOKEN.THUMBPRINT: {begin}")
    check(done == ["done"] + begin[1:], f"done with the same args: {done}")
    # A failed validation: the hook hears "failed".
    os.remove(hook_log)
    res = acmectl("issue", "wrong.example", "--hook", hook, state=state,
                  env={**env, "HOOK_WRONG": "1"}, expect=1)
    calls = read_calls(hook_log)
    check([c[0] for c in calls] == ["begin", "failed"], f"begin then failed: {calls}")
    check("wrong.example" in res.err, f"the failure names the certificate: {res.err}")
    check(res.out == "", "nothing on stdout when it failed")
    # One name answered wrongly: that challenge hears "failed"; the other hears
    # "done" or, if the CA had not decided it when the order stopped, "failed".
    os.remove(hook_log)
    acmectl("issue", "good.mixed.example", "bad.mixed.example", "--hook", hook, state=state,
            env={**env, "HOOK_WRONG": "bad.mixed.example"}, expect=1)
    calls = read_calls(hook_log)
    ends = {c[2]: c[0] for c in calls if c[0] != "begin"}
    check(sorted(c[2] for c in calls if c[0] == "begin") == ["bad.mixed.example",
                                                            "good.mixed.example"]
          and len(calls) == 4, f"one begin and one end per challenge: {calls}")
    check(ends.get("bad.mixed.example") == "failed", f"the refused challenge failed: {calls}")
    check(ends.get("good.mixed.example") in ("done", "failed"), f"the other ended: {calls}")


def scenario_hook_dns():
    state = state_dir("state")
    register(state)
    hook, hook_log = make_hook()
    env = {"HOOK_LOG": hook_log, "HOOK_TYPES": "dns-01"}
    # Default preference for the hook: http-01, tls-alpn-01, dns-01. This hook
    # declines the first two, so dns-01 answers.
    # challtestsrv is no authoritative server to check propagation with.
    res = acmectl("issue", "*.wild.example", "wild.example", "--hook", hook, "--no-dns-wait",
                  state=state, env=env)
    chain, _ = issued_paths(res)
    check(chain.endswith("/certs/_.wild.example/chain.pem"), f"wildcard certificate name {chain}")
    check(sans(chain) == {"*.wild.example", "wild.example"}, f"SANs {sans(chain)}")
    calls = read_calls(hook_log)
    begins = [c for c in calls if c[0] == "begin"]
    dns_begins = [c for c in begins if c[1] == "dns-01"]
    check(len(dns_begins) == 2 and all(c[2] == "wild.example" for c in dns_begins),
          f"dns-01 for the wildcard and the base, IDENT without '*.': {calls}")
    check(all(re.fullmatch(r"[A-Za-z0-9_-]{43}", c[4]) for c in dns_begins),
          f"AUTH is the TXT value (base64url SHA-256): {dns_begins}")
    declined = [c for c in begins if c[1] != "dns-01"]
    check(declined and all(c[1] in ("http-01", "tls-alpn-01") for c in declined),
          f"declined types were tried first: {calls}")
    dones = [c for c in calls if c[0] == "done"]
    check(sorted(dones) == sorted(["done"] + c[1:] for c in dns_begins),
          f"done once per accepted challenge, never for declined ones: {calls}")
    check("hook declined http-01" in res.err, f"declines are reported: {res.err}")
    # Only dns-01 wanted: --challenge dns-01.
    os.remove(hook_log)
    res = acmectl("issue", "txt.example", "--solver", "hook", "--hook", hook, "--challenge",
                  "dns-01", "--no-dns-wait", state=state, env=env)
    check({c[1] for c in read_calls(hook_log)} == {"dns-01"}, "only dns-01 offered to the hook")


KNOT_PORT = ENV.get("ACME_TEST_KNOT_PORT", "")
KNOT_KEY = ENV.get("ACME_TEST_KNOT_KEY", "")
# knsupdate takes the key as ALG:NAME:SECRET (its -k file too), not BIND's format.
KNOT_Y = "hmac-sha256:acme-key:" + ENV.get("ACME_TEST_KNOT_SECRET", "")


def txt_values(server, name):
    """The TXT values `server` (an address on the Knot port) serves for name, asked directly."""
    r = subprocess.run(["kdig", "+short", "+norecurse", f"@{server}", "-p", KNOT_PORT, name,
                        "TXT"], capture_output=True, text=True, check=True)
    return {v.strip('"') for v in r.stdout.split()}


def nsupdate(server, zone, lines):
    """Send an update signed with the test key to server, as an operator would."""
    script = f"server {server} {KNOT_PORT}\nzone {zone}.\n" + "".join(l + "\n" for l in lines)
    script += "send\n"
    subprocess.run(["knsupdate", "-y", KNOT_Y], input=script, text=True, check=True,
                   capture_output=True)


DNS_HOOK = """#!/bin/sh
# Publish dns-01 late, in the background, as a slow DNS provider would.
[ "$2" = dns-01 ] || exit 1
name="_acme-challenge.$3."
case "$1" in
begin) op=add; ttl=60 ;;
*) op=delete; ttl= ;;
esac
(
  [ "$1" = begin ] && sleep "$HOOK_DELAY"
  printf 'server 127.0.0.1 %s\nzone zone.test.\nupdate %s %s %s TXT "%s"\nsend\n' \
    "$KNOT_PORT" "$op" "$name" "$ttl" "$5" | knsupdate -y "$KNOT_Y"
  echo "$1 $(date +%s.%N)" >> "$HOOK_LOG"
) </dev/null >/dev/null 2>&1 &
exit 0
"""


def scenario_dns():
    state = state_dir("state")
    register(state)
    dns = ["--dns-resolver", f"127.0.0.1:{KNOT_PORT}", "--dns-ns-port", KNOT_PORT]
    rfc = ["--solver", "rfc2136", "--tsig-key", KNOT_KEY, "--dns-server",
           f"127.0.0.1:{KNOT_PORT}"] + dns

    # Built without the dns feature, the solver is refused with the reason.
    probe = acmectl("issue", "probe.zone.test", *rfc, state=state, expect=None)
    if "built without DNS support" in probe.err:
        check(probe.rc == 1 and "rfc2136 solver is unavailable" in probe.err,
              f"the refusal: {probe.rc} {probe.err!r}")
        raise TestSkip("built without the dns feature")
    check(probe.rc == 0, f"rfc2136 issue of probe.zone.test: {probe.err}")

    # A wildcard and its base share _acme-challenge.zone.test: watch that
    # both values are there at once.
    seen = []
    stop = threading.Event()

    def watch(name):
        while not stop.is_set():
            seen.append(txt_values("127.0.0.1", name))
            time.sleep(0.01)

    t = threading.Thread(target=watch, args=("_acme-challenge.zone.test",))
    t.start()
    try:
        res = acmectl("issue", "*.zone.test", "zone.test", *rfc, state=state)
    finally:
        stop.set()
        t.join()
    chain, _ = issued_paths(res)
    check(sans(chain) == {"*.zone.test", "zone.test"}, f"SANs {sans(chain)}")
    check(any(len(v) == 2 for v in seen), f"both TXT values at once: {seen[-5:]}")
    check(txt_values("127.0.0.1", "_acme-challenge.zone.test") == set(),
          "cleanup deleted both values")

    # A value someone else put there stays.
    nsupdate("127.0.0.1", "zone.test",
             ['update add _acme-challenge.keep.zone.test. 60 TXT "not-ours"'])
    acmectl("issue", "keep.zone.test", *rfc, state=state)
    check(txt_values("127.0.0.1", "_acme-challenge.keep.zone.test") == {"not-ours"},
          "only the solver's own value is deleted")

    # A wrong secret for the key: the server refuses, the message names the key.
    bad_key = os.path.join(TMP, "wrong.key")
    write(bad_key, 'key "acme-key" { algorithm hmac-sha256; '
                   'secret "' + "A" * 43 + '="; };\n')
    res = acmectl("issue", "wrong.zone.test", "--solver", "rfc2136", "--tsig-key", bad_key,
                  "--dns-server", f"127.0.0.1:{KNOT_PORT}", *dns, state=state, expect=1)
    check('TSIG key "acme-key"' in res.err and "refused" in res.err,
          f"the refusal names the key: {res.err}")

    # two.test has two nameservers; the solver updates the first only. The
    # test copies the values to the second after DELAY: validation must not
    # start before.
    delay = 3.0
    copied = []

    def copy_late():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            vals = txt_values("127.0.0.1", "_acme-challenge.two.test")
            if len(vals) == 2:
                break
            time.sleep(0.05)
        time.sleep(delay)
        nsupdate("127.0.0.2", "two.test",
                 [f'update add _acme-challenge.two.test. 60 TXT "{v}"' for v in vals])
        copied.append(time.time())

    t = threading.Thread(target=copy_late)
    t.start()
    start = time.time()
    try:
        res = acmectl("issue", "*.two.test", "two.test", *rfc, "--dns-wait", "60", state=state)
    finally:
        t.join()
    check(copied, "the second server was updated")
    check(time.time() - start >= delay, "the order waited for the second server")
    pebble_log = ENV.get("ACME_TEST_PEBBLE_LOG", "")
    with open(pebble_log) as f:
        text = f.read()
    check("two.test" in text, "Pebble validated two.test")

    # A server that never gets the value: the timeout names it.
    res = acmectl("issue", "never.two.test", *rfc, "--dns-wait", "3", state=state, expect=1)
    check("ns2.two.test (127.0.0.2)" in res.err and "ns1.two.test" not in res.err,
          f"the timeout names the server lacking the value, and only it: {res.err}")
    check("after 3 s" in res.err, f"the timeout says how long it waited: {res.err}")

    # The hook path: the hook publishes 3 s late in the background; the
    # check (on by default) holds validation until it is there.
    hook = os.path.join(TMP, "dns-hook.sh")
    write(hook, DNS_HOOK, 0o755)
    hook_log = os.path.join(TMP, "dns-hook.log")
    env = {"HOOK_LOG": hook_log, "HOOK_DELAY": "3", "KNOT_PORT": KNOT_PORT, "KNOT_Y": KNOT_Y}
    res = acmectl("issue", "late.zone.test", "--solver", "hook", "--hook", hook, "--challenge",
                  "dns-01", *dns, state=state, env=env)
    chain, _ = issued_paths(res)
    check(sans(chain) == {"late.zone.test"}, "the late hook's certificate")


def scenario_ensure():
    state = state_dir("state")
    wants = os.path.join(TMP, "site.wants")
    deploy_log = os.path.join(TMP, "deploy.log")
    deploy = (f'echo "$ACMECTL_EVENT $ACMECTL_NAME $ACMECTL_CHAIN $ACMECTL_KEY" >> {deploy_log}; '
              'echo deploy output')
    write(wants, "# three certificates\n"
                 "www.alpha.example\n"
                 "beta: beta.example api.beta.example key=rsa2048\n"
                 "gamma.example   # trailing comment\n")
    common = ["--http-port", HTTP_PORT, "--deploy-hook", deploy, "--parallel", "3"]
    before = orders()
    res = acmectl("ensure", "--wants", wants, "--email", EMAIL, "--agree-tos", *common,
                  state=state)
    check(new_orders(before) == 3, f"three orders, got {new_orders(before)}")
    check("3 obtained, 0 renewed, 0 not due, 0 failed" in res.err, f"summary: {res.err}")
    check(res.out == "", f"ensure prints nothing on stdout: {res.out!r}")
    expect = {"www.alpha.example": {"www.alpha.example", "alpha.example"},
              "beta": {"beta.example", "api.beta.example"},
              "gamma.example": {"gamma.example"}}
    for name, names in expect.items():
        chain = os.path.join(state, "certs", name, "chain.pem")
        check(sans(chain) == names, f"{name}: SANs {sans(chain)}")
        check(mode_of(os.path.join(state, "certs", name, "key.pem")) == 0o600, f"{name}: key 0600")
    with open(os.path.join(state, "certs/beta/key.pem")) as f:
        check("RSA PRIVATE KEY" in f.read(), "key=rsa2048 gives an RSA key")
    calls = read_calls(deploy_log)
    check(sorted((c[0], c[1]) for c in calls) ==
          sorted(("obtained", n) for n in expect), f"deploy hook once per certificate: {calls}")
    check(all(os.path.isfile(c[2]) and os.path.isfile(c[3]) for c in calls), "deploy paths exist")
    check("deploy output" in res.err, "deploy hook output on stderr")

    # Again: nothing due, no order, nothing changed, no deploy.
    snap = snapshot(state)
    mark = orders()
    res = acmectl("ensure", "--wants", wants, *common, state=state)
    check(no_new_orders(mark), "a second ensure places no order")
    check("0 obtained, 0 renewed, 3 not due, 0 failed" in res.err, f"summary: {res.err}")
    check(snapshot(state) == snap, "a second ensure changes nothing in the state dir")
    check(len(read_calls(deploy_log)) == 3, "no deploy when nothing changed")

    # Editing a want's names reissues that certificate only.
    write(wants, "# three certificates\n"
                 "www.alpha.example\n"
                 "beta: beta.example api.beta.example key=rsa2048\n"
                 "gamma.example static.gamma.example\n")
    res = acmectl("ensure", "--wants", wants, *common, state=state)
    check(new_orders(before) == 4, "one order for the edited want")
    check(sans(os.path.join(state, "certs/gamma.example/chain.pem")) ==
          {"gamma.example", "static.gamma.example"}, "new names")
    check(read_calls(deploy_log)[-1][:2] == ["renewed", "gamma.example"], "deploy: renewed")

    # renew: nothing due places no order.
    mark = orders()
    res = acmectl("renew", "--http-port", HTTP_PORT, "--deploy-hook", deploy, state=state)
    check(no_new_orders(mark), "renew with nothing due places no order")
    check("0 obtained, 0 renewed, 3 not due, 0 failed" in res.err, f"renew summary: {res.err}")
    check(len(read_calls(deploy_log)) == 4, "no deploy")

    # renew four years on (Pebble certificates last five): all due.
    future = str(int(time.time()) + 4 * 365 * 86400)
    res = acmectl("renew", "--http-port", HTTP_PORT, "--deploy-hook", deploy, state=state,
                  env={"ACMECTL_NOW": future})
    check(new_orders(before) == 7, "renew orders the three certificates")
    check("0 obtained, 3 renewed, 0 not due, 0 failed" in res.err, f"renew summary: {res.err}")
    calls = read_calls(deploy_log)[4:]
    check(sorted((c[0], c[1]) for c in calls) == sorted(("renewed", n) for n in expect),
          f"deploy hook once per renewed certificate: {calls}")
    check(sans(os.path.join(state, "certs/www.alpha.example/chain.pem")) ==
          {"www.alpha.example", "alpha.example"}, "renew keeps the names")

    # A failing deploy hook is a failure.
    res = acmectl("renew", "--force", "--http-port", HTTP_PORT, "--deploy-hook", "exit 3",
                  state=state, expect=1)
    check("deploy hook exited with status 3" in res.err, f"deploy failure reported: {res.err}")

    # A want directory: one certificate per *.want file, named after it.
    wdir = os.path.join(TMP, "wants.d")
    os.makedirs(wdir)
    write(os.path.join(wdir, "delta.want"), "# one name per line is fine\ndelta.example\n"
                                             "  www.delta.example\n")
    write(os.path.join(wdir, "README"), "not a want file\n")
    state2 = state_dir("state2")
    res = acmectl("ensure", "--wants", wdir, "--email", "two@example.com", "--agree-tos",
                  "--http-port", HTTP_PORT, state=state2)
    check(sans(os.path.join(state2, "certs/delta/chain.pem")) ==
          {"delta.example", "www.delta.example"}, "want dir")
    check(os.listdir(os.path.join(state2, "certs")) == ["delta"], "only *.want files count")


def scenario_keys():
    state = state_dir("state")
    register(state)
    http = ["--http-port", HTTP_PORT]
    res = acmectl("issue", "keys.example", *http, state=state)
    chain, _ = issued_paths(res)
    key0 = public_key(chain)

    # Every renewal gets a new key, unless asked to keep it.
    acmectl("renew", "--force", *http, state=state)
    key1 = public_key(chain)
    check(key1 != key0, "renew --force gives a new key")
    res = acmectl("renew", "--force", "--reuse-key", *http, state=state)
    check("1 renewed" in res.err, f"renewed: {res.err}")
    check(public_key(chain) == key1, "renew --force --reuse-key keeps the key")
    wants = os.path.join(TMP, "keys.wants")
    write(wants, "keys.example reuse-key=yes\n")
    acmectl("ensure", "--wants", wants, "--force", *http, state=state)
    check(public_key(chain) == key1, "reuse-key=yes keeps the key")
    write(wants, "keys.example reuse-key=no\n")
    acmectl("ensure", "--wants", wants, "--force", "--reuse-key", *http, state=state)
    key2 = public_key(chain)
    check(key2 != key1, "reuse-key=no gives a new key, whatever --reuse-key says")
    write(wants, "keys.example reuse-key=maybe\n")
    res = acmectl("ensure", "--wants", wants, *http, state=state, expect=2)
    check("reuse-key=" in res.err, f"a bad reuse-key= is refused: {res.err}")

    # keyCompromise: the key is recorded and never used again, --reuse-key or not.
    serial = serial_of(chain)
    acmectl("revoke", "keys.example", "--reason", "keyCompromise", state=state)
    check(revoked(serial), "revoked: Pebble says so")
    records = os.listdir(os.path.join(state, "compromised-keys"))
    check(len(records) == 1, f"the compromised key is recorded: {records}")
    res = acmectl("renew", "--reuse-key", *http, state=state)
    check("1 renewed" in res.err and "revoked" in res.err, f"renew replaces it: {res.err}")
    check(public_key(chain) != key2, "renew --reuse-key after keyCompromise gives a new key")

    # The plain sequence: issue, revoke --reason keyCompromise, renew.
    res = acmectl("issue", "plain.keys.example", *http, state=state)
    chain, _ = issued_paths(res)
    revoked_key = public_key(chain)
    acmectl("revoke", "plain.keys.example", "--reason", "keyCompromise", state=state)
    res = acmectl("renew", *http, state=state)
    check("1 renewed" in res.err, f"renew after revoke: {res.err}")
    check(public_key(chain) != revoked_key, "renew after keyCompromise gives another key")

    # A host's key (--csr): revoking with --cert-key for keyCompromise records
    # it, and a CSR of that key is refused from then on; a new key is fine.
    host_key = os.path.join(TMP, "host.key")
    host_csr = os.path.join(TMP, "host.csr")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", host_key, "-out", host_csr, "-subj", "/CN=host.keys.example",
            "-addext", "subjectAltName=DNS:host.keys.example")
    res = acmectl("issue", "--csr", host_csr, *http, state=state)
    host_chain = res.lines()[0]
    before = set(os.listdir(os.path.join(state, "compromised-keys")))
    res = acmectl("revoke", "--cert", host_chain, "--cert-key", host_key, "--reason",
                  "keyCompromise", state=state)
    check(revoked(serial_of(host_chain)), "host key revoked: Pebble says so")
    added = set(os.listdir(os.path.join(state, "compromised-keys"))) - before
    check(len(added) == 1, f"revoke --cert-key records the key: {added}")
    before_orders = orders()
    res = acmectl("issue", "--csr", host_csr, *http, state=state, expect=1)
    check("keyCompromise" in res.err, f"a CSR of a compromised key is refused: {res.err}")
    check(no_new_orders(before_orders), "refused before any order")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", host_key, "-out", host_csr, "-subj", "/CN=host.keys.example",
            "-addext", "subjectAltName=DNS:host.keys.example")
    acmectl("issue", "--csr", host_csr, *http, state=state)


def scenario_chains():
    state = state_dir("state")
    register(state)
    roots = [mgmt_get(f"/roots/{i}") for i in (0, 1)]
    cns = [subject_cn(r) for r in roots]
    check(cns[0] != cns[1] and all(cns), f"two roots: {cns}")
    res = acmectl("issue", "default-chain.example", "--http-port", HTTP_PORT, state=state)
    chain = pem_blocks(issued_paths(res)[0])
    check(issuer_cn(chain[-1]) == cns[0], f"default chain ends at {cns[0]}")
    res = acmectl("issue", "alt-chain.example", "--http-port", HTTP_PORT, "--preferred-chain",
                  cns[1], state=state)
    chain = pem_blocks(issued_paths(res)[0])
    check(issuer_cn(chain[-1]) == cns[1], f"preferred chain ends at {cns[1]}: "
                                          f"{issuer_cn(chain[-1])}")
    check("chain 2 of 2" in res.err, f"the alternate was chosen: {res.err}")


def scenario_eab():
    state = state_dir("state")
    res = acmectl("register", EMAIL, "--agree-tos", state=state, expect=2)
    check("external account binding" in res.err, f"EAB required: {res.err}")
    check(not os.path.exists(state), "nothing created without EAB")
    register(state, extra=["--eab-kid", ENV["ACME_TEST_EAB_KID"],
                           "--eab-hmac-key", ENV["ACME_TEST_EAB_HMAC_KEY"]])
    res = acmectl("issue", "eab.example", "--http-port", HTTP_PORT, state=state)
    check(sans(issued_paths(res)[0]) == {"eab.example"}, "issue with an EAB account")


def scenario_bad_days():
    state = state_dir("state")
    wants = os.path.join(TMP, "bad.wants")
    write(wants, "one.bad.example\ntwo.bad.example\n")
    # A hook that publishes nothing: every validation fails.
    silent = ["--hook", "/bin/true", "--challenge", "http-01"]
    before = orders()
    res = acmectl("ensure", "--wants", wants, "--email", EMAIL, "--agree-tos", *silent,
                  state=state, expect=1)
    check(new_orders(before) == 2, f"two orders, got {new_orders(before)}")
    check("0 not due, 2 failed, 0 skipped" in res.err, f"summary: {res.err}")
    res = acmectl("status", state=state)
    for name in ("one.bad.example", "two.bad.example"):
        line = [l for l in res.out.splitlines() if l.startswith(name + ": ")]
        check(len(line) == 1 and "1 failure, next attempt" in line[0] and
              "last error:" in line[0], f"status of {name}: {res.out}")

    # In backoff: a second run places no order and says until when.
    mark = orders()
    res = acmectl("ensure", "--wants", wants, *silent, state=state, expect=1)
    check(no_new_orders(mark), "no order while in backoff")
    check("0 failed, 2 skipped" in res.err and "skipped: in backoff until" in res.err,
          f"skipped: {res.err}")
    # issue of a skipped name prints no path: it has no certificate.
    res = acmectl("issue", "one.bad.example", *silent, state=state, expect=1)
    check(no_new_orders(mark) and res.out == "", f"no order and no paths: {res.out!r}")

    # The operator's reset, and --deadline's bounds.
    res = acmectl("status", "--reset", "one.bad.example", state=state)
    res = acmectl("status", state=state)
    check("one.bad.example" not in res.out and "two.bad.example: 1 failure" in res.out,
          f"after --reset: {res.out}")
    acmectl("ensure", "--wants", wants, "--deadline", "0", state=state, expect=2)
    acmectl("status", "--reset", "../x", state=state, expect=2)

    # A solver that answers: the reset name is issued, the other is still in
    # backoff unless forced.
    res = acmectl("ensure", "--wants", wants, "--http-port", HTTP_PORT, "--deadline", "600",
                  state=state, expect=1)
    check("1 obtained, 0 renewed, 0 not due, 0 failed, 1 skipped" in res.err, f"{res.err}")
    res = acmectl("ensure", "--wants", wants, "--http-port", HTTP_PORT, "--force", state=state)
    check("0 failed, 0 skipped" in res.err, f"forced: {res.err}")
    res = acmectl("status", state=state)
    check("one.bad.example: no failures" in res.out and "two.bad.example: no failures" in res.out,
          f"all well: {res.out}")


def set_txt(host, value):
    """Publish a TXT record in challtestsrv's DNS (host with its trailing dot)."""
    req = urllib.request.Request(ENV["ACME_TEST_CHALLTESTSRV"] + "/set-txt",
                                 data=json.dumps({"host": host, "value": value}).encode(),
                                 method="POST")
    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10).read()


def scripted(path, data=None):
    """GET (or POST data to) the scripted CA, trusting the harness's CA."""
    ctx = ssl.create_default_context(cafile=CA_BUNDLE)
    req = urllib.request.Request(ENV["ACME_TEST_SCRIPTED"] + path, data=data)
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.loads(r.read())


def lifetime_days(chain):
    dates = openssl("x509", "-noout", "-startdate", "-enddate", "-dateopt", "iso_8601",
                    "-in", chain)
    found = dict(l.split("=", 1) for l in dates.splitlines() if "=" in l)
    t = [time.mktime(time.strptime(found[k].strip(), "%Y-%m-%d %H:%M:%SZ"))
         for k in ("notBefore", "notAfter")]
    return (t[1] - t[0]) / 86400, t[0]


def account_label(url):
    import base64, hashlib
    return base64.b32encode(hashlib.sha256(url.encode()).digest()[:10]).decode().lower()


def read_json_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def scenario_modern():
    # The scripted CA plays the CA here, not Pebble (see the scenario list).
    global DIRECTORY
    DIRECTORY = ENV["ACME_TEST_SCRIPTED"] + "/ca/dir"
    state = state_dir("state")
    # challtestsrv answers any name but is no zone's authoritative server, so
    # the propagation check (tested with Knot in scenario dns) stays off.
    NO_WAIT = ("--no-dns-wait",)

    # acmectl directory: the meta as a user needs it.
    res = acmectl("directory")
    out = res.out
    for want in ("terms of service: https://scripted.test/terms",
                 "website: https://scripted.test/",
                 "CAA identities: scripted.test, ca.scripted.test",
                 "external account binding: not required",
                 "renewal information (ARI): not offered",
                 "  shortlived: Six-day certificates, renewed often",
                 "  classic: The ordinary 90-day certificate"):
        check(want in out, f"directory shows {want!r}: {out}")

    register(state)
    account_url = acmectl("account", state=state).lines()
    account_url = [l.split()[-1] for l in account_url if "/ca/acct/" in l][0]
    check(account_url.startswith(ENV["ACME_TEST_SCRIPTED"] + "/ca/acct/"), account_url)
    hook, hook_log = make_hook()
    json_log = os.path.join(TMP, "hook.jsonl")
    env = {"HOOK_LOG": hook_log, "HOOK_JSON_LOG": json_log, "HOOK_TYPES": "dns-account-01"}

    # dns-account-01 through the hook, for a wildcard and its base name.
    res = acmectl("issue", "*.example.org", "example.org",
                  "--challenge", "dns-account-01", "--hook", hook, *NO_WAIT, state=state, env=env)
    chain, _ = issued_paths(res)
    check(sans(chain) == {"*.example.org", "example.org"}, f"SANs {sans(chain)}")
    calls = read_json_lines(json_log)
    begins = [c for c in calls if c["argv"][0] == "begin"]
    name = "_%s._acme-challenge.example.org" % account_label(account_url)
    check(len(begins) == 2 and all(c["argv"][1:3] == ["dns-account-01", "example.org"]
                                   for c in begins), f"two dns-account-01 begins: {calls}")
    check(all(c["txt_name"] == name for c in calls),
          f"ACMECTL_TXT_NAME is {name} for every call: {calls}")
    check(all(re.fullmatch(r"[A-Za-z0-9_-]{43}", c["argv"][4]) for c in begins),
          f"AUTH is the TXT value: {begins}")
    check(sorted(c["argv"][0] for c in calls) == ["begin", "begin", "done", "done"],
          f"begin and done for each: {calls}")
    days, _ = lifetime_days(chain)
    check(round(days) == 90, f"no profile asked: the CA's classic 90 days, not {days}")

    # dns-persist-01: the record persist-record prints, published once.
    res = acmectl("persist-record", "*.persist.example", state=state)
    m = re.fullmatch(r'(\S+)\. IN TXT "(.*)"', res.out.strip())
    check(m, f"a zone-file line: {res.out!r}")
    check(m.group(1) == "_validation-persist.persist.example", f"wildcard record name {m.group(1)}")
    check(m.group(2) == f"scripted.test; accounturi={account_url}; policy=wildcard",
          f"wildcard record value {m.group(2)}")
    set_txt(m.group(1) + ".", m.group(2))
    res = acmectl("issue", "*.persist.example", "persist.example", "--challenge",
                  "dns-persist-01", state=state)
    chain, _ = issued_paths(res)
    check(sans(chain) == {"*.persist.example", "persist.example"}, f"SANs {sans(chain)}")
    # A plain name, through the hook, which hears begin only: the record stays.
    res = acmectl("persist-record", "plain.example", "--until", "2099-01-01", state=state)
    m = re.fullmatch(r'(\S+)\. IN TXT "(.*)"', res.out.strip())
    check(m and m.group(1) == "_validation-persist.plain.example" and
          m.group(2) == f"scripted.test; accounturi={account_url}; persistUntil=4070908800",
          f"plain record: {res.out!r}")
    set_txt(m.group(1) + ".", m.group(2))
    os.remove(json_log)
    res = acmectl("issue", "plain.example", "--challenge", "dns-persist-01", "--hook", hook, *NO_WAIT,
                  state=state, env={**env, "HOOK_TYPES": "dns-persist-01"})
    calls = read_json_lines(json_log)
    check([c["argv"][:3] for c in calls] == [["begin", "dns-persist-01", "plain.example"]],
          f"begin only, never done: {calls}")
    check(calls[0]["txt_name"] == "_validation-persist.plain.example" and
          calls[0]["argv"][4] == f"scripted.test; accounturi={account_url}",
          f"the hook's name and AUTH: {calls}")
    # A record past its persistUntil no longer validates.
    res = acmectl("persist-record", "old.example", "--until", "1577836800", state=state)
    m = re.fullmatch(r'(\S+)\. IN TXT "(.*)"', res.out.strip())
    set_txt(m.group(1) + ".", m.group(2))
    acmectl("issue", "old.example", "--challenge", "dns-persist-01", state=state, expect=1)
    acmectl("persist-record", "x.example", "--until", "yesterday", state=state, expect=2)

    # Profiles: shortlived gives the CA's six-day certificate.
    os.remove(json_log)
    res = acmectl("issue", "short.example", "--profile", "shortlived", "--challenge",
                  "dns-account-01", "--hook", hook, *NO_WAIT, state=state, env=env)
    chain, _ = issued_paths(res)
    days, not_before = lifetime_days(chain)
    check(round(days) == 6, f"shortlived: 6 days, not {days}")
    serial = serial_of(chain)
    # Renewal follows the certificate: half of six days without ARI.
    at = int(not_before + 2.9 * 86400)
    res = acmectl("renew", "--hook", hook, *NO_WAIT, "--challenge", "dns-account-01", state=state,
                  env={**env, "ACMECTL_NOW": str(at)})
    check(serial_of(chain) == serial, "not due before half its life")
    at = int(not_before + 3.1 * 86400)
    res = acmectl("renew", "--hook", hook, *NO_WAIT, "--challenge", "dns-account-01", state=state,
                  env={**env, "ACMECTL_NOW": str(at)})
    check(serial_of(chain) != serial, f"renewed after half its life: {res.err}")
    days, _ = lifetime_days(chain)
    check(round(days) == 6, f"the profile is kept on renewal: {days} days")
    # Changing the profile reissues at once, though nothing is due.
    serial = serial_of(chain)
    res = acmectl("issue", "short.example", "--profile", "classic", "--challenge",
                  "dns-account-01", "--hook", hook, *NO_WAIT, state=state, env=env)
    check(serial_of(chain) != serial and round(lifetime_days(chain)[0]) == 90,
          f"profile change reissued: {res.err}")
    check("profile changed" in res.err, f"the reason is given: {res.err}")

    # A mandatory profile the CA lacks: refused, no request after the directory.
    scripted("/ca/log")
    res = acmectl("issue", "none.example", "--profile", "nosuch", "--challenge",
                  "dns-account-01", "--hook", hook, *NO_WAIT, state=state, env=env, expect=1)
    log_ = scripted("/ca/log")
    check(log_ and all(r == ["GET", "/ca/dir"] for r in log_),
          f"only the directory was fetched: {log_}")
    check('offers no profile "nosuch"' in res.err, f"the reason: {res.err}")
    # A preferred one: ordered without it, and said so.
    res = acmectl("issue", "pref.example", "--prefer-profile", "nosuch", "--challenge",
                  "dns-account-01", "--hook", hook, *NO_WAIT, state=state, env=env)
    check("offers no profile" in res.err and "without" in res.err, f"said so: {res.err}")
    chain, _ = issued_paths(res)
    check(round(lifetime_days(chain)[0]) == 90, "ordered without a profile")

    # profile= in a want file.
    wants = os.path.join(TMP, "modern.wants")
    write(wants, "wanted.example profile=shortlived challenge=dns-account-01\n")
    acmectl("ensure", "--wants", wants, "--hook", hook, *NO_WAIT, state=state, env=env)
    chain = os.path.join(state, "certs", "wanted.example", "chain.pem")
    check(round(lifetime_days(chain)[0]) == 6, "the want's profile was ordered")


SCENARIOS = {
    "dns": scenario_dns,
    "bad-days": scenario_bad_days,
    "bad": scenario_bad,
    "basics": scenario_basics,
    "tls-alpn": scenario_tls_alpn,
    "webroot": scenario_webroot,
    "hook-http": scenario_hook_http,
    "hook-dns": scenario_hook_dns,
    "ensure": scenario_ensure,
    "keys": scenario_keys,
    "chains": scenario_chains,
    "eab": scenario_eab,
    "modern": scenario_modern,
}


def main():
    if SCENARIO not in SCENARIOS:
        log(f"unknown scenario {SCENARIO}")
        return 99
    if not os.access(ACMECTL, os.X_OK):
        log(f"{ACMECTL} is not executable")
        return 99
    started = time.monotonic()
    try:
        SCENARIOS[SCENARIO]()
    except TestFailure as e:
        log(f"FAIL: {e}")
        return 1
    except TestSkip as e:
        log(f"skipped: {e}")
        return 77
    log(f"ok ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
