#!/usr/bin/env bash
# Audit-log analysis speed against the jq pipeline operators use today, in one run.
#
# Generates a synthetic audit log of SIZE_GB (realistic kube-apiserver v1 events: kubelets,
# controllers, a DaemonSet agent listing pods, watches, 429s, RequestReceived stages, some
# RequestResponse bodies; see crates/audit/src/synth.rs), then times
#   apilens audit top --by user LOG
# against the equivalent
#   jq -r 'select(.stage=="ResponseComplete") | .user.username' LOG | sort | uniq -c | sort -rn
# (apilens three times, the median reported) and prints wall time, CPU time, throughput, peak
# memory (GNU time -v), the ratio, and whether the two agree on the counts of the top users.
# The log is deleted at the end.
#
# Targets: >= 1 GB/s on 2 cores, >= 10x the jq pipeline, peak memory < 256 MB.
#
# Usage: bench/audit.sh [SIZE_GB]     (default 2; fractions such as 0.5 work)
#        STREAM_GB=10 bench/audit.sh 1
#        APILENS=/path/to/apilens bench/audit.sh   measures that binary (to compare two builds)
#   also pipes a STREAM_GB log straight from the generator into `apilens audit top --by user -`
#   (no disk needed) and prints apilens's peak memory on it.
set -euo pipefail
cd "$(dirname "$0")/.."
size_gb=${1:-2}
target=${CARGO_TARGET_DIR:-target}
out=bench/out
mkdir -p "$out"
command -v jq >/dev/null || { echo "jq missing: apt-get install jq" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing: apt-get install time" >&2; exit 2; }

cargo build --release -q -p apilens -p apilens-audit --example synth
apilens=${APILENS:-$target/release/apilens}
log=$out/audit-${size_gb}gb.log
trap 'rm -f "$log" "$out"/audit-*.txt' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
bytes=$(awk -v g="$size_gb" 'BEGIN{printf "%.0f", g * 1000000000}')  # %d is 32-bit in mawk
"$target/release/examples/synth" "$bytes" 7 >"$log"
bytes=$(stat -c %s "$log")

prefix=audit
# shellcheck source=bench/lib.sh
. bench/lib.sh  # measure (the working directory is the repository root)

# Warm the page cache so both read from memory.
cat "$log" >/dev/null
# apilens runs three times (it is quick); the median run by wall time is reported.
read -r a_wall a_cpu a_rss < <(for _ in 1 2 3; do
  measure apilens "$apilens" audit top --by user "$log" -n 5 --format csv
done | sort -n | sed -n 2p)
read -r j_wall j_cpu j_rss < <(measure jq sh -c "jq -r 'select(.stage==\"ResponseComplete\") | .user.username' '$log' | sort | uniq -c | sort -rn | head -5")

gb=$(awk -v b="$bytes" 'BEGIN{printf "%.2f", b / 1e9}')
echo "input: $gb GB synthetic audit log, $(wc -l <"$log") lines"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(jq --version)"
printf "%-28s %8s %8s %12s %12s %10s\n" tool wall_s cpu_s "GB/s(wall)" "GB/s(cpu)" peak_MiB
# cpu_s is user + sys of the whole process tree; peak_MiB is GNU time's maximum resident set size.
for row in "apilens audit top;$a_wall;$a_cpu;$a_rss" "jq | sort | uniq -c;$j_wall;$j_cpu;$j_rss"; do
  IFS=';' read -r name wall cpu rss <<<"$row"
  awk -v n="$name" -v w="$wall" -v c="$cpu" -v r="$rss" -v g="$gb" \
    'BEGIN{printf "%-28s %8.2f %8.2f %12.2f %12.2f %10.1f\n", n, w, c, (w > 0 ? g / w : 0), (c > 0 ? g / c : 0), r / 1024}'
done
awk -v a="$a_cpu" -v j="$j_cpu" -v aw="$a_wall" -v jw="$j_wall" \
  'BEGIN{printf "ratio (jq / apilens): wall %.1fx, cpu %.1fx\n", jw / aw, j / a}'
awk -v g="$gb" -v w="$a_wall" -v aw="$a_wall" -v jw="$j_wall" -v r="$a_rss" 'BEGIN{
  printf "targets: %.2f GB/s wall (>= 1: %s), %.1fx jq wall (>= 10: %s), peak %.1f MiB (< 256: %s)\n",
    g / w, (g / w >= 1 ? "met" : "NOT met"), jw / aw, (jw / aw >= 10 ? "met" : "NOT met"),
    r / 1024, (r / 1024 < 256 ? "met" : "NOT met") }'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(the jq pipeline's peak is its largest process; sort holds every user name of the input)"

# Both must agree on the top users.
apilens_top=$(tail -n +2 "$out/audit-out-apilens.txt" | cut -d, -f1,2 | sort)
jq_top=$(awk '{print $2 "," $1}' "$out/audit-out-jq.txt" | sort)
if [ "$apilens_top" = "$jq_top" ]; then
  echo "counts agree on the top 5 users"
else
  echo "COUNTS DIFFER:"; echo "apilens:"; echo "$apilens_top"; echo "jq:"; echo "$jq_top"; exit 1
fi

if [ -n "${STREAM_GB:-}" ]; then
  sbytes=$(awk -v g="$STREAM_GB" 'BEGIN{printf "%.0f", g * 1000000000}')
  "$target/release/examples/synth" "$sbytes" 7 2>/dev/null |
    /usr/bin/time -v -o "$out/audit-time-stream.txt" "$apilens" audit top --by user - -n 5 --format csv \
      >"$out/audit-out-stream.txt" 2>/dev/null
  awk -F': ' -v g="$STREAM_GB" '
    /Maximum resident set size/ { m = $2 }
    /User time \(seconds\)/ { u = $2 }
    /System time \(seconds\)/ { s = $2 }
    END { printf "stream: %s GB from the generator through stdin: %.1f s of CPU, peak %.1f MiB (< 256: %s)\n",
      g, u + s, m / 1024, (m / 1024 < 256 ? "met" : "NOT met") }' "$out/audit-time-stream.txt"
fi
