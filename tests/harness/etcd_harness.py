#!/usr/bin/env python3
"""Start a private etcd (one member, or a cluster with --members N) on free
loopback ports with temporary data directories, run a command, and stop
the members by PID.

    etcd_harness.py [--members N] [--tls] [--auth] -- COMMAND [ARGS...]

The command gets ACME_TEST_ETCD (the members' client URLs, comma-separated)
and ACME_TEST_ETCD_PIDS (their PIDs, same order), so a test can stop or kill
a member. --tls serves the clients over https with a throw-away CA and
requires client certificates: ACME_TEST_ETCD_CA, ACME_TEST_ETCD_CERT and
ACME_TEST_ETCD_KEY name the files. --auth turns etcd's auth on with a root
user (ACME_TEST_ETCD_USER, ACME_TEST_ETCD_PASSWORD) and tokens that expire
after 3 s; ACME_TEST_WRAP wraps it as pebble_harness.py does. Its exit status is the harness's; 77 (skip) when etcd is not
installed. The harness composes with pebble_harness.py (either may run the
other as its command).
"""
import os
import secrets
import shutil
import ssl
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pebble_harness import wrapped  # noqa: E402  (ACME_TEST_WRAP, as for Pebble)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url, ctx):
    """A member that answers a range request (the gateway is up and the
    cluster has a leader)."""
    try:
        req = urllib.request.Request(url + "/v3/kv/range", data=b'{"key":"AA=="}',
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=2, context=ctx) as r:
            return r.status == 200
    except OSError:
        return False


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_pki(tmp):
    """A throw-away CA, a server certificate for 127.0.0.1 and a client
    certificate, made for this run only."""
    p = {n: os.path.join(tmp, n) for n in ("ca.pem", "ca.key", "server.pem", "server.key",
                                           "client.pem", "client.key")}
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p["ca.key"], "-out", p["ca.pem"], "-days", "2", "-subj", "/CN=etcd test CA")
    for who, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"),
                     ("client", "extendedKeyUsage=clientAuth")):
        csr = os.path.join(tmp, who + ".csr")
        extfile = os.path.join(tmp, who + ".ext")
        with open(extfile, "w") as f:
            f.write(ext + "\n")
        # No CN on the client: etcd's gateway refuses a client certificate
        # with one (it would not be the user).
        subj = "/CN=127.0.0.1" if who == "server" else "/O=libacme test client"
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", p[who + ".key"], "-out", csr, "-subj", subj)
        openssl("x509", "-req", "-in", csr, "-CA", p["ca.pem"], "-CAkey", p["ca.key"],
                "-CAcreateserial", "-out", p[who + ".pem"], "-days", "2", "-extfile", extfile)
    return p


def etcdctl(urls, pki, *args):
    cmd = ["etcdctl", "--endpoints", ",".join(urls)]
    if pki:
        cmd += ["--cacert", pki["ca.pem"], "--cert", pki["client.pem"], "--key", pki["client.key"]]
    env = dict(os.environ, ETCDCTL_API="3")
    subprocess.run(cmd + list(args), check=True, env=env, stdout=subprocess.DEVNULL)


def main():
    args = sys.argv[1:]
    members = 1
    tls = auth = False
    while args and args[0] != "--":
        if args[0] == "--members" and len(args) > 1:
            members = int(args[1])
            args = args[2:]
        elif args[0] in ("--tls", "--auth"):
            tls = tls or args[0] == "--tls"
            auth = auth or args[0] == "--auth"
            args = args[1:]
        else:
            sys.exit("usage: etcd_harness.py [--members N] [--tls] [--auth] -- COMMAND [ARGS...]")
    if not args or len(args) < 2:
        sys.exit("usage: etcd_harness.py [--members N] [--tls] [--auth] -- COMMAND [ARGS...]")
    command = args[1:]
    etcd = shutil.which("etcd")
    if not etcd:
        print("etcd_harness: etcd is not installed (Debian: etcd-server); skipping")
        return 77

    tmp = tempfile.mkdtemp(prefix="etcd-harness-")
    names = ["m%d" % i for i in range(members)]
    client = [free_port() for _ in names]
    peer = [free_port() for _ in names]
    cluster = ",".join("%s=http://127.0.0.1:%d" % (n, p) for n, p in zip(names, peer))
    procs = []
    logs = []
    scheme = "https" if tls else "http"
    try:
        pki = make_pki(tmp) if tls else None
        tls_args = ["--cert-file", pki["server.pem"], "--key-file", pki["server.key"],
                    "--client-cert-auth", "--trusted-ca-file", pki["ca.pem"]] if tls else []
        for i, name in enumerate(names):
            log = open(os.path.join(tmp, name + ".log"), "w")
            logs.append(log)
            curl = "%s://127.0.0.1:%d" % (scheme, client[i])
            purl = "http://127.0.0.1:%d" % peer[i]
            procs.append(subprocess.Popen(
                [etcd, "--name", name, "--data-dir", os.path.join(tmp, name),
                 "--listen-client-urls", curl, "--advertise-client-urls", curl,
                 "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
                 "--initial-cluster", cluster, "--initial-cluster-state", "new",
                 "--initial-cluster-token", os.path.basename(tmp),
                 "--heartbeat-interval", "50", "--election-timeout", "500"] + tls_args +
                # Tokens that expire within a test: clients must authenticate again.
                (["--auth-token-ttl", "3"] if auth else []),
                stdout=log, stderr=subprocess.STDOUT))
        urls = ["%s://127.0.0.1:%d" % (scheme, p) for p in client]
        ctx = None
        if tls:
            ctx = ssl.create_default_context(cafile=pki["ca.pem"])
            ctx.load_cert_chain(pki["client.pem"], pki["client.key"])
        deadline = time.time() + 30
        while not all(healthy(u, ctx) for u in urls):
            if time.time() > deadline or any(p.poll() is not None for p in procs):
                print("etcd_harness: etcd did not come up", file=sys.stderr)
                for name in names:
                    with open(os.path.join(tmp, name + ".log")) as f:
                        sys.stderr.write(f.read()[-3000:])
                return 1
            time.sleep(0.2)
        env = dict(os.environ)
        if tls:
            env["ACME_TEST_ETCD_CA"] = pki["ca.pem"]
            env["ACME_TEST_ETCD_CERT"] = pki["client.pem"]
            env["ACME_TEST_ETCD_KEY"] = pki["client.key"]
        if auth:
            password = secrets.token_hex(12)
            etcdctl(urls, pki, "user", "add", "root:" + password)
            etcdctl(urls, pki, "user", "grant-role", "root", "root")
            etcdctl(urls, pki, "auth", "enable")
            env["ACME_TEST_ETCD_USER"] = "root"
            env["ACME_TEST_ETCD_PASSWORD"] = password
        env["ACME_TEST_ETCD"] = ",".join(urls)
        env["ACME_TEST_ETCD_PIDS"] = ",".join(str(p.pid) for p in procs)
        rc = subprocess.call(wrapped(command), env=env)
        if rc != 0:
            for name in names:
                with open(os.path.join(tmp, name + ".log")) as f:
                    sys.stderr.write("---- last lines of etcd %s ----\n" % name)
                    sys.stderr.write("".join(f.readlines()[-20:]))
        return rc
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        for log in logs:
            log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
