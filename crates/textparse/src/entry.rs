//! What the parser yields: entries that borrow from the input.

use crate::lex::{is_label_char, is_label_start, scan_ident, scan_quoted, skip_blank, unescape};
use apilens_model::{Labels, METRIC_NAME};
use std::borrow::Cow;
use std::fmt;

/// The type a `# TYPE` line declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// Monotonic counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Classic histogram: `_bucket{le}`, `_sum`, `_count`.
    Histogram,
    /// OpenMetrics gauge histogram: `_bucket{le}`, `_gsum`, `_gcount`.
    GaugeHistogram,
    /// Summary: quantiles, `_sum`, `_count`.
    Summary,
    /// OpenMetrics info metric (`_info`).
    Info,
    /// OpenMetrics state set.
    StateSet,
    /// No type given, or `untyped` / `unknown`.
    Untyped,
}

impl MetricType {
    /// Parses a type word; `None` for an unknown word.
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "untyped" | "unknown" => MetricType::Untyped,
            _ => return None,
        })
    }

    /// The word used in `# TYPE` lines of the Prometheus text format.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Untyped => "untyped",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// A sample line.
    Series(SeriesEntry<'a>),
    /// `# HELP name text`, the text with `\\` and `\n` decoded.
    Help {
        /// Metric family name.
        name: Cow<'a, str>,
        /// Help text.
        text: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// Metric family name.
        name: Cow<'a, str>,
        /// Declared type.
        kind: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// Metric family name.
        name: Cow<'a, str>,
        /// Unit, such as `seconds`.
        unit: &'a str,
    },
    /// Any other `#` line of the Prometheus text format, without the `#`.
    Comment(&'a str),
    /// The OpenMetrics `# EOF` marker; nothing follows it.
    Eof,
}

/// A sample line: series identity, value and optional timestamp, all borrowed from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesEntry<'a> {
    /// The series as written, name and label set (`name{a="1"}`), without value or timestamp.
    /// Two lines with equal `raw` bytes name the same series, which makes it a cheap cache key.
    pub raw: &'a [u8],
    pub(crate) name: &'a [u8],
    pub(crate) name_escaped: bool,
    pub(crate) labels: &'a [u8],
    /// The sample value.
    pub value: f64,
    /// The timestamp in milliseconds, if the line has one (OpenMetrics seconds are converted).
    pub timestamp_ms: Option<i64>,
    /// The OpenMetrics exemplar, if any.
    pub exemplar: Option<Exemplar<'a>>,
    /// Line number of the sample, from 1.
    pub line: usize,
}

/// An OpenMetrics exemplar: `# {trace_id="abc"} 0.5 1700000000.000`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    pub(crate) labels: &'a [u8],
    /// Exemplar value.
    pub value: f64,
    /// Exemplar timestamp in milliseconds, if given.
    pub timestamp_ms: Option<i64>,
}

impl<'a> SeriesEntry<'a> {
    /// The metric name, decoded when it was written as a quoted string with escapes.
    pub fn name(&self) -> Cow<'a, str> {
        unescape(self.name, self.name_escaped)
    }

    /// The metric name exactly as its bytes stand in the input (quotes removed, escapes not
    /// decoded): free to call on the hot path.
    pub fn name_bytes(&self) -> &'a [u8] {
        self.name
    }

    /// Iterates the labels in the order written, decoding escapes only where present.
    pub fn labels(&self) -> LabelIter<'a> {
        LabelIter { rest: self.labels }
    }

    /// The value of one label, if present.
    pub fn label(&self, name: &str) -> Option<Cow<'a, str>> {
        self.labels().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The full label set, metric name included as `__name__`.
    pub fn to_labels(&self) -> Labels {
        Labels::from_pairs(
            std::iter::once((Cow::Borrowed(METRIC_NAME), self.name()))
                .chain(self.labels())
                .map(|(n, v)| (n.into_owned(), v.into_owned())),
        )
    }
}

impl<'a> Exemplar<'a> {
    /// Iterates the exemplar's labels.
    pub fn labels(&self) -> LabelIter<'a> {
        LabelIter { rest: self.labels }
    }
}

/// Iterator over `(name, value)` pairs of a label set the parser has already validated.
#[derive(Debug, Clone)]
pub struct LabelIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let s = self.rest;
            let mut i = skip_blank(s);
            while i < s.len() && s[i] == b',' {
                i += 1;
                i += skip_blank(&s[i..]);
            }
            if i >= s.len() {
                self.rest = &[];
                return None;
            }
            let (name, name_end) = if s[i] == b'"' {
                let q = scan_quoted(&s[i + 1..]).ok()?;
                (unescape(&s[i + 1..i + 1 + q.len], q.escaped), i + 2 + q.len)
            } else {
                let n = scan_ident(&s[i..], is_label_start, is_label_char);
                if n == 0 {
                    self.rest = &[];
                    return None;
                }
                (unescape(&s[i..i + n], false), i + n)
            };
            let mut j = name_end + skip_blank(&s[name_end..]);
            if s.get(j) != Some(&b'=') {
                // A quoted metric name inside the braces, not a label: skip it.
                self.rest = &s[j..];
                continue;
            }
            j += 1;
            j += skip_blank(&s[j..]);
            if s.get(j) != Some(&b'"') {
                self.rest = &[];
                return None;
            }
            let q = scan_quoted(&s[j + 1..]).ok()?;
            let value = unescape(&s[j + 1..j + 1 + q.len], q.escaped);
            self.rest = &s[j + 2 + q.len..];
            return Some((name, value));
        }
    }
}
