#!/usr/bin/env python3
"""Compare the dynamic symbols libacme exports with the public headers, the
version script and the list of symbols with the release that added them.

 - Every function declared with ACME_API in the headers is exported, and
   nothing else is; every export starts with acme_.
 - The version script (lib/libacme.map) names every global symbol of every
   node explicitly: a wildcard would hand any new function an old release's
   version. Each node after the first inherits the one before it.
 - tests/abi/symbols-in-versions has exactly one entry per export, and the
   export carries the version node LIBACME_<entry>.

Usage: check_exports.py --map MAP --symbols LIST (--library LIB | --nm FILE)
                        HEADER_DIR...
--nm reads `nm -D --defined-only` output from FILE instead of running nm on
a library (the self-test feeds made-up export lists this way).
"""
import argparse
import pathlib
import re
import subprocess
import sys

# At the start of a line, so that "#define ACME_API" is no declaration.
DECL = re.compile(r"^ACME_API\s+[^;(]*?\b(acme_\w+)\s*\(", re.S | re.M)
NODE = re.compile(r"(\w[\w.]*)\s*\{(.*?)\}\s*([\w.]*)\s*;", re.S)
NODE_NAME = re.compile(r"LIBACME_(\d+\.\d+)$")
ENTRY_VERSION = re.compile(r"\d+\.\d+$")
WILDCARD = re.compile(r"[*?\[]")


def declared(dirs):
    names = set()
    for d in dirs:
        for h in pathlib.Path(d).rglob("*.h"):
            names.update(DECL.findall(h.read_text()))
    return names


def parse_nm(text):
    """Exports as {name: version node}, plus the names without a version."""
    syms, unversioned = {}, []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] in ("A",):
            continue  # version nodes themselves
        name, _, version = parts[2].partition("@")
        syms[name] = version.lstrip("@")
        if not version:
            unversioned.append(name)
    return syms, unversioned


def parse_map(text, errors):
    """The version script's nodes in order, as [(node, [global names])]."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"#[^\n]*", " ", text)
    nodes, seen, previous = [], {}, None
    for m in NODE.finditer(text):
        node, body, parent = m.group(1), m.group(2), m.group(3)
        if not NODE_NAME.match(node):
            errors.append(f"map: node {node} is not named LIBACME_MAJOR.MINOR")
        if previous is not None and parent != previous:
            errors.append(f"map: node {node} inherits {parent or 'nothing'}, "
                          f"not the node before it ({previous})")
        names = []
        # Names before any label are global, as ld reads them.
        scope = "global"
        for token in re.split(r"\b(global|local)\s*:", body):
            if token in ("global", "local"):
                scope = token
                continue
            if scope == "local":
                continue
            for item in (s.strip() for s in token.split(";")):
                if not item:
                    continue
                if WILDCARD.search(item):
                    errors.append(f"map: wildcard '{item}' in the global list of {node}; "
                                  "list every name explicitly")
                elif item in seen:
                    errors.append(f"map: {item} is in both {seen[item]} and {node}")
                else:
                    seen[item] = node
                    names.append(item)
        nodes.append((node, names))
        previous = node
    if not nodes:
        errors.append("map: no version node found")
    return nodes


def parse_list(text, errors):
    """symbols-in-versions as {name: version}."""
    entries = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not ENTRY_VERSION.match(parts[1]):
            errors.append(f"symbols-in-versions:{number}: expected 'name version', got '{line}'")
            continue
        if parts[0] in entries:
            errors.append(f"symbols-in-versions:{number}: {parts[0]} listed twice")
            continue
        entries[parts[0]] = parts[1]
    return entries


def check(decl, syms, unversioned, nodes, entries, errors):
    if len(decl) < 50:
        errors.append(f"only {len(decl)} ACME_API declarations found: wrong header directory?")
    for name in sorted(decl - syms.keys()):
        errors.append(f"declared but not exported: {name}")
    for name in sorted(syms.keys() - decl):
        errors.append(f"exported but not declared in a public header: {name}")
    for name in unversioned:
        errors.append(f"exported without a symbol version: {name}")
    for name in sorted(n for n in syms if not n.startswith("acme_")):
        errors.append(f"export without the acme_ prefix: {name}")

    node_names = {node for node, _ in nodes}
    for node, names in nodes:
        for name in names:
            if name not in entries:
                errors.append(f"map: {name} (node {node}) is not in symbols-in-versions")
            elif node != f"LIBACME_{entries[name]}":
                errors.append(f"map: {name} is in node {node}, but symbols-in-versions "
                              f"says {entries[name]}")
    for name, version in sorted(entries.items()):
        if f"LIBACME_{version}" not in node_names:
            errors.append(f"symbols-in-versions: {name} says {version}, but the map has "
                          f"no node LIBACME_{version}")
    for name, node in sorted(syms.items()):
        if name not in entries:
            errors.append(f"exported but not in tests/abi/symbols-in-versions: {name}@{node}")
        elif node != f"LIBACME_{entries[name]}":
            errors.append(f"{name} is exported in node {node or '(none)'}, but "
                          f"symbols-in-versions says {entries[name]} (LIBACME_{entries[name]})")
    for name in sorted(entries.keys() - syms.keys()):
        errors.append(f"in symbols-in-versions but not exported: {name}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--map", required=True)
    ap.add_argument("--symbols", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--library")
    src.add_argument("--nm")
    ap.add_argument("headers", nargs="+")
    args = ap.parse_args()

    if args.library:
        nm = subprocess.run(["nm", "-D", "--defined-only", args.library],
                            capture_output=True, text=True, check=True).stdout
    else:
        nm = pathlib.Path(args.nm).read_text()
    errors = []
    decl = declared(args.headers)
    syms, unversioned = parse_nm(nm)
    nodes = parse_map(pathlib.Path(args.map).read_text(), errors)
    entries = parse_list(pathlib.Path(args.symbols).read_text(), errors)
    check(decl, syms, unversioned, nodes, entries, errors)
    for e in errors:
        print(e)
    print(f"{len(decl)} declared, {len(syms)} exported, {len(entries)} listed, "
          f"nodes: {[node for node, _ in nodes]}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
