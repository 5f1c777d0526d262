#!/usr/bin/env bash
# Runs the unit tests (cmocka binaries in BUILD/tests) and the integration
# tests (tests/integration/test_*.sh against BUILD/cairn), then prints one
# closing line "N passed, N failed" over both layers. Exit 1 on any failure.
#   tests/run.sh BUILD [unit|integration] [name-filter]
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
which=${2:-all}
filter=${3:-}
passed=0
failed=0
failed_names=()

if [ "$which" = all ] || [ "$which" = unit ]; then
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        case "$t" in *"$filter"*) ;; *) continue ;; esac
        out=$("$t" 2>&1)
        rc=$?
        p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
        f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
        p=${p:-0}; f=${f:-0}
        if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi   # crashed
        passed=$((passed + p)); failed=$((failed + f))
        if [ "$f" != 0 ]; then
            printf '%s\n' "$out"
            failed_names+=("$(basename "$t")")
        fi
        echo "unit $(basename "$t"): $p passed, $f failed"
    done
fi

if [ "$which" = all ] || [ "$which" = integration ]; then
    for t in tests/integration/test_*.sh; do
        [ -f "$t" ] || continue
        case "$t" in *"$filter"*) ;; *) continue ;; esac
        log=$(mktemp)
        CAIRN="$PWD/$build/cairn" timeout 600 bash "$t" >"$log" 2>&1
        rc=$?
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
        p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); p=${p:-0}
        f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed$/\1/p'); f=${f:-0}
        if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
        passed=$((passed + p)); failed=$((failed + f))
        if [ "$f" != 0 ]; then
            cat "$log"
            failed_names+=("$(basename "$t")")
        fi
        rm -f "$log"
        echo "integration $(basename "$t"): $p passed, $f failed"
    done
fi

[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
