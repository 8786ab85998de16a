#!/usr/bin/env python3
"""Prove that check_exports.py catches symbol-version drift: feed it the
real library's exports, then made-up variants of exports, map and list,
and require it to fail on each kind of drift for the reason expected.

Usage: check_exports_selftest.py CHECKER LIBRARY MAP SYMBOLS HEADER_DIR...
"""
import pathlib
import re
import subprocess
import sys
import tempfile

PROBE = "acme_selftest_probe"


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    checker, library, map_path, symbols_path = sys.argv[1:5]
    header_dirs = sys.argv[5:]
    real_nm = subprocess.run(["nm", "-D", "--defined-only", library], capture_output=True,
                             text=True, check=True).stdout
    real_map = pathlib.Path(map_path).read_text()
    real_list = pathlib.Path(symbols_path).read_text()
    nodes = re.findall(r"^(LIBACME_\d+\.\d+)\s*\{", real_map, re.M)
    newest = nodes[-1]
    newest_version = newest.split("_", 1)[1]
    # A release after every real one, as a later release would add it.
    major, minor = newest_version.split(".")
    next_version = f"{major}.{int(minor) + 1}"

    with tempfile.TemporaryDirectory(prefix="acme-abi-selftest-") as tmp:
        rc = run_cases(checker, pathlib.Path(tmp), header_dirs, real_nm, real_map, real_list,
                       nodes, newest, newest_version, next_version)
    sys.exit(rc)


def run_cases(checker, tmp, header_dirs, real_nm, real_map, real_list, nodes, newest,
              newest_version, next_version):
    probe_dir = tmp / "probe"
    probe_dir.mkdir()
    (probe_dir / "probe.h").write_text(f"ACME_API int {PROBE}(void);\n")

    def run(name, nm=real_nm, map_text=real_map, list_text=real_list, probe=False):
        case = tmp / name
        case.mkdir()
        (case / "nm").write_text(nm)
        (case / "map").write_text(map_text)
        (case / "list").write_text(list_text)
        dirs = header_dirs + ([str(probe_dir)] if probe else [])
        res = subprocess.run([sys.executable, checker, "--map", str(case / "map"),
                              "--symbols", str(case / "list"), "--nm", str(case / "nm")] + dirs,
                             capture_output=True, text=True)
        return res.returncode, res.stdout + res.stderr

    failures = []

    def expect(name, want_ok, needle=None, **kw):
        rc, out = run(name, **kw)
        if want_ok and rc != 0:
            failures.append(f"{name}: the checker failed where it should pass:\n{out}")
        elif not want_ok and rc == 0:
            failures.append(f"{name}: the checker passed where it should fail:\n{out}")
        elif needle and not re.search(needle, out):
            failures.append(f"{name}: failed, but not for the expected reason "
                            f"({needle!r}):\n{out}")
        else:
            print(f"ok: {name}")

    probe_line = f"0000000000001000 T {PROBE}@@{newest}\n"
    probe_entry = f"{PROBE:<39} {newest_version}\n"
    probe_node = f"\n{'LIBACME_' + next_version} {{\n  global:\n    {PROBE};\n}} {newest};\n"

    # The real library, map and list agree: the baseline of every case below.
    expect("real", True)

    # An acme_ function exported (and declared) with no entry in the list.
    expect("export-without-entry", False, rf"not in tests/abi/symbols-in-versions: {PROBE}",
           nm=real_nm + probe_line, probe=True)

    # A listed function exported from another node than its entry says.
    moved = next(line.split()[0] for line in real_list.splitlines()
                 if line.strip() and not line.startswith("#")
                 and line.split()[1] != newest_version)
    wrong = re.sub(rf"\b{moved}@@LIBACME_\S+", f"{moved}@@{newest}", real_nm)
    assert wrong != real_nm, moved
    expect("export-in-wrong-node", False, rf"{moved} is exported in node {newest}", nm=wrong)

    # An entry that the library does not export.
    expect("entry-not-exported", False, rf"in symbols-in-versions but not exported: {PROBE}",
           list_text=real_list + f"{PROBE:<39} {nodes[0].split('_', 1)[1]}\n")

    # A wildcard in the global list of a node.
    expect("map-wildcard", False, r"wildcard 'acme_\*'",
           map_text=real_map.replace("  global:\n", "  global:\n    acme_*;\n", 1))

    # A node that does not inherit the node before it.
    expect("map-broken-chain", False, r"inherits nothing",
           map_text=real_map + f"\nLIBACME_{next_version} {{\n  global:\n    {PROBE};\n}};\n",
           list_text=real_list + f"{PROBE:<39} {next_version}\n",
           nm=real_nm + f"0000000000001000 T {PROBE}@@LIBACME_{next_version}\n", probe=True)

    # A later release's node is read like any other: all three agree, so it passes ...
    later_nm = real_nm + f"0000000000001000 T {PROBE}@@LIBACME_{next_version}\n"
    expect("later-node", True, map_text=real_map + probe_node,
           list_text=real_list + f"{PROBE:<39} {next_version}\n", nm=later_nm, probe=True)
    # ... and its entry naming an older release fails.
    expect("later-node-wrong-entry", False, rf"{PROBE} is exported in node LIBACME_{next_version}",
           map_text=real_map + probe_node, list_text=real_list + probe_entry, nm=later_nm,
           probe=True)

    for f in failures:
        print(f"FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    main()
