#!/bin/sh
# Compare the built shared library with the committed ABI baseline
# (tests/abi/libacme.abi, made by abidw for the current release) and fail
# on any change of the public ABI. See doc/ABI.md for when and how a
# release updates the baseline.
# Usage: check_abi.sh LIBRARY SOURCE_DIR BUILD_DIR
set -eu
lib=$1
src=$2
build=$3
if ! command -v abidiff >/dev/null 2>&1; then
    echo "abidiff not installed (Debian: abigail-tools): skipped"
    exit 77
fi
set +e
abidiff --no-added-syms --suppressions "$src/tests/abi/libacme.suppr" --headers-dir1 "$src/include" --headers-dir1 "$build/include" \
    --headers-dir2 "$src/include" --headers-dir2 "$build/include" \
    "$src/tests/abi/libacme.abi" "$lib"
rc=$?
set -e
# abidiff exit status: bit 2 = ABI change, bit 3 = incompatible change.
if [ "$rc" -ne 0 ]; then
    echo "the ABI differs from tests/abi/libacme.abi (abidiff status $rc); see doc/ABI.md"
    exit 1
fi
echo "ABI matches the baseline"
