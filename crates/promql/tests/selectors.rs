//! Series selectors and times as the HTTP API's `match[]`, `start` and `end` read them (and
//! `apilens tsdb export --match --start --end`).

use apilens_promql::{parse_series_selector, parse_time};

#[test]
fn a_selector_gives_its_matchers_in_order_and_a_bad_one_is_refused() {
    let m = parse_series_selector(r#"apiserver_request_total{verb=~"LIST|GET", code!="200",}"#)
        .expect("selector");
    let shown: Vec<String> = m.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            r#"__name__="apiserver_request_total""#,
            r#"verb=~"LIST|GET""#,
            r#"code!="200""#,
        ]
    );
    for bad in [
        "up{job}",
        "up{job=\"a",
        "{job=\"\"}",
        "up x",
        "rate(up[5m])",
    ] {
        assert!(parse_series_selector(bad).is_err(), "{bad}");
    }
}

#[test]
fn times_are_unix_seconds_or_rfc_3339() {
    assert_eq!(parse_time("1700000000.5").unwrap(), 1_700_000_000_500);
    assert_eq!(
        parse_time("2023-11-14T22:13:20Z").unwrap(),
        1_700_000_000_000
    );
    assert!(parse_time("yesterday").is_err());
}
