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

/// Inputs that Prometheus rejects (its scrape loop, `promtool check metrics`, or both), each with
/// the exact message of our parser. `promtool.rs` runs the real promtool on the same inputs.
pub(crate) const STRICT_REJECTS: &[(&str, &str)] = &[
    // A label name given twice: tsdb's "label name is not unique", expfmt's "duplicate label names".
    (
        "x{a=\"b\",a=\"c\"} 1\n",
        "1:9: label name \"a\" is not unique",
    ),
    (
        "x{a=\"b\", b=\"c\", a=\"d\"} 1\n",
        "1:17: label name \"a\" is not unique",
    ),
    (
        "x{\"a\"=\"b\",a=\"c\"} 1\n",
        "1:11: label name \"a\" is not unique",
    ),
    (
        "x{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\",g=\"7\",h=\"8\",i=\"9\",j=\"10\",k=\"11\",l=\"12\",m=\"13\",n=\"14\",o=\"15\",p=\"16\",q=\"17\",r=\"18\",q=\"19\"} 1\n",
        "1:120: label name \"q\" is not unique",
    ),
    (
        "x{__name__=\"y\"} 1\n",
        "1:3: label name \"__name__\" is reserved for the metric name",
    ),
    (
        "x{\"\"=\"b\"} 1\n",
        "1:3: expected a label name, got an empty string",
    ),
    // Metadata: one TYPE and one HELP per family, TYPE before the samples.
    (
        "# TYPE x counter\n# TYPE x counter\nx 1\n",
        "2:8: second TYPE line for metric \"x\" (the first is on line 1)",
    ),
    (
        "# TYPE x counter\n# TYPE x gauge\nx 1\n",
        "2:8: second TYPE line for metric \"x\" (the first is on line 1)",
    ),
    (
        "x 1\n# TYPE x counter\n",
        "2:8: TYPE line for metric \"x\" after its samples (the first is on line 1)",
    ),
    (
        "# TYPE x counter\nx 1\n# TYPE y gauge\ny 1\n# TYPE x counter\n",
        "5:8: second TYPE line for metric \"x\" (the first is on line 1)",
    ),
    (
        "# TYPE x histogram\nx_bucket{le=\"1\"} 1\n# TYPE x_bucket gauge\n",
        "3:8: TYPE line for metric \"x_bucket\" after its samples (the first is on line 2)",
    ),
    (
        "# HELP x a\n# HELP x b\nx 1\n",
        "2:8: second HELP line for metric \"x\" (the first is on line 1)",
    ),
    (
        "# TYPE x counter\n# HELP x h\nx 1\n# HELP x h2\n",
        "4:8: second HELP line for metric \"x\" (the first is on line 2)",
    ),
    (
        "# TYPE x unknown\nx 1\n",
        "1:10: expected a metric type, got \"unknown\"",
    ),
    (
        "# TYPE x gaugehistogram\nx 1\n",
        "1:10: expected a metric type, got \"gaugehistogram\"",
    ),
    (
        "# TYPE x COUNTER\nx 1\n",
        "1:10: expected a metric type, got \"COUNTER\"",
    ),
    (
        "# TYPE x counter \nx 1\n",
        "1:10: expected a metric type, got \"counter \"",
    ),
    // Values: Go's ParseFloat without hexadecimal floats or digit separators; overflow is an
    // error (ErrRange), not infinity.
    (
        "x 1e999999\n",
        "1:3: value \"1e999999\" is out of the range of a 64-bit float",
    ),
    (
        "x -1e999999\n",
        "1:3: value \"-1e999999\" is out of the range of a 64-bit float",
    ),
    (
        "x 1e309\n",
        "1:3: value \"1e309\" is out of the range of a 64-bit float",
    ),
    (
        "x 1.7976931348623159e308\n",
        "1:3: value \"1.7976931348623159e308\" is out of the range of a 64-bit float",
    ),
    (
        "x 0x1p3\n",
        "1:3: expected a number as value, got \"0x1p3\"",
    ),
    ("x 0x10\n", "1:3: expected a number as value, got \"0x10\""),
    (
        "x 1_000\n",
        "1:3: expected a number as value, got \"1_000\"",
    ),
    ("x 1e\n", "1:3: expected a number as value, got \"1e\""),
    ("x 1e+\n", "1:3: expected a number as value, got \"1e+\""),
    (
        "x infin\n",
        "1:3: expected a number as value, got \"infin\"",
    ),
    ("x +NaN\n", "1:3: expected a number as value, got \"+NaN\""),
    ("x -NaN\n", "1:3: expected a number as value, got \"-NaN\""),
    (
        "x 1 9223372036854775808\n",
        "1:5: expected a timestamp, got \"9223372036854775808\"",
    ),
    // Label names.
    (
        "x{a-b=\"c\"} 1\n",
        "1:4: expected '=' after label name, got \"-b=\\\"c\\\"} 1\"",
    ),
    (
        "x{1a=\"c\"} 1\n",
        "1:3: expected label name or '}', got \"1a=\\\"c\\\"} 1\"",
    ),
    (
        "x{,a=\"b\"} 1\n",
        "1:3: expected label name or '}', got \",a=\\\"b\\\"} 1\"",
    ),
    (
        "x{a=\"b\" b=\"c\"} 1\n",
        "1:9: expected ',' or '}' after label value, got \"b=\\\"c\\\"} 1\"",
    ),
];

