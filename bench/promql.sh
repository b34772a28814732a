#!/usr/bin/env bash
# Compares the apilens PromQL engine with Prometheus on the reference dashboards' queries.
#
# Both engines hold the same dataset (crates/promql/tests/differential.rs: 2 hours of
# kube-apiserver-like series, jittered 15 s scrapes), each in its own persisted blocks:
# `promtool tsdb create-blocks-from openmetrics` for Prometheus, `apilens_tsdb::import_openmetrics`
# (what `apilens tsdb import` runs) for apilens. Every query runs as a 100-minute range query at
# a 60 s step: once to warm caches, then 7 times on each engine in turn; the median counts. Both figures are in-process
# engine times of the same stages, without parsing, HTTP or JSON: apilens `Engine::exec` of a
# prepared query, Prometheus `stats.timings.execTotalTime` from `stats=all` (its parser, which also
# compiles the regular expressions, runs before that clock starts). The overall apilens time with
# parsing is printed as well. Release build (`cargo test --release`).
# Prints per-query times and the prometheus/apilens ratio (above 1 means apilens is faster).
# Needs `prometheus` and `promtool` (Debian package `prometheus`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v prometheus >/dev/null || { echo "prometheus is not installed" >&2; exit 2; }
echo "machine: $(uname -srm), $(nproc) cores; $(prometheus --version 2>&1 | head -1)"
echo "command: APILENS_PROMQL_BENCH=1 cargo test --release -p apilens-promql --test differential -- --nocapture"
APILENS_PROMQL_BENCH=1 cargo test --release -p apilens-promql --test differential -- --nocapture 2>&1 \
  | grep -E '^ *[0-9.]+ms|^ +apilens|^overall|^differential|^DIFF|^explained|panicked|error'
