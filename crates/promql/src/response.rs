//! Prometheus HTTP API bodies: results, errors, and the time and duration parameters.
//!
//! Follows Prometheus v3.5.0 `web/api/v1/api.go` and `web/api/v1/json_codec.go`: timestamps are
//! seconds with up to three decimals (`marshalTimestamp`), values are strings formatted as
//! `jsonutil.MarshalFloat` does (Go's shortest form, exponent below 1e-6 and from 1e21 on), and
//! strings are escaped as Go's JSON encoder does.

use crate::error::Error;
use crate::value::{QueryResult, Value};
use apilens_model::Labels;
use std::fmt::Write;

/// The JSON body of a successful query: `{"status":"success","data":{"resultType":…,"result":…}}`.
pub fn api_response(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"status":"success","data":{"resultType":""#);
    out.push_str(value.type_name());
    out.push_str(r#"","result":"#);
    match value {
        Value::Scalar { t, v } => point(&mut out, *t, &format_value(*v)),
        Value::String { t, v } => point(&mut out, *t, v),
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                labels_json(&mut out, &s.labels);
                out.push_str(r#","value":"#);
                point(&mut out, s.t, &format_value(s.v));
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                labels_json(&mut out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, p) in s.samples.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    point(&mut out, p.t, &format_value(p.v));
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push_str("}}");
    out
}

/// The JSON body of a successful query with its annotations, as Prometheus answers:
/// [`api_response`] plus `"warnings":[…]` and `"infos":[…]` beside `data`, each left out when
/// empty.
pub fn api_response_annotated(result: &QueryResult) -> String {
    let mut out = api_response(&result.value);
    let a = &result.annotations;
    if a.is_empty() {
        return out;
    }
    out.pop();
    for (key, list) in [("warnings", &a.warnings), ("infos", &a.infos)] {
        if list.is_empty() {
            continue;
        }
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":[");
        for (i, m) in list.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_string(&mut out, m);
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// The JSON body of a failed request and its HTTP status, as Prometheus answers:
/// `{"status":"error","errorType":"bad_data","error":"…"}` with 400 for bad data, 422 for
/// execution errors, 503 for timeouts and unavailable remotes, 500 for internal errors.
pub fn api_error(err: &Error) -> (u16, String) {
    api_error_body(err.kind(), &err.to_string())
}

/// The JSON error body of `kind` (an API `errorType`) with `message`, and its HTTP status, for
/// errors that are not the engine's (a remote engine that cannot be reached).
pub fn api_error_body(kind: &str, message: &str) -> (u16, String) {
    let status = match kind {
        "bad_data" => 400,
        "execution" => 422,
        "timeout" | "canceled" | "unavailable" => 503,
        "not_found" => 404,
        _ => 500,
    };
    let mut out = String::new();
    out.push_str(r#"{"status":"error","errorType":""#);
    out.push_str(kind);
    out.push_str(r#"","error":"#);
    json_string(&mut out, message);
    out.push('}');
    (status, out)
}

fn point(out: &mut String, t: i64, v: &str) {
    out.push('[');
    timestamp(out, t);
    out.push(',');
    json_string(out, v);
    out.push(']');
}

/// `marshalTimestamp`: seconds, then `.` and three digits when the milliseconds are not zero.
fn timestamp(out: &mut String, t: i64) {
    let (sign, t) = if t < 0 {
        ("-", -(t as i128))
    } else {
        ("", t as i128)
    };
    let _ = write!(out, "{sign}{}", t / 1000);
    let frac = t % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// A sample value as Prometheus's JSON writes it (`jsonutil.MarshalFloat`): Go's shortest
/// round-trip form, fixed-point except below 1e-6 and from 1e21 on, where it is `3.33e-07`,
/// `1e+22`.
pub(crate) fn format_value(v: f64) -> String {
    let abs = v.abs();
    if v.is_finite() && abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{v:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exponent),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    } else {
        crate::value::format_go_float(v)
    }
}

/// Writes a label set as a JSON object in label order.
pub(crate) fn labels_json(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(out, &l.name);
        out.push(':');
        json_string(out, &l.value);
    }
    out.push('}');
}

/// Writes a JSON string with Go's escaping (HTML characters and U+2028/U+2029 included).
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses an API time parameter: Unix seconds with optional fraction, or RFC 3339; returns
/// milliseconds.
///
/// # Errors
///
/// [`Error::BadParam`] naming the value when it is neither.
pub fn parse_time(s: &str) -> Result<i64, Error> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| Error::BadParam(format!("cannot parse {s:?} to a valid timestamp")))
}

/// Parses an API duration parameter: seconds with optional fraction, or a duration such as
/// `5m` or `1h30m` (the syntax of [`apilens_model::parse_duration`]); returns milliseconds.
///
/// # Errors
///
/// [`Error::BadParam`] naming the value when it is neither.
pub fn parse_duration(s: &str) -> Result<i64, Error> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    apilens_model::parse_duration(s)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| Error::BadParam(format!("cannot parse {s:?} to a valid duration")))
}

/// Renders a value as a plain-text table for terminals: one line per sample, labels first.
pub fn format_value_table(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Scalar { v, .. } => {
            let _ = writeln!(out, "scalar\t{}", format_value(*v));
        }
        Value::String { v, .. } => {
            let _ = writeln!(out, "string\t{v}");
        }
        Value::Vector(samples) => {
            for s in samples {
                let _ = writeln!(out, "{}\t{}", s.labels, format_value(s.v));
            }
        }
        Value::Matrix(series) => {
            for s in series {
                let _ = writeln!(out, "{}", s.labels);
                for p in &s.samples {
                    let mut ts = String::new();
                    timestamp(&mut ts, p.t);
                    let _ = writeln!(out, "  {ts}\t{}", format_value(p.v));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_prometheus_writes_them() {
        for (v, text) in [
            (3.33e-7, "3.33e-07"),
            (1e22, "1e+22"),
            (-2.5e-9, "-2.5e-09"),
            (1.5e300, "1.5e+300"),
            (1e-6, "0.000001"),
            (123456.789, "123456.789"),
            (1e20, "100000000000000000000"),
            (0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(format_value(v), text, "{v}");
        }
    }
    use crate::value::InstantSample;

    #[test]
    fn vector_body_matches_prometheus() {
        let v = Value::Vector(vec![InstantSample {
            labels: Labels::from_pairs([("__name__", "up"), ("job", "a<b")]),
            t: 1_435_781_451_781,
            v: 1.0,
        }]);
        assert_eq!(
            api_response(&v),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\u003cb"},"value":[1435781451.781,"1"]}]}}"#
        );
        let s = Value::Scalar {
            t: 1500,
            v: f64::INFINITY,
        };
        assert_eq!(
            api_response(&s),
            r#"{"status":"success","data":{"resultType":"scalar","result":[1.500,"+Inf"]}}"#
        );
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("1.5").unwrap(), 1500);
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z").unwrap(),
            1_435_781_451_781
        );
        assert_eq!(parse_duration("5m").unwrap(), 300_000);
        assert_eq!(parse_duration("15").unwrap(), 15_000);
        assert!(
            parse_time("yesterday")
                .unwrap_err()
                .to_string()
                .contains("yesterday")
        );
    }
}
