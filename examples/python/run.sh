#!/usr/bin/env bash
# The Python reference node in two commands, from the repository root:
#
#   examples/python/run.sh demo   # sets up .venv, builds the Rust binaries,
#                                 # runs demo.py against `node --demo-actors`
#                                 # and the Rust program `pg_call`
#   examples/python/run.sh test   # the same setup, then pytest examples/python
#
# Needs cargo (Rust stable) and python3 (3.10 or later, with venv); pip
# installs examples/python/requirements.txt into .venv (override: VENV=...).
# The stubs are generated from proto/ by grpcio-tools when first needed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

VENV=${VENV:-.venv}
TARGET=${CARGO_TARGET_DIR:-target}
REQS=examples/python/requirements.txt
COOKIE=demo-cookie

step() { printf '==> %s\n' "$*"; }

setup() {
    if [[ ! -x $VENV/bin/python ]]; then
        step "creating $VENV"
        "${PYTHON:-python3}" -m venv "$VENV"
    fi
    local stamp=$VENV/.examples-python-requirements.sha want
    want=$(sha256sum "$REQS" | cut -d' ' -f1)
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
        step "pip install -r $REQS"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
        printf '%s\n' "$want" >"$stamp"
    fi
    step "cargo build -p integration --bin node --bin pg_call"
    cargo build -p integration --bin node --bin pg_call
}

# Prints the address a process wrote to $1 ("... listening on HOST:PORT"),
# waiting at most 60 s.
address_in() {
    local log=$1 deadline=$((SECONDS + 60)) addr
    while ((SECONDS < deadline)); do
        addr=$(grep -o -m1 'listening on 127\.0\.0\.1:[0-9]*' "$log" | cut -d' ' -f3 || true)
        if [[ -n $addr ]]; then
            echo "$addr"
            return 0
        fi
        sleep 0.1
    done
    echo "no address in $log after 60 s:" >&2
    cat "$log" >&2
    return 1
}

# Waits at most $2 seconds for process $1 to exit; 1 if it is still running.
exited_within() {
    local deadline=$((SECONDS + $2))
    while kill -0 "$1" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# Stops the processes this script started: SIGTERM, then SIGKILL after 10 s.
stop_all() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do exited_within "$p" 10 || kill -9 "$p" 2>/dev/null || true; done
}

pids=()
logs=
demo() {
    setup
    logs=$(mktemp -d)
    # Stop what this script started, however it ends.
    trap 'stop_all; rm -rf "${logs:?}"' EXIT

    step "starting the Rust node node-a with the demo actors pong and kv"
    "$TARGET/debug/node" --name node-a --cookie "$COOKIE" --listen 127.0.0.1:0 --demo-actors \
        >"$logs/node-a.log" 2>"$logs/node-a.err" &
    pids+=($!)
    local node_addr
    node_addr=$(address_in "$logs/node-a.log")

    step "starting the Rust program pg_call, which will call a Python actor"
    "$TARGET/debug/pg_call" --name rust-caller --cookie "$COOKIE" --listen 127.0.0.1:0 \
        >"$logs/pg_call.log" 2>"$logs/pg_call.err" &
    pids+=($!)
    local caller_addr
    caller_addr=$(address_in "$logs/pg_call.log")

    step "python examples/python/demo.py --node $node_addr --caller $caller_addr"
    "$VENV/bin/python" examples/python/demo.py --node "$node_addr" --caller "$caller_addr" --cookie "$COOKIE"

    step "what pg_call (Rust) printed"
    exited_within "${pids[1]}" 10 || echo "(pg_call is still running)"
    cat "$logs/pg_call.log"
    step "what node-a (Rust) printed"
    cat "$logs/node-a.log"
}

tests() {
    setup
    step "pytest examples/python"
    RACTOR_GRPC_NODE_BIN=$TARGET/debug/node "$VENV/bin/python" -m pytest -q examples/python
}

case "${1:-}" in
demo) demo ;;
test) tests ;;
*)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac
