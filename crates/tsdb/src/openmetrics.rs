//! Backfill from and export to OpenMetrics text, the format `promtool tsdb
//! create-blocks-from openmetrics` reads.

use crate::{Db, Error, ImportStats};
use apilens_model::{Labels, METRIC_NAME, Sample, Series, is_stale_nan};
use apilens_textparse::{Entry, Format, Parser, encode};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Parses OpenMetrics text (or the Prometheus text format with millisecond timestamps; the
/// format is detected by the `# EOF` marker) into series. Every sample needs a timestamp.
///
/// # Errors
///
/// [`Error::Import`] naming `path` and the line for a syntax error or a sample without a
/// timestamp.
pub fn parse_openmetrics(
    path: &Path,
    input: &[u8],
) -> Result<BTreeMap<Labels, Vec<Sample>>, Error> {
    let mut out: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    let mut cache: std::collections::HashMap<&[u8], Labels> = std::collections::HashMap::new();
    for entry in Parser::new(input, Format::detect(input)) {
        let entry = entry.map_err(|e| Error::Import {
            path: path.to_path_buf(),
            line: e.line,
            message: format!("column {}: {}", e.column, e.message),
        })?;
        let Entry::Series(s) = entry else { continue };
        let Some(t) = s.timestamp_ms else {
            return Err(Error::Import {
                path: path.to_path_buf(),
                line: s.line,
                message: "expected a timestamp: backfilled samples need one".into(),
            });
        };
        let labels = cache.entry(s.raw).or_insert_with(|| s.to_labels());
        match out.get_mut(labels) {
            Some(v) => v.push(Sample { t, v: s.value }),
            None => {
                out.insert(labels.clone(), vec![Sample { t, v: s.value }]);
            }
        }
    }
    Ok(out)
}

/// Reads an OpenMetrics file and writes its samples into `db` as blocks.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, [`Error::Import`] for bad lines, [`Error`] when
/// blocks cannot be written.
pub fn import_openmetrics(db: &Db, path: &Path) -> Result<ImportStats, Error> {
    let input = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let series = parse_openmetrics(path, &input)?;
    db.import(series)
}

/// Writes series as OpenMetrics text with timestamps in seconds (millisecond precision) and a
/// closing `# EOF`, grouped by metric name. Staleness markers are left out: OpenMetrics has no
/// way to write them, and a reader would take them for a plain NaN.
///
/// # Errors
///
/// Whatever `out` returns.
pub fn write_openmetrics(series: &[Series], out: &mut impl Write) -> std::io::Result<()> {
    let mut order: Vec<&Series> = series.iter().collect();
    order.sort_by(|a, b| {
        (a.labels.metric_name(), &a.labels).cmp(&(b.labels.metric_name(), &b.labels))
    });
    let mut line = String::new();
    for s in order {
        let name = s.labels.metric_name().unwrap_or("");
        let pairs: Vec<(&str, &str)> = s
            .labels
            .iter()
            .filter(|l| l.name != METRIC_NAME)
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        for sample in &s.samples {
            if is_stale_nan(sample.v) {
                continue;
            }
            line.clear();
            encode::write_series(&mut line, name, pairs.iter().copied(), sample.v, None);
            line.pop();
            let t = sample.t;
            let sign = if t < 0 { "-" } else { "" };
            let abs = t.unsigned_abs();
            use std::fmt::Write as _;
            let _ = writeln!(line, " {sign}{}.{:03}", abs / 1000, abs % 1000);
            out.write_all(line.as_bytes())?;
        }
    }
    out.write_all(b"# EOF\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use apilens_model::STALE_NAN;

    #[test]
    fn export_then_parse_round_trips() {
        let series = vec![
            Series {
                labels: Labels::from_pairs([("__name__", "up"), ("job", "a\"b")]),
                samples: vec![
                    Sample {
                        t: 1_700_000_000_123,
                        v: 1.0,
                    },
                    Sample {
                        t: 1_700_000_015_000,
                        v: STALE_NAN,
                    },
                    Sample {
                        t: 1_700_000_030_000,
                        v: 0.5,
                    },
                ],
            },
            Series {
                labels: Labels::from_pairs([("__name__", "a_total")]),
                samples: vec![Sample {
                    t: -1_500,
                    v: f64::INFINITY,
                }],
            },
        ];
        let mut out = Vec::new();
        write_openmetrics(&series, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(
            text,
            "a_total +Inf -1.500\nup{job=\"a\\\"b\"} 1 1700000000.123\nup{job=\"a\\\"b\"} 0.5 1700000030.000\n# EOF\n"
        );
        let back = parse_openmetrics(Path::new("x.om"), &out).unwrap();
        assert_eq!(back[&series[0].labels].len(), 2);
        assert_eq!(back[&series[0].labels][0].t, 1_700_000_000_123);
        assert_eq!(back[&series[1].labels][0].t, -1_500);
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = parse_openmetrics(Path::new("in.om"), b"up 1 10\nup 2\n# EOF\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "in.om:2: expected a timestamp: backfilled samples need one"
        );
        let err = parse_openmetrics(Path::new("in.om"), b"up{ 1 10\n# EOF\n").unwrap_err();
        assert!(err.to_string().starts_with("in.om:1: column"), "{err}");
    }
}
