//! Backfill from and export to OpenMetrics text, the format `promtool tsdb
//! create-blocks-from openmetrics` reads.

use crate::{Db, Error, ImportStats};
use apilens_model::{Labels, METRIC_NAME, Sample, Series, is_stale_nan};
use apilens_textparse::{
    Entry, Format, MAX_LINE, ParseError, Parser, SeriesEntry, StreamError, encode, parse_reader,
};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

/// 1990-01-01T00:00:00Z: no Kubernetes or Prometheus sample is older. An import timestamp
/// before it was almost surely written in a different unit than the format's.
const PLAUSIBLE_MIN_MS: i64 = 631_152_000_000;
/// How far past the present an imported timestamp may lie (clock skew between machines).
const PLAUSIBLE_FUTURE_MS: i64 = 24 * 3_600_000;

fn import_error(path: &Path, e: ParseError) -> Error {
    Error::Import {
        path: path.to_path_buf(),
        line: e.line,
        column: Some(e.column),
        message: e.message,
    }
}

/// Parses OpenMetrics text (or the Prometheus text format with millisecond timestamps; the
/// format is detected by the `# EOF` marker) into series. Every sample needs a timestamp. No
/// plausibility check: see [`import_file`] for what an import accepts.
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
    let mut cache: HashMap<&[u8], Labels> = HashMap::new();
    for entry in Parser::new(input, Format::detect(input)) {
        let entry = entry.map_err(|e| import_error(path, e))?;
        let Entry::Series(s) = entry else { continue };
        let t = timestamp(path, &s)?;
        let labels = match cache.get(s.raw) {
            Some(l) => l,
            None => cache.entry(s.raw).or_insert(series_labels(path, &s)?),
        };
        push(&mut out, labels, Sample { t, v: s.value });
    }
    Ok(out)
}

fn timestamp(path: &Path, s: &SeriesEntry<'_>) -> Result<i64, Error> {
    s.timestamp_ms.ok_or_else(|| Error::Import {
        path: path.to_path_buf(),
        line: s.line,
        column: None,
        message: "expected a timestamp: backfilled samples need one".into(),
    })
}

fn push(out: &mut BTreeMap<Labels, Vec<Sample>>, labels: &Labels, sample: Sample) {
    match out.get_mut(labels) {
        Some(v) => v.push(sample),
        None => {
            out.insert(labels.clone(), vec![sample]);
        }
    }
}

/// The label set of a series line; a label name written twice is an error, never a label set
/// that silently keeps one of the values (Prometheus's append refuses it the same way:
/// `label name "a" is not unique`).
fn series_labels(path: &Path, s: &SeriesEntry<'_>) -> Result<Labels, Error> {
    let labels = s.to_labels();
    if labels.len() == s.labels().count() + 1 {
        return Ok(labels);
    }
    let mut seen = std::collections::HashSet::new();
    let dup = s
        .labels()
        .map(|(n, _)| n)
        .find(|n| !seen.insert(n.clone()) || n == METRIC_NAME)
        .unwrap_or_default();
    // The column of the second occurrence, as the parser would give it.
    let raw = String::from_utf8_lossy(s.raw);
    let column = raw
        .match_indices(dup.as_ref())
        .filter(|(i, _)| raw[..*i].trim_end().ends_with([',', '{']))
        .nth(1)
        .map(|(i, _)| i + 1);
    Err(Error::Import {
        path: path.to_path_buf(),
        line: s.line,
        column,
        message: format!("label name \"{dup}\" is not unique"),
    })
}

/// Reads an OpenMetrics file as `promtool tsdb create-blocks-from openmetrics` does and writes
/// its samples into `db` as blocks: [`import_file`] with [`Format::OpenMetrics`].
///
/// # Errors
///
/// As [`import_file`].
pub fn import_openmetrics(db: &Db, path: &Path) -> Result<ImportStats, Error> {
    import_file(db, path, Format::OpenMetrics)
}

/// Reads a file of timestamped samples and writes them into `db` as blocks.
///
/// The format is given, never guessed, because the two formats give the same number a
/// thousandfold different meaning: OpenMetrics timestamps are seconds and the file must end
/// with `# EOF` (a file without it was cut short, or is not OpenMetrics; promtool refuses it
/// too); Prometheus text format 0.0.4 timestamps are milliseconds. A timestamp before 1990 or
/// more than a day in the future is refused as a unit mistake, rather than stored as 1970 data
/// that retention would then delete. The input is read in bounded memory with the same 16 MiB
/// line cap as `inspect`. Repeated timestamps of a series are counted in
/// [`ImportStats::duplicates`] (the first value is kept).
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read; [`Error::Import`] naming the file, line and
/// column for a syntax error, a line over 16 MiB, a sample without a timestamp, a repeated
/// label name or an implausible timestamp; [`Error`] when blocks cannot be written.
pub fn import_file(db: &Db, path: &Path, format: Format) -> Result<ImportStats, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(i64::MAX, |d| {
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        });
    let series = read_import(path, file, format, now)?;
    db.import(series)
}

