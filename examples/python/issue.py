#!/usr/bin/env python3
"""Register an account and issue a certificate from Python through
libacme.py (ctypes), with an http-01 solver written in Python: a tiny HTTP
server that serves the key authorizations the library hands it.

    LIBACME_PATH=build/lib/libacme.so python3 examples/python/issue.py \\
        DIRECTORY_URL HTTP_PORT NAME... [--ca-bundle FILE]

Prints the certificate chain on stdout.
"""
import argparse
import http.server
import sys
import threading

import libacme


class HttpSolver:
    """http-01 in Python: answers GET /.well-known/acme-challenge/TOKEN."""

    def __init__(self, port):
        answers = self.answers = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = answers.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                if body:
                    self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.presented = self.validated = 0

    def present(self, ch):
        self.answers[ch.http_path] = ch.key_authorization
        self.presented += 1
        return True

    def cleanup(self, ch):
        self.answers.pop(ch.http_path, None)
        self.validated += ch.status == "valid"

    def close(self):
        self.server.shutdown()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory")
    ap.add_argument("http_port", type=int)
    ap.add_argument("names", nargs="+")
    ap.add_argument("--ca-bundle")
    args = ap.parse_args()

    print("libacme", libacme.lib.acme_version_string().decode(), file=sys.stderr)
    provider = libacme.Provider(args.directory, args.ca_bundle)
    account_key, cert_key = libacme.Key(), libacme.Key()
    solver = HttpSolver(args.http_port)
    solvers = libacme.Solvers()
    try:
        account = libacme.Account(provider, account_key, ["python@example.com"], agree_tos=True)
        print("account", account.url, account.status, file=sys.stderr)
        solvers.add("http-01", solver)
        chain = libacme.issue(account, args.names, solvers, cert_key)
        print(f"issued ({solver.presented} challenge(s) answered from Python, "
              f"{solver.validated} validated)", file=sys.stderr)
        sys.stdout.write(chain)
        account.close()
    except libacme.AcmeError as e:
        print("error:", e, file=sys.stderr)
        return 1
    finally:
        solvers.close()
        solver.close()
        cert_key.close()
        account_key.close()
        provider.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
