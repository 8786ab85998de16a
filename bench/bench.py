#!/usr/bin/env python3
"""libacme side by side with uacme and lego on one private Pebble.

    python3 bench/bench.py [--runs N] [--batch-runs N] [--quick] [--build DIR]

Needs a build (meson setup build && ninja -C build; for the crypto
micro-benchmark also -Dbench=true), the Debian packages pebble, uacme and lego,
strace (the peers' TLS connections) and time (GNU time: peak RSS). Runs as
root: uacme has no CA-bundle option, so it is shown Pebble's CA through a
private mount namespace (see bench/README.md). Python 3 standard library only.

It starts tests/harness/pebble_harness.py (Pebble with PEBBLE_VA_NOSLEEP=1 and
pebble-challtestsrv on free ports) and runs itself inside it ("inner" mode),
so every contender talks to the same Pebble in one run, interleaved:

  * one issuance (existing account, one new name, http-01 through one shared
    webroot) for acmectl, uacme and lego: wall time, Pebble requests, peak RSS;
  * the same under strace: TLS connections to the CA per process;
  * 100 certificates in one acmectl process (ensure --parallel 1, 8, 32)
    against a loop of 100 uacme processes;
  * the crypto micro-benchmark build/bench/micro.

Prints a table with the ratios and the targets met / not met, and writes the
raw figures to bench/results/latest.json. Not part of the test suite.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HARNESS = os.path.join(ROOT, "tests", "harness", "pebble_harness.py")
DEFAULT_RESULTS = os.path.join(HERE, "results", "latest.json")

# Pebble settings for every run. The VA does not sleep (the point of the
# issue); the 5 % random badNonce rejections and the 50 % authorization reuse
# of Pebble's defaults are switched off so that a request count says what the
# client does, not what the dice did (no real CA rejects good nonces at random).
PEBBLE_ENV = {
    "PEBBLE_VA_NOSLEEP": "1",
    "PEBBLE_WFE_NONCEREJECT": "0",
    "PEBBLE_AUTHZREUSE": "0",
}

CONTENDERS = ("acmectl", "uacme", "lego")
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
EMAIL = "bench@example.com"
MIB = 1024 * 1024

# Targets of the benchmark issue.
MAX_REQUESTS = 9          # per issuance with a known account URL
FAR_BELOW_LEGO = 5.0      # "far below lego's": at least this many times faster
BATCH_SPEEDUP = 4.0       # parallelism 8 against parallelism 1
BATCH_RSS_MIB = 64

PEBBLE_REQUEST = re.compile(r"(GET|HEAD|POST) (\S+) -> calling handler\(\)")
CONNECT_LINE = re.compile(r"connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\)")
ACMECTL_STATS = re.compile(r"(\d+) requests over (\d+) connections?")


def say(msg=""):
    print(msg, flush=True)


def note(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Outer mode: check what is needed, then run the inner mode under the harness.


def installed_version(pkg):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                             capture_output=True, text=True, check=False)
        return out.stdout.strip() or None
    except OSError:
        return None


def outer(args):
    build = os.path.abspath(args.build)
    acmectl = os.path.join(build, "examples", "acmectl")
    if not os.access(acmectl, os.X_OK):
        note(f"{acmectl} not found: build first (meson setup build && ninja -C build)")
        return 2
    missing = [t for t in ("pebble", "pebble-challtestsrv", "openssl") if not shutil.which(t)]
    if missing:
        note(f"not installed: {', '.join(missing)} (apt-get install pebble openssl)")
        return 2
    want = [c for c in args.only.split(",") if c]
    for c in want:
        if c not in CONTENDERS:
            note(f"unknown contender {c!r} (choose from {', '.join(CONTENDERS)})")
            return 2
    for peer in ("uacme", "lego"):
        if peer in want and not shutil.which(peer):
            note(f"{peer} is not installed (apt-get install {peer}), or leave it out with --only")
            return 2
    if "uacme" in want and os.geteuid() != 0:
        note("uacme needs root here: it trusts only the system CA store, so the bench "
             "shows it Pebble's CA in a private mount namespace; run as root or "
             "leave it out with --only acmectl,lego")
        return 2
    if not HAVE_GNU_TIME:
        note("GNU time not installed (apt-get install time): peak RSS will be an upper "
             "bound that includes the forked Python image")
    if not shutil.which("strace"):
        note("strace not installed (apt-get install strace): the peers' TLS connections "
             "will not be counted")
    micro = os.path.join(build, "bench", "micro")
    if not os.access(micro, os.X_OK):
        note(f"{micro} not built: the crypto micro-benchmark is skipped "
             f"(meson configure {args.build} -Dbench=true && ninja -C {args.build})")
    if args.baseline:
        base = os.path.join(os.path.abspath(args.baseline), "examples", "acmectl")
        if not os.access(base, os.X_OK):
            note(f"--baseline: {base} not found")
            return 2
    cmd = [sys.executable, HARNESS] + (["--keep"] if args.keep else [])
    for k, v in PEBBLE_ENV.items():
        cmd += ["--env", f"{k}={v}"]
    cmd += ["--", sys.executable, os.path.abspath(__file__), "--inner"] + args.argv
    rc = subprocess.call(cmd)
    if rc == 77:
        note("the harness skipped (pebble not installed?)")
    return rc


# ---------------------------------------------------------------------------
# Inner mode: helpers


HEAVY_PARALLEL = 8
PROCESS_TIMEOUT_S = 600


def error_lines(log, limit=12):
    """The first distinct error lines of a log (the temporary directory with
    the full log is removed when the bench exits, unless --keep)."""
    seen = []
    try:
        with open(log, errors="replace") as f:
            for line in f:
                text = re.sub(r"^\[\s*[\d.]+\] ", "", line.strip())
                if "error" in text.lower() and text not in seen:
                    seen.append(text)
                    if len(seen) == limit:
                        break
    except OSError:
        pass
    return "\n".join(seen) or "(no error lines)"


class BatchFailed(Exception):
    def __init__(self, msg, log):
        super().__init__(msg)
        self.log = log


class Stats:
    @staticmethod
    def summary(values):
        v = sorted(values)
        if not v:
            return None
        q = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
        return {"n": len(v), "median": statistics.median(v), "min": v[0], "max": v[-1],
                "q1": q[0], "q3": q[2],
                "stdev": statistics.stdev(v) if len(v) > 1 else 0.0}


GNU_TIME = "/usr/bin/time"


def gnu_time():
    """GNU time, which reports a command's own peak RSS. A child of this
    Python process would not do: Linux counts the RSS of the forked Python
    image (about 20 MiB) in ru_maxrss of the child that then execs."""
    try:
        out = subprocess.run([GNU_TIME, "--version"], capture_output=True, text=True,
                             check=False)
        return "GNU" in out.stdout + out.stderr
    except OSError:
        return False


HAVE_GNU_TIME = gnu_time()


def run_process(argv, env=None, log=None, cwd=None, rss=True):
    """Run argv to completion: wall seconds, exit status, CPU seconds and peak
    RSS in KiB (the largest process of the command's tree)."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    rss_file = None
    if rss and HAVE_GNU_TIME:
        fd, rss_file = tempfile.mkstemp(prefix="bench-rss-")
        os.close(fd)
        argv = [GNU_TIME, "-f", "%M", "-o", rss_file] + list(argv)
    try:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)

        def kill_group():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        # A hung command (say, against a wedged Pebble) is killed, not waited for.
        watchdog = threading.Timer(PROCESS_TIMEOUT_S, kill_group)
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.monotonic() - t0
    finally:
        if log:
            out.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    maxrss = usage.ru_maxrss  # an upper bound (see gnu_time) unless replaced
    if rss_file:
        try:
            with open(rss_file) as f:
                lines = [x for x in f.read().split() if x.isdigit()]
            if lines:
                maxrss = int(lines[-1])
        finally:
            os.unlink(rss_file)
    return {"wall_s": wall, "rc": proc.returncode, "maxrss_kib": maxrss,
            "utime_s": usage.ru_utime, "stime_s": usage.ru_stime}


