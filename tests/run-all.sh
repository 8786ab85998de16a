#!/bin/sh
# Install the dependencies, build libacme, and run every test: unit tests
# and integration tests against a real Pebble started on free loopback
# ports. Exits non-zero when anything fails.
set -eu
cd "$(dirname "$0")/.."
sh tests/install-deps.sh
BUILD=${BUILD:-build}
if [ -d "$BUILD" ]; then
    meson setup --reconfigure "$BUILD"
else
    meson setup "$BUILD"
fi
ninja -C "$BUILD"
meson test -C "$BUILD" --print-errorlogs --num-processes 2
