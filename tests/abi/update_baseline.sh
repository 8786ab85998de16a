#!/bin/sh
# Regenerate tests/abi/libacme.abi from a build (a release step: see
# doc/ABI.md). Usage: update_baseline.sh BUILD_DIR
set -eu
build=${1:-build}
src=$(cd "$(dirname "$0")/../.." && pwd)
abidw --headers-dir "$src/include" --headers-dir "$build/include" \
    --drop-private-types --exported-interfaces-only --no-comp-dir-path --short-locs \
    --out-file "$src/tests/abi/libacme.abi" "$build/lib/libacme.so"
echo "wrote tests/abi/libacme.abi"