def find_pid(predicate):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if predicate([a.decode("utf-8", "replace") for a in argv if a]):
            return int(pid)
    return None


def cpu_seconds(pid):
    """utime + stime of a running process, or None."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class PebbleLog:
    """Request lines Pebble logged since the last call."""

    def __init__(self, path):
        self.path = path
        self.offset = os.path.getsize(path)

    def take(self):
        # Every request a client sends is logged before Pebble answers it, so
        # once the client has exited its lines are all in the file.
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        text = data[:end].decode("utf-8", "replace")
        return [f"{m.group(1)} {m.group(2)}" for m in PEBBLE_REQUEST.finditer(text)]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def private_trust_store(bundle):
    """Make SYSTEM_BUNDLE show `bundle` for this process and its children only:
    a private mount namespace with a bind mount, gone when the bench exits.
    The real trust store is never written. Returns None or why it failed."""
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNS = 0x00020000
    MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
    if libc.unshare(CLONE_NEWNS) != 0:
        return f"unshare(CLONE_NEWNS): {os.strerror(ctypes.get_errno())}"
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return f"mount --make-rprivate /: {os.strerror(ctypes.get_errno())}"
    if libc.mount(bundle.encode(), SYSTEM_BUNDLE.encode(), None, MS_BIND, None) != 0:
        return f"bind mount over {SYSTEM_BUNDLE}: {os.strerror(ctypes.get_errno())}"
    return None


def elf_alloc_size(path):
    """Bytes of the sections an ELF64 file loads (SHF_ALLOC): the library's
    footprint without symbols and debug info."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    endian = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(endian + "Q", data, 0x28)
    shentsize, shnum = struct.unpack_from(endian + "HH", data, 0x3A)
    total = 0
    for i in range(shnum):
        base = shoff + i * shentsize
        sh_type, sh_flags = struct.unpack_from(endian + "IQ", data, base + 4)
        sh_size, = struct.unpack_from(endian + "Q", data, base + 32)
        if sh_flags & 0x2 and sh_type != 8:  # SHF_ALLOC, not NOBITS (.bss)
            total += sh_size
    return total


def machine_info():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    debian = None
    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_bytes": mem,
            "kernel": platform.release(), "debian": debian,
            "python": platform.python_version()}


