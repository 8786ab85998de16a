#!/usr/bin/env python3
"""Check that lib/ never reads back the thread's last error: internal
functions pass an error record (acme__err) down, and a public function
records on its handle. A call of acme_last_error() or acme_last_problem()
inside the library would copy whatever an earlier call left there, which
is stale or another call's failure.

Usage: check_error_readback.py SOURCE_ROOT   check lib/
       check_error_readback.py --self-test   show that a call is caught and
                                             a comment or string is not
"""
import os
import re
import sys
import tempfile

CALL = re.compile(r'\bacme_last_(error|problem)\s*\(\s*\)')
# Comments and string literals, which may name the functions freely.
NOISE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"', re.S)


def blank(m):
    """Keep the newlines of what is removed, so line numbers stay right."""
    return '\n' * m.group(0).count('\n')


def findings(root):
    out = []
    lib = os.path.join(root, 'lib')
    for d, _, files in sorted(os.walk(lib)):
        for name in sorted(files):
            if not name.endswith(('.c', '.h')):
                continue
            path = os.path.join(d, name)
            with open(path, encoding='utf-8') as f:
                code = NOISE.sub(blank, f.read())
            for m in CALL.finditer(code):
                line = code.count('\n', 0, m.start()) + 1
                rel = os.path.relpath(path, root)
                out.append(f'{rel}:{line}: {m.group(0)} reads back the thread\'s last error; '
                           'pass an acme__err record down instead')
    return out


def self_test():
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, 'lib', 'store'))
        bad = os.path.join(root, 'lib', 'store', 'bad.c')
        with open(bad, 'w', encoding='utf-8') as f:
            f.write('/* acme_last_error() in a comment is fine */\n'
                    'static const char *s = "acme_last_problem()";\n'
                    'int f(void) { return g("%s", acme_last_error ( )); }\n')
        found = findings(root)
        if len(found) != 1 or 'bad.c:3:' not in found[0]:
            print('self-test: expected one finding at bad.c:3, got', found)
            return 1
        os.remove(bad)
        if findings(root):
            print('self-test: a clean tree gave findings')
            return 1
    print('self-test: a read-back is caught; comments and strings are not')
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == '--self-test':
        return self_test()
    if len(argv) != 2:
        print(__doc__)
        return 2
    found = findings(argv[1])
    for f in found:
        print(f)
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
