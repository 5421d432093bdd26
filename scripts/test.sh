#!/usr/bin/env bash
# The test command: checks the proto contract (buf lint and buf breaking),
# builds everything, runs the Rust tests (unit, integration, doc) and the
# Python reference-client tests against a real `node` binary.
# Runs from any directory; exits non-zero on the first failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '==> %s\n' "$*"; }

# First: it takes seconds, and a wire break should stop everything else.
# Needs npm the first time (it installs buf into .tools/).
step "scripts/buf.sh"
bash scripts/buf.sh

step "cargo build --workspace --all-targets"
cargo build --workspace --all-targets

if cargo nextest --version >/dev/null 2>&1; then
    step "cargo nextest run --workspace"
    cargo nextest run --workspace
else
    step "cargo test --workspace (cargo-nextest not installed)"
    cargo test --workspace
fi

# An application serving a node's services on its own axum server, under
# its own middleware; it checks what it prints and fails otherwise.
step "cargo run --example mounted"
cargo run -q --example mounted

# The serde opt-in of the payload encoding is behind a feature.
step "cargo test -p ractor_grpc --features serde --lib wire"
cargo test -p ractor_grpc --features serde --lib wire

# nextest does not run doctests.
step "cargo test --workspace --doc"
cargo test --workspace --doc

# The reflection client's and the Python reference node's requirements.
REQS=(integration/python/requirements.txt examples/python/requirements.txt)
PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    step "creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
STAMP=.venv/.requirements.sha
want=$(cat "${REQS[@]}" | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]]; then
    step "pip install -r ${REQS[*]}"
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "${REQS[0]}" -r "${REQS[1]}"
    printf '%s\n' "$want" >"$STAMP"
else
    step "python requirements up to date (.venv)"
fi

step "pytest integration/python"
RACTOR_GRPC_NODE_BIN=target/debug/node .venv/bin/python -m pytest -q integration/python

# The Python reference node; its stubs are generated from proto/ in this run.
step "pytest examples/python"
RACTOR_GRPC_NODE_BIN=target/debug/node .venv/bin/python -m pytest -q examples/python