def fmt_s(x):
    if x is None:
        return "n/a"
    if x >= 10:
        return f"{x:.1f} s"
    if x >= 1:
        return f"{x:.2f} s"
    return f"{x * 1000:.0f} ms"


def fmt_mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


def fmt_ratio(x):
    if x is None:
        return "n/a"
    return f"{x:.2f}x" if x < 10 else f"{x:.0f}x"


# ---------------------------------------------------------------------------
# Inner mode: the contenders


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.acmectl = os.path.join(self.build, "examples", "acmectl")
        self.binaries = {"acmectl": self.acmectl}
        self.directory = os.environ["ACME_TEST_DIRECTORY"]
        self.ca = os.environ["ACME_TEST_CA_BUNDLE"]
        self.http_port = int(os.environ["ACME_TEST_HTTP_PORT"])
        self.pebble_port = int(self.directory.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        self.tmp = os.path.join(os.environ["ACME_TEST_TMPDIR"], "bench")
        os.makedirs(self.tmp)
        self.logs = os.path.join(self.tmp, "logs")
        os.makedirs(self.logs)
        self.pebble_log = PebbleLog(os.environ["ACME_TEST_PEBBLE_LOG"])
        self.webroot = os.path.join(self.tmp, "www")
        os.makedirs(os.path.join(self.webroot, ".well-known", "acme-challenge"))
        self.bundle = os.path.join(self.tmp, "bundle.pem")
        self.contenders = [c for c in args.only.split(",") if c]
        if args.baseline and "acmectl" in self.contenders:
            # Another build of acmectl, run beside this one (before/after).
            self.binaries["baseline"] = os.path.join(os.path.abspath(args.baseline),
                                                     "examples", "acmectl")
            self.contenders.insert(self.contenders.index("acmectl") + 1, "baseline")
        self.strace = shutil.which("strace")
        config = os.path.join(os.path.dirname(os.environ["ACME_TEST_PEBBLE_LOG"]),
                              "pebble-config.json")
        self.pebble_pid = find_pid(lambda a: bool(a) and os.path.basename(a[0]) == "pebble"
                                   and config in a)
        self.web = None
        self.seq = 0
        self.results = {"notes": []}

    # -- setup ----------------------------------------------------------------

    def setup(self):
        # Every contender trusts the same file: the system's trust store plus
        # the CA of Pebble's HTTPS listener, so each pays the same to load it.
        with open(self.bundle, "wb") as out:
            with open(SYSTEM_BUNDLE, "rb") as f:
                out.write(f.read())
            with open(self.ca, "rb") as f:
                out.write(b"\n" + f.read())
        if "uacme" in self.contenders:
            why = private_trust_store(self.bundle)
            if why:
                raise SystemExit(f"bench: cannot show uacme Pebble's CA ({why})")
        self.hook = os.path.join(self.tmp, "uacme-hook.sh")
        with open(self.hook, "w") as f:
            f.write(f"""#!/bin/sh
# uacme hook: http-01 answers into the shared webroot (as uacme's uacme.sh)
dir='{self.webroot}/.well-known/acme-challenge'
case "$1:$2" in
begin:http-01) printf '%s' "$5" > "$dir/$4" ;;
done:http-01|failed:http-01) rm -f "$dir/$4" ;;
*) exit 1 ;;
esac
""")
        os.chmod(self.hook, 0o755)
        # One static web server answers http-01 for everyone: acmectl
        # --webroot, lego --http.webroot and uacme's hook write files into it.
        self.start_web()

    def start_web(self):
        self.web = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve-webroot", self.webroot,
             str(self.http_port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.http_port):
            raise SystemExit("bench: the webroot server did not start")

    def stop(self):
        if self.web and self.web.poll() is None:
            self.web.terminate()
            try:
                self.web.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.web.kill()
                self.web.wait()
        self.web = None

    def log_path(self, what):
        self.seq += 1
        return os.path.join(self.logs, f"{self.seq:04d}-{what}.log")

    def check(self, what, res, log):
        if res["rc"] != 0:
            tail = ""
            try:
                with open(log, "rb") as f:
                    tail = f.read()[-3000:].decode("utf-8", "replace")
            except OSError:
                pass
            raise SystemExit(f"bench: {what} failed with status {res['rc']}:\n{tail}")

    # -- command lines ----------------------------------------------------------

    def acmectl_state(self, name):
        return os.path.join(self.tmp, "acmectl", name)

    def uacme_conf(self, name):
        return os.path.join(self.tmp, "uacme", name)

    def register(self, contender, name):
        """Create an account (not timed); returns what later runs need."""
        if contender in self.binaries:
            state = self.acmectl_state(f"{contender}-{name}")
            argv = [self.binaries[contender], "--directory", self.directory, "--ca-bundle", self.bundle,
                    "--state", state, "register", EMAIL, "--agree-tos"]
        elif contender == "uacme":
            state = self.uacme_conf(name)
            argv = ["uacme", "-c", state, "-a", self.directory, "-t", "EC", "-y", "new", EMAIL]
        else:
            state = os.path.join(self.tmp, "lego", name)
            # lego has no register-only command: its first run registers.
            argv = self.issue_argv("lego", state, f"warm-{name}.lego.bench.test")
        os.makedirs(os.path.dirname(state), exist_ok=True)
        log = self.log_path(f"register-{contender}")
        res = run_process(argv, env=self.env(contender), log=log)
        self.check(f"{contender} registration", res, log)
        self.pebble_log.take()
        return state

    def env(self, contender):
        env = dict(os.environ)
        if contender == "lego":
            env["LEGO_CA_CERTIFICATES"] = self.bundle
        return env

    def issue_argv(self, contender, state, name, verbose=False):
        if contender in self.binaries:
            return [self.binaries[contender], "--state", state, "--ca-bundle", self.bundle] + \
                (["-v"] if verbose else []) + ["issue", name, "--webroot", self.webroot]
        if contender == "uacme":
            return ["uacme", "-c", state, "-a", self.directory, "-t", "EC", "-h", self.hook,
                    "issue", name]
        return ["lego", "--server", self.directory, "--email", EMAIL, "--accept-tos",
                "--path", state, "--key-type", "ec256", "--http", "--http.webroot",
                self.webroot, "-d", name, "run"]

    def server_cpu(self):
        return (cpu_seconds(self.pebble_pid), cpu_seconds(self.web.pid if self.web else None))

    @staticmethod
    def cpu_delta(before, after):
        return [None if b is None or a is None else round(a - b, 3)
                for b, a in zip(before, after)]

    def issue(self, contender, state, name, wrap=None, verbose=False):
        argv = self.issue_argv(contender, state, name, verbose)
        if wrap:
            argv = wrap + argv
        log = self.log_path(f"{contender}-{name}")
        self.pebble_log.take()
        cpu0 = self.server_cpu()
        res = run_process(argv, env=self.env(contender), log=log, rss=not wrap)
        res["pebble_cpu_s"], res["web_cpu_s"] = self.cpu_delta(cpu0, self.server_cpu())
        res["requests"] = self.pebble_log.take()
        res["name"] = name
        res["log"] = log
        self.check(f"{contender} issue {name}", res, log)
        return res

    # -- phases -------------------------------------------------------------------

    def single(self):
        runs = self.args.runs
        states = {c: self.register(c, "single") for c in self.contenders}
        for c in self.contenders:  # warm the page cache, untimed
            self.issue(c, states[c], f"warm.{c}.bench.test")
        per = {c: [] for c in self.contenders}
        for r in range(runs):
            k = r % len(self.contenders)
            for c in self.contenders[k:] + self.contenders[:k]:
                res = self.issue(c, states[c], f"s{r:02d}.{c}.bench.test")
                per[c].append(res)
            note(f"single issuance: round {r + 1}/{runs} done")
        out = {}
        for c, rs in per.items():
            seqs = {}
            for x in rs:
                key = " | ".join(x["requests"])
                seqs[key] = seqs.get(key, 0) + 1
            out[c] = {
                "wall_s": Stats.summary([x["wall_s"] for x in rs]),
                "requests": Stats.summary([len(x["requests"]) for x in rs]),
                "maxrss_kib": Stats.summary([x["maxrss_kib"] for x in rs]),
                "cpu_s": Stats.summary([x["utime_s"] + x["stime_s"] for x in rs]),
                "pebble_cpu_s": Stats.summary([x["pebble_cpu_s"] for x in rs
                                               if x["pebble_cpu_s"] is not None]),
                "request_sequences": sorted(seqs.items(), key=lambda kv: -kv[1]),
                "runs": [{k: x[k] for k in ("name", "wall_s", "maxrss_kib", "utime_s",
                                            "stime_s", "pebble_cpu_s", "web_cpu_s",
                                            "requests")} for x in rs],
            }
        self.results["single"] = out
        self.states = states

    def connections(self):
        """TLS connections to the CA per process: strace's connect() calls to
        Pebble's port (every connection to Pebble is TLS). Untimed runs."""
        runs = self.args.conn_runs
        out = {c: {"strace": [], "acmectl_stats": [], "requests": []} for c in self.contenders}
        for r in range(runs):
            for c in self.contenders:
                name = f"c{r:02d}.{c}.bench.test"
                if self.strace:
                    trace = os.path.join(self.tmp, f"strace-{c}-{r}.txt")
                    wrap = [self.strace, "-f", "-qq", "-e", "trace=connect", "-o", trace]
                    res = self.issue(c, self.states[c], name, wrap=wrap, verbose=True)
                    with open(trace, errors="replace") as f:
                        n = sum(1 for m in CONNECT_LINE.finditer(f.read())
                                if int(m.group(1)) == self.pebble_port)
                    out[c]["strace"].append(n)
                elif c in self.binaries:
                    res = self.issue(c, self.states[c], name, verbose=True)
                else:
                    continue
                out[c]["requests"].append(len(res["requests"]))
                if c in self.binaries:
                    with open(res["log"], errors="replace") as f:
                        m = ACMECTL_STATS.search(f.read())
                    if m:
                        out[c]["acmectl_stats"].append([int(m.group(1)), int(m.group(2))])
        self.results["connections"] = out
        note("TLS connection counts done")

    def pebble_alive(self):
        """Pebble answers within a few seconds a request that reads its
        database (GET /dir does not: a wedged Pebble still serves it): the
        management API's status of a certificate that does not exist."""
        import ssl
        import urllib.error
        import urllib.request
        ctx = ssl.create_default_context(cafile=self.ca)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=ctx))
        url = os.environ["ACME_TEST_PEBBLE_MGMT"] + "/cert-status-by-serial/7e57"
        try:
            with opener.open(url, timeout=5) as resp:
                return resp.status in (200, 404)
        except urllib.error.HTTPError as e:
            return e.code == 404
        except Exception:  # noqa: BLE001 - any other failure means "not answering"
            return False

    def batch_run(self, c, p, r, names, wants):
        """One batch: c's certificates for names. Raises BatchFailed."""
        n = len(names)
        label = f"{c}-p{p}"
        state = self.register(c, f"batch-r{r}-p{p}")
        standalone = c in self.binaries and self.args.batch_solver == "standalone"
        if standalone:
            # acmectl's own responder answers on the port the web server had.
            self.stop()
            solver = ["--solver", "standalone", "--http-port", str(self.http_port),
                      "--listen", "127.0.0.1"]
        else:
            solver = ["--webroot", self.webroot]
        cpu0 = self.server_cpu()
        if c in self.binaries:
            argv = [self.binaries[c], "-v", "--state", state, "--ca-bundle", self.bundle,
                    "ensure", "--wants", wants, "--parallel", str(p)] + solver
            log = self.log_path(f"batch-{label}")
            self.pebble_log.take()
            try:
                res = run_process(argv, env=self.env(c), log=log)
            finally:
                cpu1 = self.server_cpu()
                if standalone:
                    self.start_web()
            with open(log, errors="replace") as f:
                text = f.read()
            m = re.search(r"ensure: (\d+) obtained", text)
            if res["rc"] != 0 or not m or int(m.group(1)) != n:
                raise BatchFailed(f"{c} ensure --parallel {p} obtained "
                                  f"{m.group(1) if m else '?'} of {n} (status {res['rc']})",
                                  log)
            s = ACMECTL_STATS.search(text)
            res["connections"] = int(s.group(2)) if s else None
        else:
            # uacme issues one certificate per process: a loop.
            self.pebble_log.take()
            t0 = time.monotonic()
            rss = 0
            cpu = 0.0
            for name in names:
                log = self.log_path(f"batch-uacme-{name}")
                x = run_process(self.issue_argv("uacme", state, name), env=self.env(c), log=log)
                if x["rc"] != 0:
                    raise BatchFailed(f"uacme issue {name} failed with status {x['rc']}", log)
                rss = max(rss, x["maxrss_kib"])
                cpu += x["utime_s"] + x["stime_s"]
            res = {"wall_s": time.monotonic() - t0, "maxrss_kib": rss, "utime_s": cpu,
                   "stime_s": 0.0, "connections": None}
            cpu1 = self.server_cpu()
        res["requests"] = len(self.pebble_log.take())
        res["pebble_cpu_s"], res["web_cpu_s"] = self.cpu_delta(cpu0, cpu1)
        res["round"] = r
        return res

    def batch(self):
        n = self.args.batch_size
        rounds = self.args.batch_runs
        names = [f"b{i:03d}.bench.test" for i in range(n)]
        wants = os.path.join(self.tmp, "batch.wants")
        with open(wants, "w") as f:
            f.write("".join(name + "\n" for name in names))
        # Parallelism above 8 runs after the interleaved rounds of the rest:
        # Pebble 2.4 can wedge for good under that load (a recursive read lock
        # of an order against CompleteOrder's write lock, letsencrypt/pebble
        # issue 554), and a wedged Pebble would lose every run after it.
        main, heavy = [], []
        for c in self.binaries:
            if c in self.contenders:
                for p in self.args.parallel:
                    (heavy if p > HEAVY_PARALLEL else main).append((c, p))
        if "uacme" in self.contenders:
            main.append(("uacme", 1))
        per = {f"{c}-p{p}": [] for c, p in main + heavy}
        failure = None
        for group in (main, heavy):
            for r in range(rounds):
                k = r % len(group) if group else 0
                for c, p in group[k:] + group[:k]:
                    label = f"{c}-p{p}"
                    if failure:
                        break
                    try:
                        res = self.batch_run(c, p, r, names, wants)
                    except BatchFailed as e:
                        if self.pebble_alive():
                            raise SystemExit(f"bench: {e}:\n{error_lines(e.log)}") from None
                        failure = (f"Pebble stopped answering during {label} round {r + 1} "
                                   f"(a wedged Pebble, letsencrypt/pebble issue 554): the "
                                   f"batch runs after it were skipped")
                        note(failure)
                        break
                    per[label].append(res)
                    note(f"batch of {n}: {label} round {r + 1}/{rounds}: "
                         f"{fmt_s(res['wall_s'])}")
        out = {}
        for label, rs in per.items():
            if not rs:
                continue
            out[label] = {
                "wall_s": Stats.summary([x["wall_s"] for x in rs]),
                "maxrss_kib": Stats.summary([x["maxrss_kib"] for x in rs]),
                "requests": Stats.summary([x["requests"] for x in rs]),
                "connections": [x["connections"] for x in rs],
                "cpu_s": Stats.summary([x["utime_s"] + x["stime_s"] for x in rs]),
                "pebble_cpu_s": Stats.summary([x["pebble_cpu_s"] for x in rs
                                               if x["pebble_cpu_s"] is not None]),
                "runs": rs,
            }
        self.results["batch"] = {"size": n, "configs": out, "failure": failure}

    def micro(self):
        exe = os.path.join(self.build, "bench", "micro")
        if not os.access(exe, os.X_OK):
            self.results["micro"] = None
            return
        argv = [exe, "--json"] + (["--quick"] if self.args.quick else [])
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise SystemExit(f"bench: {exe} failed:\n{out.stderr}")
        self.results["micro"] = json.loads(out.stdout)
        note("micro-benchmark done")

    def library(self):
        so = os.path.realpath(os.path.join(self.build, "lib", "libacme.so"))
        # Relative to the source tree: results files are committed.
        src = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
        info = {"path": os.path.relpath(so, src), "file_bytes": None, "alloc_bytes": None}
        if os.path.exists(so):
            info["file_bytes"] = os.path.getsize(so)
            info["alloc_bytes"] = elf_alloc_size(so)
        self.results["library"] = info

    # -- all of it ----------------------------------------------------------------

    def run(self):
        started = datetime.datetime.now(datetime.timezone.utc)
        self.results["started"] = started.isoformat(timespec="seconds")
        self.results["machine"] = machine_info()
        self.results["load_start"] = os.getloadavg()
        self.results["versions"] = {
            "libacme": self.acmectl_version(),
            "uacme": installed_version("uacme"), "lego": installed_version("lego"),
            "pebble": installed_version("pebble"),
            "mbedtls": installed_version("libmbedtls14") or installed_version("libmbedtls-dev"),
            "libcurl": installed_version("libcurl4"),
        }
        self.results["settings"] = {
            "runs": self.args.runs, "conn_runs": self.args.conn_runs,
            "batch_runs": self.args.batch_runs, "batch_size": self.args.batch_size,
            "batch_solver": self.args.batch_solver,
            "parallel": self.args.parallel, "pebble_env": PEBBLE_ENV,
            "contenders": self.contenders, "solver": "http-01, shared webroot",
            "baseline": self.binaries.get("baseline"),
            "keys": "EC P-256 account and certificate keys",
        }
        self.setup()
        if not self.pebble_alive():
            raise SystemExit("bench: Pebble does not answer GET /dir")
        self.library()
        self.single()
        self.connections()
        if self.args.batch_runs > 0 and self.args.batch_size > 0:
            self.batch()
        self.micro()
        self.results["load_end"] = os.getloadavg()
        self.results["seconds"] = round(time.monotonic() - T0, 1)
        self.results["targets"] = self.targets()
        return self.results

    def acmectl_version(self):
        out = subprocess.run([self.acmectl, "--version"], capture_output=True, text=True,
                             check=False)
        return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else None

    # -- targets ------------------------------------------------------------------

    def targets(self):
        R = self.results
        s = R.get("single", {})
        t = []

        def med(c, what="wall_s"):
            x = s.get(c, {}).get(what)
            return x["median"] if x else None

        a, u, l = med("acmectl"), med("uacme"), med("lego")
        if a is not None and u is not None and l is not None:
            ok = a <= u and a * FAR_BELOW_LEGO <= l
            t.append(("single issuance wall time <= uacme's median and far below lego's "
                      f"(<= 1/{FAR_BELOW_LEGO:g})", ok,
                      f"acmectl {fmt_s(a)}, uacme {fmt_s(u)}, lego {fmt_s(l)}"))
        if "acmectl" in s:
            mx = s["acmectl"]["requests"]["max"]
            t.append((f"at most {MAX_REQUESTS} requests per issuance (account URL known)",
                      mx <= MAX_REQUESTS,
                      f"acmectl {s['acmectl']['requests']['min']}-{mx} in "
                      f"{s['acmectl']['requests']['n']} runs"))
        conn = R.get("connections", {}).get("acmectl")
        if conn:
            counts = conn["strace"] or [c for _, c in conn["acmectl_stats"]]
            t.append(("exactly one TLS connection to the CA per process",
                      bool(counts) and all(c == 1 for c in counts),
                      f"acmectl {', '.join(map(str, counts))} over {len(counts)} runs"))
        b = R.get("batch", {}).get("configs", {})
        p1, p8 = b.get("acmectl-p1"), b.get("acmectl-p8")
        if R.get("batch") and not (p1 and p8):
            t.append((f"{R['batch']['size']} certificates: parallelism 8 >= "
                      f"{BATCH_SPEEDUP:g}x faster than 1", False, "not measured"))
        if p1 and p8:
            speed = p1["wall_s"]["median"] / p8["wall_s"]["median"]
            rss = p8["maxrss_kib"]["max"] / 1024
            t.append((f"{R['batch']['size']} certificates: parallelism 8 >= {BATCH_SPEEDUP:g}x "
                      f"faster than 1, peak RSS < {BATCH_RSS_MIB} MiB",
                      speed >= BATCH_SPEEDUP and rss < BATCH_RSS_MIB,
                      f"{speed:.2f}x, {rss:.1f} MiB"))
        ra, ru = med("acmectl", "maxrss_kib"), med("uacme", "maxrss_kib")
        if ra is not None and ru is not None:
            t.append(("peak RSS of one issuance <= uacme's", ra <= ru,
                      f"acmectl {fmt_mib(ra)}, uacme {fmt_mib(ru)}"))
        return [{"target": a, "met": ok, "figures": f} for a, ok, f in t]


