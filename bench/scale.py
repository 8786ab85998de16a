#!/usr/bin/env python3
"""Scale mode of the benchmark: what an idle ensure costs over N stored
certificates (bench/README.md, "Scale mode").

For each N (default 10000, 100000, 1000000) it grows one state directory to
N certificates with BUILD/bench/scale_synth (a local test CA, no Pebble),
then runs BUILD/bench/scale_idle in both modes, nothing due:
acme_desire_add_stored + ensure, and acme_desire_ensure_stored (--due,
which reads only what is due), against a private Pebble (only the directory and the account are
asked for) and reports wall time, CPU time and peak RSS (GNU time), the cost
per name and the growth from one N to the next. --baseline-lib DIR runs
the same idle binary against another libacme.so (LD_LIBRARY_PATH) up to
--baseline-max names. The state directory is removed at the end.

    python3 bench/scale.py --build build-bench [--sizes 10000,100000] [--runs 3]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.join(HERE, "..", "tests", "harness", "pebble_harness.py")
GNU_TIME = "/usr/bin/time"
MIB = 1024 * 1024
# The goals of the scale table (README, "Performance").
GOAL_WALL_S = 10.0
GOAL_RSS_KIB = 128 * 1024
GOAL_GROWTH = 2.0


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where the state directory goes (default: TMPDIR)")
    ap.add_argument("--baseline-lib", default=None,
                    help="directory of another libacme.so.1 to run the idle binary against")
    ap.add_argument("--baseline-max", type=int, default=100000)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "latest-scale.json"))
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def timed(argv, env=None):
    """wall, user+sys CPU and peak RSS (KiB) of argv, with its stdout."""
    fd, tf = tempfile.mkstemp(prefix="scale-time-")
    os.close(fd)
    t0 = time.monotonic()
    p = subprocess.run([GNU_TIME, "-f", "%U %S %M", "-o", tf] + argv, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    wall = time.monotonic() - t0
    with open(tf) as f:
        fields = f.read().split()[-3:]
    os.unlink(tf)
    user, sys_, rss = float(fields[0]), float(fields[1]), int(fields[2])
    out = None
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            out = json.loads(line)
    return {"rc": p.returncode, "wall_s": wall, "cpu_s": user + sys_, "user_s": user,
            "sys_s": sys_, "maxrss_kib": rss, "result": out,
            "stderr": p.stderr.strip()[-400:]}


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def df_inodes(path):
    st = os.statvfs(path)
    return {"free_bytes": st.f_bavail * st.f_frsize, "free_inodes": st.f_favail}


def inner(args):
    build = os.path.abspath(args.build)
    synth = os.path.join(build, "bench", "scale_synth")
    idle = os.path.join(build, "bench", "scale_idle")
    directory = os.environ["ACME_TEST_DIRECTORY"]
    ca = os.environ["ACME_TEST_CA_BUNDLE"]
    sizes = [int(x) for x in args.sizes.split(",") if x]
    base = tempfile.mkdtemp(prefix="acme-scale-", dir=args.dir)
    state = os.path.join(base, "state")
    os.makedirs(state, mode=0o700)
    res = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
           "loadavg_start": loadavg(), "disk_start": df_inodes(base), "sizes": [],
           "runs": args.runs, "baseline_lib": args.baseline_lib}
    have = 0
    try:
        # The account, once: the idle runs then ask Pebble for the directory only.
        warm = timed([idle, state, directory, ca])
        if warm["rc"] != 0:
            print("warm-up failed:", warm["stderr"], file=sys.stderr)
            return 1
        for n in sizes:
            t0 = time.monotonic()
            p = subprocess.run([synth, state, str(have), str(n), directory], check=False)
            if p.returncode != 0:
                print(f"scale_synth failed at {n}", file=sys.stderr)
                return 1
            entry = {"n": n, "synth_s": time.monotonic() - t0, "loadavg": loadavg(),
                     "disk": df_inodes(base), "runs": [], "baseline": []}
            have = n
            timed([idle, state, directory, ca])  # page cache warm, as a daily run would find it
            for _ in range(args.runs):
                entry["runs"].append(timed([idle, state, directory, ca]))
            # Its first run is a full pass that writes the due summary (the
            # store grew outside the library's ensure): untimed, as a warm-up.
            entry["due_first"] = timed([idle, "--due", state, directory, ca])
            entry["due_runs"] = []
            for _ in range(args.runs):
                entry["due_runs"].append(timed([idle, "--due", state, directory, ca]))
            if args.baseline_lib and n <= args.baseline_max:
                env = dict(os.environ, LD_LIBRARY_PATH=args.baseline_lib)
                for _ in range(args.runs):
                    entry["baseline"].append(timed([idle, state, directory, ca], env=env))
            res["sizes"].append(entry)
            report_one(entry)
    finally:
        # The figures first: removing a million names takes minutes.
        res["loadavg_end"] = loadavg()
        save(args.out, res)
        print(table(res), flush=True)
        t0 = time.monotonic()
        subprocess.run(["rm", "-rf", "--one-file-system", base], check=False)
        res["cleanup_s"] = time.monotonic() - t0
        save(args.out, res)
    return 0


def save(path, res):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(res, f, indent=1)


def summary(runs):
    ok = [r for r in runs if r["rc"] == 0 and r["result"] and r["result"]["not_due"]]
    if not ok:
        return None
    return {"wall_s": median([r["wall_s"] for r in ok]), "cpu_s": median([r["cpu_s"] for r in ok]),
            "maxrss_kib": max(r["maxrss_kib"] for r in ok)}


def report_one(entry):
    s = summary(entry["runs"])
    print(f"N={entry['n']}: synthesised in {entry['synth_s']:.0f}s; idle: {s}", flush=True)
    print(f"  ensure_stored: {summary(entry['due_runs'])}", flush=True)
    if entry["baseline"]:
        b = summary(entry["baseline"])
        fail = entry["baseline"][0]["stderr"] if not b else ""
        print(f"  baseline: {b} {fail}", flush=True)


def table(res):
    out = []
    for key, title in (("runs", "acme_desire_add_stored + acme_desire_ensure"),
                       ("due_runs", "acme_desire_ensure_stored (reads what is due)")):
        out.append(f"{title}:")
        out.append(table_of(res, key))
        out.append("")
    out.append(f"load average: start {' '.join(res['loadavg_start'])}, "
               f"end {' '.join(res['loadavg_end'])}")
    return "\n".join(out)


def table_of(res, key):
    lines = ["| stored names | idle wall | idle CPU | peak RSS | per name | growth (wall) |"
             " before (wall, CPU, RSS) |", "|---|---|---|---|---|---|---|"]
    prev = None
    for e in res["sizes"]:
        s = summary(e.get(key, []))
        if not s:
            lines.append(f"| {e['n']:,} | failed | | | | | |")
            continue
        growth = ""
        if prev:
            growth = f"{s['wall_s'] / prev[1]['wall_s']:.1f}x for {e['n'] / prev[0]:.0f}x names"
        per = f"{s['wall_s'] / e['n'] * 1e6:.1f} µs, {s['maxrss_kib'] * 1024 / e['n']:.0f} B"
        before = "not run"
        if e["baseline"] and key == "runs":
            b = summary(e["baseline"])
            before = (f"{b['wall_s']:.2f} s, {b['cpu_s']:.2f} s, {b['maxrss_kib'] / 1024:.1f} MiB"
                      if b else "fails: " + (e["baseline"][0]["stderr"].splitlines() or [""])[-1][:80])
        lines.append(f"| {e['n']:,} | {s['wall_s']:.2f} s | {s['cpu_s']:.2f} s | "
                     f"{s['maxrss_kib'] / 1024:.1f} MiB | {per} | {growth} | {before} |")
        prev = (e["n"], s)
    by_n = {e["n"]: summary(e.get(key, [])) for e in res["sizes"]}
    m, h = by_n.get(1000000), by_n.get(100000)
    lines.append("")
    if m:
        lines.append(f"goal 1M idle wall <= {GOAL_WALL_S:.0f} s: "
                     f"{'met' if m['wall_s'] <= GOAL_WALL_S else 'NOT MET'} ({m['wall_s']:.1f} s)")
        lines.append(f"goal 1M peak RSS <= 128 MiB: "
                     f"{'met' if m['maxrss_kib'] <= GOAL_RSS_KIB else 'NOT MET'} "
                     f"({m['maxrss_kib'] / 1024:.0f} MiB)")
        if h:
            g = m["wall_s"] / h["wall_s"]
            lines.append(f"goal 1M at most {GOAL_GROWTH:.0f}x 100k: "
                         f"{'met' if g <= GOAL_GROWTH else 'NOT MET'} ({g:.1f}x)")
    return "\n".join(lines)


def main():
    args = parse_args(sys.argv[1:])
    if args.inner:
        return inner(args)
    for b in ("scale_synth", "scale_idle"):
        if not os.access(os.path.join(args.build, "bench", b), os.X_OK):
            print(f"{args.build}/bench/{b} not built: meson configure {args.build} "
                  f"-Dbench=true && ninja -C {args.build}", file=sys.stderr)
            return 2
    cmd = [sys.executable, HARNESS, "--", sys.executable, os.path.abspath(__file__), "--inner"]
    cmd += sys.argv[1:] + ["--build", os.path.abspath(args.build), "--out",
                           os.path.abspath(args.out)]
    if args.baseline_lib:
        cmd += ["--baseline-lib", os.path.abspath(args.baseline_lib)]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
