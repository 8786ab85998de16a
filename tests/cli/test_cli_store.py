#!/usr/bin/env python3
"""acmectl with --store: the state in etcd (tests/harness/etcd_harness.py)
or in a directory, against a real Pebble (tests/harness/pebble_harness.py).

    test_cli_store.py ACMECTL SCENARIO

Scenarios:
  etcd     one etcd member: register, ensure three certificates (each
           saved in etcd, none on disk), a second ensure places no order,
           account, issue, renew, revoke by name, rollover (the account
           works with the new key from the store); --store DIR is --state
           DIR; a bad URL is a usage error and an unreachable member a
           clear failure
  cluster  three etcd members and three acmectl processes running ensure
           over the same 30-name want file at once: every process exits 0,
           Pebble issues each name exactly once, and every node then finds
           all 30 stored (another ensure from each places no order); then
           the same with 30 more names while the etcd leader is killed
           (SIGKILL) a second into the run: every process still exits 0,
           and each new name is issued exactly once

  fencing  a node (acmectl issue) is stopped (SIGSTOP, from its own dns-01
           hook) while it holds the lock on a name; past its lease another
           node issues the name; the first, resumed, finishes its order but
           stops before writing (exit 1, "lease"), and the stored
           certificate stays the second node's

  deploy   node A issues a name on etcd; node B's `deploy --to DIR` writes
           chain and key (0600, matching) and runs its hook once; again:
           no hook; A renews (--force): B's deploy writes the new serial
           and the hook runs with it; a failed hook runs again next time;
           --wants names the certificates as ensure's file does
  torn     one process renews a name ten times (issue --force) while a
           reader loop follows meta.json to the current generation and
           checks that the chain's leaf holds the key's public key, on etcd
           (also the stable copies, read in one range at one revision) and
           on the filesystem store; `acmectl deploy` reads in the same
           loop: zero mismatches

The helpers (running acmectl, counting Pebble's orders, the dns-01 hook on
challtestsrv) are test_cli.py's. challtestsrv is no zone's authoritative
server, so every run turns the propagation check off (--no-dns-wait).
"""

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cli as t  # noqa: E402  (reads ACMECTL and SCENARIO from sys.argv)

ETCD = os.environ.get("ACME_TEST_ETCD", "")
EMAIL = t.EMAIL


def store_url(prefix):
    hosts = ",".join(u.replace("http://", "") for u in ETCD.split(","))
    return f"etcd+http://{hosts}/{prefix}"


def dns_hook():
    hook, hook_log = t.make_hook()
    return hook, {"HOOK_LOG": hook_log, "HOOK_TYPES": "dns-01"}


