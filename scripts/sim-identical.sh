#!/usr/bin/env bash
# Checks that the simulator's output is byte-identical to what revision BASE produces: every
# scenario's /metrics of every replica and of etcd, at many times, and its audit log, with a
# fixed seed (crates/sim/examples/sim_dump.rs). For refactors of the simulator, which must not
# change one byte of its output.
#
# usage: scripts/sim-identical.sh [BASE] [SECONDS]   (default BASE = HEAD, SECONDS = 300)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="${1:-HEAD}"
SECONDS_SIM="${2:-300}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$(mktemp -d)"
cleanup() {
  git worktree remove --force "$WORK/base" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

git worktree add --detach -q "$WORK/base" "$BASE"
# The fixtures are reached as ../shared from a checkout; the simulator's catalog is compiled in.
(cd "$WORK/base" && cargo run -q --release -p apilens-sim --example sim_dump -- "$WORK/before" "$SECONDS_SIM")
cargo run -q --release -p apilens-sim --example sim_dump -- "$WORK/after" "$SECONDS_SIM"

files=$(find "$WORK/before" -type f | wc -l)
bytes=$(cat "$WORK"/before/* | wc -c)
if diff -rq "$WORK/before" "$WORK/after"; then
  echo "identical: $files files, $bytes bytes ($BASE against the working tree, $SECONDS_SIM simulated seconds)"
else
  echo "the simulator's output differs from $BASE" >&2
  exit 1
fi
