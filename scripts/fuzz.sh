#!/usr/bin/env bash
# The fuzzing part of the reliability run (issue 9, scenario 6), in one
# command that prints progress and exits non-zero on the first failure:
#   1. the session machine's property against scripted adversaries at
#      FUZZ_CASES cases (a million by default; release build);
#   2. the other property tests (byte scripts, frames in every state, the
#      payload decoders and the JSON transcoder) at PROPTEST_MORE cases each;
#   3. each cargo-fuzz target in fuzz/ for FUZZ_SECONDS seconds.
# Then a summary: cases and time of each property run, executions of each
# fuzz target. Not part of CI (CI runs the properties' small default counts
# through `cargo nextest run --workspace`).
#
# Usage:
#   scripts/fuzz.sh                        # the defaults below
#   FUZZ_SECONDS=600 scripts/fuzz.sh       # ten minutes per fuzz target
#   FUZZ_TARGETS="frame json" scripts/fuzz.sh
#
# Environment:
#   FUZZ_CASES     cases of the session machine property  (default 1000000)
#   PROPTEST_MORE  cases of each other property           (default 20000)
#   FUZZ_SECONDS   seconds each fuzz target runs          (default 60)
#   FUZZ_TARGETS   fuzz targets to run        (default: frame session payload json)
#   FUZZ_TIMEOUT   seconds one input may take before libFuzzer calls it a
#                  hang                                   (default 10)
#   CARGO_TARGET_DIR  as usual; the fuzz build goes to its own triple's dir.
# Needs rustup's nightly toolchain; installs cargo-fuzz from crates.io if it
# is missing. A crash or hang leaves its input in fuzz/artifacts/<target>/;
# each target's corpus grows in fuzz/corpus/<target>/; full logs go to
# fuzz/logs/ (all three ignored by git).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZ_CASES=${FUZZ_CASES:-1000000}
PROPTEST_MORE=${PROPTEST_MORE:-20000}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TARGETS=${FUZZ_TARGETS:-frame session payload json}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}

step() { printf '==> %s\n' "$*"; }
# A property failed: the end of its log (the failing input in full), then out.
failed() {
    tail -60 "$1" >&2
    echo "fuzz.sh: a property failed; the whole output is in $1" >&2
    exit 1
}
summary=()

mkdir -p fuzz/logs
# What a property run prints that matters: each test's verdict, the
# statistics, a failure and its minimal input, compile errors.
show='^(test |session machine:|thread |Test failed|minimal failing input|error(\[|:))|panicked'

step "session machine property: $FUZZ_CASES cases (release build)"
log=fuzz/logs/property-session.log
if ! PROPTEST_CASES=$FUZZ_CASES cargo test --release -p ractor_grpc --lib \
    node::session::machine::props::the_session_machine_keeps_its_promises_against_any_script \
    -- --nocapture --exact 2>&1 | tee "$log" | grep --line-buffered -E "$show"; then
    failed "$log"
fi
took=$(grep -oE 'finished in [0-9.]+s' "$log" | tail -1)
summary+=("session machine property: $FUZZ_CASES cases, ${took:-?}")
summary+=("  $(grep -E '^session machine:' "$log" | tail -1)")

step "other properties: $PROPTEST_MORE cases each (release build)"
log=fuzz/logs/property-others.log
if ! PROPTEST_CASES=$PROPTEST_MORE cargo test --release -p ractor_grpc --lib props \
    -- --skip the_session_machine_keeps_its_promises_against_any_script 2>&1 |
    tee "$log" | grep --line-buffered -E "$show"; then
    failed "$log"
fi
took=$(grep -oE 'finished in [0-9.]+s' "$log" | tail -1)
passed=$(grep -cE '^test .* ok$' "$log" || true)
summary+=("other properties: $passed passed, $PROPTEST_MORE cases each, ${took:-?}")

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: a nightly toolchain is needed (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    step "cargo install cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

step "cargo +nightly fuzz build"
cargo +nightly fuzz build --fuzz-dir fuzz

for target in $FUZZ_TARGETS; do
    step "fuzz target $target: ${FUZZ_SECONDS} s"
    mkdir -p "fuzz/corpus/$target"
    log="fuzz/logs/$target.log"
    # libFuzzer's own progress lines (pulses, new coverage) pass through
    # thinned; the whole log is kept.
    if ! cargo +nightly fuzz run --fuzz-dir fuzz "$target" -- \
        -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" \
        -print_final_stats=1 >"$log" 2>&1 < /dev/null; then
        grep -E 'ERROR|panicked|SUMMARY|Test unit written|timeout' "$log" >&2 || tail -30 "$log" >&2
        echo "fuzz.sh: fuzz target $target failed; see $log and fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E 'pulse|DONE' "$log" | tail -3
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
    rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
    corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
    summary+=("fuzz target $target: $execs executions in ${FUZZ_SECONDS} s ($rate/s), corpus $corpus inputs, no crash")
done

step "summary"
printf '%s\n' "${summary[@]}"
