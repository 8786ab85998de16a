#!/usr/bin/env python3
"""acmectl with keys in a PKCS#11 token: SoftHSM2 against a real Pebble.

    test_pkcs11.py ACMECTL enabled|disabled
    test_pkcs11.py ACMECTL signer TEST_BINARY

A fresh SoftHSM2 token in the test's temporary directory (its own
SOFTHSM2_CONF and token dir) gets three EC P-256 key pairs from OpenSC's
pkcs11-tool: two account keys and a certificate key. Then, through
acmectl and the PKCS#11 signer (examples/pkcs11/):
  - issue registers an account whose key is only in the token and gets a
    certificate whose key is only in the token; the leaf's public key is
    the token key's (the SubjectPublicKeyInfo pkcs11-tool reads);
  - rollover moves the account to the second token key: the account then
    answers to that key (same URL) and issue works with it;
  - revoke --cert-key signs the revocation with the certificate's token key,
    and Pebble reports the certificate revoked;
  - a --cert-key URI whose PIN comes from a file is remembered for its
    name (never one holding pin-value): a later issue without --cert-key
    renews with the same token key, and `revoke NAME --with-cert-key` signs
    with it; a name whose URI was not remembered gets a clear refusal;
  - no file in the state dir holds a private key, and the certificate has
    no key file;
  - a wrong PIN, a URI that matches no key and a malformed URI fail with a
    clear reason and leave the state as it was.
"signer" makes the same token and runs tests/integration/test_pkcs11.c on it
(the library and the signer without acmectl).
"disabled" (acmectl built without p11-kit): the token options must give a
clear usage error; then the test reports "skipped" (77).
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cli as t  # noqa: E402  (its helpers: acmectl(), check(), openssl ...)

MODE = sys.argv[2]
SKIP = 77


def find_softhsm():
    """The SoftHSM2 module: $SOFTHSM2_MODULE, else the file p11-kit's
    module configuration registers for it, else Debian's paths."""
    env = os.environ.get("SOFTHSM2_MODULE")
    if env:
        return env
    def pkgvar(name):
        r = subprocess.run(["pkg-config", f"--variable={name}", "p11-kit-1"],
                           capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    configs = pkgvar("p11_module_configs") or "/usr/share/p11-kit/modules"
    modpath = pkgvar("p11_module_path")
    conf = os.path.join(configs, "softhsm2.module")
    if os.path.exists(conf):
        with open(conf) as f:
            m = re.search(r"^module:\s*(\S+)", f.read(), re.M)
        if m:
            path = m.group(1)
            if not os.path.isabs(path) and modpath:
                path = os.path.join(modpath, path)
            if os.path.exists(path):
                return path
    for path in ("/usr/lib/softhsm/libsofthsm2.so",
                 "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                 "/usr/local/lib/softhsm/libsofthsm2.so"):
        if os.path.exists(path):
            return path
    raise t.TestFailure("SoftHSM2 not found (Debian: apt-get install softhsm2; "
                        "or set SOFTHSM2_MODULE)")


def run(*argv):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise t.TestFailure(f"{' '.join(map(str, argv))} exited {r.returncode}\n"
                            f"{r.stdout}{r.stderr}")
    return r.stdout


def private_key_files(root):
    """Files under root whose text holds a PEM private key."""
    found = []
    for dirpath, _, files in os.walk(root):
        for fn in files:
            p = os.path.join(dirpath, fn)
            with open(p, "rb") as f:
                if b"PRIVATE KEY" in f.read():
                    found.append(p)
    return found


def leaf_spki_der(chain_path):
    pem = t.public_key(chain_path)
    r = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem.encode(),
                       capture_output=True)
    t.check(r.returncode == 0, f"openssl pkey: {r.stderr}")
    return r.stdout


def account_url(res):
    m = re.search(r"account (https://\S+)", res.err)
    t.check(m, f"acmectl names the account: {res.err}")
    return m.group(1)


def scenario_disabled():
    state = t.state_dir("p11-off")
    for args in (["issue", "a.example", "--account-key", "pkcs11:token=x"],
                 ["issue", "a.example", "--cert-key", "pkcs11:token=x"],
                 ["revoke", "--cert", "/dev/null", "--cert-key", "pkcs11:token=x"],
                 ["rollover", "--account-key", "pkcs11:id=%01", "--new-key", "pkcs11:id=%02"]):
        res = t.acmectl(*args, state=state, expect=2)
        t.check("built without PKCS#11 support" in res.err,
                f"{args[0]}: clear error without PKCS#11: {res.err}")
    t.check(not os.path.exists(state), "nothing created")


def make_token():
    """A fresh token with three EC P-256 key pairs: (module, pin, SPKI DER
    by id, directory)."""
    module = find_softhsm()
    tmp = os.path.join(t.TMP, "softhsm")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "tokens"))
    conf = os.path.join(tmp, "softhsm2.conf")
    t.write(conf, f"directories.tokendir = {tmp}/tokens\nobjectstore.backend = file\n"
                  "log.level = ERROR\n")
    # Everything below (softhsm2-util, pkcs11-tool, acmectl) uses this token dir.
    os.environ["SOFTHSM2_CONF"] = conf
    pin = "4321"
    run("softhsm2-util", "--init-token", "--free", "--label", "acme-test", "--pin", pin,
        "--so-pin", "87654321")
    for key_id, label in (("01", "account1"), ("02", "account2"), ("03", "cert")):
        run("pkcs11-tool", "--module", module, "--token-label", "acme-test", "--login",
            "--pin", pin, "--keypairgen", "--key-type", "EC:prime256v1", "--id", key_id,
            "--label", label)
    spki = {}
    for key_id in ("01", "02", "03"):
        out = os.path.join(tmp, f"pub{key_id}.der")
        run("pkcs11-tool", "--module", module, "--token-label", "acme-test", "--read-object",
            "--type", "pubkey", "--id", key_id, "-o", out)
        with open(out, "rb") as f:
            spki[key_id] = f.read()
    pin_file = os.path.join(tmp, "pin")
    t.write(pin_file, pin + "\n", 0o600)
    return module, pin, spki, tmp


