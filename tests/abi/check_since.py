#!/usr/bin/env python3
"""Check that every public function's doc comment says since which release
it exists ("Since X.Y"), and that X.Y is the release tests/abi/symbols-in-versions
gives for it. With --doxygen-log, also fail when doxygen's warning log is
not empty (an undocumented or badly documented public declaration).

Usage: check_since.py --symbols LIST [--doxygen-log LOG] HEADER...|HEADER_DIR...
"""
import argparse
import pathlib
import re
import sys

# The shared pattern lives beside this script; importing it must not leave
# bytecode in the source tree.
sys.dont_write_bytecode = True
from check_exports import DECL  # noqa: E402

SINCE = re.compile(r"\bSince (\d+\.\d+)\b")


def headers(paths):
    for p in map(pathlib.Path, paths):
        yield from (sorted(p.rglob("*.h")) if p.is_dir() else [p])


def doc_comment(text, pos):
    """The /** */ comment that ends right before pos, or None."""
    before = text[:pos].rstrip()
    if not before.endswith("*/"):
        return None
    start = before.rfind("/**")
    if start < 0 or "*/" in before[start:-2]:
        return None
    return before[start:]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbols", required=True)
    ap.add_argument("--doxygen-log")
    ap.add_argument("headers", nargs="+")
    args = ap.parse_args()

    entries = {}
    for line in pathlib.Path(args.symbols).read_text().splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) == 2:
            entries[parts[0]] = parts[1]

    errors, count = [], 0
    if args.doxygen_log:
        log = pathlib.Path(args.doxygen_log)
        if log.exists() and log.read_text().strip():
            errors.append(log.read_text().rstrip())
    for h in headers(args.headers):
        text = h.read_text()
        for m in DECL.finditer(text):
            name, count = m.group(1), count + 1
            line = text.count("\n", 0, m.start()) + 1
            comment = doc_comment(text, m.start())
            if comment is None:
                errors.append(f"{h}:{line}: {name} has no doc comment right before it")
                continue
            since = SINCE.search(comment)
            want = entries.get(name)
            if since is None:
                errors.append(f"{h}:{line}: the doc comment of {name} does not say "
                              f"\"Since {want or 'X.Y'}\"")
            elif want is None:
                errors.append(f"{h}:{line}: {name} is not in symbols-in-versions")
            elif since.group(1) != want:
                errors.append(f"{h}:{line}: {name} says \"Since {since.group(1)}\", but "
                              f"symbols-in-versions says {want}")
    if count < 50:
        errors.append(f"only {count} ACME_API declarations found: wrong header directory?")
    for e in errors:
        print(e)
    if not errors:
        print(f"every public declaration is documented; {count} functions say since when")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