def scenario_etcd():
    url = store_url("single")
    hook, env = dns_hook()
    res = t.acmectl("--store", url, "register", EMAIL, "--agree-tos")
    t.check(res.lines()[0].startswith("https://"), "register prints the account URL")
    res = t.acmectl("--store", url, "account")
    t.check("valid" in res.out, f"account on the etcd store: {res.out}")

    wants = os.path.join(t.TMP, "site.wants")
    t.write(wants, "alpha.example\nbeta: beta.example api.beta.example\ngamma.example\n")
    deploy_log = os.path.join(t.TMP, "deploy.log")
    # The hook gets files it can read: a private copy of chain and key
    # (TMPDIR, mode 0600), removed after it ran.
    deploy = (f'echo "$ACMECTL_EVENT $ACMECTL_NAME $ACMECTL_CHAIN '
              f'$(stat -c %a "$ACMECTL_KEY" "$(dirname "$ACMECTL_KEY")" | tr "\\n" /) '
              f'$(openssl x509 -in "$ACMECTL_CHAIN" -noout -pubkey | sha256sum | cut -c1-16) '
              f'$(openssl pkey -in "$ACMECTL_KEY" -pubout | sha256sum | cut -c1-16)" >> {deploy_log}')
    common = ["--solver", "hook", "--no-dns-wait", "--hook", hook, "--parallel", "3", "--deploy-hook", deploy]
    hook_tmp = os.path.join(t.TMP, "hook-tmp")
    os.makedirs(hook_tmp, exist_ok=True)
    env = dict(env, TMPDIR=hook_tmp)
    before = t.orders()
    res = t.acmectl("--store", url, "ensure", "--wants", wants, *common, env=env)
    t.check(t.new_orders(before) == 3, f"three orders, got {t.new_orders(before)}")
    t.check("3 obtained, 0 renewed, 0 not due, 0 failed" in res.err, f"summary: {res.err}")
    calls = t.read_calls(deploy_log)
    t.check(sorted(c[1] for c in calls) == ["alpha.example", "beta", "gamma.example"],
            f"deploy hook once per certificate: {calls}")
    t.check(all(len(c) == 6 and c[2].startswith(os.path.join(hook_tmp, "acmectl-deploy-")) and
                c[2].endswith("/chain.pem") for c in calls),
            f"the hook reads a private copy of the chain: {calls}")
    t.check(all(c[3] == "600/700/" for c in calls), f"key 0600 in a 0700 directory: {calls}")
    t.check(all(c[4] == c[5] for c in calls), f"the copy's chain holds its key: {calls}")
    t.check(os.listdir(hook_tmp) == [], f"the copies are gone after the hooks: {os.listdir(hook_tmp)}")
    t.check(not os.path.exists(os.path.join(t.TMP, "certs")), "nothing written to disk")

    mark = t.orders()
    # --store after the command, as every global option may be.
    res = t.acmectl("ensure", "--store", url, "--wants", wants, *common, env=env)
    t.check(t.no_new_orders(mark), "a second ensure places no order")
    t.check("0 obtained, 0 renewed, 3 not due, 0 failed" in res.err, f"summary: {res.err}")
    res = t.acmectl("--store", url, "renew", "--solver", "hook", "--no-dns-wait", "--hook", hook, env=env)
    t.check(t.no_new_orders(mark), "renew with nothing due places no order")

    res = t.acmectl("--store", url, "issue", "delta.example", "--solver", "hook", "--no-dns-wait", "--hook", hook,
                    env=env)
    t.check(res.lines() == [f"{url}/certs/delta.example/chain.pem",
                            f"{url}/certs/delta.example/key.pem"],
            f"issue prints where the store keeps chain and key: {res.lines()}")
    res = t.acmectl("--store", url, "revoke", "delta.example")
    t.acmectl("--store", url, "revoke", "nothere.example", expect=1)

    # The same prefix seen from a new process: the account is remembered.
    res = t.acmectl("--store", url, "account")
    t.check(EMAIL in res.out, f"remembered account: {res.out}")
    # rollover: the new key is stored, and the account works with it.
    res = t.acmectl("--store", url, "rollover")
    t.check(res.lines() and res.lines()[0] in res.out and "now signs with a new" in res.err,
            f"rollover on etcd: {res.err}")
    res = t.acmectl("--store", url, "account")
    t.check("valid" in res.out, f"the account after rollover: {res.out}")
    mark = t.orders()
    t.acmectl("--store", url, "issue", "after-rollover.example", "--solver", "hook", "--no-dns-wait", "--hook",
              hook, env=env)
    t.check(t.new_orders(mark) == 1, "an order signed with the new account key")
    # Another prefix is another deployment: nothing there.
    t.acmectl("--store", store_url("other"), "account", expect=1)

    # A directory is --state; a bad URL is a usage error; no member a failure.
    state = t.state_dir("dirstate")
    t.acmectl("--store", state, "register", EMAIL, "--agree-tos")
    t.check(os.path.isdir(os.path.join(state, "accounts")), "--store DIR keeps a state dir")
    res = t.acmectl("--store", "ftp://x/y", "account", expect=2)
    t.check("--store" in res.err, f"usage error names the option: {res.err}")
    res = t.acmectl("--store", "etcd+http://127.0.0.1:1/p", "account", expect=1)
    t.check("127.0.0.1:1" in res.err, f"the unreachable member is named: {res.err}")


NAMES = 30
NODES = 3


def leader_pid():
    """The PID of the member that leads the cluster now."""
    urls = ETCD.split(",")
    pids = os.environ["ACME_TEST_ETCD_PIDS"].split(",")
    for url, pid in zip(urls, pids):
        req = urllib.request.Request(url + "/v3/maintenance/status", data=b"{}")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=5) as r:
            st = json.loads(r.read())
        if st.get("leader") and st["leader"] == st.get("header", {}).get("member_id"):
            return int(pid)
    raise t.TestFailure("no member says it leads")


