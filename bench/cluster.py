#!/usr/bin/env python3
"""A cluster of acmectl nodes on one etcd store: 100 names from 3 nodes at once.

    python3 bench/cluster.py [--build DIR] [--names N] [--nodes N] [--parallel N]
                             [--timeout S] [--out FILE]

Starts one etcd member (tests/harness/etcd_harness.py) and one Pebble
(tests/harness/pebble_harness.py) and runs itself inside both. One node
registers the account; then NODES acmectl processes run `ensure` at once over
the same want file of NAMES names (dns-01 through challtestsrv, parallel N
each), as the nodes of a cluster do from their timers. Then every node runs
the same ensure again (nothing due) and `deploy` to local files.

Reports the wall time of the concurrent ensure, the orders Pebble created
(each name must be ordered exactly once), and the requests etcd served per
certificate, from its /metrics endpoint before and after (gRPC messages
received by the KV, Lease and Auth services: what the JSON gateway turns each
HTTP request into). Writes the raw figures to bench/results/cluster.json (or
--out). Pebble can stop answering under long parallel load
(letsencrypt/pebble#554): a node that has not finished after --timeout
seconds counts as a wedge and the run fails with that reason. Not part of the
test suite.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEBBLE_HARNESS = os.path.join(ROOT, "tests", "harness", "pebble_harness.py")
ETCD_HARNESS = os.path.join(ROOT, "tests", "harness", "etcd_harness.py")
DEFAULT_OUT = os.path.join(HERE, "results", "cluster.json")
EMAIL = "bench@example.com"

# As bench.py: no validation sleep, no random badNonce, no authorization reuse,
# so the order count is the client's.
PEBBLE_ENV = ["PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"]

# dns-01 through challtestsrv's management API (curl: a shell hook costs
# less than a Python one per challenge).
HOOK = """#!/bin/sh
[ "$2" = dns-01 ] || exit 1
if [ "$1" = begin ]; then
  body="{\\"host\\":\\"_acme-challenge.$3.\\",\\"value\\":\\"$5\\"}"; path=set-txt
else
  body="{\\"host\\":\\"_acme-challenge.$3.\\"}"; path=clear-txt
fi
exec curl -sf --noproxy '*' -o /dev/null -X POST -d "$body" "$ACME_TEST_CHALLTESTSRV/$path"
"""

METRIC = re.compile(r'^grpc_server_msg_received_total\{[^}]*grpc_method="([^"]+)"[^}]*'
                    r'grpc_service="etcdserverpb\.(KV|Lease|Auth)"[^}]*\} (\d+)', re.M)


def note(msg):
    print(f"cluster: {msg}", file=sys.stderr, flush=True)


def etcd_requests():
    """Messages etcd's KV, Lease and Auth services received, by method."""
    url = os.environ["ACME_TEST_ETCD"].split(",")[0] + "/metrics"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as r:
        text = r.read().decode()
    counts = {}
    for method, _service, n in METRIC.findall(text):
        counts[method] = counts.get(method, 0) + int(n)
    return counts


def delta(after, before):
    d = {m: after.get(m, 0) - before.get(m, 0) for m in after}
    return {m: n for m, n in sorted(d.items()) if n}


def pebble_orders():
    with open(os.environ["ACME_TEST_PEBBLE_LOG"], errors="replace") as f:
        text = f.read()
    return text.count("Added order "), text.count("Issued certificate serial ")


def store_url(prefix):
    hosts = ",".join(u.replace("http://", "") for u in os.environ["ACME_TEST_ETCD"].split(","))
    return f"etcd+http://{hosts}/{prefix}"


def acmectl(args, acmectl_bin, timeout):
    argv = [acmectl_bin, "--directory", os.environ["ACME_TEST_DIRECTORY"], "--ca-bundle",
            os.environ["ACME_TEST_CA_BUNDLE"], *args]
    started = time.monotonic()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    return {"rc": proc.returncode, "wall_s": round(time.monotonic() - started, 3),
            # The temporary directory says nothing about the run.
            "stderr_tail": proc.stderr.replace(os.environ["ACME_TEST_TMPDIR"], "$TMP").splitlines()[-3:]}


def run_nodes(nodes, args_of, acmectl_bin, timeout):
    """Run one acmectl per node at once; a node past `timeout` is a wedge."""
    results = [None] * nodes

    def node(i):
        try:
            results[i] = acmectl(args_of(i), acmectl_bin, timeout)
        except subprocess.TimeoutExpired:
            results[i] = {"rc": None, "wedge": True, "wall_s": timeout}

    threads = [threading.Thread(target=node, args=(i,)) for i in range(nodes)]
    started = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.monotonic() - started, results


