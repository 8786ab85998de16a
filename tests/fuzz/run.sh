#!/bin/sh
# One short fuzz run for `meson test --suite fuzz`:
#   run.sh FUZZER CORPUS_DIR SECONDS ARTIFACT_DIR [DICT]
# Replays the committed seeds, then fuzzes for SECONDS (FUZZ_SECONDS in the
# environment overrides it). The fuzzer works on a temporary copy of the
# corpus, so the committed one never grows; crash, leak and timeout inputs
# are kept in ARTIFACT_DIR and printed (base64) so CI logs hold them.
set -u
fuzzer=$1
corpus=$2
seconds=${FUZZ_SECONDS:-$3}
artifacts=$4
dict=${5:-}
name=$(basename "$corpus")

work=$(mktemp -d "${TMPDIR:-/tmp}/libacme-fuzz-$name.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
cp -R "$corpus/." "$work/" || exit 1
mkdir -p "$artifacts" || exit 1

set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$artifacts/" -print_final_stats=1
if [ -n "$dict" ]; then
    set -- "$@" -dict="$dict"
fi

: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
export UBSAN_OPTIONS

if "$fuzzer" "$@" "$work"; then
    exit 0
else
    rc=$?
fi
echo "fuzz-$name: the fuzzer failed (exit $rc); inputs kept in $artifacts:"
for f in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*; do
    [ -f "$f" ] || continue
    echo "== $f ($(wc -c <"$f") bytes, base64):"
    base64 "$f" | head -c 65536
    echo
done
echo "Reproduce with: $fuzzer <input>; then add the input to tests/fuzz/corpus/$name/"
echo "and to the table in tests/unit/test_fuzz_regressions.c."
exit "$rc"