def cluster_round(url, hook, env, tag, during=None):
    """NODES acmectl ensure over NAMES new names at once; `during` runs
    while they do. Each name must be ordered exactly once."""
    wants = os.path.join(t.TMP, f"cluster-{tag}.wants")
    t.write(wants, "".join(f"{tag}{i:02d}.cluster.example\n" for i in range(NAMES)))
    before = t.orders()
    results = [None] * NODES

    def node(i):
        try:
            results[i] = t.acmectl("--store", url, "ensure", "--wants", wants, "--email", EMAIL,
                                   "--agree-tos", "--solver", "hook", "--no-dns-wait", "--hook", hook,
                                   "--parallel", "4", env=env, expect=None, timeout=600)
        except Exception as e:  # a timeout: reported below
            results[i] = e

    threads = [threading.Thread(target=node, args=(i,)) for i in range(NODES)]
    started = time.monotonic()
    for th in threads:
        th.start()
    if during:
        during()
    for th in threads:
        th.join()
    for i, r in enumerate(results):
        t.check(isinstance(r, t.Result) and r.rc == 0,
                f"node {i} exits 0: {r if not isinstance(r, t.Result) else r.err}")
    t.log(f"{NODES} nodes ensured {NAMES} names in {time.monotonic() - started:.1f} s")
    issued = t.new_orders(before)
    t.check(issued == NAMES, f"each name ordered exactly once: {issued} orders for {NAMES}")
    obtained = 0
    for r in results:
        for line in r.err.splitlines():
            if " obtained, " in line:
                obtained += int(line.split(" obtained, ")[0].split()[-1])
    t.check(obtained == NAMES, f"the nodes' summaries add up to {NAMES} obtained: {obtained}")
    # Every node reads all of them: an ensure places no order.
    mark = t.orders()
    for i in range(NODES):
        res = t.acmectl("--store", url, "ensure", "--wants", wants, "--solver", "hook", "--no-dns-wait",
                        "--hook", hook, env=env)
        t.check(f"0 obtained, 0 renewed, {NAMES} not due, 0 failed" in res.err,
                f"node {i} finds all {NAMES}: {res.err}")
    t.check(t.no_new_orders(mark), "no order once all are stored")


def scenario_cluster():
    url = store_url("cluster")
    hook, env = dns_hook()
    cluster_round(url, hook, env, "n")

    def kill_leader():
        time.sleep(1)
        pid = leader_pid()
        t.log(f"killing the etcd leader (PID {pid})")
        os.kill(pid, signal.SIGKILL)

    cluster_round(url, hook, env, "k", during=kill_leader)


STOP_HOOK = """#!/usr/bin/env python3
import json, os, signal, sys, urllib.request
method, typ, ident = sys.argv[1:4]
auth = sys.argv[5]
if typ != "dns-01":
    sys.exit(1)
host = "_acme-challenge." + ident + "."
path = "/set-txt" if method == "begin" else "/clear-txt"
body = {"host": host, "value": auth} if method == "begin" else {"host": host}
req = urllib.request.Request(os.environ["ACME_TEST_CHALLTESTSRV"] + path,
                             data=json.dumps(body).encode(), method="POST")
urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10).read()
marker = os.environ.get("STOP_MARKER")
if method == "begin" and marker:
    with open(marker, "w") as f:
        f.write(str(os.getppid()) + " " + auth)
    os.kill(os.getppid(), signal.SIGSTOP)   # acmectl, holding the lock
"""


def etcd_get(key):
    """A key's value straight from the etcd gateway, or None."""
    url = ETCD.split(",")[0] + "/v3/kv/range"
    body = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(url, data=body), timeout=5) as r:
        kvs = json.loads(r.read()).get("kvs")
    return base64.b64decode(kvs[0].get("value", "")).decode() if kvs else None


def scenario_fencing():
    prefix = "fence"
    url = store_url(prefix)
    hook = os.path.join(t.TMP, "stop-hook.py")
    t.write(hook, STOP_HOOK, 0o755)
    marker = os.path.join(t.TMP, "stopped.pid")
    ttl = ["--etcd-lease-ttl", "5"]
    t.acmectl("--store", url, "register", EMAIL, "--agree-tos")
    name = "fence.example"
    first = {}

    def node_a():
        first["res"] = t.acmectl("--store", url, *ttl, "issue", name, "--solver", "hook", "--no-dns-wait",
                                 "--hook", hook, env={"STOP_MARKER": marker}, expect=None)

    th = threading.Thread(target=node_a)
    th.start()
    deadline = time.monotonic() + 60
    while not os.path.exists(marker) or not open(marker).read():
        t.check(time.monotonic() < deadline and th.is_alive(), "node A reaches its hook")
        time.sleep(0.1)
    pid_a, auth_a = open(marker).read().split()
    try:
        # B waits for the lock until A's lease runs out, then issues.
        started = time.monotonic()
        res = t.acmectl("--store", url, *ttl, "issue", name, "--solver", "hook", "--no-dns-wait", "--hook", hook)
        t.log(f"node B got the lock and issued after {time.monotonic() - started:.1f} s")
        meta_b = json.loads(etcd_get(f"{prefix}/certs/{name}/meta.json"))
        t.check(meta_b["generation"] == 1, f"B stored generation 1: {meta_b}")
    finally:
        try:
            # B's hook cleared the TXT record A's validation needs: put it back.
            body = {"host": f"_acme-challenge.{name}.", "value": auth_a}
            req = urllib.request.Request(os.environ["ACME_TEST_CHALLTESTSRV"] + "/set-txt",
                                         data=json.dumps(body).encode(), method="POST")
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10)
        finally:
            os.kill(int(pid_a), signal.SIGCONT)
    th.join()
    res = first["res"]
    t.check(res.rc == 1 and "lease on lock certs/fence.example was lost" in res.err,
            f"A, resumed, stops before writing: rc {res.rc}: {res.err}")
    t.check("invalid" not in res.err, f"A's order itself went through: {res.err}")
    meta = json.loads(etcd_get(f"{prefix}/certs/{name}/meta.json"))
    t.check(meta == meta_b, f"the stored certificate is still B's: {meta} vs {meta_b}")