def inner(opts):
    tmp = os.environ["ACME_TEST_TMPDIR"]
    hook = os.path.join(tmp, "dns-hook.sh")
    with open(hook, "w") as f:
        f.write(HOOK)
    os.chmod(hook, 0o755)
    wants = os.path.join(tmp, "cluster.wants")
    with open(wants, "w") as f:
        f.write("".join(f"n{i:03d}.cluster.bench.test\n" for i in range(opts.names)))
    url = store_url("bench")
    solve = ["--solver", "hook", "--hook", hook, "--no-dns-wait", "--parallel", str(opts.parallel)]
    reg = acmectl(["--store", url, "register", EMAIL, "--agree-tos"], opts.acmectl, opts.timeout)
    if reg["rc"] != 0:
        note(f"register failed: {reg}")
        return 1

    orders0, issued0 = pebble_orders()
    etcd0 = etcd_requests()
    wall, results = run_nodes(opts.nodes, lambda i: ["--store", url, "ensure", "--wants", wants, *solve],
                              opts.acmectl, opts.timeout)
    etcd1 = etcd_requests()
    orders1, issued1 = pebble_orders()
    ensure_reqs = delta(etcd1, etcd0)
    orders, issued = orders1 - orders0, issued1 - issued0
    note(f"{opts.nodes} nodes, {opts.names} names: {wall:.2f} s, {orders} orders, "
         f"{issued} certificates issued")

    # Steady state: every node's timer again (nothing due), then deploy.
    wall_again, again = run_nodes(opts.nodes, lambda i: ["--store", url, "ensure", "--wants", wants, *solve],
                                  opts.acmectl, opts.timeout)
    etcd2 = etcd_requests()
    dirs = []
    for i in range(opts.nodes):
        d = os.path.join(tmp, f"node{i}")
        os.mkdir(d)
        dirs.append(d)
    wall_deploy, deploys = run_nodes(opts.nodes, lambda i: ["--store", url, "deploy", "--wants", wants,
                                                            "--to", dirs[i]],
                                     opts.acmectl, opts.timeout)
    etcd3 = etcd_requests()
    orders_after, _ = pebble_orders()

    per_cert = sum(ensure_reqs.values()) / opts.names
    # Which node ordered what: the lock decides, not a plan.
    obtained = []
    for r in results:
        m = re.search(r"(\d+) obtained, ", " ".join(r.get("stderr_tail", [])))
        obtained.append(int(m.group(1)) if m else None)
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "names": opts.names, "nodes": opts.nodes, "parallel_per_node": opts.parallel,
        "etcd_members": 1,
        "ensure": {"wall_s": round(wall, 3), "orders": orders, "issued": issued, "nodes": results,
                   "obtained_by_node": obtained,
                   "etcd_requests": ensure_reqs, "etcd_requests_total": sum(ensure_reqs.values()),
                   "etcd_requests_per_certificate": round(per_cert, 1)},
        "ensure_nothing_due": {"wall_s": round(wall_again, 3), "nodes": again,
                               "etcd_requests": delta(etcd2, etcd1),
                               "orders": orders_after - orders1},
        "deploy": {"wall_s": round(wall_deploy, 3), "nodes": deploys,
                   "etcd_requests": delta(etcd3, etcd2)},
    }
    failures = []
    for what, rs in (("ensure", results), ("ensure again", again), ("deploy", deploys)):
        for i, r in enumerate(rs):
            if r.get("wedge"):
                failures.append(f"{what}: node {i} did not finish in {opts.timeout} s (Pebble wedged?)")
            elif r["rc"] != 0:
                failures.append(f"{what}: node {i} exited {r['rc']}: {r['stderr_tail']}")
    if orders != opts.names:
        failures.append(f"{orders} orders for {opts.names} names")
    if orders_after != orders1:
        failures.append("the nothing-due pass placed orders")
    deployed = sum(os.path.exists(os.path.join(d, f"n{i:03d}.cluster.bench.test", "chain.pem"))
                   for d in dirs for i in range(opts.names))
    if deployed != opts.names * opts.nodes:
        failures.append(f"{deployed} chains deployed, not {opts.names * opts.nodes}")
    result["failures"] = failures
    os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
    with open(opts.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")

    print(f"{opts.names} names, {opts.nodes} acmectl nodes (ensure --parallel {opts.parallel} each), "
          f"one etcd member, one Pebble")
    print(f"  concurrent ensure   {wall:7.2f} s   {orders} orders at Pebble (exactly one per name)")
    print(f"  obtained by node    {obtained}")
    print(f"  etcd requests       {sum(ensure_reqs.values())} in all, {per_cert:.1f} per certificate: "
          + ", ".join(f"{m} {n}" for m, n in ensure_reqs.items()))
    print(f"  nothing due, again  {wall_again:7.2f} s   etcd requests "
          f"{sum(result['ensure_nothing_due']['etcd_requests'].values())}")
    print(f"  deploy on each node {wall_deploy:7.2f} s   etcd requests "
          f"{sum(result['deploy']['etcd_requests'].values())}")
    for f_ in failures:
        print(f"  FAILED: {f_}")
    note(f"raw figures in {opts.out}")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build dir (default: build)")
    ap.add_argument("--names", type=int, default=100)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=4,
                    help="ensure --parallel per node (modest: Pebble wedges under heavy load)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds before a node counts as wedged")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--acmectl", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.inner:
        return inner(opts)
    acmectl_bin = os.path.abspath(os.path.join(opts.build, "examples", "acmectl"))
    if not os.access(acmectl_bin, os.X_OK):
        note(f"{acmectl_bin} is missing: meson setup {opts.build} && ninja -C {opts.build}")
        return 2
    inner_argv = [sys.executable, os.path.abspath(__file__), "--inner", "--acmectl", acmectl_bin,
                  "--names", str(opts.names), "--nodes", str(opts.nodes), "--parallel", str(opts.parallel),
                  "--timeout", str(opts.timeout), "--out", os.path.abspath(opts.out)]
    pebble = [sys.executable, PEBBLE_HARNESS]
    for e in PEBBLE_ENV:
        pebble += ["--env", e]
    argv = [sys.executable, ETCD_HARNESS, "--members", "1", "--", *pebble, "--", *inner_argv]
    return subprocess.call(argv)


if __name__ == "__main__":
    sys.exit(main())
