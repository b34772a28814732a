//! Groups parser entries into metric families: counters, gauges, histograms, summaries, untyped.
//!
//! ```
//! use apilens_textparse::{Format, MetricType, Parser, families::{Families, Metric}};
//!
//! let input = b"# TYPE d histogram\nd_bucket{le=\"1\"} 2\nd_bucket{le=\"+Inf\"} 3\nd_sum 4.5\nd_count 3\n";
//! let family = Families::new(Parser::new(input, Format::PrometheusText)).next().unwrap()?;
//! assert_eq!(family.kind, MetricType::Histogram);
//! let Metric::Histogram(h) = &family.metrics[0] else { panic!("not a histogram") };
//! assert_eq!(h.buckets.iter().map(|b| (b.le, b.count)).collect::<Vec<_>>(), [(1.0, 2.0), (f64::INFINITY, 3.0)]);
//! assert_eq!((h.sum, h.count), (Some(4.5), Some(3.0)));
//! # Ok::<(), apilens_textparse::ParseError>(())
//! ```

use crate::{Entry, MetricType, ParseError, Parser, SeriesEntry};
use apilens_model::{Labels, METRIC_NAME};
use std::collections::HashMap;

/// One metric family with its metadata and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Family name as declared by `TYPE`/`HELP`, or the series name for untyped series.
    pub name: String,
    /// Declared type; [`MetricType::Untyped`] when none was declared.
    pub kind: MetricType,
    /// `HELP` text, if given.
    pub help: Option<String>,
    /// `UNIT` (OpenMetrics), if given.
    pub unit: Option<String>,
    /// The metrics of the family, in order of first appearance.
    pub metrics: Vec<Metric>,
    /// Number of sample lines that made up the family.
    pub n_samples: usize,
}

/// A metric of a family: one plain sample, or a histogram or summary assembled from its lines.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A plain sample (counter, gauge, untyped, info, stateset, or a `_created` line).
    Sample(PlainSample),
    /// A classic histogram (or OpenMetrics gauge histogram).
    Histogram(Histogram),
    /// A summary.
    Summary(Summary),
}

/// A sample of a counter, gauge or untyped metric.
#[derive(Debug, Clone, PartialEq)]
pub struct PlainSample {
    /// Full series labels, `__name__` included (the name as written, with any suffix).
    pub labels: Labels,
    /// Value.
    pub value: f64,
    /// Timestamp in milliseconds, if written.
    pub timestamp_ms: Option<i64>,
}

/// One cumulative bucket of a histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Upper bound, compared as a number: `le="1"` and `le="1.0"` are the same bucket.
    pub le: f64,
    /// Cumulative count of observations `<= le`.
    pub count: f64,
}

/// A classic histogram assembled from `_bucket`, `_sum`, `_count` and `_created` lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Labels without `__name__` and `le`.
    pub labels: Labels,
    /// Buckets sorted by `le`; a scraper may have left gaps (sparse bucket sets).
    pub buckets: Vec<Bucket>,
    /// `_sum` (or `_gsum`), if present.
    pub sum: Option<f64>,
    /// `_count` (or `_gcount`), if present.
    pub count: Option<f64>,
    /// OpenMetrics `_created`, if present.
    pub created: Option<f64>,
}

impl Histogram {
    /// The total observation count: `_count`, else the `+Inf` bucket.
    pub fn total(&self) -> Option<f64> {
        self.count.or_else(|| {
            self.buckets
                .last()
                .filter(|b| b.le == f64::INFINITY)
                .map(|b| b.count)
        })
    }

