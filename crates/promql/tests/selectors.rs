//! Series selectors as the HTTP API's `match[]` reads them (and `apilens tsdb export --match`).

use apilens_promql::parse_series_selector;

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
