//! Turning one scrape body into samples: target labels, the series cache and staleness.

use std::collections::HashMap;

use apilens_model::{Labels, STALE_NAN, Sample};
use apilens_textparse::{Entry, FamilyRules, Format, Parser, SeriesEntry};

/// Counts of one ingested scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct IngestStats {
    pub(crate) scraped: usize,
    pub(crate) added: usize,
    pub(crate) stale: usize,
    pub(crate) duplicates: usize,
}

/// Why a body was rejected.
#[derive(Debug)]
pub(crate) enum IngestError {
    Parse { position: String, message: String },
    TooManySamples { count: usize },
}

struct CacheEntry {
    labels: Labels,
    seen: u64,
    /// Series with their own timestamps are not marked stale, as in Prometheus.
    explicit_ts: bool,
}

/// The series of a target's previous scrape, keyed by the raw series bytes (Prometheus's scrape
/// cache): labels are decoded only for series not seen before, and series that vanish are
/// marked stale.
pub(crate) struct SeriesCache {
    target_labels: Vec<(String, String)>,
    entries: HashMap<Box<[u8]>, CacheEntry>,
    epoch: u64,
}

impl SeriesCache {
    pub(crate) fn new(job: &str, instance: &str) -> Self {
        Self {
            target_labels: vec![
                ("instance".to_owned(), instance.to_owned()),
                ("job".to_owned(), job.to_owned()),
            ],
            entries: HashMap::new(),
            epoch: 0,
        }
    }

