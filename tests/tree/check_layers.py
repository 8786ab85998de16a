#!/usr/bin/env python3
"""Check lib/'s shape: every source file sits in a layer folder, includes
point only to its own layer or a lower one, and no module (x.c with its
x.h) is part of an include cycle. Public headers (include/acme/*.h) belong
to the layer that implements them.

Usage: check_layers.py SOURCE_ROOT     check the tree
       check_layers.py --self-test     show that a cycle and an upward
                                       include in a made-up tree are caught
"""
import os
import re
import sys
import tempfile

# Lowest first; lib/meson.build builds them in this order.
LAYERS = ['base', 'net', 'crypto', 'solvers', 'protocol', 'store', 'lifecycle']

# The layer of each public header: the layer whose code implements it.
PUBLIC = {
    'common': 'base', 'version': 'base',
    'key': 'crypto', 'signer': 'crypto', 'certificate': 'crypto',
    'solver': 'solvers', 'responder': 'solvers', 'dns': 'solvers',
    'provider': 'protocol', 'account': 'protocol', 'order': 'protocol',
    'revoke': 'protocol',
    'store': 'store',
    'desire': 'lifecycle',
}

# Files that may sit directly in lib/ (build and linker files, prose).
LIB_TOP = {'meson.build', 'libacme.map', 'README.md'}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(root, path):
    """(layer, module name) of a file under lib/ or include/acme/, or None."""
    rel = os.path.relpath(path, root).replace(os.sep, '/')
    parts = rel.split('/')
    base = re.sub(r'\.(c|h|h\.in)$', '', parts[-1])
    if parts[0] == 'lib' and len(parts) == 3 and parts[1] in LAYERS:
        return parts[1], 'lib/%s/%s' % (parts[1], base)
    if parts[0] == 'include' and len(parts) == 3 and parts[1] == 'acme':
        return PUBLIC.get(base), 'include/acme/' + base
    return None


def resolve(root, including, name):
    """The file an #include "name" in `including` refers to, or None."""
    for d in (os.path.dirname(including), os.path.join(root, 'lib'),
              os.path.join(root, 'include')):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return os.path.normpath(p)
        if os.path.exists(p + '.in'):  # configured headers (version.h)
            return os.path.normpath(p + '.in')
    return None


def sources(root):
    for top in ('lib', os.path.join('include', 'acme')):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith(('.c', '.h', '.h.in')):
                    yield os.path.join(dirpath, f)


def check(root):
    problems = []
    for f in sorted(os.listdir(os.path.join(root, 'lib'))):
        p = os.path.join(root, 'lib', f)
        if os.path.isfile(p) and f not in LIB_TOP:
            problems.append('lib/%s: not in a layer folder' % f)
        elif os.path.isdir(p) and f not in LAYERS:
            problems.append('lib/%s/: not a known layer (%s)' % (f, ', '.join(LAYERS)))
    edges = {}
    for path in sources(root):
        rel = os.path.relpath(path, root)
        mod = module_of(root, path)
        if mod is None:
            continue
        layer, name = mod
        if layer is None:
            problems.append('%s: public header with no layer in check_layers.py' % rel)
            continue
        edges.setdefault(name, set())
        with open(path, encoding='utf-8') as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            target = resolve(root, path, inc)
            if target is None:
                problems.append('%s: includes "%s", which is not in the tree' % (rel, inc))
                continue
            tmod = module_of(root, target)
            if tmod is None:
                continue
            tlayer, tname = tmod
            if tlayer is None:
                continue
            if LAYERS.index(tlayer) > LAYERS.index(layer):
                problems.append('%s (%s) includes "%s" (%s): an upward include'
                                % (rel, layer, inc, tlayer))
            if tname != name:
                edges[name].add(tname)
    for cycle in cycles(edges):
        problems.append('include cycle: ' + ' -> '.join(cycle + [cycle[0]]))
    return problems, len(edges)


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def self_test():
    """A tree with one cycle in base and one upward include must fail with
    both named; the same tree without them must pass."""
    files = {
        'lib/base/a.c': '#include "base/a.h"\n#include "base/b.h"\n',
        'lib/base/a.h': '',
        'lib/base/b.c': '#include "base/b.h"\n',
        'lib/base/b.h': '',
        'lib/crypto/k.c': '#include "crypto/k.h"\n#include "base/a.h"\n#include "acme/key.h"\n',
        'lib/crypto/k.h': '',
        'include/acme/key.h': '#include "acme/common.h"\n',
        'include/acme/common.h': '',
    }
    bad = {
        'lib/base/b.h': '#include "base/a.h"\n',           # a -> b -> a
        'lib/net/j.c': '#include "crypto/k.h"\n',           # net -> crypto
    }
    with tempfile.TemporaryDirectory() as good_root, tempfile.TemporaryDirectory() as bad_root:
        for root, extra in ((good_root, {}), (bad_root, bad)):
            for rel, text in {**files, **extra}.items():
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                with open(os.path.join(root, rel), 'w') as fh:
                    fh.write(text)
        good, _ = check(good_root)
        found, _ = check(bad_root)
    ok = True
    if good:
        print('self-test: a clean tree was refused: %s' % good)
        ok = False
    if not any('include cycle' in p and 'lib/base/a' in p and 'lib/base/b' in p for p in found):
        print('self-test: the cycle a -> b -> a was not reported: %s' % found)
        ok = False
    if not any('lib/net/j.c' in p and 'upward' in p for p in found):
        print('self-test: the upward include net -> crypto was not reported: %s' % found)
        ok = False
    print('self-test %s' % ('passed' if ok else 'FAILED'))
    return 0 if ok else 1


def main():
    if len(sys.argv) == 2 and sys.argv[1] == '--self-test':
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    problems, n = check(sys.argv[1])
    for p in problems:
        print(p)
    if problems:
        print('%d problem(s) in the layering of lib/' % len(problems))
        return 1
    print('%d modules in %d layers: no upward include, no include cycle' % (n, len(LAYERS)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
