#!/usr/bin/env python3
"""Run a command against a private Pebble ACME server (integration tests, benchmarks).

    pebble_harness.py [options] -- CMD [ARGS...]

Starts Pebble and pebble-challtestsrv on free 127.0.0.1 ports, with a throw-away
CA for Pebble's HTTPS listener, runs CMD with ACME_TEST_* variables describing
them, then always stops both servers by PID and removes its temp dir (also when
CMD fails or the harness gets SIGTERM/SIGINT/SIGHUP, e.g. from meson's test
timeout; if the harness is SIGKILLed the servers die by PR_SET_PDEATHSIG).

Pebble 2.4 can deadlock under concurrent load (letsencrypt/pebble issue 554:
a request handler takes an order's read lock twice while the CA, completing
that order, waits for its write lock). Every request that reads its database
then hangs. When CMD fails and Pebble no longer answers such a
request from the harness itself, the harness says so, dumps the logs, and
runs CMD once more against a fresh Pebble; a failure of that second run
stands. A client cannot make Pebble stop answering an independent request
except through that Pebble bug.

Exit status: CMD's status (128+signo if CMD died by a signal, or if the harness
itself was signalled); 77 (meson "skip") if pebble, pebble-challtestsrv or
openssl is not installed; 99 (meson "hard error") if the servers cannot start.
Quiet on success; on failure it prints the tails of the server logs to stderr.

Variables given to CMD:
  ACME_TEST_DIRECTORY      https://127.0.0.1:PORT/dir
  ACME_TEST_CA_BUNDLE      CA file that signed Pebble's HTTPS certificate
  ACME_TEST_PEBBLE_MGMT    https://127.0.0.1:PORT (Pebble's management API, same CA)
  ACME_TEST_HTTP_PORT      port Pebble's VA connects to for http-01
  ACME_TEST_TLS_PORT       port Pebble's VA connects to for tls-alpn-01
  ACME_TEST_CHALLTESTSRV   http://127.0.0.1:PORT (challtestsrv management API)
  ACME_TEST_DNS            127.0.0.1:PORT (challtestsrv DNS, UDP and TCP)
  ACME_TEST_EAB_KID        EAB key id (only with --eab)
  ACME_TEST_EAB_HMAC_KEY   EAB MAC key, base64url without padding (only with --eab)
  ACME_TEST_PEBBLE_LOG     Pebble's log file
  ACME_TEST_SERVER_CERT    certificate (localhost, 127.0.0.1) of Pebble's listener, for
  ACME_TEST_SERVER_KEY     scripted servers that must be trusted through the same CA
  ACME_TEST_TMPDIR         empty directory for the test's own files
  ACME_TEST_KNOT_*         with --knot: Knot DNS serves the test zones and Pebble
                           resolves through it (see knot_harness.py): _PORT (on
                           127.0.0.1 and 127.0.0.2), _KEY (BIND key file), _SECRET,
                           _RESOLVER (127.0.0.1:PORT)

ACME_TEST_WRAP, when set, is put in front of CMD (unless CMD is a Python
wrapper, which does the same for its own command): e.g. valgrind.

Needs only Python 3.11's standard library, openssl, and Debian's `pebble` package
(Linux: it uses prctl and /proc).
"""

import argparse
import base64
import ctypes
import ctypes.util
import http.client
import json
import os
import secrets
import shutil
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import knot_harness

EXIT_SKIP = 77          # meson: test skipped
EXIT_SETUP_ERROR = 99   # meson: harness error, not a test failure
STARTUP_ATTEMPTS = 3
READY_TIMEOUT = 20.0
POLL_INTERVAL = 0.05
STOP_GRACE = 3.0
LOG_TAIL_LINES = 40
WEDGE_PROBE_TIMEOUT = 5.0
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
EAB_KID = "kid-1"
PORT_IN_USE = "address already in use"

OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no

[dn]
CN = libacme test CA

