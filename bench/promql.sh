#!/usr/bin/env bash
# Compares the apilens PromQL engine with Prometheus on the reference dashboards' queries.
#
# Both engines hold the same dataset (crates/promql/tests/differential.rs: 2 hours of
# kube-apiserver-like series, jittered 15 s scrapes); every query runs as a 100-minute range
# query at a 60 s step, best of 3. Prints per-query times and the prometheus/apilens ratio
# (above 1 means apilens is faster). Prometheus times include its HTTP round trip on loopback.
# Needs `prometheus` and `promtool` (Debian package `prometheus`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v prometheus >/dev/null || { echo "prometheus is not installed" >&2; exit 2; }
echo "machine: $(uname -srm), $(nproc) cores; $(prometheus --version 2>&1 | head -1)"
echo "command: APILENS_PROMQL_BENCH=1 cargo test --release -p apilens-promql --test differential -- --nocapture"
APILENS_PROMQL_BENCH=1 cargo test --release -p apilens-promql --test differential -- --nocapture 2>&1 \
  | grep -E '^ *[0-9.]+ms|^ +apilens|^overall|^differential'
