#!/usr/bin/env bash
# Bytes per sample on disk, import speed, live ingest rate and memory per active series of the
# embedded store, on a real kube-apiserver scrape replayed over many timestamps with realistic
# counter growth, compared with Prometheus's own block format (promtool tsdb
# create-blocks-from openmetrics on the very same OpenMetrics file).
#
# usage: bench/tsdb.sh [SCRAPES]   (default 480 = one 2-hour block at a 15 s interval)
set -euo pipefail
cd "$(dirname "$0")/.."
SCRAPES="${1:-480}"
FIXTURE="${FIXTURE:-../shared/fixtures/real/metrics-apiserver/newrelic-nri-kubernetes-apiserver-1.35.0-minikube.txt}"
# A 2-hour-aligned start, so both stores cut exactly one 2-hour block.
START=1699999200000
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

command -v promtool >/dev/null || { echo "promtool not found (Debian package prometheus)" >&2; exit 1; }
cargo build --release -q -p apilens-tsdb --example tsdb_bench
BIN="$CARGO_TARGET_DIR/release/examples/tsdb_bench"

echo "machine: $(nproc) cores, $(uname -sr); $(promtool --version 2>&1 | head -1)"
echo "fixture: $FIXTURE, $SCRAPES scrapes at 15 s"
"$BIN" gen "$FIXTURE" "$SCRAPES" "$START" "$WORK/in.om" | tee "$WORK/gen.txt"
SAMPLES=$(sed -n 's/.*samples=\([0-9]*\).*/\1/p' "$WORK/gen.txt")
echo "openmetrics input: $(du -b "$WORK/in.om" | cut -f1) bytes"

"$BIN" import "$WORK/apilens" "$WORK/in.om" | tee "$WORK/apilens.txt"
A_BYTES=$(sed -n 's/.*block_bytes=\([0-9]*\).*/\1/p' "$WORK/apilens.txt")
A_SECS=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$WORK/apilens.txt")

T0=$(date +%s.%N)
promtool tsdb create-blocks-from openmetrics "$WORK/in.om" "$WORK/prom" >/dev/null
T1=$(date +%s.%N)
P_SECS=$(echo "$T1 - $T0" | bc)
# Prometheus block: index + chunks + meta.json + tombstones, every block directory.
P_BYTES=$(find "$WORK/prom" -mindepth 2 -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
P_SAMPLES=$(cat "$WORK"/prom/*/meta.json | sed -n 's/.*"numSamples": *\([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s}')

printf '\n%-34s %14s %14s %8s\n' "figure" "apilens" "prometheus" "ratio"
printf '%-34s %14s %14s\n' "samples in blocks" "$SAMPLES" "$P_SAMPLES"
printf '%-34s %14s %14s %8.2f\n' "block bytes on disk" "$A_BYTES" "$P_BYTES" "$(echo "$A_BYTES / $P_BYTES" | bc -l)"
printf '%-34s %14.3f %14.3f %8.2f\n' "bytes per sample" "$(echo "$A_BYTES / $SAMPLES" | bc -l)" "$(echo "$P_BYTES / $P_SAMPLES" | bc -l)" "$(echo "($A_BYTES / $SAMPLES) / ($P_BYTES / $P_SAMPLES)" | bc -l)"
printf '%-34s %14.2f %14.2f %8.2f\n' "import seconds (backfill)" "$A_SECS" "$P_SECS" "$(echo "$A_SECS / $P_SECS" | bc -l)"

echo
echo "live ingest through WAL + head (one commit and fsync per scrape), 240 scrapes:"
"$BIN" ingest "$FIXTURE" 240 "$WORK/live" | tee "$WORK/live.txt"