# ---------------------------------------------------------------------------
# The table


def table(R):
    lines = []
    w = lines.append
    m = R["machine"]
    v = R["versions"]
    w(f"libacme benchmark, {R['started']} ({R['seconds']:.0f} s)")
    mem = f"{m['memory_bytes'] / 2**30:.0f} GiB" if m["memory_bytes"] else "? GiB"
    w(f"machine: {m['cpu']}, {m['cores']} cores, {mem} RAM, Linux {m['kernel']}, "
      f"Debian {m['debian']}; load average {R['load_start'][0]:.1f} at start, "
      f"{R['load_end'][0]:.1f} at end")
    w(f"CA: Pebble {v['pebble']} ({', '.join(f'{k}={x}' for k, x in R['settings']['pebble_env'].items())})")
    w(f"contenders: {v['libacme'] or 'acmectl'} (libacme, mbedTLS {v['mbedtls']}, libcurl "
      f"{v['libcurl']}), uacme {v['uacme']}, lego {v['lego']}")
    if R["settings"].get("baseline"):
        w(f"baseline: the acmectl of {R['settings']['baseline']}")
    w("all: existing account, one new name per issuance, http-01 answered from one shared "
      "webroot, EC P-256 keys, the same CA bundle")
    w("")
    s = R.get("single", {})
    conn = R.get("connections", {})
    a = s.get("acmectl", {}).get("wall_s", {}).get("median")
    w(f"One issuance: {R['settings']['runs']} runs each, interleaved")
    w(f"{'contender':<10} {'wall median':>11} {'min-max':>17} {'x acmectl':>9} "
      f"{'requests':>8} {'TLS conns':>9} {'peak RSS':>9} {'CPU':>7}")
    for c in R["settings"]["contenders"]:
        x = s.get(c)
        if not x:
            continue
        ws = x["wall_s"]
        ratio = ws["median"] / a if a else None
        req = x["requests"]
        reqs = f"{req['median']:g}" if req["min"] == req["max"] else \
            f"{req['median']:g} ({req['min']}-{req['max']})"
        cc = conn.get(c, {})
        counts = cc.get("strace") or ([n for _, n in cc.get("acmectl_stats", [])])
        conns = "n/a" if not counts else (str(counts[0]) if min(counts) == max(counts)
                                           else f"{min(counts)}-{max(counts)}")
        w(f"{c:<10} {fmt_s(ws['median']):>11} {fmt_s(ws['min']) + '-' + fmt_s(ws['max']):>17} "
          f"{fmt_ratio(ratio):>9} {reqs:>8} {conns:>9} {fmt_mib(x['maxrss_kib']['median']):>9} "
          f"{fmt_s(x['cpu_s']['median']):>7}")
    w("")
    w("Requests per issuance (most frequent sequence in Pebble's log):")
    for c in R["settings"]["contenders"]:
        if c in s:
            seq, cnt = s[c]["request_sequences"][0]
            short = re.sub(r"(/[A-Za-z-]+/)[^ |]+", r"\1", seq)
            w(f"  {c} ({cnt}/{R['settings']['runs']}): {short}")
    b = R.get("batch")
    if b:
        w("")
        solver = R["settings"].get("batch_solver", "webroot")
        w(f"{b['size']} certificates, one account (fresh each run), rounds interleaved; "
          f"--parallel above {HEAVY_PARALLEL} after the others")
        w("acmectl answers http-01 " + ("with its own responder" if solver == "standalone"
                                        else "through the webroot server")
          + ", uacme through the webroot server; CPU: the client's, then Pebble's")
        w(f"{'how':<30} {'runs':>4} {'wall median':>11} {'min-max':>17} {'certs/s':>8} "
          f"{'x p1':>6} {'requests':>8} {'conns':>5} {'peak RSS':>9} {'CPU':>7} {'Pebble':>7}")
        p1 = b["configs"].get("acmectl-p1", {}).get("wall_s", {}).get("median")
        for label, x in b["configs"].items():
            c, p = label.split("-p")
            how = f"{c} ensure --parallel {p}" if c != "uacme" else \
                f"uacme, {b['size']} processes in a loop"
            ws = x["wall_s"]
            conns = [n for n in x["connections"] if n is not None]
            w(f"{how:<30} {ws['n']:>4} {fmt_s(ws['median']):>11} "
              f"{fmt_s(ws['min']) + '-' + fmt_s(ws['max']):>17} "
              f"{b['size'] / ws['median']:>8.1f} "
              f"{fmt_ratio(p1 / ws['median']) if p1 else 'n/a':>6} "
              f"{x['requests']['median']:>8g} "
              f"{(str(max(conns)) if conns else 'n/a'):>5} "
              f"{fmt_mib(x['maxrss_kib']['max']):>9} "
              f"{fmt_s(x['cpu_s']['median']):>7} "
              f"{(fmt_s(x['pebble_cpu_s']['median']) if x['pebble_cpu_s'] else 'n/a'):>7}")
        if b.get("failure"):
            w(f"  note: {b['failure']}")
    lib = R.get("library", {})
    if lib.get("file_bytes"):
        w("")
        w(f"libacme shared object: {lib['file_bytes'] / 1024:.0f} KiB on disk "
          f"({os.path.basename(lib['path'])}, with debug info), "
          f"{lib['alloc_bytes'] / 1024:.0f} KiB loaded (allocated sections)")
    mi = R.get("micro")
    w("")
    if mi:
        w(f"Crypto micro-benchmark (libacme {mi['library']} on mbedTLS, one thread, medians)")
        w(f"{'key':<9} {'keygen':>10} {'keygen/s':>9} {'JWS sign':>9} {'sign/s':>7} "
          f"{'CSR':>8} {'CSR/s':>6} {'ECDSA, own group':>17}")
        for x in mi["results"]:
            own = x.get("ec_own_group_sign_median_s") or 0
            w(f"{x['key']:<9} {x['keygen_median_s'] * 1e3:>8.1f}ms "
              f"{1 / x['keygen_median_s']:>9.1f} {x['sign_median_s'] * 1e3:>7.2f}ms "
              f"{1 / x['sign_median_s']:>7.0f} {x['csr_median_s'] * 1e3:>6.2f}ms "
              f"{1 / x['csr_median_s']:>6.0f} "
              f"{(f'{own * 1e3:.2f}ms ({1 / own:.0f}/s)' if own else '-'):>17}")
        w("  (ECDSA, own group: a bare signature on the key's own mbedTLS group, which keeps "
          "the base-point table that mbedtls_pk_sign recomputes for every JWS)")
    else:
        w("Crypto micro-benchmark: not built (meson configure build -Dbench=true && "
          "ninja -C build)")
    w("")
    w("Targets")
    for x in R["targets"]:
        w(f"  [{'met' if x['met'] else 'NOT MET':>7}] {x['target']}: {x['figures']}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The webroot server (its own process, so that it does not share the GIL of
# the process that times the contenders)


def serve_webroot(directory, port):
    import functools
    import http.server

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        # socketserver's default backlog of 5 overflows when Pebble's VA
        # checks a parallel batch (3 fetches per challenge): the dropped SYNs
        # are retried after a second, which measured the server, not the
        # clients.
        request_queue_size = 256
        daemon_threads = True

    handler = functools.partial(Handler, directory=directory)
    with Server(("127.0.0.1", port), handler) as httpd:
        httpd.serve_forever()
    return 0


# ---------------------------------------------------------------------------

T0 = time.monotonic()


def inner(args):
    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    bench = Bench(args)
    try:
        results = bench.run()
    finally:
        bench.stop()
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    text = table(results)
    results["table"] = text
    with open(out + ".tmp", "w") as f:
        json.dump(results, f, indent=1, default=str)
    os.replace(out + ".tmp", out)
    say(text)
    say("")
    say(f"raw figures: {out}")
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench.py", description="libacme against uacme and lego on a private Pebble")
    p.add_argument("--runs", type=int, default=None,
                   help="timed single issuances per contender (default 10; --quick 3)")
    p.add_argument("--conn-runs", type=int, default=None,
                   help="untimed runs under strace per contender (default 3; --quick 1)")
    p.add_argument("--batch-runs", type=int, default=None,
                   help="rounds of the 100-certificate batch (default 3; --quick 1; 0 skips)")
    p.add_argument("--batch-size", type=int, default=100, help="certificates per batch")
    p.add_argument("--parallel", default="1,8,32",
                   help="acmectl ensure --parallel values (default 1,8,32)")
    p.add_argument("--batch-solver", choices=("standalone", "webroot"), default="standalone",
                   help="how acmectl answers http-01 in the batch: its own responder "
                        "(default) or the shared webroot server uacme uses")
    p.add_argument("--quick", action="store_true", help="fewer repetitions")
    p.add_argument("--only", default=",".join(CONTENDERS),
                   help="contenders, comma-separated (default acmectl,uacme,lego)")
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build dir")
    p.add_argument("--out", default=DEFAULT_RESULTS, help="results file (JSON)")
    p.add_argument("--baseline", metavar="BUILD_DIR",
                   help="also run the acmectl of another build (e.g. before a change), "
                        "interleaved, as contender 'baseline'")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary directory (logs of every run) and print its path")
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    q = args.quick
    args.runs = args.runs if args.runs is not None else (3 if q else 10)
    args.conn_runs = args.conn_runs if args.conn_runs is not None else (1 if q else 3)
    args.batch_runs = args.batch_runs if args.batch_runs is not None else (1 if q else 3)
    args.parallel = [int(x) for x in args.parallel.split(",") if x]
    args.argv = [a for a in argv if a != "--inner"]
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def main(argv):
    if argv[:1] == ["--serve-webroot"] and len(argv) == 3:
        return serve_webroot(argv[1], int(argv[2]))
    args = parse_args(argv)
    if args.inner:
        return inner(args)
    return outer(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
