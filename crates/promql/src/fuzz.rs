//! The fuzzing harness: any bytes as a query, parsed and evaluated over a small store, must give
//! an answer or an error, never a panic, an overflow or a hang.
//!
//! `fuzz/fuzz_targets/promql.rs` runs it under libFuzzer; `tests/fuzz_harness.rs` runs it on a
//! corpus and a few thousand generated queries in every `cargo test` (as Prometheus keeps
//! `FuzzParseExpr` in `promql/fuzz.go`).

use crate::{Engine, EngineOpts, MemQueryable, with_query_stack};
use apilens_model::{Labels, Sample};
use std::sync::OnceLock;
use std::time::Duration;

/// The evaluation time of the harness's instant query, in milliseconds (the store ends here).
pub const FUZZ_TIME: i64 = 1_700_000_600_000;

/// Parses `data` (as UTF-8, invalid bytes replaced) and evaluates it as an instant query and as
/// a range query over a store of counters, gauges and a histogram, within a small samples cap
/// and a one-second timeout, on a query thread. Errors are expected; returning is the test.
pub fn parse_and_evaluate(data: &[u8]) {
    let query = String::from_utf8_lossy(data);
    let store = store();
    let engine = Engine::new(EngineOpts {
        timeout: Duration::from_secs(1),
        max_samples: 200_000,
        ..EngineOpts::default()
    });
    // The step and length of the range query come from the input, so they vary too.
    let h = data
        .iter()
        .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let step = 1_000 * (1 + (h % 120) as i64);
    let start = FUZZ_TIME - 1_000 * (h % 900) as i64;
    with_query_stack(|| {
        let _ = engine.instant_query_annotated(store, &query, FUZZ_TIME);
        let _ = engine.range_query_annotated(store, &query, start, FUZZ_TIME, step);
    });
}

fn store() -> &'static MemQueryable {
    static STORE: OnceLock<MemQueryable> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut s = MemQueryable::new();
        let mut add = |pairs: &[(&str, &str)], f: &dyn Fn(i64) -> f64| {
            let labels = Labels::from_pairs(pairs.iter().copied());
            for k in 0..=40 {
                let t = FUZZ_TIME - 600_000 + k * 15_000;
                s.append(&labels, Sample { t, v: f(k) });
            }
        };
        for (job, scale) in [("apiserver", 1.0), ("etcd", 3.0)] {
            add(&[("__name__", "up"), ("job", job)], &|_| 1.0);
            add(
                &[
                    ("__name__", "apiserver_request_total"),
                    ("job", job),
                    ("verb", "LIST"),
                ],
                &|k| k as f64 * scale,
            );
            add(
                &[
                    ("__name__", "apiserver_current_inflight_requests"),
                    ("job", job),
                ],
                &|k| (k % 5) as f64 - 1.0,
            );
            for (le, share) in [("0.1", 0.5), ("1", 0.9), ("+Inf", 1.0)] {
                add(
                    &[
                        ("__name__", "apiserver_request_duration_seconds_bucket"),
                        ("job", job),
                        ("le", le),
                    ],
                    &|k| (k as f64 * 10.0 * share).floor(),
                );
            }
        }
        add(&[("__name__", "stale")], &|k| {
            if k == 20 {
                apilens_model::STALE_NAN
            } else {
                f64::NAN
            }
        });
        s
    })
}
