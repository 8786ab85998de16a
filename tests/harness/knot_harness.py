"""Knot DNS as the authoritative server of the DNS tests (used by pebble_harness.py --knot).

Two knotd processes on one free port, one on 127.0.0.1 and one on 127.0.0.2
(all of 127/8 is loopback on Linux, and NS records carry no port):

  zone.test  served by the first only (NS ns1.zone.test), updatable with the
             TSIG key: the zone the solver tests issue for.
  two.test   served by both, each a primary of its own copy (NS ns1.two.test
             and ns2.two.test): the solver updates the first; the second gets
             a value only when the test puts it there (late, or never), which
             is what the propagation check must notice.

Both accept updates signed with the key "acme-key" (hmac-sha256); its BIND key
file is written for the tests. Everything lives in a temp dir; the servers are
stopped by PID.
"""
import base64
import os
import socket
import subprocess
import time

ZONES = {
    "zone.test": ["127.0.0.1"],
    "two.test": ["127.0.0.1", "127.0.0.2"],
}
KEY_NAME = "acme-key"
READY_TIMEOUT = 20


def free_port(addrs):
    """A port free for UDP and TCP on every address of addrs."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((addrs[0], 0))
            port = s.getsockname()[1]
        try:
            held = []
            for a in addrs:
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    t = socket.socket(socket.AF_INET, kind)
                    held.append(t)
                    t.bind((a, port))
            return port
        except OSError:
            continue
        finally:
            for t in held:
                t.close()
    raise OSError("no free port for the DNS servers")


def zone_text(zone):
    lines = [f"$ORIGIN {zone}.", "$TTL 60",
             f"@ SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 60"]
    for i, addr in enumerate(ZONES[zone], 1):
        lines += [f"@ NS ns{i}.{zone}.", f"ns{i} A {addr}"]
    lines += ["@ A 127.0.0.1", "* A 127.0.0.1"]
    return "\n".join(lines) + "\n"


class Knot:
    def __init__(self, tmpdir, spawn):
        self.dir = os.path.join(tmpdir, "knot")
        os.mkdir(self.dir)
        self.port = free_port(["127.0.0.1", "127.0.0.2"])
        self.secret = base64.b64encode(os.urandom(32)).decode()
        self.keyfile = os.path.join(self.dir, "acme.key")
        with open(self.keyfile, "w") as f:
            f.write(f'key "{KEY_NAME}" {{\n\talgorithm hmac-sha256;\n'
                    f'\tsecret "{self.secret}";\n}};\n')
        self.procs = []
        self.sockets = {}
        for n, addr in enumerate(("127.0.0.1", "127.0.0.2"), 1):
            conf = self.write_conf(n, addr)
            log = os.path.join(self.dir, f"knot{n}.log")
            self.procs.append(spawn(["knotd", "-c", conf], log))

    def write_conf(self, n, addr):
        d = os.path.join(self.dir, f"s{n}")
        os.mkdir(d)
        zones = [z for z, addrs in ZONES.items() if addr in addrs]
        for z in zones:
            with open(os.path.join(d, f"{z}.zone"), "w") as f:
                f.write(zone_text(z))
        self.sockets[addr] = os.path.join(d, "knot.sock")
        conf = os.path.join(d, "knot.conf")
        with open(conf, "w") as f:
            f.write(f"""server:
  rundir: "{d}"
  listen: {addr}@{self.port}
control:
  listen: "{self.sockets[addr]}"
database:
  storage: "{d}"
log:
  - target: stderr
    any: info
key:
  - id: {KEY_NAME}
    algorithm: hmac-sha256
    secret: {self.secret}
acl:
  - id: update
    key: {KEY_NAME}
    action: update
template:
  - id: default
    storage: "{d}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    acl: update
zone:
""" + "".join(f"  - domain: {z}\n" for z in zones))
        return conf

    def ready(self):
        """Each server answers the SOA of its first zone."""
        for addr in ("127.0.0.1", "127.0.0.2"):
            zone = next(z for z, a in ZONES.items() if addr in a)
            r = subprocess.run(["kdig", "+short", "+timeout=1", "+retry=0", f"@{addr}",
                                "-p", str(self.port), zone, "SOA"],
                               capture_output=True, text=True)
            if r.returncode != 0 or not r.stdout.strip():
                return False
        return True

    def wait_ready(self, alive):
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.ready():
            alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"knotd not ready after {READY_TIMEOUT} s")
            time.sleep(0.1)

    def env(self):
        return {
            "ACME_TEST_KNOT_PORT": str(self.port),
            "ACME_TEST_KNOT_KEY": self.keyfile,
            "ACME_TEST_KNOT_SECRET": self.secret,
            "ACME_TEST_KNOT_RESOLVER": f"127.0.0.1:{self.port}",
        }
