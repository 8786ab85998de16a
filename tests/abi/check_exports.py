#!/usr/bin/env python3
"""Compare the dynamic symbols libacme exports with the public headers.

Every function declared with ACME_API in the installed headers must be
exported, nothing else may be, and every export must carry a symbol
version from lib/libacme.map.

Usage: check_exports.py LIBRARY HEADER_DIR...
"""
import pathlib
import re
import subprocess
import sys

DECL = re.compile(r"ACME_API\s+[^;(]*?\b(acme_\w+)\s*\(", re.S)


def declared(dirs):
    names = set()
    for d in dirs:
        for h in pathlib.Path(d).rglob("*.h"):
            names.update(DECL.findall(h.read_text()))
    return names


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True,
                         check=True).stdout
    syms, unversioned = {}, []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] in ("A",):
            continue  # version nodes themselves
        name, _, version = parts[2].partition("@")
        syms[name] = version.lstrip("@")
        if not version:
            unversioned.append(name)
    return syms, unversioned


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    decl = declared(sys.argv[2:])
    syms, unversioned = exported(sys.argv[1])
    missing = sorted(decl - syms.keys())
    extra = sorted(syms.keys() - decl)
    ok = True
    if len(decl) < 50:
        print(f"only {len(decl)} ACME_API declarations found: wrong header directory?")
        ok = False
    for name in missing:
        print(f"declared but not exported: {name}")
        ok = False
    for name in extra:
        print(f"exported but not declared in a public header: {name}")
        ok = False
    for name in unversioned:
        print(f"exported without a symbol version: {name}")
        ok = False
    bad_prefix = [n for n in syms if not n.startswith("acme_")]
    for name in bad_prefix:
        print(f"export without the acme_ prefix: {name}")
        ok = False
    print(f"{len(decl)} declared, {len(syms)} exported, versions: "
          f"{sorted(set(syms.values()))}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