    /// Estimates the `q` quantile (0..=1) by linear interpolation inside the bucket, as
    /// Prometheus's `histogram_quantile` does for classic buckets (`promql/quantile.go`).
    /// `None` without observations or without a `+Inf` bucket.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let last = self.buckets.last()?;
        if last.le != f64::INFINITY || last.count <= 0.0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * last.count;
        let idx = self.buckets.iter().position(|b| b.count >= rank)?;
        if idx == self.buckets.len() - 1 {
            return Some(if self.buckets.len() >= 2 {
                self.buckets[idx - 1].le
            } else {
                f64::NAN
            });
        }
        let (start, lower_count) = if idx == 0 {
            (
                if self.buckets[0].le > 0.0 {
                    0.0
                } else {
                    self.buckets[0].le
                },
                0.0,
            )
        } else {
            (self.buckets[idx - 1].le, self.buckets[idx - 1].count)
        };
        let end = self.buckets[idx].le;
        let in_bucket = self.buckets[idx].count - lower_count;
        if in_bucket <= 0.0 {
            return Some(end);
        }
        Some(start + (end - start) * (rank - lower_count) / in_bucket)
    }
}

/// A summary assembled from quantile, `_sum`, `_count` and `_created` lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Labels without `__name__` and `quantile`.
    pub labels: Labels,
    /// `(quantile, value)` pairs sorted by quantile.
    pub quantiles: Vec<(f64, f64)>,
    /// `_sum`, if present.
    pub sum: Option<f64>,
    /// `_count`, if present.
    pub count: Option<f64>,
    /// OpenMetrics `_created`, if present.
    pub created: Option<f64>,
}

#[derive(Debug)]
struct Builder {
    family: Family,
    index: HashMap<Labels, usize>,
    keep: bool,
}

impl Builder {
    fn new(name: String, kind: MetricType) -> Self {
        Self {
            family: Family {
                name,
                kind,
                help: None,
                unit: None,
                metrics: Vec::new(),
                n_samples: 0,
            },
            index: HashMap::new(),
            keep: true,
        }
    }

    /// Whether a series named `name` belongs to this family.
    fn owns(&self, name: &str) -> bool {
        let family = self.family.name.as_str();
        let Some(suffix) = name.strip_prefix(family) else {
            return false;
        };
        matches!(
            (self.family.kind, suffix),
            (_, "")
                | (
                    MetricType::Histogram,
                    "_bucket" | "_sum" | "_count" | "_created"
                )
                | (MetricType::GaugeHistogram, "_bucket" | "_gsum" | "_gcount")
                | (MetricType::Summary, "_sum" | "_count" | "_created")
                | (MetricType::Counter, "_total" | "_created")
                | (MetricType::Info, "_info")
        )
    }

    fn add(&mut self, s: &SeriesEntry<'_>, name: &str) {
        self.family.n_samples += 1;
        let suffix = &name[self.family.name.len()..];
        match self.family.kind {
            MetricType::Histogram | MetricType::GaugeHistogram => self.add_histogram(s, suffix),
            MetricType::Summary => self.add_summary(s, suffix),
            _ => self.family.metrics.push(Metric::Sample(PlainSample {
                labels: s.to_labels(),
                value: s.value,
                timestamp_ms: s.timestamp_ms,
            })),
        }
    }

    fn slot(&mut self, labels: Labels, make: impl FnOnce(Labels) -> Metric) -> &mut Metric {
        let idx = match self.index.get(&labels) {
            Some(&i) => i,
            None => {
                self.family.metrics.push(make(labels.clone()));
                self.index.insert(labels, self.family.metrics.len() - 1);
                self.family.metrics.len() - 1
            }
        };
        &mut self.family.metrics[idx]
    }

    fn add_histogram(&mut self, s: &SeriesEntry<'_>, suffix: &str) {
        let mut labels = s.to_labels();
        labels.remove(METRIC_NAME);
        let le = labels.get("le").map(parse_bound);
        labels.remove("le");
        let Metric::Histogram(h) = self.slot(labels, |labels| {
            Metric::Histogram(Histogram {
                labels,
                buckets: Vec::new(),
                sum: None,
                count: None,
                created: None,
            })
        }) else {
            return;
        };
        match suffix {
            "_bucket" => {
                let Some(Some(le)) = le else { return };
                match h.buckets.binary_search_by(|b| b.le.total_cmp(&le)) {
                    Ok(i) => h.buckets[i].count = s.value,
                    Err(i) => h.buckets.insert(i, Bucket { le, count: s.value }),
                }
            }
            "_sum" | "_gsum" => h.sum = Some(s.value),
            "_count" | "_gcount" => h.count = Some(s.value),
            "_created" => h.created = Some(s.value),
            _ => {}
        }
    }