/// Parses an import stream; see [`import_file`].
fn read_import(
    path: &Path,
    reader: impl std::io::Read,
    format: Format,
    now_ms: i64,
) -> Result<BTreeMap<Labels, Vec<Sample>>, Error> {
    let mut out: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    // Decoded label sets by the series' bytes as written, so each is decoded once.
    let mut cache: HashMap<Vec<u8>, Labels> = HashMap::new();
    let mut failed: Option<Error> = None;
    let plausible = PLAUSIBLE_MIN_MS..=now_ms.saturating_add(PLAUSIBLE_FUTURE_MS);
    let visit = |entry: Result<Entry<'_>, ParseError>| -> Result<(), Error> {
        let entry = entry.map_err(|e| {
            let mut err = import_error(path, e);
            if let Error::Import { message, .. } = &mut err
                && message.contains("expected # EOF")
            {
                message.push_str(
                    " (promtool refuses such a file too: it was cut short, or it is the Prometheus text format, whose timestamps are milliseconds)",
                );
            }
            err
        })?;
        let Entry::Series(s) = entry else {
            return Ok(());
        };
        let t = timestamp(path, &s)?;
        if !plausible.contains(&t) {
            return Err(implausible(path, &s, t, format));
        }
        let labels = match cache.get(s.raw) {
            Some(l) => l,
            None => cache
                .entry(s.raw.to_vec())
                .or_insert(series_labels(path, &s)?),
        };
        push(&mut out, labels, Sample { t, v: s.value });
        Ok(())
    };
    let mut visit = visit;
    let read = parse_reader(reader, format, |entry| match visit(entry) {
        Ok(()) => ControlFlow::Continue(()),
        Err(e) => {
            failed = Some(e);
            ControlFlow::Break(())
        }
    });
    match read {
        Err(StreamError::LineTooLong { line }) => {
            return Err(Error::Import {
                path: path.to_path_buf(),
                line,
                column: Some(1),
                message: format!("line longer than {MAX_LINE} bytes"),
            });
        }
        Err(StreamError::Io(e)) => return Err(Error::io(path, e)),
        Err(e) => {
            return Err(Error::Import {
                path: path.to_path_buf(),
                line: 0,
                column: None,
                message: e.to_string(),
            });
        }
        Ok(_) => {}
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn implausible(path: &Path, s: &SeriesEntry<'_>, t: i64, format: Format) -> Error {
    let when = crate::compact::time(t);
    let hint = match format {
        Format::OpenMetrics if t > PLAUSIBLE_MIN_MS => {
            "OpenMetrics timestamps are seconds; a file with millisecond timestamps is the Prometheus text format"
        }
        Format::OpenMetrics => {
            "OpenMetrics timestamps are seconds since 1970; this one is too small to be a sample's time"
        }
        Format::PrometheusText if t < PLAUSIBLE_MIN_MS => {
            "the Prometheus text format's timestamps are milliseconds; a file with timestamps in seconds is OpenMetrics (it ends with # EOF)"
        }
        Format::PrometheusText => "the Prometheus text format's timestamps are milliseconds",
    };
    Error::Import {
        path: path.to_path_buf(),
        line: s.line,
        column: None,
        message: format!(
            "timestamp {t} ms is {when}, before 1990 or more than a day ahead: refused as a unit mistake ({hint})"
        ),
    }
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
    use std::io::Read as _;

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

    fn read(input: &str, format: Format) -> Result<BTreeMap<Labels, Vec<Sample>>, Error> {
        read_import(
            Path::new("in.om"),
            input.as_bytes(),
            format,
            1_800_000_000_000,
        )
    }

    /// See: issue 15 (timestamps read in the wrong unit, a repeated label name collapsed).
    #[test]
    fn imports_refuse_what_would_be_stored_wrong() {
        for (input, format, message) in [
            (
                "up 1 1700000000\nup 2 1700000015\n",
                Format::OpenMetrics,
                "in.om:2:1: expected # EOF at the end of OpenMetrics input (promtool refuses such a file too: it was cut short, or it is the Prometheus text format, whose timestamps are milliseconds)",
            ),
            (
                "up 1 1700000000\n",
                Format::PrometheusText,
                "in.om:1: timestamp 1700000000 ms is 1970-01-20T16:13:20Z, before 1990 or more than a day ahead: refused as a unit mistake (the Prometheus text format's timestamps are milliseconds; a file with timestamps in seconds is OpenMetrics (it ends with # EOF))",
            ),
            (
                "up 1 1700000000000\n# EOF\n",
                Format::OpenMetrics,
                "in.om:1: timestamp 1700000000000000 ms is past the year 9999, before 1990 or more than a day ahead: refused as a unit mistake (OpenMetrics timestamps are seconds; a file with millisecond timestamps is the Prometheus text format)",
            ),
            (
                "y{a=\"1\",a=\"2\"} 1 1700000000\n# EOF\n",
                Format::OpenMetrics,
                "in.om:1:9: label name \"a\" is not unique",
            ),
        ] {
            let err = read(input, format).unwrap_err();
            assert_eq!(err.to_string(), message, "{input:?}");
        }
        let ok = read(
            "up 1 1700000000000\nup 2 1700000015000\n",
            Format::PrometheusText,
        )
        .unwrap();
        assert_eq!(ok.values().next().unwrap()[1].t, 1_700_000_015_000);
    }

    #[test]
    fn a_line_over_16_mib_is_refused_in_bounded_memory() {
        // A 20 MiB label value, streamed: refused at the 16 MiB cap, never held whole.
        let head = b"x{a=\"".as_slice();
        let body = std::io::repeat(b'v').take(20 << 20);
        let input = std::io::Read::chain(head, body);
        let err =
            read_import(Path::new("big.om"), input, Format::OpenMetrics, i64::MAX).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("big.om:1:1: line longer than {MAX_LINE} bytes")
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = parse_openmetrics(Path::new("in.om"), b"up 1 10\nup 2\n# EOF\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "in.om:2: expected a timestamp: backfilled samples need one"
        );
        let err = parse_openmetrics(Path::new("in.om"), b"up{ 1 10\n# EOF\n").unwrap_err();
        assert!(err.to_string().starts_with("in.om:1:"), "{err}");
    }
}
