//! `apilens tsdb import|export`: move data between the embedded store and OpenMetrics text.

use anyhow::{Context as _, bail};
use apilens_model::{MatchOp, Matcher, Queryable, SelectHints, Series};
use apilens_tsdb::{Db, DbOptions, import_openmetrics, write_openmetrics};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Backfill the store from OpenMetrics text or export it as OpenMetrics.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: TsdbCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TsdbCommand {
    /// Write the samples of an OpenMetrics file (timestamps in seconds, ending in `# EOF`, as
    /// `promtool tsdb create-blocks-from openmetrics` reads) into the store as blocks.
    Import {
        /// The OpenMetrics file; Prometheus text with millisecond timestamps is accepted too.
        file: PathBuf,
        /// The store directory.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Print stored samples as OpenMetrics text that `promtool tsdb create-blocks-from
    /// openmetrics` accepts.
    Export {
        /// A series selector such as `apiserver_request_total{verb=~"LIST|GET"}`; repeat to
        /// export the union. Default: every series.
        #[arg(long = "match", value_name = "SELECTOR")]
        selectors: Vec<String>,
        /// Oldest sample time: RFC 3339 or Unix seconds. Default: the beginning.
        #[arg(long)]
        start: Option<String>,
        /// Newest sample time: RFC 3339 or Unix seconds. Default: the end.
        #[arg(long)]
        end: Option<String>,
        /// The store directory.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// Write here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

/// Runs `apilens tsdb`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        TsdbCommand::Import { file, data_dir } => {
            let db = open(&data_dir)?;
            let stats = import_openmetrics(&db, &file)?;
            println!(
                "imported {} series, {} samples into {} blocks in {}",
                stats.series,
                stats.samples,
                stats.blocks,
                data_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        TsdbCommand::Export {
            selectors,
            start,
            end,
            data_dir,
            out,
        } => {
            let mint = start
                .as_deref()
                .map(parse_time)
                .transpose()?
                .unwrap_or(i64::MIN);
            let maxt = end
                .as_deref()
                .map(parse_time)
                .transpose()?
                .unwrap_or(i64::MAX);
            if mint > maxt {
                bail!("--start is after --end");
            }
            let mut sets = Vec::new();
            for s in &selectors {
                sets.push(parse_selector(s)?);
            }
            if sets.is_empty() {
                sets.push(Vec::new());
            }
            let db = open(&data_dir)?;
            let mut found: BTreeMap<apilens_model::Labels, Series> = BTreeMap::new();
            for matchers in &sets {
                for s in db.select(matchers, mint, maxt, SelectHints::default())? {
                    found.entry(s.labels.clone()).or_insert(s);
                }
            }
            let series: Vec<Series> = found.into_values().collect();
            match out {
                Some(path) => {
                    let f = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut w = std::io::BufWriter::new(f);
                    write_openmetrics(&series, &mut w)
                        .and_then(|()| w.flush())
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                None => {
                    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
                    write_openmetrics(&series, &mut w).and_then(|()| w.flush())?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open(dir: &std::path::Path) -> anyhow::Result<Db> {
    Db::open(dir, DbOptions::default())
        .with_context(|| format!("opening the store in {}", dir.display()))
}

/// Milliseconds since the epoch from RFC 3339 or (fractional) Unix seconds, as the Prometheus
/// HTTP API accepts them.
fn parse_time(s: &str) -> anyhow::Result<i64> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    let ts: jiff::Timestamp = s
        .parse()
        .with_context(|| format!("expected RFC 3339 or Unix seconds, got {s:?}"))?;
    Ok(ts.as_millisecond())
}

/// Parses a PromQL series selector: `name`, `name{l="v",…}` or `{l=~"v",…}`.
fn parse_selector(input: &str) -> anyhow::Result<Vec<Matcher>> {
    let err = |at: usize, what: &str| {
        anyhow::anyhow!("selector {input:?}, column {}: expected {what}", at + 1)
    };
    let b = input.as_bytes();
    let mut i = skip_ws(b, 0);
    let mut matchers = Vec::new();
    let name_len = ident(&b[i..], true);
    if name_len > 0 {
        matchers.push(Matcher::equal("__name__", &input[i..i + name_len]));
        i = skip_ws(b, i + name_len);
    }
    if b.get(i) == Some(&b'{') {
        i = skip_ws(b, i + 1);
        loop {
            if b.get(i) == Some(&b'}') {
                i += 1;
                break;
            }
            let n = ident(&b[i..], false);
            if n == 0 {
                return Err(err(i, "a label name or '}'"));
            }
            let name = &input[i..i + n];
            i = skip_ws(b, i + n);
            let (op, len) = match (b.get(i), b.get(i + 1)) {
                (Some(b'='), Some(b'~')) => (MatchOp::RegexMatch, 2),
                (Some(b'='), _) => (MatchOp::Equal, 1),
                (Some(b'!'), Some(b'=')) => (MatchOp::NotEqual, 2),
                (Some(b'!'), Some(b'~')) => (MatchOp::RegexNoMatch, 2),
                _ => return Err(err(i, "one of =, !=, =~, !~")),
            };
            i = skip_ws(b, i + len);
            let quote = match b.get(i) {
                Some(q @ (b'"' | b'\'')) => *q,
                _ => return Err(err(i, "a quoted value")),
            };
            i += 1;
            let mut value = String::new();
            loop {
                match b.get(i) {
                    None => return Err(err(i, "a closing quote")),
                    Some(&c) if c == quote => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        match b.get(i + 1) {
                            Some(b'n') => value.push('\n'),
                            Some(b't') => value.push('\t'),
                            Some(&c @ (b'\\' | b'"' | b'\'')) => value.push(c as char),
                            _ => return Err(err(i + 1, "an escape: \\\\, \\\", \\', \\n or \\t")),
                        }
                        i += 2;
                    }
                    Some(_) => {
                        let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
                        value.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            matchers.push(Matcher::new(op, name, &value)?);
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => {}
                _ => return Err(err(i, "',' or '}'")),
            }
        }
        i = skip_ws(b, i);
    }
    if i != b.len() {
        return Err(err(i, "the end of the selector"));
    }
    if matchers.is_empty() || matchers.iter().all(Matcher::matches_empty) {
        bail!(
            "selector {input:?} must contain at least one matcher that does not match the empty string"
        );
    }
    Ok(matchers)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

fn ident(b: &[u8], metric: bool) -> usize {
    let ok_start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || (metric && c == b':');
    let ok = |c: u8| ok_start(c) || c.is_ascii_digit();
    match b.first() {
        Some(&c) if ok_start(c) => 1 + b[1..].iter().take_while(|&&c| ok(c)).count(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_like_promql() {
        let m =
            parse_selector(r#"apiserver_request_total{verb=~"LIST|GET", code!="200",}"#).unwrap();
        let shown: Vec<String> = m.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                r#"__name__="apiserver_request_total""#,
                r#"verb=~"LIST|GET""#,
                r#"code!="200""#
            ]
        );
        assert_eq!(parse_selector(r#"{job='a\'b'}"#).unwrap()[0].value, "a'b");
        for (bad, message) in [
            (
                "up{job}",
                "selector \"up{job}\", column 7: expected one of =, !=, =~, !~",
            ),
            (
                "up{job=\"a",
                "selector \"up{job=\\\"a\", column 10: expected a closing quote",
            ),
            (
                "{job=\"\"}",
                "selector \"{job=\\\"\\\"}\" must contain at least one matcher that does not match the empty string",
            ),
            (
                "up x",
                "selector \"up x\", column 4: expected the end of the selector",
            ),
        ] {
            assert_eq!(parse_selector(bad).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        assert_eq!(parse_time("1700000000.5").unwrap(), 1_700_000_000_500);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        assert!(parse_time("yesterday").is_err());
    }
}