    fn add_summary(&mut self, s: &SeriesEntry<'_>, suffix: &str) {
        let mut labels = s.to_labels();
        labels.remove(METRIC_NAME);
        let quantile = labels.get("quantile").map(parse_bound);
        labels.remove("quantile");
        let Metric::Summary(m) = self.slot(labels, |labels| {
            Metric::Summary(Summary {
                labels,
                quantiles: Vec::new(),
                sum: None,
                count: None,
                created: None,
            })
        }) else {
            return;
        };
        match suffix {
            "" => {
                if let Some(Some(q)) = quantile {
                    match m.quantiles.binary_search_by(|p| p.0.total_cmp(&q)) {
                        Ok(i) => m.quantiles[i].1 = s.value,
                        Err(i) => m.quantiles.insert(i, (q, s.value)),
                    }
                }
            }
            "_sum" => m.sum = Some(s.value),
            "_count" => m.count = Some(s.value),
            "_created" => m.created = Some(s.value),
            _ => {}
        }
    }
}

/// Parses an `le` or `quantile` label value as a number (`"+Inf"`, `"1"`, `"1.0"`, `"1e3"`).
fn parse_bound(text: &str) -> Option<f64> {
    crate::lex::parse_float(text.trim().as_bytes()).ok()
}

/// Assembles families from entries pushed one at a time, for input read in chunks
/// ([`crate::parse_reader`]): entries may borrow from a buffer that is reused, families own
/// their data.
#[derive(Default)]
pub struct Assembler {
    current: Option<Builder>,
    keep: Option<FamilyFilter>,
}

/// Decides by name which families get their metrics built.
type FamilyFilter = Box<dyn Fn(&str) -> bool>;

impl std::fmt::Debug for Assembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembler")
            .field("current", &self.current)
            .field("filtered", &self.keep.is_some())
            .finish()
    }
}

impl Assembler {
    /// An assembler with no family started.
    pub fn new() -> Self {
        Self::default()
    }

    /// An assembler that builds metrics only for families whose name passes `keep`; the other
    /// families are still delimited and counted ([`Family::n_samples`]) but their `metrics` stay
    /// empty, which skips label decoding for them.
    pub fn with_filter(keep: impl Fn(&str) -> bool + 'static) -> Self {
        Self {
            current: None,
            keep: Some(Box::new(keep)),
        }
    }

    /// Feeds one entry; returns the previous family when this entry starts a new one.
    pub fn push(&mut self, entry: Entry<'_>) -> Option<Family> {
        match entry {
            Entry::Type { name, kind } => match &mut self.current {
                Some(b) if b.family.name == name && b.family.n_samples == 0 => {
                    b.family.kind = kind;
                    None
                }
                _ => self.start(name.into_owned(), kind),
            },
            Entry::Help { name, text } => {
                let done = match &self.current {
                    Some(b) if b.family.name == name && b.family.n_samples == 0 => None,
                    _ => self.start(name.into_owned(), MetricType::Untyped),
                };
                if let Some(b) = &mut self.current {
                    b.family.help = Some(text.into_owned());
                }
                done
            }
            Entry::Unit { name, unit } => {
                let done = match &self.current {
                    Some(b) if b.family.name == name && b.family.n_samples == 0 => None,
                    _ => self.start(name.into_owned(), MetricType::Untyped),
                };
                if let Some(b) = &mut self.current {
                    b.family.unit = Some(unit.to_owned());
                }
                done
            }
            Entry::Series(s) => {
                let name = s.name();
                let done = match &self.current {
                    Some(b) if b.owns(&name) => None,
                    _ => self.start(name.to_string(), MetricType::Untyped),
                };
                if let Some(b) = &mut self.current {
                    if b.keep {
                        b.add(&s, &name);
                    } else {
                        b.family.n_samples += 1;
                    }
                }
                done
            }
            Entry::Comment(_) | Entry::Eof => None,
        }
    }

