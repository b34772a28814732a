#!/usr/bin/env bash
# Heavy query load against `apilens dashboard --data-dir` and a real Prometheus holding the same
# data: 200 concurrent heavy queries (default `max_over_time(m[1h:1ms])`, the subquery that took
# apilens to 4.6 GB) while `up` is timed every 50 ms. Prints, for each server, peak RSS, whether
# it stayed alive, the heavy queries' status codes, and `up`'s p50/p99; then the ratios.
#
# Both hold the same OpenMetrics file (SERIES series of `m` and one `up`, 15 s apart over the
# last hour): `apilens tsdb import` for apilens, `promtool tsdb create-blocks-from openmetrics`
# for Prometheus. Both run with the same limits: 4 concurrent queries and 10 million samples
# per query (apilens's defaults, passed to Prometheus as --query.max-concurrency and
# --query.max-samples), so memory and latency compare like for like.
# A watchdog kills a server whose RSS passes MAX_RSS_MB (default 3000) and reports it, so a
# regression cannot take the machine down.
#
# Usage: bench/query-load.sh [path/to/apilens]   (default target/release/apilens)
# Env: SERIES (100), HEAVY (200), QUERY, MAX_RSS_MB (3000), PROMETHEUS=0 to skip the peer.
set -euo pipefail
cd "$(dirname "$0")/.."
APILENS=${1:-target/release/apilens}
SERIES=${SERIES:-100}
HEAVY=${HEAVY:-200}
QUERY=${QUERY:-'max_over_time(m[1h:1ms])'}
MAX_RSS_MB=${MAX_RSS_MB:-3000}
[ -x "$APILENS" ] || { echo "no apilens binary at $APILENS (cargo build --release)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

now=$(date +%s)
{
  echo "# TYPE m gauge"
  for ((i = 0; i < SERIES; i++)); do
    for ((t = now - 3600; t <= now; t += 15)); do echo "m{i=\"$i\"} $((t % 97)) $t"; done
  done
  echo "# TYPE up gauge"
  for ((t = now - 3600; t <= now; t += 15)); do echo "up{job=\"apiserver\"} 1 $t"; done
  echo "# EOF"
} > "$work/data.om"
echo "machine: $(uname -srm), $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; data: $SERIES series of m + up, 1 h at 15 s"
echo "load: $HEAVY concurrent POST /api/v1/query query=$QUERY; up timed every 50 ms meanwhile"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$1/-/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# run NAME PORT PID: fires the load, times up, watches RSS; prints one result line.
run() {
  local name=$1 port=$2 pid=$3 out="$work/$1"
  mkdir -p "$out"
  ( while kill -0 "$pid" 2>/dev/null; do
      rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      if [ "${rss:-0}" -gt $((MAX_RSS_MB * 1024)) ]; then echo killed > "$out/watchdog"; kill -9 "$pid"; fi
      sleep 0.05
    done ) &
  local watchdog=$!
  local start=$(date +%s.%N) heavy=()
  for ((k = 0; k < HEAVY; k++)); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 150 -X POST \
      --data-urlencode "query=$QUERY" "http://127.0.0.1:$port/api/v1/query" >> "$out/heavy" 2>/dev/null &
    heavy+=($!)
  done
  sleep 0.2
  for ((k = 0; k < 200; k++)); do
    # A failed request (the server gone) counts as 30 s.
    curl -s -o /dev/null -w '%{time_total} %{http_code}\n' --max-time 30 \
      "http://127.0.0.1:$port/api/v1/query?query=up" >> "$out/up" 2>/dev/null || echo "30 000" >> "$out/up"
    sleep 0.05
  done
  # The window is the timing of up: heavy queries still running then are counted as such.
  for p in "${heavy[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${heavy[@]}" 2>/dev/null || true
  touch "$out/heavy"
  local unfinished=$((HEAVY - $(wc -l < "$out/heavy")))
  local alive=yes; kill -0 "$pid" 2>/dev/null || alive=no
  [ -f "$out/watchdog" ] && alive="no (killed past ${MAX_RSS_MB} MB)"
  local hwm=$(awk '/VmHWM/{print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || echo ">$MAX_RSS_MB")
  kill "$watchdog" 2>/dev/null || true
  local codes="$(sort "$out/heavy" | uniq -c | awk '{printf "%s×%s ", $1, $2}')${unfinished}×unfinished"
  local p50 p99 ok
  ok=$(awk '$2 == 200' "$out/up" | wc -l)
  local n=$(wc -l < "$out/up")
  p50=$(awk '{print $1*1000}' "$out/up" | sort -n | sed -n "$((n / 2 + 1))p")
  p99=$(awk '{print $1*1000}' "$out/up" | sort -n | sed -n "$((n * 99 / 100 + 1))p")
  printf '%-11s peak RSS %6s MB  alive %-3s  up p50 %7.1f ms  p99 %7.1f ms  (%d/200 ok)  heavy: %s in %.0f s\n' \
    "$name" "$hwm" "$alive" "$p50" "$p99" "$ok" "$codes" "$(echo "$(date +%s.%N) - $start" | bc)"
  # A killed server counts at the watchdog's limit, so its ratio is a lower bound.
  echo "${hwm#>} $p99" > "$out/summary"
}

"$APILENS" tsdb import "$work/data.om" --data-dir "$work/apilens" > /dev/null
port=$(free_port)
"$APILENS" dashboard --data-dir "$work/apilens" --listen "127.0.0.1:$port" 2> "$work/apilens.log" &
pids+=($!)
wait_ready "$port" || { echo "apilens did not start" >&2; cat "$work/apilens.log" >&2; exit 1; }
echo "apilens: $APILENS dashboard (defaults: --query-max-concurrency 4, --query-max-samples 10000000)"
run apilens "$port" "${pids[-1]}"

if [ "${PROMETHEUS:-1}" = 1 ] && command -v prometheus >/dev/null; then
  promtool tsdb create-blocks-from openmetrics "$work/data.om" "$work/prom" > /dev/null
  printf 'global:\n  scrape_interval: 1h\n' > "$work/prometheus.yml"
  pport=$(free_port)
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
    --web.listen-address="127.0.0.1:$pport" --query.max-concurrency=4 --query.max-samples=10000000 \
    --log.level=error 2> "$work/prometheus.log" &
  pids+=($!)
  wait_ready "$pport" || { echo "prometheus did not start" >&2; exit 1; }
  echo "prometheus: $(prometheus --version 2>&1 | head -1) --query.max-concurrency=4 --query.max-samples=10000000"
  run prometheus "$pport" "${pids[-1]}"
  read -r a_rss a_p99 < "$work/apilens/summary"
  read -r p_rss p_p99 < "$work/prometheus/summary"
  awk -v ar="$a_rss" -v pr="$p_rss" -v ap="$a_p99" -v pp="$p_p99" 'BEGIN {
    if (ar+0 > 0) printf "ratio prometheus/apilens: peak RSS %.2fx, up p99 %.2fx (above 1: apilens smaller or faster; a killed server counts at the limit, so its ratio is at least this)\n", pr/ar, pp/ap }'
fi
