#!/bin/bash
# Runs the test suites and ends with one line "N passed, N failed".
#   scripts/test.sh          unit + e2e
#   scripts/test.sh unit     cmocka unit tests only
#   scripts/test.sh e2e      end-to-end tests only (node:test with the official SDKs)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
WHAT=${1:-all}
passed=0
failed=0
LOGDIR=$(mktemp -d)
trap 'rm -rf "$LOGDIR"' EXIT

run_unit() {
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        log="$LOGDIR/$name.log"
        "$t" >"$log" 2>&1
        rc=$?
        ok=$(grep -c '^\[       OK \]' "$log")
        # cmocka names a failed test twice (as it fails, and in its closing list); its summary line
        # "[  FAILED  ] N test(s), listed below:" has the count.
        bad=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:$/\1/p' "$log" | tail -1)
        bad=${bad:-0}
        if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then
            bad=1 # crashed or a sanitizer stopped it
        fi
        passed=$((passed + ok))
        failed=$((failed + bad))
        if [ $rc -ne 0 ] || [ "$bad" -ne 0 ]; then
            echo "FAIL $name ($ok passed, $bad failed):"
            sed 's/^/    /' "$log" | tail -60
        else
            echo "ok   $name ($ok tests)"
        fi
    done
}

run_e2e() {
    if [ ! -d tests/e2e/node_modules ]; then
        echo "FAIL e2e: tests/e2e/node_modules is missing (run make deps)"
        failed=$((failed + 1))
        return
    fi
    tap="$LOGDIR/e2e.tap"
    BUILD="$BUILD" node --test --test-concurrency=1 --test-timeout=180000 \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" \
        tests/e2e/*.test.mjs
    rc=$?
    p=$(grep -E '^# pass [0-9]+' "$tap" | awk '{print $3}')
    f=$(grep -E '^# fail [0-9]+' "$tap" | awk '{print $3}')
    p=${p:-0}
    f=${f:-0}
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

case "$WHAT" in
unit) run_unit ;;
e2e) run_e2e ;;
*) run_unit; run_e2e ;;
esac
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