def scenario_signer(binary):
    """The library with the signer, without acmectl (tests/integration/test_pkcs11.c)."""
    module, pin, spki, tmp = make_token()
    q = f"?module-path={module}&pin-value={pin}"
    spki_file = os.path.join(tmp, "cert-spki.der")
    with open(spki_file, "wb") as f:
        f.write(spki["03"])
    r = subprocess.run([binary, f"pkcs11:token=acme-test;id=%01{q}",
                        f"pkcs11:token=acme-test;object=account2{q}",
                        f"pkcs11:token=acme-test;id=%03;type=private{q}", spki_file])
    t.check(r.returncode == 0, f"{binary} exited {r.returncode}")


def scenario_enabled():
    module, pin, spki, tmp = make_token()
    pin_file = os.path.join(tmp, "pin")

    q_file = f"?module-path={module}&pin-source=file:{pin_file}"
    acct1 = f"pkcs11:token=acme-test;id=%01;type=private{q_file}"
    acct2 = f"pkcs11:token=acme-test;object=account2{q_file}"
    cert = f"pkcs11:token=acme-test;id=%03;type=private?module-path={module}&pin-value={pin}"

    state = t.state_dir("p11")
    shutil.rmtree(state, ignore_errors=True)
    name = "tok.example"

    # Bad URIs and a wrong PIN fail before anything is created.
    res = t.acmectl("issue", name, "--account-key", "pkcs11:token=acme-test;colour=red",
                    "--email", t.EMAIL, "--agree-tos", state=state, expect=2)
    t.check('unknown path attribute "colour"' in res.err, f"bad URI: {res.err}")
    res = t.acmectl("issue", name, "--cert-key", "pkcs11:token=acme%2", "--email", t.EMAIL,
                    "--agree-tos", state=state, expect=2)
    t.check("must be followed by two hex digits" in res.err, f"bad escape: {res.err}")
    wrong = f"pkcs11:token=acme-test;id=%01?module-path={module}&pin-value=0000"
    res = t.acmectl("issue", name, "--account-key", wrong, "--email", t.EMAIL, "--agree-tos",
                    "--http-port", t.HTTP_PORT, state=state, expect=1)
    t.check("wrong PIN" in res.err, f"wrong PIN: {res.err}")
    t.check("0000" not in res.err, "the PIN is not echoed")
    missing = f"pkcs11:token=acme-test;id=%09{q_file}"
    res = t.acmectl("issue", name, "--account-key", missing, "--email", t.EMAIL, "--agree-tos",
                    "--http-port", t.HTTP_PORT, state=state, expect=1)
    t.check("no private key" in res.err, f"no such key: {res.err}")
    no_token = f"pkcs11:token=other{q_file}"
    res = t.acmectl("issue", name, "--account-key", no_token, "--email", t.EMAIL, "--agree-tos",
                    "--http-port", t.HTTP_PORT, state=state, expect=1)
    t.check("no token matches" in res.err, f"no such token: {res.err}")
    t.check(not private_key_files(state) if os.path.exists(state) else True,
            "no key written by the failed runs")

    # Account key and certificate key only in the token.
    res = t.acmectl("issue", name, "--account-key", acct1, "--cert-key", cert, "--email",
                    t.EMAIL, "--agree-tos", "--http-port", t.HTTP_PORT, state=state)
    url = account_url(res)
    chain = res.lines()[0]
    t.check(len(res.lines()) == 1, f"the chain's path alone, no key path: {res.out}")
    t.check(t.sans(chain) == {name}, f"the certificate names {name}")
    t.check(leaf_spki_der(chain) == spki["03"], "the leaf's public key is the token key's")
    t.check(leaf_spki_der(chain) != spki["01"], "and not the account key")
    t.check(not private_key_files(state), f"no private key in the state dir: "
            f"{private_key_files(state)}")
    key_file = os.path.join(state, "certs", name, "key.pem")
    t.check(not os.path.exists(key_file), "the certificate has no key file")
    t.check(pin not in open(os.path.join(state, "acmectl.conf")).read(),
            "the PIN is not remembered")
    t.check("not remembered" in res.err and "pin-value" in res.err,
            f"a URI holding the PIN is said not to be remembered: {res.err}")
    t.check(not os.path.exists(os.path.join(state, "token-keys", "cert", name)),
            "a URI holding the PIN is not stored")

    # The account key's URI (its PIN in a file) is remembered for the CA.
    acct_dir = os.path.join(state, "token-keys", "account")
    remembered = [os.path.join(acct_dir, f) for f in sorted(os.listdir(acct_dir))] \
        if os.path.isdir(acct_dir) else []
    t.check(len(remembered) == 1 and open(remembered[0]).read() == acct1,
            f"the account key's URI is remembered once: {remembered}")

    # The same account on the next run, without --account-key: the
    # remembered token key signs (the store knows its account).
    res = t.acmectl("issue", name, "--force", "--cert-key", cert,
                    "--http-port", t.HTTP_PORT, state=state)
    t.check(account_url(res) == url, "the token account is found again")
    t.check(not private_key_files(state), "and no account key file is made")
    chain = res.lines()[0]
    t.check(leaf_spki_der(chain) == spki["03"], "a renewal keeps the token key")

    # Rollover from the remembered key to the second token key: the account
    # now answers to it, and it is remembered in its place.
    res = t.acmectl("rollover", "--new-key", acct2, state=state)
    t.check(res.lines() == [url], f"rollover prints the account URL: {res.out}")
    t.check(open(remembered[0]).read() == acct2, "the new key's URI is remembered")
    res = t.acmectl("rollover", "--account-key", acct1, "--new-key", acct2, state=state,
                    expect=1)
    t.check("rollover" in res.err, f"the old key has no account any more: {res.err}")
    res = t.acmectl("issue", name, "--force", "--cert-key", cert,
                    "--http-port", t.HTTP_PORT, state=state)
    t.check(account_url(res) == url, "the rolled-over key signs for the same account")
    chain = res.lines()[0]
    t.check(leaf_spki_der(chain) == spki["03"], "the certificate key is still the token's")

    # Revocation signed by the certificate's key in the token.
    serial = t.serial_of(chain)
    t.check(not t.revoked(serial), "not revoked yet")
    res = t.acmectl("revoke", "--cert", chain, "--cert-key", cert, "--reason", "superseded",
                    state=state)
    t.check(t.revoked(serial), "Pebble reports the certificate revoked")

    # A URI with its PIN in a file is remembered: the next runs need no
    # --cert-key, for renewal and for revoke NAME --with-cert-key.
    name2 = "tok2.example"
    cert_file_pin = f"pkcs11:token=acme-test;id=%03;type=private{q_file}"
    res = t.acmectl("issue", name2, "--account-key", acct2, "--cert-key", cert_file_pin,
                    "--http-port", t.HTTP_PORT, state=state)
    t.check(leaf_spki_der(res.lines()[0]) == spki["03"], f"{name2}: the token key")
    record = os.path.join(state, "token-keys", "cert", name2)
    t.check(os.path.exists(record) and open(record).read() == cert_file_pin,
            f"{name2}: the URI is remembered")
    res = t.acmectl("issue", name2, "--force", "--account-key", acct2,
                    "--http-port", t.HTTP_PORT, state=state)
    chain2 = res.lines()[0]
    t.check(leaf_spki_der(chain2) == spki["03"],
            "a renewal without --cert-key uses the remembered token key")
    t.check(not os.path.exists(os.path.join(state, "certs", name2, "key.pem")),
            "and writes no key file")
    serial2 = t.serial_of(chain2)
    res = t.acmectl("revoke", name2, "--with-cert-key", "--reason", "superseded", state=state)
    t.check(t.revoked(serial2), "revoke NAME --with-cert-key signs with the remembered key")
    # tok.example's URI held its PIN: nothing remembered, a clear refusal.
    res = t.acmectl("revoke", name, "--with-cert-key", state=state, expect=1)
    t.check("no token URI is remembered" in res.err, f"revoke without a URI: {res.err}")

    t.check(not private_key_files(state), "still no private key in the state dir")


def main():
    t.SCENARIO = "pkcs11"
    try:
        if MODE == "signer":
            scenario_signer(sys.argv[3])
            return 0
        if MODE == "disabled":
            scenario_disabled()
            t.log("acmectl was built without PKCS#11 (p11-kit): skipped")
            return SKIP
        scenario_enabled()
    except t.TestFailure as e:
        t.log(f"FAIL: {e}")
        return 1
    t.log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
