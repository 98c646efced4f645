#!/usr/bin/env bash
# fuzz.sh: run every libFuzzer target for FUZZ_SECONDS from its seed corpus
# (every seed and every crash kept there runs first, each time), report the
# executions and coverage, and show the input of any crash found.
set -u

case "${FUZZ_STATE:-}" in
yes) ;;
no-clang | disabled)
    echo "SKIP: fuzzing: ${FUZZ_STATE} (configure found no clang, or --disable-fuzzing)"
    exit 77
    ;;
broken)
    echo "FAIL: clang is here but cannot link -fsanitize=fuzzer: install libclang-rt-14-dev"
    exit 1
    ;;
*)
    echo "ERROR: FUZZ_STATE unset: run through make check"
    exit 99
    ;;
esac

secs=${FUZZ_SECONDS:-10}
# A fixed seed and a fixed number of runs: the same binary and corpus give
# the same inputs every time, so the suite passes or fails the same way on
# every run of it (a time bound alone would stop at a different input each
# time). FUZZ_SEED=0 picks a new seed each run, to explore; FUZZ_SECONDS
# still bounds each target on a slow machine.
seed=${FUZZ_SEED:-1}
runs_config=${FUZZ_RUNS:-200000}
runs_protocol=${FUZZ_RUNS:-1000000}
runs_notify=${FUZZ_RUNS:-500000}
runs_metrics=${FUZZ_RUNS:-500000}
runs_probe=${FUZZ_RUNS:-500000}
src=$TOP_SRCDIR/tests/fuzz
work=$FUZZ_BIN/work
rm -rf "$work"
mkdir -p "$work"
rc=0
for t in config protocol notify metrics probe; do
    dict=
    [ -f "$src/$t.dict" ] && dict=-dict=$src/$t.dict
    # New inputs go to the first directory, never into the source tree
    # (read-only under distcheck). timeout bounds a fuzzer that hangs.
    mkdir -p "$work/$t"
    runs=runs_$t
    timeout -k 5 $((secs + 120)) "$FUZZ_BIN/fuzz_$t" -max_total_time="$secs" \
        -seed="$seed" -runs="${!runs}" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $dict \
        -artifact_prefix="$work/crash-$t-" "$work/$t" "$src/corpus/$t" \
        >"$work/$t.log" 2>&1
    st=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/$t.log" | tail -n 1)
    seeds=$(find "$src/corpus/$t" -type f | wc -l)
    echo "fuzz_$t: seed $seed, at most ${!runs} runs or ${secs}s: ${execs:-?} executions, ${cov:-no coverage line}, $seeds seeds, exit $st"
    if [ "$st" -ne 0 ] || [ -z "$execs" ]; then
        rc=1
        echo "FAIL: fuzz_$t: the end of its log:"
        tail -n 60 "$work/$t.log"
        for a in "$work/crash-$t-"*; do
            [ -f "$a" ] || continue
            echo "--- $a (add it to tests/fuzz/corpus/$t/ once fixed):"
            od -c "$a" | head -n 40
        done
    fi
done
exit $rc
