#!/usr/bin/env python3
"""Start a private etcd (one member, or a cluster with --members N) on free
loopback ports with temporary data directories, run a command, and stop
the members by PID.

    etcd_harness.py [--members N] -- COMMAND [ARGS...]

The command gets ACME_TEST_ETCD (the members' client URLs, comma-separated)
and ACME_TEST_ETCD_PIDS (their PIDs, same order), so a test can stop or kill
a member; ACME_TEST_WRAP wraps it as pebble_harness.py does. Its exit status is the harness's; 77 (skip) when etcd is not
installed. The harness composes with pebble_harness.py (either may run the
other as its command).
"""
import os
import shutil
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


def healthy(url):
    """A member that answers a range request (the gateway is up and the
    cluster has a leader)."""
    try:
        req = urllib.request.Request(url + "/v3/kv/range", data=b'{"key":"AA=="}',
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def main():
    args = sys.argv[1:]
    members = 1
    while args and args[0] != "--":
        if args[0] == "--members" and len(args) > 1:
            members = int(args[1])
            args = args[2:]
        else:
            sys.exit("usage: etcd_harness.py [--members N] -- COMMAND [ARGS...]")
    if not args or len(args) < 2:
        sys.exit("usage: etcd_harness.py [--members N] -- COMMAND [ARGS...]")
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
    try:
        for i, name in enumerate(names):
            log = open(os.path.join(tmp, name + ".log"), "w")
            logs.append(log)
            curl = "http://127.0.0.1:%d" % client[i]
            purl = "http://127.0.0.1:%d" % peer[i]
            procs.append(subprocess.Popen(
                [etcd, "--name", name, "--data-dir", os.path.join(tmp, name),
                 "--listen-client-urls", curl, "--advertise-client-urls", curl,
                 "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
                 "--initial-cluster", cluster, "--initial-cluster-state", "new",
                 "--initial-cluster-token", os.path.basename(tmp),
                 "--heartbeat-interval", "50", "--election-timeout", "500"],
                stdout=log, stderr=subprocess.STDOUT))
        urls = ["http://127.0.0.1:%d" % p for p in client]
        deadline = time.time() + 30
        while not all(healthy(u) for u in urls):
            if time.time() > deadline or any(p.poll() is not None for p in procs):
                print("etcd_harness: etcd did not come up", file=sys.stderr)
                for name in names:
                    with open(os.path.join(tmp, name + ".log")) as f:
                        sys.stderr.write(f.read()[-3000:])
                return 1
            time.sleep(0.2)
        env = dict(os.environ)
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
