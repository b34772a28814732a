//! The metric state of one simulated server, laid out by its catalog, and its text rendering.
//!
//! Observations carry *semantic* labels (every spelling the simulator knows, such as both
//! `priority_level` and `priorityLevel`); rendering projects them onto the label names the
//! catalog says this version writes, so a family never gets a label its real server lacks.

use crate::catalog::{Catalog, FamilyDef, FamilyKind};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Label aliases: catalog label name → semantic key the simulator fills.
fn semantic_key(name: &str) -> &str {
    match name {
        "priorityLevel" => "priority_level",
        "flowSchema" => "flow_schema",
        "requestKind" => "request_kind",
        other => other,
    }
}

#[derive(Debug, Clone)]
enum Value {
    Scalar(f64),
    Histogram { counts: Vec<u64>, sum: f64 },
}

/// Counters, gauges and histograms of one server, keyed by the rendered label text.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    catalog: Catalog,
    series: Vec<BTreeMap<String, Value>>,
}

impl Store {
    pub(crate) fn new(catalog: Catalog) -> Self {
        let n = catalog.families().len();
        Self {
            catalog,
            series: vec![BTreeMap::new(); n],
        }
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn key(fam: &FamilyDef, labels: &[(&str, &str)]) -> String {
        let mut key = String::with_capacity(128);
        for (i, name) in fam.labels.iter().enumerate() {
            let sem = semantic_key(name);
            let value = labels
                .iter()
                .find(|(k, _)| *k == sem)
                .map(|(_, v)| *v)
                .unwrap_or("");
            if i > 0 {
                key.push(',');
            }
            key.push_str(name);
            key.push_str("=\"");
            escape_label_value(&mut key, value);
            key.push('"');
        }
        key
    }

    fn slot(&mut self, family: &str, labels: &[(&str, &str)]) -> Option<(&mut Value, &FamilyDef)> {
        let idx = self.catalog.family_index(family)?;
        let fam = &self.catalog.families()[idx];
        let key = Self::key(fam, labels);
        let n_buckets = fam.bucket_bounds.len();
        let kind = fam.kind;
        let value = self.series[idx].entry(key).or_insert_with(|| match kind {
            FamilyKind::Histogram => Value::Histogram {
                counts: vec![0; n_buckets + 1],
                sum: 0.0,
            },
            _ => Value::Scalar(0.0),
        });
        Some((value, fam))
    }

    /// Adds to a counter (negative increments are ignored: counters only grow).
    pub(crate) fn inc(&mut self, family: &str, labels: &[(&str, &str)], by: f64) {
        if let Some((Value::Scalar(v), _)) = self.slot(family, labels)
            && by > 0.0
        {
            *v += by;
        }
    }

    /// Sets a gauge.
    pub(crate) fn set(&mut self, family: &str, labels: &[(&str, &str)], value: f64) {
        if let Some((Value::Scalar(v), _)) = self.slot(family, labels) {
            *v = value;
        }
    }

    /// Records `n` observations of `value` in a histogram.
    pub(crate) fn observe_n(&mut self, family: &str, labels: &[(&str, &str)], value: f64, n: u64) {
        if n == 0 {
            return;
        }
        let idx = match self.catalog.family_index(family) {
            Some(i) => i,
            None => return,
        };
        let bucket = self.catalog.families()[idx]
            .bucket_bounds
            .partition_point(|&b| b < value);
        if let Some((Value::Histogram { counts, sum }, _)) = self.slot(family, labels) {
            counts[bucket] += n;
            *sum += value * n as f64;
        }
    }

    /// Records one observation.
    pub(crate) fn observe(&mut self, family: &str, labels: &[(&str, &str)], value: f64) {
        self.observe_n(family, labels, value, 1);
    }

    /// Sets every series of a gauge family to zero (for gauges recomputed each tick).
    pub(crate) fn zero_family(&mut self, family: &str) {
        if let Some(idx) = self.catalog.family_index(family) {
            for v in self.series[idx].values_mut() {
                if let Value::Scalar(x) = v {
                    *x = 0.0;
                }
            }
        }
    }

    /// Current value of a family's series without labels.
    pub(crate) fn current(&self, family: &str) -> Option<f64> {
        let idx = self.catalog.family_index(family)?;
        match self.series[idx].get("")? {
            Value::Scalar(v) => Some(*v),
            Value::Histogram { .. } => None,
        }
    }

    /// Renders the Prometheus text format 0.0.4, families sorted by name, series by labels.
    pub(crate) fn render(&self, out: &mut String) {
        for (idx, fam) in self.catalog.families().iter().enumerate() {
            if self.series[idx].is_empty() {
                continue;
            }
            let _ = writeln!(out, "# HELP {} {}", fam.name, fam.help);
            let _ = writeln!(out, "# TYPE {} {}", fam.name, kind_word(fam.kind));
            for (key, value) in &self.series[idx] {
                match value {
                    Value::Scalar(v) => {
                        out.push_str(&fam.name);
                        if !key.is_empty() {
                            out.push('{');
                            out.push_str(key);
                            out.push('}');
                        }
                        out.push(' ');
                        write_value(out, *v);
                        out.push('\n');
                    }
                    Value::Histogram { counts, sum } => {
                        let mut cumulative = 0u64;
                        let sep = if key.is_empty() { "" } else { "," };
                        for (i, c) in counts.iter().enumerate() {
                            cumulative += c;
                            let le = fam.buckets.get(i).map(String::as_str).unwrap_or("+Inf");
                            let _ = writeln!(
                                out,
                                "{}_bucket{{{key}{sep}le=\"{le}\"}} {cumulative}",
                                fam.name
                            );
                        }
                        let braces = if key.is_empty() {
                            String::new()
                        } else {
                            format!("{{{key}}}")
                        };
                        out.push_str(&format!("{}_sum{braces} ", fam.name));
                        write_value(out, *sum);
                        out.push('\n');
                        let _ = writeln!(out, "{}_count{braces} {cumulative}", fam.name);
                    }
                }
            }
        }
    }
}

fn kind_word(kind: FamilyKind) -> &'static str {
    match kind {
        FamilyKind::Counter => "counter",
        FamilyKind::Gauge => "gauge",
        FamilyKind::Histogram => "histogram",
    }
}

