#!/bin/sh
# Install what libacme needs on Debian 12 (run as root, or with sudo):
# the build dependencies and the test CA (Pebble) always; with
# --test-tools also valgrind, clang/libFuzzer, abigail-tools and doxygen
# for the full test run, p11-kit (the optional PKCS#11 signer), SoftHSM2
# and OpenSC's pkcs11-tool for the token test (cli-pkcs11), and Knot DNS
# (the authoritative server of the DNS solver tests).
# Used by tests/run-all.sh and examples/demo.sh.
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
extra=""
[ "${1:-}" = "--test-tools" ] &&
    extra="valgrind clang libfuzzer-14-dev libclang-rt-14-dev abigail-tools doxygen
           libp11-kit-dev p11-kit softhsm2 opensc knot knot-dnsutils etcd-server etcd-client"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends \
    build-essential meson ninja-build pkg-config \
    libmbedtls-dev libcurl4-openssl-dev libyajl-dev libldns-dev \
    pebble openssl ca-certificates python3 $extra
