#!/usr/bin/env python3
"""The Python ctypes binding example against Pebble: examples/python/issue.py
must register an account and issue a certificate with its Python solver.
Run by the harness; argv[1] is the libacme.so to load."""
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
example = os.path.join(here, "..", "..", "examples", "python", "issue.py")
env = dict(os.environ, LIBACME_PATH=sys.argv[1])
name = "ffi.example.org"
p = subprocess.run([sys.executable, example, env["ACME_TEST_DIRECTORY"], env["ACME_TEST_HTTP_PORT"],
                    name, "--ca-bundle", env["ACME_TEST_CA_BUNDLE"]],
                   env=env, capture_output=True, text=True, timeout=120)
sys.stderr.write(p.stderr)
failures = []
if p.returncode != 0:
    failures.append(f"issue.py exited {p.returncode}")
m = re.search(r"issued \((\d+) challenge.*, (\d+) validated", p.stderr)
if not m or int(m.group(1)) < 1:
    failures.append("the Python solver answered no challenge")
elif m.group(1) != m.group(2):
    failures.append("a challenge of the issued certificate was not reported valid in cleanup")
if "-----BEGIN CERTIFICATE-----" not in p.stdout:
    failures.append("no certificate on stdout")
else:
    leaf = p.stdout[: p.stdout.index("-----END CERTIFICATE-----") + 25]
    x = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=leaf,
                       capture_output=True, text=True)
    if f"DNS:{name}" not in x.stdout:
        failures.append(f"the leaf does not name {name}: {x.stdout.strip()}")
for f in failures:
    print("FAIL:", f)
print("ok" if not failures else f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
