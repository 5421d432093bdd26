#!/usr/bin/env bash
# The proto as a contract: `buf lint` (STANDARD, with the exceptions buf.yaml
# explains) and `buf breaking` against every published version of proto/.
#
# buf comes from the npm registry, pinned, into .tools/buf (gitignored); it
# is installed on first use, so this needs npm, and the network only then.
#
# Which versions `buf breaking` compares the working tree with: the proto/ of
# the last tag v* reachable from HEAD (until there is one, of V1_FIRST, the
# first commit of v1) and of every commit after it on HEAD's first-parent
# line that changed proto/. So nothing that main ever carried can be broken,
# not only what the first commit had. A branch merged with a merge commit
# counts as its result; commits that land one by one (a fast-forward) are
# each a version, so revise a new message before it lands, or squash.
#
# The history is needed for that. A shallow clone is deepened with
# `git fetch --unshallow`; if that fails (no remote, offline), CI (CI set)
# fails, and anywhere else the breaking check is skipped with a warning.
#
# Runs from any directory; exits non-zero on the first failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUF_VERSION=1.75.0
V1_FIRST=d5219980a55db6544e7a432432e004fb3592d455
TOOLS=.tools/buf
BUF=$TOOLS/node_modules/.bin/buf

step() { printf '==> %s\n' "$*"; }
loud() { printf '\n!!! %s\n\n' "$*" >&2; }

if [[ "$("$BUF" --version 2>/dev/null || true)" != "$BUF_VERSION" ]]; then
    if ! command -v npm >/dev/null 2>&1; then
        loud "scripts/buf.sh: npm is needed to install buf $BUF_VERSION (Debian: apt-get install npm)"
        exit 1
    fi
    step "npm install @bufbuild/buf@$BUF_VERSION into $TOOLS"
    mkdir -p "$TOOLS"
    # No install scripts: the binary comes in the platform package that npm
    # picks itself (an optional dependency), from the registry like the rest.
    npm install --prefix "$TOOLS" --no-save --no-package-lock --ignore-scripts \
        --no-audit --no-fund --loglevel=error "@bufbuild/buf@$BUF_VERSION" </dev/null
    [[ "$("$BUF" --version)" == "$BUF_VERSION" ]]
fi

step "buf lint (STANDARD; exceptions in buf.yaml)"
"$BUF" lint
# Each exception is a `buf:lint:ignore RULE` comment on its element; a rule
# waived there must be one that buf.yaml names and explains.
waived=$(grep -rhoE 'buf:lint:ignore [A-Z_]+' proto | awk '{print $2}' | sort -u)
for rule in $waived; do
    if ! grep -qw "$rule" buf.yaml; then
        loud "proto/ waives $rule, which buf.yaml does not list: explain it there or fix the proto"
        exit 1
    fi
done

# ---------------------------------------------------------------- breaking

skip_breaking() {
    if [[ -n "${CI:-}" ]]; then
        loud "buf breaking: $1 (this must not happen in CI)"
        exit 1
    fi
    loud "buf breaking SKIPPED: $1. Wire breaks go unnoticed here; run 'git fetch --unshallow' and try again."
    exit 0
}

if [[ "$(git rev-parse --is-shallow-repository)" == true ]]; then
    step "git fetch --unshallow (buf breaking needs the history of proto/)"
    git fetch --quiet --unshallow </dev/null || true
    if [[ "$(git rev-parse --is-shallow-repository)" == true ]]; then
        skip_breaking "this is a shallow clone and 'git fetch --unshallow' could not deepen it"
    fi
fi

base=$(git describe --tags --abbrev=0 --match 'v*' HEAD 2>/dev/null || true)
base=${base:-$V1_FIRST}
git cat-file -e "$base^{commit}" 2>/dev/null || skip_breaking "commit $base is not in this clone"

versions=("$(git rev-parse "$base^{commit}")")
mapfile -t -O 1 versions < <(git rev-list --first-parent --reverse "$base..HEAD" -- proto)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The generator options (go_package, java_*) came after the first versions.
# Adding them where there were none is not a break; changing them is. So an
# old file without any option gets the current file's options before the
# comparison.
add_current_options() {
    local old=$1 current=$2
    [[ -f "$current" ]] || return 0
    grep -q '^option ' "$old" && return 0
    OPTIONS=$(grep '^option ' "$current" || true) awk \
        '{ print } /^package / && !done { if (ENVIRON["OPTIONS"] != "") print ENVIRON["OPTIONS"]; done = 1 }' \
        "$old" >"$old.new"
    mv "$old.new" "$old"
}

declare -A seen_trees=()
checked=0
for commit in "${versions[@]}"; do
    tree=$(git rev-parse "$commit:proto")
    [[ -n "${seen_trees[$tree]:-}" ]] && continue
    seen_trees[$tree]=1
    dir=$work/$commit
    mkdir -p "$dir"
    git archive "$commit" proto | tar -x -C "$dir"
    while IFS= read -r -d '' file; do
        add_current_options "$file" "${file#"$dir/"}"
    done < <(find "$dir/proto" -name '*.proto' -print0)
    if ! out=$("$BUF" breaking --against "$dir/proto" 2>&1); then
        printf '%s\n' "$out" >&2
        loud "buf breaking: the working tree breaks proto/ as of commit $(git log -1 --format='%h: %s' "$commit" | cut -c1-80)
    See the version policy in proto/ractor_grpc/v1/cluster.proto: a wire break needs v2."
        exit 1
    fi
    checked=$((checked + 1))
done
step "buf breaking (FILE): compatible with all $checked versions of proto/ since $(git log -1 --format=%h "$base")"