    /// The labels of a synthetic series (`up`, `scrape_duration_seconds`, …).
    pub(crate) fn synthetic(&self, name: &str) -> Labels {
        let mut labels = Labels::from_pairs(
            self.target_labels
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        labels.set(apilens_model::METRIC_NAME, name);
        labels
    }

    /// Target labels win over scraped ones; a clash keeps the scraped value as
    /// `exported_<name>` (Prometheus's `honor_labels: false`).
    fn apply_target_labels(&self, entry: &SeriesEntry<'_>) -> Labels {
        let mut labels = entry.to_labels();
        for (name, value) in &self.target_labels {
            if let Some(existing) = labels.get(name).map(str::to_owned) {
                labels.set(&format!("exported_{name}"), &existing);
            }
            labels.set(name, value);
        }
        labels
    }

    /// Parses `body` and appends its samples at `t` (or their own timestamps) to `out`, followed
    /// by staleness markers for the series of the previous scrape that are gone. On error
    /// nothing is appended and the cache is unchanged.
    pub(crate) fn ingest(
        &mut self,
        body: &[u8],
        format: Format,
        t: i64,
        sample_limit: usize,
        out: &mut Vec<(Labels, Sample)>,
    ) -> Result<IngestStats, IngestError> {
        let mut entries = Vec::new();
        // As Prometheus's scrape loop: a repeated TYPE or HELP line does not fail the scrape (the
        // line rules, such as a label name given twice, still do).
        for entry in Parser::new(body, format).family_rules(FamilyRules::Scrape) {
            match entry {
                Ok(Entry::Series(s)) => entries.push(s),
                Ok(Entry::Eof) => break,
                Ok(_) => {}
                Err(err) => {
                    return Err(IngestError::Parse {
                        position: format!("{}:{}", err.line, err.column),
                        message: err.message,
                    });
                }
            }
        }
        if entries.len() > sample_limit {
            return Err(IngestError::TooManySamples {
                count: entries.len(),
            });
        }
        self.epoch += 1;
        let epoch = self.epoch;
        let mut stats = IngestStats {
            scraped: entries.len(),
            ..IngestStats::default()
        };
        out.reserve(entries.len());
        for entry in &entries {
            let ts = entry.timestamp_ms.unwrap_or(t);
            match self.entries.get_mut(entry.raw) {
                Some(cached) if cached.seen == epoch => stats.duplicates += 1,
                Some(cached) => {
                    cached.seen = epoch;
                    out.push((
                        cached.labels.clone(),
                        Sample {
                            t: ts,
                            v: entry.value,
                        },
                    ));
                }
                None => {
                    let labels = self.apply_target_labels(entry);
                    out.push((
                        labels.clone(),
                        Sample {
                            t: ts,
                            v: entry.value,
                        },
                    ));
                    stats.added += 1;
                    self.entries.insert(
                        entry.raw.into(),
                        CacheEntry {
                            labels,
                            seen: epoch,
                            explicit_ts: entry.timestamp_ms.is_some(),
                        },
                    );
                }
            }
        }
        self.entries.retain(|_, cached| {
            if cached.seen == epoch {
                return true;
            }
            if !cached.explicit_ts {
                out.push((cached.labels.clone(), Sample { t, v: STALE_NAN }));
                stats.stale += 1;
            }
            false
        });
        Ok(stats)
    }

    /// Marks every cached series stale at `t` and forgets them: the scrape failed or the
    /// target went away.
    pub(crate) fn stale_all(&mut self, t: i64, out: &mut Vec<(Labels, Sample)>) -> usize {
        let mut n = 0;
        for (_, cached) in self.entries.drain() {
            if !cached.explicit_ts {
                out.push((cached.labels, Sample { t, v: STALE_NAN }));
                n += 1;
            }
        }
        n
    }
}

/// The exposition format of a body: from the `Content-Type` when there is one, else by content.
pub(crate) fn format_of(content_type: Option<&str>, body: &[u8]) -> Format {
    match content_type {
        Some(ct) if !ct.trim().is_empty() => Format::from_content_type(ct),
        _ => Format::detect(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apilens_model::is_stale_nan;

    fn shown(out: &[(Labels, Sample)]) -> Vec<String> {
        out.iter()
            .map(|(l, s)| {
                let v = if is_stale_nan(s.v) {
                    "stale".to_owned()
                } else {
                    s.v.to_string()
                };
                format!("{l} {v} @{}", s.t)
            })
            .collect()
    }

    #[test]
    fn target_labels_win_and_vanished_series_go_stale() {
        let mut cache = SeriesCache::new("apiserver", "10.0.0.1:6443");
        let mut out = Vec::new();
        let body = b"a{job=\"x\"} 1\nb 2\n";
        let stats = cache
            .ingest(body, Format::PrometheusText, 1000, 10, &mut out)
            .unwrap();
        assert_eq!(stats.added, 2);
        assert_eq!(
            shown(&out),
            [
                r#"a{exported_job="x", instance="10.0.0.1:6443", job="apiserver"} 1 @1000"#,
                r#"b{instance="10.0.0.1:6443", job="apiserver"} 2 @1000"#,
            ]
        );
        out.clear();
        let stats = cache
            .ingest(b"b 3\n", Format::PrometheusText, 2000, 10, &mut out)
            .unwrap();
        assert_eq!((stats.added, stats.stale), (0, 1));
        assert_eq!(
            shown(&out),
            [
                r#"b{instance="10.0.0.1:6443", job="apiserver"} 3 @2000"#,
                r#"a{exported_job="x", instance="10.0.0.1:6443", job="apiserver"} stale @2000"#,
            ]
        );
    }

    #[test]
    fn a_bad_body_changes_nothing_and_failure_stales_everything() {
        let mut cache = SeriesCache::new("j", "i:1");
        let mut out = Vec::new();
        cache
            .ingest(b"a 1\nb 2\n", Format::PrometheusText, 1, 10, &mut out)
            .unwrap();
        out.clear();
        let err = cache
            .ingest(b"a 1\nb{ 2\n", Format::PrometheusText, 2, 10, &mut out)
            .unwrap_err();
        assert!(
            matches!(err, IngestError::Parse { ref position, .. } if position.starts_with("2:"))
        );
        assert!(out.is_empty());
        assert!(matches!(
            cache.ingest(b"a 1\nb 2\nc 3\n", Format::PrometheusText, 2, 2, &mut out),
            Err(IngestError::TooManySamples { count: 3 })
        ));
        assert_eq!(cache.stale_all(3, &mut out), 2);
        assert!(out.iter().all(|(_, s)| is_stale_nan(s.v) && s.t == 3));
    }

    #[test]
    fn what_prometheus_refuses_fails_the_scrape_and_what_it_keeps_is_stored() {
        // See: issue 15, parser strictness. Before, `x{a="b",a="c"}` was stored as `{a="c"}`
        // and `1e999999` as +Inf.
        let mut cache = SeriesCache::new("j", "i:1");
        let mut out = Vec::new();
        for (body, position, message) in [
            (
                &b"ok 1\nx{a=\"b\",a=\"c\"} 1\n"[..],
                "2:9",
                "label name \"a\" is not unique",
            ),
            (
                b"x 1e999999\n",
                "1:3",
                "value \"1e999999\" is out of the range of a 64-bit float",
            ),
        ] {
            let err = cache
                .ingest(body, Format::PrometheusText, 1, 10, &mut out)
                .unwrap_err();
            assert!(
                matches!(&err, IngestError::Parse { position: p, message: m } if p == position && m == message),
                "{err:?}"
            );
            assert!(out.is_empty());
        }
        // A repeated TYPE or HELP line is accepted, as Prometheus's scrape loop accepts it.
        let body = b"# TYPE x counter\n# HELP x a\nx 1\n# TYPE x counter\n# HELP x b\n";
        let stats = cache
            .ingest(body, Format::PrometheusText, 1, 10, &mut out)
            .unwrap();
        assert_eq!(stats.added, 1);
    }

    #[test]
    fn explicit_timestamps_are_kept_and_never_staled() {
        let mut cache = SeriesCache::new("j", "i:1");
        let mut out = Vec::new();
        cache
            .ingest(b"a 1 500\n", Format::PrometheusText, 1000, 10, &mut out)
            .unwrap();
        assert_eq!(out[0].1.t, 500);
        out.clear();
        let stats = cache
            .ingest(b"", Format::PrometheusText, 2000, 10, &mut out)
            .unwrap();
        assert_eq!(stats.stale, 0);
        assert!(out.is_empty());
    }
}
