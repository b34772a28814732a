//! A runner for Prometheus's `promqltest` files (`load`, `clear`, `eval instant`, `eval range`,
//! `eval_fail`, `eval_ordered`, `eval_warn`, `eval_info`, `expect fail|ordered|warn|info`,
//! `expected_fail_message`).
//!
//! Follows Prometheus v3.5.0 `promql/promqltest/test.go` and its README: series notation
//! `a+bxN` (N+1 values, added cumulatively), `_`, `_xN`, `stale`; results compared with a
//! relative tolerance of 1e-6 (NaN equals NaN). Annotations (`expect warn`, `expect info`) are
//! not checked, only the results beside them. Evaluations that need native histograms are
//! reported as skipped with that reason.

use crate::engine::{Engine, EngineOpts};
use crate::error::Error;
use crate::memory::MemQueryable;
use crate::response::parse_duration;
use crate::value::Value;
use apilens_model::{Labels, METRIC_NAME, STALE_NAN, Sample, is_stale_nan};
use promql_parser::parser::Expr;
use std::collections::HashSet;

/// The outcome of one `eval` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The result matched.
    Pass,
    /// The result did not match, with why.
    Fail(String),
    /// Not evaluated, with the reason.
    Skip(String),
}

/// One evaluated command of a file.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// 1-based line of the `eval` command.
    pub line: usize,
    /// The query.
    pub query: String,
    /// What happened.
    pub outcome: Outcome,
}

/// Why a test file could not be read as a whole.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScriptError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Runs every command of a test script on a fresh in-memory store.
///
/// # Errors
///
/// [`ScriptError`] for a `load` or `eval` line that is not valid promqltest syntax.
pub fn run_script(script: &str) -> Result<Vec<CaseResult>, ScriptError> {
    let engine = Engine::new(EngineOpts::default());
    let mut store = MemQueryable::new();
    let mut native_names: HashSet<String> = HashSet::new();
    let lines: Vec<&str> = script.lines().collect();
    let mut results = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = strip_comment(lines[i]).trim();
        let line_no = i + 1;
        i += 1;
        if line.is_empty() {
            continue;
        }
        let err = |message: String| ScriptError {
            line: line_no,
            message,
        };
        if line == "clear" {
            store.clear();
            native_names.clear();
            continue;
        }
        if let Some(rest) = line.strip_prefix("load") {
            let (nhcb, rest) = match rest.strip_prefix("_with_nhcb") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let interval = parse_duration(rest.trim()).map_err(|e| err(e.to_string()))?;
            while i < lines.len() && !strip_comment(lines[i]).trim().is_empty() {
                let def = strip_comment(lines[i]).trim();
                let (labels, values) = split_series(def).map_err(|m| ScriptError {
                    line: i + 1,
                    message: m,
                })?;
                let name = labels.metric_name().unwrap_or("").to_owned();
                if nhcb && let Some(base) = name.strip_suffix("_bucket") {
                    native_names.insert(base.to_owned());
                }
                match parse_values(values) {
                    Ok(vals) => {
                        for (k, v) in vals.into_iter().enumerate() {
                            if let Some(v) = v {
                                store.append(
                                    &labels,
                                    Sample {
                                        t: k as i64 * interval,
                                        v,
                                    },
                                );
                            }
                        }
                    }
                    Err(Unparsed::Histogram) => {
                        native_names.insert(name);
                    }
                    Err(Unparsed::Bad(m)) => {
                        return Err(ScriptError {
                            line: i + 1,
                            message: m,
                        });
                    }
                }
                i += 1;
            }
            continue;
        }
        if !line.starts_with("eval") {
            return Err(err(format!("unknown command {line:?}")));
        }
        // Parse the command: eval[_fail|_ordered|_warn|_info] (instant at T | range from A to B step S) EXPR
        let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
        let mut expect_fail = head == "eval_fail";
        let mut ordered = head == "eval_ordered";
        let mut fail_message: Option<String> = None;
        let rest = rest.trim();
        let (range, query) = if let Some(r) = rest.strip_prefix("instant at ") {
            let (t, q) = r
                .trim()
                .split_once(' ')
                .ok_or_else(|| err("missing query".into()))?;
            (
                EvalRange::Instant(parse_duration(t).map_err(|e| err(e.to_string()))?),
                q.trim().to_owned(),
            )
        } else if let Some(r) = rest.strip_prefix("range from ") {
            let words: Vec<&str> = r.splitn(6, ' ').collect();
            if words.len() < 6 || words[1] != "to" || words[3] != "step" {
                return Err(err(format!("bad range eval {line:?}")));
            }
            let p = |s: &str| parse_duration(s).map_err(|e| err(e.to_string()));
            (
                EvalRange::Range(p(words[0])?, p(words[2])?, p(words[4])?),
                words[5].trim().to_owned(),
            )
        } else {
            return Err(err(format!("bad eval {line:?}")));
        };
        let mut expected: Vec<&str> = Vec::new();
        while i < lines.len() && !strip_comment(lines[i]).trim().is_empty() {
            let l = strip_comment(lines[i]).trim();
            i += 1;
            if let Some(e) = l.strip_prefix("expect ") {
                let e = e.trim();
                if e.starts_with("fail") {
                    expect_fail = true;
                    if let Some((_, msg)) = e.split_once("msg:") {
                        fail_message = Some(msg.trim().to_owned());
                    }
                } else if e.starts_with("ordered") {
                    ordered = true;
                }
                continue;
            }
            if let Some(m) = l.strip_prefix("expected_fail_message ") {
                fail_message = Some(m.trim().to_owned());
                continue;
            }
            if l.starts_with("expected_fail_regexp") {
                continue;
            }
            expected.push(l);
        }
        let outcome = if expected.iter().any(|l| l.contains("{{")) {
            Outcome::Skip("native histograms in the expected result".into())
        } else if mentions_any(&query, &native_names) {
            Outcome::Skip("query reads native histograms".into())
        } else {
            let res = match range {
                EvalRange::Instant(t) => engine.instant_query(&store, &query, t),
                EvalRange::Range(a, b, s) => engine.range_query(&store, &query, a, b, s),
            };
            judge(
                res,
                expect_fail,
                fail_message.as_deref(),
                ordered,
                &expected,
                range,
            )
        };
        results.push(CaseResult {
            line: line_no,
            query,
            outcome,
        });
    }
    Ok(results)
}

