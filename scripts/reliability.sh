#!/usr/bin/env bash
# The reliability suite's full run (RELIABILITY.md): every scenario with its
# full sizes, printing progress and each scenario's figures. CI runs the fast
# subset through `cargo nextest run --workspace`; this takes minutes.
#
#   bash scripts/reliability.sh            # all scenarios, fuzzing included
#   RELIABILITY_LOOPBACK=1 bash scripts/reliability.sh   # loopback even as root
#   RELIABILITY_ROUNDS=10 FUZZ_SECONDS=600 bash scripts/reliability.sh
#   RELIABILITY_FUZZ=0 bash scripts/reliability.sh       # without scenario 6
#
# Scenario 6 is scripts/fuzz.sh (its knobs: FUZZ_CASES, PROPTEST_MORE,
# FUZZ_SECONDS, FUZZ_TARGETS); it needs rustup's nightly toolchain.
#
# As root (with iproute2 and tc) the nodes run on hosts of their own in
# network namespaces; otherwise on 127.0.0.x addresses, without the network
# faults. Exits non-zero on the first failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export RELIABILITY_FULL=1
export RELIABILITY_ROUNDS=${RELIABILITY_ROUNDS:-5}

step() { printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

step "building the test binaries"
cargo build -q -p integration --tests --bins

step "scenario 1: five transitive nodes converge, and again after a restart"
cargo nextest run -p integration --test converge --no-capture --success-output immediate 2>&1 |
    grep -E '^(network|converged|after SIGKILL)|PASS|FAIL|panicked'

step "scenario 2: load during faults ($RELIABILITY_ROUNDS rounds of crash/restart, partition/heal, a slow link)"
cargo nextest run -p integration --test faults_under_load --no-capture 2>&1 |
    grep -E '^(network|round|load ran|  \{|views converged|no partition)|PASS|FAIL|panicked'

step "scenario 3: a slow consumer flooded with 30,000 casts"
cargo nextest run -p integration --test slow_consumer --no-capture 2>&1 |
    grep -E '^(network|\{|receiver rss)|PASS|FAIL|panicked'

step "scenario 3b: backpressure: 300,000 casts to a frozen consumer, plain and with send"
cargo nextest run -p integration --test backpressure --no-capture 2>&1 |
    grep -E '^(network|\{|\[.*\] sender rss)|PASS|FAIL|panicked'

step "scenario 4: a 60 s soak with a reconnect every second"
cargo nextest run -p integration --test soak --no-capture 2>&1 |
    grep -E '^(network|[0-9]+ reconnects|  loadgen-summary|load:|pa:|pb:|tasks of)|PASS|FAIL|panicked|not back'

step "scenario 5: bad input against a live node (the issue's full counts)"
cargo nextest run -p integration --test bad_input_live --no-capture 2>&1 |
    grep -E '^\[(setup|attack|after|probe)\]|PASS|FAIL|panicked'

if [[ "${RELIABILITY_FUZZ:-1}" != 0 ]]; then
    step "scenario 6: fuzzing (scripts/fuzz.sh: ${FUZZ_CASES:-1000000} scripted sessions, each fuzz target ${FUZZ_SECONDS:-60} s)"
    bash scripts/fuzz.sh
fi

step "done"
