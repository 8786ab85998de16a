#!/usr/bin/env python3
"""Check that every public number is pinned by a test: each enumerator
with an explicit value and each numeric #define in include/acme/*.h must
appear in tests/unit/test_error.c as `NAME == VALUE`, with the value the
header gives. A renumbered value breaks every program built before it, and
abidiff does not see enums that no signature names nor any #define.
Options-struct versions (*_VERSION) grow by design and are left out.

Usage: check_values_pinned.py SOURCE_ROOT   check the tree
       check_values_pinned.py --self-test   show that a missing or
                                            changed pin is caught
"""
import os
import re
import sys
import tempfile

ENUMERATOR = re.compile(r'^\s*(ACME_[A-Z0-9_]+)\s*=\s*(-?\d+)\s*,?', re.M)
DEFINE = re.compile(r'^#define\s+(ACME_[A-Z0-9_]+)\s+(-?\d+)\b', re.M)
PIN = re.compile(r'\b(ACME_[A-Z0-9_]+)\s*==\s*(-?\d+)\b')
TEST = os.path.join('tests', 'unit', 'test_error.c')


def public_values(root):
    values = {}
    inc = os.path.join(root, 'include', 'acme')
    for name in sorted(os.listdir(inc)):
        if not name.endswith('.h'):
            continue
        with open(os.path.join(inc, name), encoding='utf-8') as f:
            text = f.read()
        for m in list(ENUMERATOR.finditer(text)) + list(DEFINE.finditer(text)):
            if not m.group(1).endswith('_VERSION'):
                values[m.group(1)] = (int(m.group(2)), name)
    return values


def findings(root):
    with open(os.path.join(root, TEST), encoding='utf-8') as f:
        pins = {}
        for m in PIN.finditer(f.read()):
            pins.setdefault(m.group(1), set()).add(int(m.group(2)))
    out = []
    for name, (value, header) in sorted(public_values(root).items()):
        if name not in pins:
            out.append(f'{name} ({header}) = {value} is not pinned in {TEST}')
        elif value not in pins[name]:
            out.append(f'{name} ({header}) is {value}, but {TEST} pins {sorted(pins[name])}')
    return out


def self_test():
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, 'include', 'acme'))
        os.makedirs(os.path.join(root, 'tests', 'unit'))
        with open(os.path.join(root, 'include', 'acme', 'x.h'), 'w') as f:
            f.write('typedef enum e {\n    ACME_A = 1, /**< one */\n    ACME_B = 2\n} e;\n'
                    '#define ACME_MAX 8\n#define ACME_X_OPTIONS_VERSION 3\n')

        def run(test):
            with open(os.path.join(root, TEST), 'w') as f:
                f.write(test)
            return findings(root)
        ok = run('CHECK(ACME_A == 1 && ACME_B == 2 && ACME_MAX == 8);')
        missing = run('CHECK(ACME_A == 1 && ACME_MAX == 8);')
        changed = run('CHECK(ACME_A == 1 && ACME_B == 3 && ACME_MAX == 8);')
    if ok or len(missing) != 1 or 'ACME_B' not in missing[0] or \
            len(changed) != 1 or 'pins [3]' not in changed[0]:
        print(f'self-test failed: ok={ok} missing={missing} changed={changed}')
        return 1
    print('self-test: a missing and a changed pin are caught; versions are left out')
    return 0


def main(argv):
    if argv[1:] == ['--self-test']:
        return self_test()
    if len(argv) != 2:
        print(__doc__.strip())
        return 2
    out = findings(argv[1])
    for line in out:
        print(line)
    if out:
        print(f'{len(out)} public value(s) not pinned: add them to test_enum_values')
        return 1
    print('every public enum value and numeric #define is pinned')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