/// Inputs beside those that Prometheus accepts, and so must we.
pub(crate) const STRICT_ACCEPTS: &[&str] = &[
    "x 1e308\n",
    "x 1.7976931348623157e308\n",
    "x 1e-400\n",
    "x 4.9e-324\n",
    "x .5\n",
    "x 5.\n",
    "x +Inf\n",
    "x -Inf\n",
    "x +inf\n",
    "x Inf\n",
    "x INF\n",
    "x Infinity\n",
    "x +Infinity\n",
    "x -infinity\n",
    "x NaN\n",
    "x nan\n",
    "x NAN\n",
    "x 1 -5\n",
    "x 1 +5\n",
    "x{a=\"b\",} 1\n",
    "x{_a=\"b\"} 1\n",
    "x{__a=\"b\"} 1\n",
    "x{a=\"\"} 1\n",
    "x{a=\"b\"}1\n",
    "x  1\n",
    "x\t1\n",
    "x{a=\"1\"} 1\nx{a=\"1\"} 2\n",
    "x_total 1\n# TYPE x counter\n",
    "# HELP x a\nx 1\n# HELP y b\ny 2\n",
    "x 1\n# HELP x later\n",
    "# HELP x\nx 1\n",
    "# TYPE x untyped\nx 1\n",
    "x{le=\"abc\"} 1\n",
    "# TYPE x histogram\nx_bucket{le=\"1\"} -1\n",
    "x{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\",g=\"7\",h=\"8\",i=\"9\",j=\"10\",k=\"11\",l=\"12\",m=\"13\",n=\"14\",o=\"15\",p=\"16\",q=\"17\",r=\"18\",s=\"19\"} 1\n",
    // Prometheus 3 reads these; promtool 2.42 predates them or is stricter (see promtool.rs).
    "{\"x\"} 1\n",
    "{\"x.y\", \"a.b\"=\"c\"} 1\n",
    "x{a=\"\\q\"} 1\n",
    "# TYPE x histogram\nx_bucket{le=\"abc\"} 1\n",
    "# TYPE x summary\nx{quantile=\"abc\"} 1\n",
];

#[test]
fn prometheus_rejects_and_so_do_we() {
    for (input, want) in STRICT_REJECTS {
        assert_eq!(
            first_error(input, Format::PrometheusText),
            *want,
            "input {input:?}"
        );
    }
}

#[test]
fn prometheus_accepts_and_so_do_we() {
    for input in STRICT_ACCEPTS {
        assert_eq!(
            first_error(input, Format::PrometheusText),
            "no error",
            "input {input:?}"
        );
    }
    // The values read as Go reads them.
    let value = |text: &str| match Parser::new(text.as_bytes(), Format::PrometheusText).next() {
        Some(Ok(apilens_textparse::Entry::Series(s))) => s.value,
        other => panic!("{text:?}: {other:?}"),
    };
    assert_eq!(value("x 1e-400\n"), 0.0);
    assert_eq!(value("x 4.9e-324\n"), 4.9e-324);
    assert_eq!(value("x +Infinity\n"), f64::INFINITY);
    assert_eq!(value("x -infinity\n"), f64::NEG_INFINITY);
    assert_eq!(value("x 1.7976931348623157e308\n"), f64::MAX);
}

