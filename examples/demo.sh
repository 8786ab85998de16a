#!/bin/sh
# Issue a real certificate with acmectl from a local Pebble test CA.
#
#   sh examples/demo.sh
#
# On Debian 12, as root or with sudo (for apt-get): installs the build tools
# and Pebble, builds libacme and acmectl, starts a private Pebble on free
# loopback ports (tests/harness/pebble_harness.py), registers an account,
# issues a certificate for www.demo.example (and so demo.example) with
# acmectl's own http-01 responder, and shows it. No internet access is needed
# after the packages are installed. The state stays in $BUILD/demo-state.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

if [ "${1:-}" != inside ]; then
    sh tests/install-deps.sh
    if [ -d "$BUILD" ]; then
        meson setup --reconfigure "$BUILD" >/dev/null
    else
        meson setup "$BUILD" >/dev/null
    fi
    meson compile -C "$BUILD" acmectl
    # Pebble and its DNS run only as long as the second half of this script.
    BUILD=$BUILD exec python3 tests/harness/pebble_harness.py -- sh "$0" inside
fi

# Inside the harness: ACME_TEST_* describe the running Pebble.
acmectl="$BUILD/examples/acmectl"
state="$BUILD/demo-state"
rm -rf "$state"
echo
echo "== Pebble's directory: $ACME_TEST_DIRECTORY"
echo "+ acmectl register demo@example.com --agree-tos"
"$acmectl" --directory "$ACME_TEST_DIRECTORY" --ca-bundle "$ACME_TEST_CA_BUNDLE" \
    --state "$state" register demo@example.com --agree-tos
echo
# The directory and CA bundle are remembered in $state/acmectl.conf.
echo "+ acmectl issue www.demo.example --http-port $ACME_TEST_HTTP_PORT"
paths=$("$acmectl" --state "$state" issue www.demo.example --http-port "$ACME_TEST_HTTP_PORT")
chain=$(printf '%s\n' "$paths" | sed -n 1p)
key=$(printf '%s\n' "$paths" | sed -n 2p)
echo
echo "== the certificate chain: $chain"
echo "== its private key:       $key"
openssl x509 -in "$chain" -noout -subject -ext subjectAltName -dates
