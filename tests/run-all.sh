#!/bin/sh
# Install the dependencies, build libacme, and run every test:
#   1. normal build: unit, integration (real Pebble), CLI, FFI, ABI and docs
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build: unit,
#      integration (local and Pebble) and CLI tests, halting on the first
#      error
#   3. valgrind memcheck over the unit tests, the local integration tests
#      and the core Pebble integration tests
#   4. libFuzzer (clang) build: every fuzz target over its seed corpus and
#      then for FUZZ_SECONDS (default 30, two targets at a time) of new inputs
# Exits non-zero when anything fails. PHASES="normal asan valgrind fuzz"
# selects phases (all by default); SKIP_DEPS=1 skips the apt-get step.
set -eu
cd "$(dirname "$0")/.."
[ "${SKIP_DEPS:-0}" = 1 ] || sh tests/install-deps.sh --test-tools
PHASES=${PHASES:-normal asan valgrind fuzz}
JOBS=${JOBS:-2}

setup() { # setup DIR [meson options...]
    dir=$1
    shift
    if [ -d "$dir" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
    ninja -C "$dir"
}

phase() {
    echo
    echo "=== $1 ==="
}

for p in $PHASES; do
    case $p in
    normal)
        phase "normal build: all tests"
        setup build
        meson test -C build --print-errorlogs --num-processes "$JOBS"
        ;;
    asan)
        phase "ASan+UBSan build: unit, integration, etcd and CLI tests"
        setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
        ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            meson test -C build-asan --print-errorlogs --num-processes "$JOBS" \
            --suite unit --suite local --suite pebble --suite cli --suite etcd
        ;;
    valgrind)
        phase "valgrind memcheck: unit, local and core integration tests"
        setup build
        vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,possible --error-exitcode=1"
        # RSA 3072/4096 generation takes minutes under valgrind; those sizes
        # are covered by the other phases (see tests/unit/unit.h).
        ACME_TEST_FAST_KEYS=1 meson test -C build --print-errorlogs --num-processes "$JOBS" \
            --suite unit --suite local --timeout-multiplier 4 --wrap="$vg"
        ACME_TEST_WRAP="$vg" meson test -C build --print-errorlogs --num-processes "$JOBS" \
            --timeout-multiplier 4 account account-badnonce50 eab provider-errors \
            order-http-standalone order-dns order-failures order-csr desire-lifecycle \
            desire-ari hostile secrets
        ;;
    fuzz)
        FUZZ_SECONDS=${FUZZ_SECONDS:-30}
        export FUZZ_SECONDS
        phase "libFuzzer: every target over its corpus, then $FUZZ_SECONDS s each"
        CC=clang setup build-fuzz -Dfuzzing=true -Db_lundef=false
        meson test -C build-fuzz --print-errorlogs \
            --num-processes "$JOBS" --suite fuzz
        ;;
    *)
        echo "unknown phase $p" >&2
        exit 2
        ;;
    esac
done
echo
echo "all phases passed: $PHASES"