/// Writes a value the way Go's `strconv.FormatFloat(v, 'g', -1, 64)` reads back: integers
/// without a fraction, others in the shortest round-trip form.
fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == v.trunc() && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else if v.abs() >= 1e21 || (v != 0.0 && v.abs() < 1e-4) {
        let _ = write!(out, "{v:e}");
    } else {
        let _ = write!(out, "{v}");
    }
}

fn escape_label_value(out: &mut String, value: &str) {
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAT: &str = "source t\nversion 1.34.0\nfamily a_seconds histogram\nhelp [ALPHA] A.\nlabels verb\nbuckets 0.1 1\nfamily b_total counter\nhelp [ALPHA] B.\nlabels priority_level\nfamily c gauge\nhelp C.\nlabels requestKind\n";

    #[test]
    fn renders_projected_labels_and_cumulative_buckets() {
        let mut s = Store::new(Catalog::parse("t", CAT).unwrap());
        s.observe("a_seconds", &[("verb", "LIST"), ("resource", "pods")], 0.5);
        s.observe("a_seconds", &[("verb", "LIST")], 0.05);
        s.observe("a_seconds", &[("verb", "LIST")], 5.0);
        s.inc("b_total", &[("priority_level", "workload-low")], 2.0);
        s.inc("b_total", &[("priority_level", "workload-low")], -1.0);
        s.set("c", &[("request_kind", "readOnly")], 3.0);
        s.inc("not_in_catalog", &[], 1.0);
        let mut out = String::new();
        s.render(&mut out);
        assert_eq!(
            out,
            "# HELP a_seconds [ALPHA] A.\n# TYPE a_seconds histogram\n\
             a_seconds_bucket{verb=\"LIST\",le=\"0.1\"} 1\n\
             a_seconds_bucket{verb=\"LIST\",le=\"1\"} 2\n\
             a_seconds_bucket{verb=\"LIST\",le=\"+Inf\"} 3\n\
             a_seconds_sum{verb=\"LIST\"} 5.55\n\
             a_seconds_count{verb=\"LIST\"} 3\n\
             # HELP b_total [ALPHA] B.\n# TYPE b_total counter\n\
             b_total{priority_level=\"workload-low\"} 2\n\
             # HELP c C.\n# TYPE c gauge\n\
             c{requestKind=\"readOnly\"} 3\n"
        );
    }

    #[test]
    fn values_format_like_go() {
        let mut out = String::new();
        for v in [1.0, 0.25, 1e-7, 123456789.0, 2.5e22] {
            write_value(&mut out, v);
            out.push(' ');
        }
        assert_eq!(out, "1 0.25 1e-7 123456789 2.5e22 ");
    }
}
