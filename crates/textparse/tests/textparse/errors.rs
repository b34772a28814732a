//! Each malformed input with its exact message: line, column, what was expected, what was found.

use apilens_textparse::{Format, Parser};

fn first_error(input: &str, format: Format) -> String {
    Parser::new(input.as_bytes(), format)
        .find_map(Result::err)
        .map(|e| e.to_string())
        .unwrap_or_else(|| "no error".to_owned())
}

#[test]
fn prometheus_text_errors() {
    let table = [
        (
            "a{b=\"c\"\n",
            "1:8: expected ',' or '}' after label value, got end of line",
        ),
        (
            "a{b=c} 1\n",
            "1:5: expected '\"' to open label value, got \"c} 1\"",
        ),
        (
            "a{=\"c\"} 1\n",
            "1:3: expected label name or '}', got \"=\\\"c\\\"} 1\"",
        ),
        (
            "a{b=\"c} 1\n",
            "1:5: expected closing '\"' of quoted string, got end of line",
        ),
        (
            "a{b \"c\"} 1\n",
            "1:5: expected '=' after label name, got \"\\\"c\\\"} 1\"",
        ),
        ("a 1 2 3\n", "1:7: expected end of line, got \"3\""),
        ("a x\n", "1:3: expected a number as value, got \"x\""),
        (
            "a\n",
            "1:2: expected whitespace before value, got end of line",
        ),
        ("a 1 1.5\n", "1:5: expected a timestamp, got \"1.5\""),
        ("9a 1\n", "1:1: expected metric name, got \"9a 1\""),
        (
            "# TYPE a bogus\n",
            "1:10: expected a metric type, got \"bogus\"",
        ),
        ("# HELP\n", "1:7: expected metric name after HELP"),
        (
            "ok 1\n\nb{c=\"\\xff\"} x\n",
            "3:13: expected a number as value, got \"x\"",
        ),
    ];
    for (input, want) in table {
        assert_eq!(
            first_error(input, Format::PrometheusText),
            want,
            "input {input:?}"
        );
    }
}

#[test]
fn openmetrics_errors() {
    let table = [
        (
            "a 1\n",
            "1:1: expected # EOF at the end of OpenMetrics input",
        ),
        ("a 1\n# EOF\nb 2\n", "3:1: unexpected data after # EOF"),
        (
            "# random comment\n# EOF\n",
            "1:1: expected HELP, TYPE, UNIT or EOF after '#', got \" random comment\"",
        ),
        ("a 1\n\n# EOF\n", "2:1: unexpected empty line"),
        (
            "a 1 # {x=\"y\"}\n# EOF\n",
            "1:14: expected whitespace before exemplar value",
        ),
    ];
    for (input, want) in table {
        assert_eq!(
            first_error(input, Format::OpenMetrics),
            want,
            "input {input:?}"
        );
    }
}

#[test]
fn invalid_utf8_in_a_label_value_is_reported() {
    let input = b"a{b=\"\xff\"} 1\n";
    let err = Parser::new(input, Format::PrometheusText)
        .find_map(Result::err)
        .expect("an error");
    assert_eq!(err.to_string(), "1:6: invalid UTF-8 in quoted string");
}

#[test]
fn huge_label_is_cut_in_the_message() {
    let input = format!("a{{b={}}} 1\n", "x".repeat(1 << 20));
    let err = first_error(&input, Format::PrometheusText);
    assert!(err.len() < 120, "message too long: {} bytes", err.len());
    assert!(err.starts_with("1:5: expected '\"' to open label value, got \"xxxx"));
}
