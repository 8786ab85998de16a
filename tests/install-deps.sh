#!/bin/sh
# Install what libacme needs on Debian 12 (run as root, or with sudo):
# the build dependencies and the test CA (Pebble) always; with
# --test-tools also valgrind, clang/libFuzzer, abigail-tools and doxygen
# for the full test run. Used by tests/run-all.sh and examples/demo.sh.
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
extra=""
[ "${1:-}" = "--test-tools" ] &&
    extra="valgrind clang libfuzzer-14-dev libclang-rt-14-dev abigail-tools doxygen etcd-server etcd-client"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends \
    build-essential meson ninja-build pkg-config \
    libmbedtls-dev libcurl4-openssl-dev libyajl-dev \
    pebble openssl ca-certificates python3 $extra
