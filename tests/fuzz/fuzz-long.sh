#!/bin/sh
# Long local fuzzing runs of the libFuzzer targets (see README.md).
#
#   tests/fuzz/fuzz-long.sh [-t SECONDS] [-p PARALLEL] [-j FORKS] [-b BUILD_DIR]
#                           [-w WORK_DIR] [TARGET...]
#
#   -t  seconds per target (default 3600)
#   -p  targets run at the same time (default 1)
#   -j  libFuzzer fork mode with this many workers per target (default: off)
#   -b  build directory (default <source>/build-fuzz; configured with clang
#       and -Dfuzzing=true when it does not exist yet)
#   -w  work directory, outside the source tree (default $FUZZ_WORK, else
#       ${XDG_CACHE_HOME:-~/.cache}/libacme-fuzz): <target>/corpus keeps what
#       the fuzzer found across runs, <target>/artifacts the crashes,
#       <target>/fuzz.log the output
#   TARGET  json problem directory account order authz pem_chain key csr link etcd
#           retry_after ari rfc3339 (default: all)
#
# The committed seeds (tests/fuzz/corpus/<target>) are read, never written.
# At the end every crash, leak or timeout input found is listed.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
seconds=3600
parallel=1
forks=0
build=$src/build-fuzz
work=${FUZZ_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/libacme-fuzz}
all="json problem directory account order authz pem_chain key csr link retry_after ari rfc3339 etcd"

while getopts t:p:j:b:w:h opt; do
    case $opt in
    t) seconds=$OPTARG ;;
    p) parallel=$OPTARG ;;
    j) forks=$OPTARG ;;
    b) build=$OPTARG ;;
    w) work=$OPTARG ;;
    *) sed -n '2,22p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
targets=${*:-$all}

case $work in
"$src"/*) echo "fuzz-long.sh: the work directory must be outside the source tree" >&2; exit 2 ;;
esac

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$src" -Dfuzzing=true
fi
set --
for t in $targets; do
    case " $all " in *" $t "*) ;; *) echo "fuzz-long.sh: unknown target $t" >&2; exit 2 ;; esac
    set -- "$@" "tests/fuzz/fuzz_$t"
done
ninja -C "$build" "$@"

dict_of() {
    case $1 in
    pem_chain|key|csr) echo pem.dict ;;
    link) echo link.dict ;;
    retry_after|rfc3339) echo http-date.dict ;;
    *) echo json.dict ;;
    esac
}

run_one() {
    t=$1
    d=$work/$t
    mkdir -p "$d/corpus" "$d/artifacts"
    set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$d/artifacts/" -print_final_stats=1 \
        -dict="$src/tests/fuzz/dict/$(dict_of "$t")"
    if [ "$forks" -gt 0 ]; then
        set -- "$@" -fork="$forks" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1
    fi
    echo "fuzz-long.sh: $t for ${seconds}s (log: $d/fuzz.log)"
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$build/tests/fuzz/fuzz_$t" "$@" "$d/corpus" "$src/tests/fuzz/corpus/$t" \
        >"$d/fuzz.log" 2>&1 || echo "fuzz-long.sh: $t stopped with a finding (exit $?)"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/fuzz.log" | tail -n 1)
    echo "fuzz-long.sh: $t done: ${runs:-?} runs, corpus $(ls "$d/corpus" | wc -l) inputs"
}

running=0
for t in $targets; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$parallel" ]; then
        wait
        running=0
    fi
done
wait

found=0
for t in $targets; do
    for f in "$work/$t"/artifacts/crash-* "$work/$t"/artifacts/leak-* \
             "$work/$t"/artifacts/timeout-* "$work/$t"/artifacts/oom-*; do
        [ -f "$f" ] || continue
        found=$((found + 1))
        echo "FOUND [$t] $f ($(wc -c <"$f") bytes)"
        echo "    reproduce: $build/tests/fuzz/fuzz_$t $f"
    done
done
if [ "$found" -gt 0 ]; then
    echo "fuzz-long.sh: $found input(s) found. Fix the library, then add each input to"
    echo "tests/fuzz/corpus/<target>/ and to the table in tests/unit/test_fuzz_regressions.c."
    exit 1
fi
echo "fuzz-long.sh: nothing found."