#[test]
fn openmetrics_strictness() {
    let rejects = [
        (
            "# TYPE x counter\n# TYPE x counter\n# EOF\n",
            "2:8: second TYPE line for metric \"x\" (the first is on line 1)",
        ),
        (
            "# UNIT x_seconds seconds\n# UNIT x_seconds seconds\n# EOF\n",
            "2:8: second UNIT line for metric \"x_seconds\" (the first is on line 1)",
        ),
        (
            "# UNIT x seconds\n# EOF\n",
            "1:10: unit \"seconds\" is not a suffix of metric \"x\"",
        ),
        (
            "# UNIT xseconds seconds\n# EOF\n",
            "1:17: unit \"seconds\" is not a suffix of metric \"xseconds\"",
        ),
        (
            "# TYPE x untyped\n# EOF\n",
            "1:10: expected a metric type, got \"untyped\"",
        ),
        (
            "x{a=\"1\",a=\"2\"} 1\n# EOF\n",
            "1:9: label name \"a\" is not unique",
        ),
        (
            "x 1e999\n# EOF\n",
            "1:3: value \"1e999\" is out of the range of a 64-bit float",
        ),
    ];
    for (input, want) in rejects {
        assert_eq!(first_error(input, Format::OpenMetrics), want, "{input:?}");
    }
    for input in [
        "# TYPE x unknown\n# EOF\n",
        "# TYPE x gaugehistogram\n# EOF\n",
        "# TYPE x_seconds counter\n# UNIT x_seconds seconds\n# HELP x_seconds h\nx_seconds_total 1\n# EOF\n",
        "# UNIT x \n# EOF\n",
        "x 1 # {a=\"1\",a=\"2\"} 1\n# EOF\n",
    ] {
        assert_eq!(
            first_error(input, Format::OpenMetrics),
            "no error",
            "{input:?}"
        );
    }
}

#[test]
fn scrape_rules_accept_repeated_metadata_as_prometheus_does() {
    use apilens_textparse::FamilyRules;
    let input = "# TYPE x counter\n# HELP x a\nx 1\n# TYPE x counter\n# HELP x b\n";
    let errors = |rules| {
        Parser::new(input.as_bytes(), Format::PrometheusText)
            .family_rules(rules)
            .filter(Result::is_err)
            .count()
    };
    assert_eq!(errors(FamilyRules::Scrape), 0);
    assert_eq!(errors(FamilyRules::Exposition), 2);
    // Line rules hold whatever the family rules.
    let dup = Parser::new(b"x{a=\"1\",a=\"2\"} 1\n", Format::PrometheusText)
        .family_rules(FamilyRules::Scrape)
        .find_map(Result::err)
        .map(|e| e.to_string());
    assert_eq!(dup.as_deref(), Some("1:9: label name \"a\" is not unique"));
}

#[test]
fn metadata_rules_hold_across_the_chunks_of_a_stream() {
    use std::ops::ControlFlow;
    // The second TYPE line is 1 MiB after the first, so the two are in different chunks.
    let mut input = String::from("# TYPE x counter\nx 1\n");
    let filler = format!("y{{a=\"{}\"}} 1\n", "v".repeat(100));
    let mut n = 2;
    while input.len() < 3 << 20 {
        input.push_str(&filler.replace("y{", &format!("y{n}{{")));
        n += 1;
    }
    input.push_str("# TYPE x gauge\n");
    let mut errors = Vec::new();
    apilens_textparse::parse_reader(input.as_bytes(), Format::PrometheusText, |e| {
        if let Err(e) = e {
            errors.push(e.to_string());
        }
        ControlFlow::Continue(())
    })
    .expect("read");
    assert_eq!(
        errors,
        [format!(
            "{}:8: second TYPE line for metric \"x\" (the first is on line 1)",
            n + 1
        )]
    );
}

#[test]
fn a_line_of_many_labels_is_checked_in_linear_time() {
    // 200,000 distinct names: rescanning the block for each would take minutes.
    let names: Vec<String> = (0..200_000).map(|i| format!("l{i}=\"\"")).collect();
    let ok = format!("x{{{}}} 1\n", names.join(","));
    assert_eq!(first_error(&ok, Format::PrometheusText), "no error");
    let dup = format!(
        "x{{{},l7=\"\",\"l\\\\q\"=\"\",\"l\\\\q\"=\"\"}} 1\n",
        names.join(",")
    );
    let column = ok.len() - 4 + 2;
    assert_eq!(
        first_error(&dup, Format::PrometheusText),
        format!("1:{column}: label name \"l7\" is not unique")
    );
    // Past the first names the quoted, escaped spellings are compared decoded too.
    let escaped = format!(
        "x{{{},\"l\\\\q\"=\"\",\"l\\\\q\"=\"\"}} 1\n",
        names.join(",")
    );
    let column = ok.len() - 4 + 2 + 10;
    assert_eq!(
        first_error(&escaped, Format::PrometheusText),
        format!("1:{column}: label name \"l\\\\\\\\q\" is not unique")
    );
}