#[derive(Clone, Copy)]
enum EvalRange {
    Instant(i64),
    Range(i64, i64, i64),
}

fn strip_comment(l: &str) -> &str {
    if l.trim_start().starts_with('#') {
        ""
    } else {
        l
    }
}

fn mentions_any(query: &str, names: &HashSet<String>) -> bool {
    if names.is_empty() {
        return false;
    }
    query
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .any(|w| names.contains(w))
}

fn judge(
    res: Result<Value, Error>,
    expect_fail: bool,
    fail_message: Option<&str>,
    ordered: bool,
    expected: &[&str],
    range: EvalRange,
) -> Outcome {
    let value = match (res, expect_fail) {
        (Err(e), true) => {
            return match fail_message {
                Some(m) if !e.to_string().contains(m) => {
                    Outcome::Fail(format!("expected error {m:?}, got {e}"))
                }
                _ => Outcome::Pass,
            };
        }
        (Ok(_), true) => return Outcome::Fail("expected an error, got a result".into()),
        (Err(Error::Unsupported(m)), false) => return Outcome::Fail(format!("unsupported: {m}")),
        (Err(e), false) => return Outcome::Fail(format!("error: {e}")),
        (Ok(v), false) => v,
    };
    match check(&value, ordered, expected, range) {
        Ok(()) => Outcome::Pass,
        Err(m) => Outcome::Fail(m),
    }
}

