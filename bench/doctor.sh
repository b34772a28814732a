#!/usr/bin/env bash
# apilens doctor against apilens audit top on the same audit log, in one run.
#
# The doctor classifies every request with the APF configuration, estimates its seats, keeps
# per-client and per-call costs, runs its pattern detectors and replays the busiest window
# through the APF model; `audit top` counts requests per user. Both read the log the same way,
# so the ratio is the price of the analysis.
#
# Generates a synthetic audit log of SIZE_GB with the same generator as bench/audit.sh
# (crates/audit/src/synth.rs: kubelets, controllers, a DaemonSet agent listing pods cluster-wide,
# watches, 429s), or reuses LOG=path. Runs each tool three times and reports the median wall
# time, its CPU time and peak memory (GNU time -v), and the ratio.
#
# Target: doctor within 1.5x the wall time of audit top.
#
# Usage: bench/doctor.sh [SIZE_GB]        (default 1)
#        LOG=/path/audit.log bench/doctor.sh
#        APILENS=/path/to/apilens bench/doctor.sh   measures that binary (to compare two builds)
set -euo pipefail
cd "$(dirname "$0")/.."
size_gb=${1:-1}
target=${CARGO_TARGET_DIR:-target}
out=bench/out
mkdir -p "$out"
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing: apt-get install time" >&2; exit 2; }

cargo build --release -q -p apilens -p apilens-audit --example synth
apilens=${APILENS:-$target/release/apilens}
if [ -n "${LOG:-}" ]; then
  log=$LOG
  trap 'rm -f "$out"/doctor-*.txt' EXIT
else
  log=$out/doctor-${size_gb}gb.log
  trap 'rm -f "$log" "$out"/doctor-*.txt' EXIT
  bytes=$(awk -v g="$size_gb" 'BEGIN{printf "%.0f", g * 1000000000}')
  "$target/release/examples/synth" "$bytes" 7 >"$log"
fi
bytes=$(stat -c %s "$log")
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

prefix=doctor
# shellcheck source=bench/lib.sh
. bench/lib.sh  # measure (the working directory is the repository root)

cat "$log" >/dev/null  # warm the page cache
# The two tools alternate so outside load falls on both; the median run of each is reported.
for _ in 1 2 3; do
  measure top "$apilens" audit top --by user "$log" -n 5 --format csv >>"$out/doctor-runs-top.txt"
  measure doctor "$apilens" doctor --audit-log "$log" --kubernetes-version 1.34 --format json >>"$out/doctor-runs-doctor.txt"
done
read -r t_wall t_cpu t_rss < <(sort -n "$out/doctor-runs-top.txt" | sed -n 2p)
read -r d_wall d_cpu d_rss < <(sort -n "$out/doctor-runs-doctor.txt" | sed -n 2p)
rm -f "$out/doctor-runs-top.txt" "$out/doctor-runs-doctor.txt"

gb=$(awk -v b="$bytes" 'BEGIN{printf "%.2f", b / 1e9}')
echo "input: $gb GB audit log ($log), $(wc -l <"$log") lines"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-26s %8s %8s %12s %10s\n" tool wall_s cpu_s "GB/s(wall)" peak_MiB
for row in "apilens audit top;$t_wall;$t_cpu;$t_rss" "apilens doctor;$d_wall;$d_cpu;$d_rss"; do
  IFS=';' read -r name wall cpu rss <<<"$row"
  awk -v n="$name" -v w="$wall" -v c="$cpu" -v r="$rss" -v g="$gb" \
    'BEGIN{printf "%-26s %8.2f %8.2f %12.2f %10.1f\n", n, w, c, (w > 0 ? g / w : 0), r / 1024}'
done
awk -v d="$d_wall" -v t="$t_wall" -v dc="$d_cpu" -v tc="$t_cpu" 'BEGIN{
  printf "ratio (doctor / audit top): wall %.2fx, cpu %.2fx\n", d / t, dc / tc
  printf "target: doctor within 1.5x of audit top wall time: %s\n", (d / t <= 1.5 ? "met" : "NOT met") }'
echo "doctor's first finding: $(grep -m1 '"title"' "$out/doctor-out-doctor.txt" | sed 's/^ *//')"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