def deploy_hook(log):
    return (f'echo "$ACMECTL_EVENT $ACMECTL_NAME $(openssl x509 -noout -serial -in "$ACMECTL_CHAIN")" '
            f'>> {log}')


def hook_lines(log):
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [line.split() for line in f.read().splitlines()]


def key_matches(chain_pem, key_pem):
    """The chain's leaf holds the public key of key_pem."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    leaf = x509.load_pem_x509_certificate(chain_pem.encode())
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return leaf.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)


def scenario_deploy():
    url = store_url("deploy")
    hook, env = dns_hook()
    solve = ["--solver", "hook", "--no-dns-wait", "--hook", hook]
    name = "site.example"
    t.acmectl("--store", url, "register", EMAIL, "--agree-tos")
    t.acmectl("--store", url, "issue", name, *solve, env=env)            # node A
    to = os.path.join(t.TMP, "node-b")
    os.mkdir(to)
    log = os.path.join(t.TMP, "node-b.log")
    res = t.acmectl("--store", url, "deploy", name, "--to", to, "--deploy-hook", deploy_hook(log))
    chain, key = os.path.join(to, name, "chain.pem"), os.path.join(to, name, "key.pem")
    t.check(res.lines() == [chain], f"deploy prints the chain it wrote: {res.lines()}")
    first = t.serial_of(chain)
    t.check(etcd_get(f"deploy/certs/{name}/chain.pem") == open(chain).read(),
            "the deployed chain is the store's current one")
    t.check(t.mode_of(key) == 0o600, f"key mode {oct(t.mode_of(key))}")
    t.check(key_matches(open(chain).read(), open(key).read()), "deployed chain and key belong together")
    t.check(hook_lines(log) == [["deployed", name, f"serial={first}"]], f"hook once: {hook_lines(log)}")

    res = t.acmectl("--store", url, "deploy", name, "--to", to, "--deploy-hook", deploy_hook(log))
    t.check(len(hook_lines(log)) == 1, f"nothing changed, no hook: {hook_lines(log)}")
    t.check("deployed already" in res.err, f"says so: {res.err}")

    mark = t.orders()
    t.acmectl("--store", url, "renew", "--force", *solve, env=env)     # node A renews
    t.check(t.new_orders(mark) == 1, "A's renewal is one order")
    t.acmectl("--store", url, "deploy", name, "--to", to, "--deploy-hook", deploy_hook(log))
    second = t.serial_of(chain)
    t.check(second != first, "B now has the renewed certificate")
    t.check(hook_lines(log) == [["deployed", name, f"serial={first}"], ["deployed", name, f"serial={second}"]],
            f"the hook ran with the new serial: {hook_lines(log)}")
    t.check(key_matches(open(chain).read(), open(key).read()), "the renewed chain and key belong together")

    # A node whose hook fails runs it again at its next deploy.
    to_c = os.path.join(t.TMP, "node-c")
    os.mkdir(to_c)
    res = t.acmectl("--store", url, "deploy", name, "--to", to_c, "--deploy-hook", "exit 3", expect=1)
    t.check("exited with status 3" in res.err, f"the failed hook is reported: {res.err}")
    log_c = os.path.join(t.TMP, "node-c.log")
    wants = os.path.join(t.TMP, "deploy.wants")
    t.write(wants, f"{name}\n")
    t.acmectl("--store", url, "deploy", "--wants", wants, "--to", to_c, "--deploy-hook", deploy_hook(log_c))
    t.check(hook_lines(log_c) == [["deployed", name, f"serial={second}"]],
            f"the failed hook ran again: {hook_lines(log_c)}")

    # Usage errors and a name the store does not have.
    t.acmectl("--store", url, "deploy", name, expect=2)
    t.acmectl("--store", url, "deploy", "--to", to, expect=2)
    res = t.acmectl("--store", url, "deploy", "nothere.example", "--to", to, expect=1)
    t.check("no certificate stored" in res.err, f"a missing name: {res.err}")


def etcd_range(prefix):
    """Every key under prefix, read in one request (one revision)."""
    url = ETCD.split(",")[0] + "/v3/kv/range"
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    body = json.dumps({"key": base64.b64encode(prefix.encode()).decode(),
                       "range_end": base64.b64encode(end.encode()).decode()}).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(url, data=body), timeout=5) as r:
        kvs = json.loads(r.read()).get("kvs") or []
    return {base64.b64decode(kv["key"]).decode()[len(prefix):]: base64.b64decode(kv.get("value", "")).decode()
            for kv in kvs}


RENEWALS = 10


def torn_round(store, read, hook, env, tag):
    """RENEWALS renewals of one name while `read` (which returns a dict of
    files by key under certs/NAME/) and acmectl deploy read in a loop."""
    name = f"torn-{tag}.example"
    solve = ["--solver", "hook", "--no-dns-wait", "--hook", hook]
    t.acmectl("--store", store, "register", EMAIL, "--agree-tos")
    t.acmectl("--store", store, "issue", name, *solve, env=env)
    done = {}

    def renewer():
        try:
            for _ in range(RENEWALS):
                t.acmectl("--store", store, "issue", name, "--force", *solve, env=env)
        except Exception as e:  # reported below
            done["error"] = e
        done["end"] = True

    to = os.path.join(t.TMP, f"deployed-{tag}")
    os.mkdir(to)
    th = threading.Thread(target=renewer)
    th.start()
    reads, deploys, mismatches, generations = 0, 0, [], set()
    deadline = time.monotonic() + 400
    while not done.get("end") and time.monotonic() < deadline:
        files = read(name)
        meta = json.loads(files["meta.json"])
        gen = meta["generation"]
        chain, key = files.get(f"{gen}/chain.pem"), files.get(f"{gen}/key.pem")
        if chain is None or key is None:
            continue  # dropped by two renewals between the reads: read again
        reads += 1
        generations.add(gen)
        if not key_matches(chain, key):
            mismatches.append(f"generation {gen}")
        if "chain.pem" in files and "key.pem" in files and not key_matches(files["chain.pem"], files["key.pem"]):
            mismatches.append(f"stable copies at generation {gen}")
        res = t.acmectl("--store", store, "deploy", name, "--to", to, expect=None)
        deploys += 1
        if res.rc != 0:
            mismatches.append(f"deploy: {res.err}")
        elif not key_matches(open(os.path.join(to, name, "chain.pem")).read(),
                             open(os.path.join(to, name, "key.pem")).read()):
            mismatches.append("deployed files")
    th.join()
    t.check("error" not in done, f"{tag}: every renewal succeeds: {done.get('error')}")
    t.log(f"{tag}: {reads} reads and {deploys} deploys over generations {sorted(generations)}")
    t.check(not mismatches, f"{tag}: zero mismatches: {mismatches}")
    t.check(len(generations) >= 3 and deploys >= 3, f"{tag}: the reads overlapped the renewals: {sorted(generations)}")


def scenario_torn():
    hook, env = dns_hook()
    prefix = "torn"
    torn_round(store_url(prefix), lambda name: etcd_range(f"{prefix}/certs/{name}/"), hook, env, "etcd")

    state = t.state_dir("torn-fs")

    def read_fs(name):
        # Only what a reader that follows meta.json opens: the stable copies
        # on the filesystem are refreshed after the switch, one by one.
        base = os.path.join(state, "certs", name)
        files = {}
        with open(os.path.join(base, "meta.json")) as f:
            files["meta.json"] = f.read()
        gen = json.loads(files["meta.json"])["generation"]
        for k in ("chain.pem", "key.pem"):
            try:
                with open(os.path.join(base, str(gen), k)) as f:
                    files[f"{gen}/{k}"] = f.read()
            except FileNotFoundError:
                pass
        return files

    torn_round(state, read_fs, hook, env, "fs")


SCENARIOS = {"etcd": scenario_etcd, "cluster": scenario_cluster, "fencing": scenario_fencing,
             "deploy": scenario_deploy, "torn": scenario_torn}

if __name__ == "__main__":
    t.SCENARIOS = SCENARIOS
    sys.exit(t.main())
