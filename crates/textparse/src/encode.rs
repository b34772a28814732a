//! Writes series in the Prometheus text format, the inverse of the parser.

use std::fmt::Write;

/// Appends `value` in the form Go's `strconv.FormatFloat(v, 'g', -1, 64)` round-trips:
/// `NaN`, `+Inf`, `-Inf`, or the shortest decimal that parses back to the same float.
pub fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Appends a label value with `\\`, `\"` and `\n` escaped.
pub fn write_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends one sample line: `name{a="1",b="2"} value [timestamp_ms]\n`.
///
/// A name that is not a legal classic metric name is written quoted inside the braces, as
/// Prometheus 3 does for UTF-8 names.
pub fn write_series<'l>(
    out: &mut String,
    name: &str,
    labels: impl IntoIterator<Item = (&'l str, &'l str)>,
    value: f64,
    timestamp_ms: Option<i64>,
) {
    let classic = !name.is_empty()
        && crate::lex::scan_ident(
            name.as_bytes(),
            crate::lex::is_name_start,
            crate::lex::is_name_char,
        ) == name.len();
    let mut labels = labels.into_iter().peekable();
    if classic {
        out.push_str(name);
    }
    if !classic || labels.peek().is_some() {
        out.push('{');
        let mut first = true;
        if !classic {
            out.push('"');
            write_escaped(out, name);
            out.push('"');
            first = false;
        }
        for (n, v) in labels {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(n);
            out.push_str("=\"");
            write_escaped(out, v);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    write_float(out, value);
    if let Some(t) = timestamp_ms {
        let _ = write!(out, " {t}");
    }
    out.push('\n');
}