fn check(value: &Value, ordered: bool, expected: &[&str], range: EvalRange) -> Result<(), String> {
    match value {
        Value::Scalar { v, .. } => {
            let [line] = expected else {
                return Err(format!(
                    "expected {} lines, got a scalar {v}",
                    expected.len()
                ));
            };
            let want =
                parse_number(line.trim()).ok_or_else(|| format!("bad expected scalar {line:?}"))?;
            if equal(want, *v) {
                Ok(())
            } else {
                Err(format!("expected scalar {want}, got {v}"))
            }
        }
        Value::String { v, .. } => {
            let [line] = expected else {
                return Err("expected one string".into());
            };
            let want = line.trim().trim_matches('"');
            if want == v {
                Ok(())
            } else {
                Err(format!("expected string {want:?}, got {v:?}"))
            }
        }
        Value::Vector(samples) => {
            let mut want = Vec::new();
            for l in expected {
                let (labels, vals) = split_series(l)?;
                let vals = parse_values(vals).map_err(|_| format!("bad expected values {l:?}"))?;
                let [Some(v)] = vals[..] else {
                    return Err(format!("expected one value in {l:?}"));
                };
                want.push((labels, v));
            }
            if want.len() != samples.len() {
                return Err(format!(
                    "expected {} samples, got {}: {}",
                    want.len(),
                    samples.len(),
                    show_vector(value)
                ));
            }
            for (k, s) in samples.iter().enumerate() {
                let found = if ordered {
                    (want[k].0 == s.labels).then_some(want[k].1)
                } else {
                    want.iter().find(|w| w.0 == s.labels).map(|w| w.1)
                };
                match found {
                    None => {
                        return Err(format!(
                            "unexpected sample {} {} (ordered: {ordered})",
                            s.labels, s.v
                        ));
                    }
                    Some(w) if !equal(w, s.v) => {
                        return Err(format!("{}: expected {w}, got {}", s.labels, s.v));
                    }
                    Some(_) => {}
                }
            }
            Ok(())
        }
        Value::Matrix(series) => {
            let (start, step) = match range {
                EvalRange::Range(a, _, s) => (a, s),
                EvalRange::Instant(_) => return check_raw_matrix(series, expected),
            };
            let mut want = Vec::new();
            for l in expected {
                let (labels, vals) = split_series(l)?;
                let vals = parse_values(vals).map_err(|_| format!("bad expected values {l:?}"))?;
                let points: Vec<(i64, f64)> = vals
                    .iter()
                    .enumerate()
                    .filter_map(|(k, v)| v.map(|v| (start + k as i64 * step, v)))
                    .collect();
                want.push((labels, points));
            }
            if want.len() != series.len() {
                let got: Vec<String> = series.iter().map(|s| s.labels.to_string()).collect();
                return Err(format!(
                    "expected {} series, got {}: {got:?}",
                    want.len(),
                    series.len()
                ));
            }
            for s in series {
                let Some((_, points)) = want.iter().find(|w| w.0 == s.labels) else {
                    return Err(format!("unexpected series {}", s.labels));
                };
                let got: Vec<(i64, f64)> = s.samples.iter().map(|p| (p.t, p.v)).collect();
                if got.len() != points.len()
                    || got
                        .iter()
                        .zip(points)
                        .any(|(g, w)| g.0 != w.0 || !equal(w.1, g.1))
                {
                    return Err(format!("{}: expected {points:?}, got {got:?}", s.labels));
                }
            }
            Ok(())
        }
    }
}

/// An instant query returning a range vector: expected lines list raw samples per series,
/// which this runner compares by value only.
fn check_raw_matrix(series: &[apilens_model::Series], expected: &[&str]) -> Result<(), String> {
    if expected.len() != series.len() {
        return Err(format!(
            "expected {} series, got {}",
            expected.len(),
            series.len()
        ));
    }
    for l in expected {
        let (labels, vals) = split_series(l)?;
        let vals = parse_values(vals).map_err(|_| format!("bad expected values {l:?}"))?;
        let want: Vec<f64> = vals.into_iter().flatten().collect();
        let Some(s) = series.iter().find(|s| s.labels == labels) else {
            return Err(format!("missing series {labels}"));
        };
        if s.samples.len() != want.len()
            || s.samples.iter().zip(&want).any(|(g, w)| !equal(*w, g.v))
        {
            return Err(format!("{labels}: expected {want:?}, got {:?}", s.samples));
        }
    }
    Ok(())
}

