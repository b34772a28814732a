#!/usr/bin/env bash
# `apilens top` against its targets: under 100 ms per refresh over a 50,000-series store, and
# the live view under one core.
#
# 1. The criterion bench `top/refresh-metrics-50k-series` (crates/top/benches/refresh.rs): the
#    report over a store of about 50,000 active series (the simulator's real catalog on enough
#    replicas, stored through the scrape loop), then the frame; and
#    `top/refresh-with-audit-50k-series`, the same with the doctor over the window's audit log.
# 2. The live view itself: `apilens top --sim chatty-daemonset --interval 1s` in a tmux pane for
#    DURATION seconds (after its start-up), CPU time from /proc over wall time = cores used.
#
# Usage: bench/top.sh [DURATION]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30}
target=${CARGO_TARGET_DIR:-target}
command -v tmux >/dev/null || { echo "tmux missing: apt-get install tmux" >&2; exit 2; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

cargo bench -q -p apilens-top --bench refresh -- --noplot 2>&1 | grep -E 'store:|^top/|time:' || true

cargo build --release -q -p apilens
apilens=$(realpath "$target/release/apilens")
socket=apilens-top-bench-$$
trap 'tmux -L "$socket" kill-server 2>/dev/null || true' EXIT
tmux -L "$socket" new-session -d -s top -x 120 -y 40 "$apilens top --sim chatty-daemonset --interval 1s"
# Wait for the first frame (the simulator stores its history first).
for _ in $(seq 1 240); do
  tmux -L "$socket" capture-pane -p -t top | grep -q 'SECTION' && break
  sleep 0.5
done
pid=$(pgrep -n -f "^$apilens top --sim chatty-daemonset")
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(cpu); start=$(date +%s.%N)
sleep "$duration"
after=$(cpu); end=$(date +%s.%N)
tmux -L "$socket" send-keys -t top q
# Let it exit on its own, so that it removes its temporary store.
while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
awk -v b="$before" -v a="$after" -v s="$start" -v e="$end" -v t="$tick" 'BEGIN {
  cores = (a - b) / t / (e - s)
  printf "live view, refresh every 1s: %.2f cores over %.0f s (target < 1 core): %s\n", cores, e - s, (cores < 1 ? "ok" : "OVER")
}'