    /// Ends the input: returns the family being built, if any.
    pub fn finish(&mut self) -> Option<Family> {
        self.current.take().map(|b| b.family)
    }

    fn start(&mut self, name: String, kind: MetricType) -> Option<Family> {
        let mut builder = Builder::new(name, kind);
        builder.keep = self
            .keep
            .as_ref()
            .is_none_or(|keep| keep(&builder.family.name));
        self.current.replace(builder).map(|b| b.family)
    }
}

/// Iterator adapter that turns a [`Parser`] into a stream of [`Family`] values.
///
/// Families are emitted when the next one starts, so memory holds one family at a time. A
/// series whose name does not belong to the current family starts an untyped family of its own.
/// A parse error is yielded after the family built so far, and parsing goes on.
#[derive(Debug)]
pub struct Families<'a> {
    parser: Parser<'a>,
    assembler: Assembler,
    pending_error: Option<ParseError>,
}

impl<'a> Families<'a> {
    /// Groups the entries of `parser`.
    pub fn new(parser: Parser<'a>) -> Self {
        Self {
            parser,
            assembler: Assembler::new(),
            pending_error: None,
        }
    }
}

impl Iterator for Families<'_> {
    type Item = Result<Family, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending_error.take() {
            return Some(Err(e));
        }
        for entry in self.parser.by_ref() {
            match entry {
                Err(e) => match self.assembler.finish() {
                    Some(family) => {
                        self.pending_error = Some(e);
                        return Some(Ok(family));
                    }
                    None => return Some(Err(e)),
                },
                Ok(entry) => {
                    if let Some(family) = self.assembler.push(entry) {
                        return Some(Ok(family));
                    }
                }
            }
        }
        self.assembler.finish().map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Format;

    fn families(input: &str) -> Vec<Family> {
        Families::new(Parser::new(input.as_bytes(), Format::PrometheusText))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn le_is_compared_as_a_number() {
        let f = families(
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 2\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n",
        );
        let Metric::Histogram(h) = &f[0].metrics[0] else {
            panic!("expected a histogram")
        };
        assert_eq!(h.buckets.len(), 2);
        assert_eq!(
            h.buckets[0],
            Bucket {
                le: 1.0,
                count: 2.0
            }
        );
    }

    #[test]
    fn quantile_interpolates_within_the_bucket() {
        let f = families(
            "# TYPE h histogram\nh_bucket{le=\"0.1\"} 50\nh_bucket{le=\"1\"} 100\nh_bucket{le=\"+Inf\"} 100\n",
        );
        let Metric::Histogram(h) = &f[0].metrics[0] else {
            panic!("expected a histogram")
        };
        assert_eq!(h.quantile(0.5), Some(0.1));
        assert!((h.quantile(0.75).unwrap() - 0.55).abs() < 1e-12);
    }

    #[test]
    fn untyped_series_start_their_own_family() {
        let f = families("# TYPE a counter\na 1\nb 2\nb{x=\"y\"} 3\n");
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[1].name.as_str(), f[1].kind, f[1].n_samples),
            ("b", MetricType::Untyped, 2)
        );
    }

    #[test]
    fn summaries_collect_quantiles() {
        let f = families(
            "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.99\"} 3\ns_sum 10\ns_count 4\n",
        );
        let Metric::Summary(s) = &f[0].metrics[0] else {
            panic!("expected a summary")
        };
        assert_eq!(s.quantiles, [(0.5, 1.0), (0.99, 3.0)]);
        assert_eq!((s.sum, s.count), (Some(10.0), Some(4.0)));
    }
}