fn show_vector(v: &Value) -> String {
    match v {
        Value::Vector(s) => s
            .iter()
            .map(|s| format!("{} {}", s.labels, s.v))
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// Values equal within the runner's tolerance (`almost.Equal` with 1e-6), NaN equal to NaN,
/// staleness markers equal only to each other.
fn equal(want: f64, got: f64) -> bool {
    if is_stale_nan(want) || is_stale_nan(got) {
        return is_stale_nan(want) && is_stale_nan(got);
    }
    if want.is_nan() && got.is_nan() {
        return true;
    }
    if want == got {
        return true;
    }
    let abs_sum = want.abs() + got.abs();
    let diff = (want - got).abs();
    if want == 0.0 || got == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < 1e-6 * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < 1e-6
}

/// Splits `metric{a="b"} 1 2 3` into the label set and the value text.
fn split_series(line: &str) -> Result<(Labels, &str), String> {
    let bytes = line.as_bytes();
    let mut end = None;
    let mut in_str: Option<u8> = None;
    let mut k = 0;
    let mut depth = 0;
    while k < bytes.len() {
        let c = bytes[k];
        match in_str {
            Some(q) => {
                if c == b'\\' {
                    k += 1;
                } else if c == q {
                    in_str = None;
                }
            }
            None => match c {
                b'"' | b'\'' | b'`' => in_str = Some(c),
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(k + 1);
                        break;
                    }
                }
                b' ' | b'\t' if depth == 0 => {
                    end = Some(k);
                    break;
                }
                _ => {}
            },
        }
        k += 1;
    }
    let end = end.unwrap_or(bytes.len());
    let (sel, rest) = line.split_at(end);
    if sel.trim() == "{}" {
        return Ok((Labels::new(), rest.trim()));
    }
    let expr = promql_parser::parser::parse(sel).map_err(|e| format!("bad series {sel:?}: {e}"))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!("bad series {sel:?}"));
    };
    let mut pairs: Vec<(String, String)> = vs
        .matchers
        .matchers
        .iter()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    if let Some(n) = vs.name {
        pairs.push((METRIC_NAME.to_owned(), n));
    }
    Ok((Labels::from_pairs(pairs), rest.trim()))
}

enum Unparsed {
    Histogram,
    Bad(String),
}

/// Expands series notation into one optional value per interval.
fn parse_values(text: &str) -> Result<Vec<Option<f64>>, Unparsed> {
    let mut out = Vec::new();
    if text.contains("{{") {
        return Err(Unparsed::Histogram);
    }
    for tok in text.split_whitespace() {
        if tok == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n
                .parse()
                .map_err(|_| Unparsed::Bad(format!("bad repeat {tok:?}")))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        if tok == "stale" {
            out.push(Some(STALE_NAN));
            continue;
        }
        if let Some(x) = tok.rfind('x')
            && x > 0
            && tok[x + 1..].chars().all(|c| c.is_ascii_digit())
            && !tok[x + 1..].is_empty()
        {
            let times: u64 = tok[x + 1..]
                .parse()
                .map_err(|_| Unparsed::Bad(format!("bad repeat {tok:?}")))?;
            let base = &tok[..x];
            let split = base
                .char_indices()
                .skip(1)
                .find(|&(k, c)| {
                    (c == '+' || c == '-') && !matches!(base.as_bytes()[k - 1], b'e' | b'E')
                })
                .map(|(k, _)| k);
            let (start, inc) = match split {
                Some(k) => (&base[..k], &base[k..]),
                None => (base, "0"),
            };
            let mut v =
                parse_number(start).ok_or_else(|| Unparsed::Bad(format!("bad value {tok:?}")))?;
            let inc =
                parse_number(inc).ok_or_else(|| Unparsed::Bad(format!("bad value {tok:?}")))?;
            out.push(Some(v));
            for _ in 0..times {
                v += inc;
                out.push(Some(v));
            }
            continue;
        }
        out.push(Some(
            parse_number(tok).ok_or_else(|| Unparsed::Bad(format!("bad value {tok:?}")))?,
        ));
    }
    Ok(out)
}

fn parse_number(s: &str) -> Option<f64> {
    match s {
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => {
            if let Some(h) = s.strip_prefix("0x") {
                return i64::from_str_radix(h, 16).ok().map(|v| v as f64);
            }
            s.strip_prefix('+').unwrap_or(s).parse().ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_notation_expands() {
        let v = parse_values("1+2x3 _ _x2 stale 5x1 -1-1x1").ok().unwrap();
        assert_eq!(&v[..4], &[Some(1.0), Some(3.0), Some(5.0), Some(7.0)]);
        assert_eq!(&v[4..7], &[None, None, None]);
        assert!(is_stale_nan(v[7].unwrap()));
        assert_eq!(&v[8..], &[Some(5.0), Some(5.0), Some(-1.0), Some(-2.0)]);
    }

    #[test]
    fn a_wrong_expectation_fails() {
        let r = run_script("load 1m\n  m{a=\"b\"} 1 2 3\n\neval instant at 2m m\n  m{a=\"b\"} 4\n")
            .unwrap();
        assert!(matches!(r[0].outcome, Outcome::Fail(_)));
        let r = run_script("load 1m\n  m{a=\"b\"} 1 2 3\n\neval instant at 2m m\n  m{a=\"b\"} 3\n")
            .unwrap();
        assert_eq!(r[0].outcome, Outcome::Pass);
    }
}
