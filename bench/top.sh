#!/usr/bin/env bash
# `apilens top` against its targets: under 100 ms per refresh over a 50,000-series store, and
# the live view under one core.
#
# 1. The criterion bench `top/refresh-metrics-50k-series` (crates/top/benches/refresh.rs): the
#    report over a store of about 50,000 active series (the simulator's real catalog on enough
#    replicas, stored through the scrape loop), then the frame; `top/refresh-same-end-50k-series`,
#    a refresh before the next scrape (every answer from the view's cache); and
#    `top/doctor-50k-series`, the doctor over the window's audit log and the frame.
# 2. The live view itself: `apilens top --sim chatty-daemonset --interval 1s` in a tmux pane for
#    DURATION seconds (after its start-up), CPU time from /proc over wall time = cores used.
# 3. The audit follow: `apilens top --data-dir STORE --audit-log LOG --follow --interval 1s` in a
#    tmux pane while bench/audit-writer.py appends 20,000 real audit events per second (the
#    lines of ../shared/fixtures/real/audit/, timestamps set to now) for DURATION seconds; cores
#    used by apilens as in 2 (the writer not counted).
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

# 3. The audit follow at 20k events/s.
fixtures=../shared/fixtures/real/audit
work=$(mktemp -d /tmp/apilens-top-bench.XXXXXX)
trap 'tmux -L "$socket" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
now=$(date +%s)
{ for k in $(seq 0 15 120); do echo "up{job=\"apiserver\",instance=\"bench:6443\"} 1 $((now - 120 + k))"; done; echo "# EOF"; } >"$work/up.om"
"$apilens" tsdb import --data-dir "$work/store" "$work/up.om" >/dev/null
: >"$work/audit.log"
tmux -L "$socket" new-session -d -s follow -x 120 -y 40 \
  "$apilens top --data-dir $work/store --audit-log $work/audit.log --follow --interval 1s"
for _ in $(seq 1 60); do
  tmux -L "$socket" capture-pane -p -t follow | grep -q 'SECTION' && break
  sleep 0.5
done
pid=$(pgrep -n -f "^$apilens top --data-dir $work/store")
python3 bench/audit-writer.py "$work/audit.log" 20000 "$duration" \
  "$fixtures/liggitt-audit2rbac-demo.log" "$fixtures/elastic-integrations-kubernetes-audit_logs-test-audit-mixed-native-gke-aks.log" &
writer=$!
before=$(cpu); start=$(date +%s.%N)
wait "$writer"
after=$(cpu); end=$(date +%s.%N)
clients=$(tmux -L "$socket" capture-pane -p -t follow | grep -c 'system:' || true)
tmux -L "$socket" send-keys -t follow q
while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
awk -v b="$before" -v a="$after" -v s="$start" -v e="$end" -v t="$tick" 'BEGIN {
  cores = (a - b) / t / (e - s)
  printf "audit follow at 20000 events/s: %.2f cores over %.0f s (target < 1 core): %s\n", cores, e - s, (cores < 1 ? "ok" : "OVER")
}'