[ca_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


class HarnessError(Exception):
    """The servers could not be set up; the message says why."""


class PortConflict(HarnessError):
    """A chosen port was taken by someone else before a server bound it."""


class Interrupted(Exception):
    """The harness received a termination signal."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalState:
    """What the signal handler knows; the handler itself never raises, so a
    signal cannot tear through Popen or the cleanup code."""

    signum = None
    received_at = 0.0
    cmd = None  # Popen of CMD while it runs


SIGNALS = SignalState()


def on_signal(signum, _frame):
    if SIGNALS.signum is None:
        SIGNALS.signum = signum
        SIGNALS.received_at = time.monotonic()
    cmd = SIGNALS.cmd
    if cmd is not None and cmd.returncode is None:
        try:
            cmd.send_signal(signum)
        except OSError:
            pass


def check_interrupted():
    if SIGNALS.signum is not None:
        raise Interrupted(SIGNALS.signum)


def warn(msg):
    print(f"pebble_harness: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Child processes


def load_prctl():
    # Resolved in the parent: the child between fork and exec should do as
    # little as possible.
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def die_with_parent(prctl, sig):
    """preexec_fn: the child gets sig when the harness dies, even by SIGKILL."""
    parent = os.getpid()

    def setup():
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        # The parent may have died before prctl took effect.
        if os.getppid() != parent:
            os._exit(1)
    return setup


def stop_processes(procs):
    """SIGTERM, up to STOP_GRACE seconds, then SIGKILL; always reap."""
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.terminate()
            except OSError:
                pass
    deadline = time.monotonic() + STOP_GRACE
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrapped(cmd):
    """Put ACME_TEST_WRAP (e.g. "valgrind --leak-check=full --error-exitcode=1")
    in front of a test program. A Python command is another wrapper (such as
    scripted_server.py), which passes the variable on to its own command."""
    wrap = os.environ.get("ACME_TEST_WRAP")
    if not wrap or os.path.basename(cmd[0]).startswith("python"):
        return cmd
    return shlex.split(wrap) + cmd


def log_tail(path, lines=LOG_TAIL_LINES):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return f"(cannot read {path}: {e})\n"
    text = data.decode("utf-8", "replace").splitlines()[-lines:]
    return "".join(line + "\n" for line in text) or "(empty)\n"


def log_has(path, needle):
    try:
        with open(path, "rb") as f:
            return needle.encode() in f.read()
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Ports


def allocate_ports():
    """Free 127.0.0.1 ports; all probe sockets stay open until every port is
    chosen so the ports are distinct."""
    held = []

    def tcp_port():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held.append(s)
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

    def tcp_and_udp_port():
        # challtestsrv's DNS server binds the same port on TCP and UDP.
        for _ in range(100):
            port = tcp_port()
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            held.append(u)
            try:
                u.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
        raise HarnessError("no port free on both TCP and UDP")

    try:
        return {
            "listen": tcp_port(),
            "mgmt": tcp_port(),
            "http": tcp_port(),
            "tls": tcp_port(),
            "dns": tcp_and_udp_port(),
            "cts_mgmt": tcp_port(),
        }
    finally:
        for s in held:
            s.close()


def owned_ports(pid):
    """{"tcp": listening ports, "udp": bound ports} of process pid, from /proc;
    None if /proc cannot tell."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        result = {}
        for proto in ("tcp", "udp"):
            ports = set()
            for table in (f"/proc/{pid}/net/{proto}", f"/proc/{pid}/net/{proto}6"):
                try:
                    with open(table) as f:
                        rows = f.read().splitlines()[1:]
                except FileNotFoundError:
                    continue
                for row in rows:
                    fields = row.split()
                    if len(fields) < 10 or fields[9] not in inodes:
                        continue
                    if proto == "tcp" and fields[3] != "0A":  # 0A = LISTEN
                        continue
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
            result[proto] = ports
        return result
    except OSError:
        return None


def tcp_connects(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# The harness


class Harness:
    def __init__(self, opts):
        self.opts = opts
        self.prctl = load_prctl()
        self.workdir = tempfile.mkdtemp(prefix="acme-pebble-")
        self.ca = os.path.join(self.workdir, "ca.pem")
        self.cert = os.path.join(self.workdir, "cert.pem")
        self.key = os.path.join(self.workdir, "key.pem")
        self.config = os.path.join(self.workdir, "pebble-config.json")
        self.pebble_log = os.path.join(self.workdir, "pebble.log")
        self.cts_log = os.path.join(self.workdir, "challtestsrv.log")
        self.testdir = os.path.join(self.workdir, "test")
        self.eab_key = None
        self.ports = None
        self.pebble = None
        self.cts = None
        self.knot = None

    # -- certificates -------------------------------------------------------

    def openssl(self, *args):
        res = subprocess.run(["openssl", *args], cwd=self.workdir,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise HarnessError(f"openssl {args[0]} failed:\n"
                               + res.stdout.decode("utf-8", "replace"))

    def make_certificates(self):
        cnf = os.path.join(self.workdir, "openssl.cnf")
        with open(cnf, "w") as f:
            f.write(OPENSSL_CONFIG)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        self.openssl("req", "-x509", "-config", cnf, *ec, "-keyout", "ca.key",
                     "-out", "ca.pem", "-days", "3", "-subj", "/CN=libacme test CA",
                     "-extensions", "ca_ext")
        self.openssl("req", "-new", "-config", cnf, *ec, "-keyout", "key.pem",
                     "-out", "server.csr", "-subj", "/CN=localhost")
        self.openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
                     "-CAkey", "ca.key", "-set_serial", "0x" + secrets.token_hex(16),
                     "-days", "3", "-extfile", cnf, "-extensions", "server_ext",
                     "-out", "cert.pem")

    # -- servers ------------------------------------------------------------

    def write_pebble_config(self):
        p = self.ports
        conf = {
            "listenAddress": f"127.0.0.1:{p['listen']}",
            "managementListenAddress": f"127.0.0.1:{p['mgmt']}",
            "certificate": self.cert,
            "privateKey": self.key,
            "httpPort": p["http"],
            "tlsPort": p["tls"],
            "ocspResponderURL": "",
            "externalAccountBindingRequired": self.opts.eab,
        }
        if self.opts.eab:
            conf["externalAccountMACKeys"] = {EAB_KID: self.eab_key}
        with open(self.config, "w") as f:
            json.dump({"pebble": conf}, f, indent=2)

    def spawn(self, argv, log, env=None):
        with open(log, "wb") as out:
            return subprocess.Popen(argv, cwd=self.workdir, env=env,
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT,
                                    preexec_fn=die_with_parent(self.prctl, signal.SIGKILL))

    def start_servers_once(self):
        p = self.ports

        def mine(enabled, port):
            # An empty address disables a listener, leaving its port to the test.
            return f"127.0.0.1:{port}" if enabled else ""

        self.cts = self.spawn([
            "pebble-challtestsrv",
            "-dns01", f"127.0.0.1:{p['dns']}",
            "-http01", mine(self.opts.http01 == "challtestsrv", p["http"]),
            "-https01", "",
            "-tlsalpn01", mine(self.opts.tlsalpn01 == "challtestsrv", p["tls"]),
            "-management", f"127.0.0.1:{p['cts_mgmt']}",
            # Otherwise names resolve to ::1 first and 127.0.0.1 responders are missed.
            "-defaultIPv6", "",
            "-defaultIPv4", "127.0.0.1",
        ], self.cts_log)
        check_interrupted()

        dnsserver = f"127.0.0.1:{p['dns']}"
        if self.opts.knot:
            if self.knot is None:
                self.knot = knot_harness.Knot(self.workdir, self.spawn)
            self.knot.wait_ready(self.check_knot_alive)
            dnsserver = f"127.0.0.1:{self.knot.port}"
        self.write_pebble_config()
        env = dict(os.environ)
        env["PEBBLE_VA_NOSLEEP"] = "1"
        env.update(self.opts.env)
        argv = ["pebble", "-config", self.config, "-dnsserver", dnsserver]
        if self.opts.strict:
            argv.append("-strict")
        # Pebble does not need the DNS server to start, so both start in parallel.
        self.pebble = self.spawn(argv, self.pebble_log, env)
        check_interrupted()

        cts_tcp = {p["dns"], p["cts_mgmt"]}
        if self.opts.http01 == "challtestsrv":
            cts_tcp.add(p["http"])
        if self.opts.tlsalpn01 == "challtestsrv":
            cts_tcp.add(p["tls"])
        waiting = {
            "challtestsrv": lambda: self.cts_ready(cts_tcp),
            "pebble": self.pebble_ready,
        }
        deadline = time.monotonic() + READY_TIMEOUT
        while waiting:
            check_interrupted()
            self.check_servers_alive()
            for name in [n for n, ready in waiting.items() if ready()]:
                del waiting[name]
            if not waiting:
                break
            if time.monotonic() > deadline:
                raise HarnessError(f"{' and '.join(waiting)} not ready after "
                                   f"{READY_TIMEOUT:.0f} s")
            time.sleep(POLL_INTERVAL)
        self.check_servers_alive()

    def check_servers_alive(self):
        for name, proc, log in (("challtestsrv", self.cts, self.cts_log),
                                ("pebble", self.pebble, self.pebble_log)):
            # challtestsrv logs a failed bind but keeps running.
            if log_has(log, PORT_IN_USE):
                raise PortConflict(f"{name}: a port was taken")
            if proc.poll() is not None:
                raise HarnessError(f"{name} exited early with status {proc.returncode}")

    def check_knot_alive(self):
        for proc in self.knot.procs:
            if proc.poll() is not None:
                raise HarnessError(f"knotd exited early with status {proc.returncode}")

    def cts_ready(self, tcp_ports):
        owned = owned_ports(self.cts.pid)
        if owned is not None and not (tcp_ports <= owned["tcp"]
                                      and self.ports["dns"] in owned["udp"]):
            return False
        return tcp_connects(self.ports["cts_mgmt"])

    def pebble_ready(self):
        owned = owned_ports(self.pebble.pid)
        if owned is not None and not {self.ports["listen"], self.ports["mgmt"]} <= owned["tcp"]:
            return False
        # Trusting only our CA also proves it is our Pebble that answers.
        ctx = ssl.create_default_context(cafile=self.ca)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=ctx))
        try:
            with opener.open(self.directory_url(), timeout=1) as resp:
                return resp.status == 200 and "newNonce" in json.load(resp)
        except (OSError, ValueError, http.client.HTTPException):
            return False

    def pebble_answers(self):
        """Pebble answers a request that reads its database (GET /dir does
        not: a deadlocked Pebble still serves it): the management API's
        status of a certificate that does not exist, 404 expected."""
        ctx = ssl.create_default_context(cafile=self.ca)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=ctx))
        url = f"https://127.0.0.1:{self.ports['mgmt']}/cert-status-by-serial/7e57"
        try:
            with opener.open(url, timeout=WEDGE_PROBE_TIMEOUT) as resp:
                return resp.status in (200, 404)
        except urllib.error.HTTPError as e:
            return e.code == 404
        except (OSError, http.client.HTTPException):
            return False

    def start_servers(self):
        for attempt in range(1, STARTUP_ATTEMPTS + 1):
            self.ports = allocate_ports()
            try:
                self.start_servers_once()
                return
            except PortConflict as e:
                self.stop_servers()
                if attempt == STARTUP_ATTEMPTS:
                    raise HarnessError(f"{e}, {STARTUP_ATTEMPTS} times") from None
                if self.opts.verbose:
                    warn(f"{e}; retrying with new ports")

    def stop_servers(self):
        procs = [p for p in (self.cts, self.pebble) if p is not None]
        stop_processes(procs)
        self.cts = self.pebble = None

    # -- the command --------------------------------------------------------

    def directory_url(self):
        return f"https://127.0.0.1:{self.ports['listen']}/dir"

    def cmd_env(self):
        p = self.ports
        env = {
            "ACME_TEST_DIRECTORY": self.directory_url(),
            "ACME_TEST_CA_BUNDLE": self.ca,
            "ACME_TEST_SERVER_CERT": self.cert,
            "ACME_TEST_SERVER_KEY": self.key,
            "ACME_TEST_PEBBLE_MGMT": f"https://127.0.0.1:{p['mgmt']}",
            "ACME_TEST_HTTP_PORT": str(p["http"]),
            "ACME_TEST_TLS_PORT": str(p["tls"]),
            "ACME_TEST_CHALLTESTSRV": f"http://127.0.0.1:{p['cts_mgmt']}",
            "ACME_TEST_DNS": f"127.0.0.1:{p['dns']}",
            "ACME_TEST_PEBBLE_LOG": self.pebble_log,
            "ACME_TEST_TMPDIR": self.testdir,
        }
        if self.knot:
            env.update(self.knot.env())
        if self.opts.eab:
            env["ACME_TEST_EAB_KID"] = EAB_KID
            env["ACME_TEST_EAB_HMAC_KEY"] = self.eab_key
        return env

    def run_command(self, cmd):
        """Run CMD; returns its exit status in shell convention."""
        shutil.rmtree(self.testdir, ignore_errors=True)
        os.mkdir(self.testdir)
        extra = self.cmd_env()
        if self.opts.verbose:
            warn("ports: " + " ".join(f"{k}={v}" for k, v in self.ports.items()))
            for k, v in extra.items():
                warn(f"  {k}={v}")
        try:
            # SIGTERM, not SIGKILL: CMD may want to clean up after itself.
            SIGNALS.cmd = subprocess.Popen(
                wrapped(cmd), env={**os.environ, **extra},
                preexec_fn=die_with_parent(self.prctl, signal.SIGTERM))
        except OSError as e:
            warn(f"cannot run {cmd[0]}: {e}")
            return 126 if isinstance(e, PermissionError) else 127
        return self.wait_command()

    def wait_command(self):
        proc = SIGNALS.cmd
        while True:
            try:
                # A timeout keeps the loop able to notice a signal for CMD.
                proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if SIGNALS.signum is not None and \
                    time.monotonic() - SIGNALS.received_at > STOP_GRACE:
                proc.kill()
        check_interrupted()
        rc = proc.returncode
        return 128 - rc if rc < 0 else rc

    # -- all of it ----------------------------------------------------------

    def dump_logs(self):
        for name, log in (("pebble", self.pebble_log), ("challtestsrv", self.cts_log)):
            if os.path.exists(log):
                sys.stderr.write(f"---- last {LOG_TAIL_LINES} lines of {name} log ----\n"
                                 + log_tail(log))
        sys.stderr.flush()

    def run(self, cmd):
        """Everything but the cleanup; returns the exit status."""
        try:
            self.make_certificates()
            if self.opts.eab:
                self.eab_key = base64.urlsafe_b64encode(
                    secrets.token_bytes(32)).rstrip(b"=").decode()
            check_interrupted()
            self.start_servers()
        except HarnessError as e:
            warn(f"startup failed: {e}")
            self.dump_logs()
            return EXIT_SETUP_ERROR
        status = self.run_command(cmd)
        if status not in (0, EXIT_SKIP) and status < 128 and self.pebble is not None \
                and not self.pebble_answers():
            warn(f"{cmd[0]} exited with status {status}, and Pebble no longer answers a "
                 f"database read within {WEDGE_PROBE_TIMEOUT:.0f} s: Pebble deadlocked "
                 "(letsencrypt/pebble issue 554). Its logs, then one more run of the "
                 "command against a fresh Pebble:")
            self.dump_logs()
            self.stop_servers()
            try:
                self.start_servers()
            except HarnessError as e:
                warn(f"restart failed: {e}")
                return EXIT_SETUP_ERROR
            status = self.run_command(cmd)
        if status != 0:
            warn(f"{cmd[0]} exited with status {status}")
            self.dump_logs()
        return status

    def cleanup(self):
        cmd = SIGNALS.cmd
        if cmd is not None and cmd.returncode is None:
            try:
                cmd.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                cmd.kill()
                cmd.wait()
        self.stop_servers()
        if self.knot is not None:
            stop_processes(self.knot.procs)
            self.knot = None
        if self.opts.keep:
            warn(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def env_assignment(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="pebble_harness.py",
        usage="%(prog)s [options] -- CMD [ARGS...]",
        description="Run CMD against a private Pebble ACME server and challtestsrv.")
    parser.add_argument("--http01", choices=("none", "challtestsrv"), default="none",
                        help="who answers http-01 on ACME_TEST_HTTP_PORT (default: none, "
                             "the port is left free for the test)")
    parser.add_argument("--tlsalpn01", choices=("none", "challtestsrv"), default="none",
                        help="who answers tls-alpn-01 on ACME_TEST_TLS_PORT (default: none)")
    parser.add_argument("--eab", action="store_true",
                        help="require external account binding (key id kid-1, random key)")
    parser.add_argument("--strict", action="store_true", help="run pebble -strict")
    parser.add_argument("--knot", action="store_true",
                        help="start Knot DNS for the test zones and have Pebble resolve "
                             "through it (ACME_TEST_KNOT_*)")
    parser.add_argument("--env", action="append", type=env_assignment, default=[],
                        metavar="NAME=VALUE",
                        help="set a variable for pebble (repeatable), e.g. "
                             "PEBBLE_WFE_NONCEREJECT=50; PEBBLE_VA_NOSLEEP=1 is the default")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp dir and print its path")
    parser.add_argument("--verbose", action="store_true",
                        help="print the ports and the variables given to CMD")
    if "--" not in argv:
        parser.parse_args(argv)  # handles -h and bad options first
        parser.error("missing -- CMD [ARGS...]")
    split = argv.index("--")
    opts = parser.parse_args(argv[:split])
    cmd = argv[split + 1:]
    if not cmd:
        parser.error("missing CMD after --")
    opts.env = dict(opts.env)
    return opts, cmd


def main(argv):
    opts, cmd = parse_args(argv)
    tools = ["pebble", "pebble-challtestsrv", "openssl"]
    if opts.knot:
        tools += ["knotd", "kdig", "knsupdate"]
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        warn(f"not installed: {', '.join(missing)} (Debian: apt-get install pebble openssl"
             f"{' knot knot-dnsutils' if opts.knot else ''})")
        return EXIT_SKIP
    for sig in HANDLED_SIGNALS:
        signal.signal(sig, on_signal)
    harness = Harness(opts)
    status = EXIT_SETUP_ERROR
    try:
        status = harness.run(cmd)
    except Interrupted as e:
        warn(f"interrupted by {e}")
        harness.dump_logs()
        status = 128 + e.signum
    finally:
        harness.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
