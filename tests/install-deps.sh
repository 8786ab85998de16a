#!/bin/sh
# Install what libacme needs to build and test on Debian 12 (run as root,
# or with sudo available). Used by tests/run-all.sh and examples/demo.sh.
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    build-essential clang meson ninja-build pkg-config \
    libmbedtls-dev libcurl4-openssl-dev libyajl-dev \
    pebble openssl ca-certificates python3 valgrind
