#!/usr/bin/env bash
# Parser speed against the real Prometheus parser, in one run.
#
# Builds a ~100 MB exposition from the real kube-apiserver scrapes (every copy renames its
# families with a c<N>_ prefix, so the input stays valid: no duplicate series), then times
# `apilens inspect` and `promtool check metrics` (Prometheus's own text parser plus its lint) on
# it, and prints wall time, CPU time, throughput, peak memory and the ratio. A second, 4x smaller
# input shows whether memory grows with input size.
#
# Usage: bench/parse.sh [SIZE_MB]     (default 100)
#        APILENS=/path/to/apilens bench/parse.sh   measures that binary instead of building one
#        (to compare two builds on the same input)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-100}
out=bench/out
mkdir -p "$out"
fixtures=../shared/fixtures/real/metrics-apiserver
command -v promtool >/dev/null || { echo "promtool missing: apt-get install prometheus" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing: apt-get install time" >&2; exit 2; }

build_input() { # $1 = target MB, $2 = file
  python3 - "$1" "$2" "$fixtures" <<'PY'
import os, re, sys
target, path, fixtures = int(sys.argv[1]) << 20, sys.argv[2], sys.argv[3]
files = sorted(f for f in os.listdir(fixtures) if f.startswith("newrelic"))
texts = [open(os.path.join(fixtures, f), "rb").read() for f in files]
meta = re.compile(rb"^(# (?:HELP|TYPE) )", re.M)
sample = re.compile(rb"^([a-zA-Z_:])", re.M)
written, copy = 0, 0
with open(path, "wb") as out:
    while written < target:
        for t in texts:
            p = b"c%d_" % copy
            t = meta.sub(rb"\1" + p, t)
            t = sample.sub(p + rb"\1", t)
            out.write(t)
            written += len(t)
            copy += 1
            if written >= target:
                break
PY
}

if [ -n "${APILENS:-}" ]; then
  apilens=$APILENS
else
  cargo build --release -q -p apilens
  apilens=target/release/apilens
fi
big=$out/parse-${size_mb}mb.txt
small=$out/parse-$((size_mb / 4))mb.txt
[ -f "$big" ] || build_input "$size_mb" "$big"
[ -f "$small" ] || build_input $((size_mb / 4)) "$small"
bytes=$(stat -c %s "$big")

measure() { # $1 = label, rest = command; prints "wall cpu rss_kb"
  local label=$1; shift
  local log=$out/time-$label.txt
  /usr/bin/time -f "%e %U %S %M" -o "$log" "$@" >/dev/null 2>&1 || true
  # GNU time writes "Command exited with non-zero status N" first when the command fails
  # (promtool exits 3 on lint findings): the figures are on the last line.
  tail -n 1 "$log" | awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}'
}

# Warm the page cache so both read from memory.
cat "$big" "$small" >/dev/null
read -r a_wall a_cpu a_rss < <(measure apilens "$apilens" inspect "$big" --format json)
read -r p_wall p_cpu p_rss < <(measure promtool sh -c "promtool check metrics < '$big'")
read -r _ _ a_rss_small < <(measure apilens-small "$apilens" inspect "$small" --format json)

mb=$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b / 1048576}')
echo "input: $big ($mb MiB, $(grep -vc '^#' "$big") sample lines)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(promtool --version 2>&1 | head -1)"
printf "%-32s %8s %8s %10s %10s\n" tool wall_s cpu_s "MiB/s(cpu)" peak_MiB
for row in "apilens inspect|$a_wall|$a_cpu|$a_rss" "promtool check metrics|$p_wall|$p_cpu|$p_rss"; do
  IFS='|' read -r name wall cpu rss <<<"$row"
  awk -v n="$name" -v w="$wall" -v c="$cpu" -v r="$rss" -v m="$mb" \
    'BEGIN{printf "%-32s %8.2f %8.2f %10.0f %10.1f\n", n, w, c, (c > 0 ? m / c : 0), r / 1024}'
done
awk -v a="$a_cpu" -v p="$p_cpu" -v aw="$a_wall" -v pw="$p_wall" \
  'BEGIN{printf "ratio (promtool / apilens): cpu %.1fx, wall %.1fx\n", p / a, pw / aw}'
awk -v s="$a_rss_small" -v b="$a_rss" 'BEGIN{printf "apilens peak memory: %.1f MiB at 1/4 size, %.1f MiB at full size\n", s / 1024, b / 1024}'
