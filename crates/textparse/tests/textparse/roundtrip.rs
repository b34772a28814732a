//! Parser and encoder agree on every input the encoder can write, and no input panics the parser.

use apilens_textparse::encode::write_series;
use apilens_textparse::{Entry, Format, Parser};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::NAN),
        (0u64..1_000_000).prop_map(|v| v as f64),
    ]
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_./:-]{0,20}",
        any::<String>(),
        Just("a\\b\"c\nd".to_owned()),
    ]
}

proptest! {
    #[test]
    fn encode_then_parse_gives_back_the_series(
        name in prop_oneof!["[a-zA-Z_:][a-zA-Z0-9_:]{0,30}", "[a-z.]{1,10}\\.[a-z]{1,5}"],
        labels in proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,12}", label_value(), 0..6),
        v in value(),
        ts in proptest::option::of(-1_000_000_000_000i64..4_000_000_000_000),
    ) {
        let mut text = String::new();
        write_series(&mut text, &name, labels.iter().map(|(k, v)| (k.as_str(), v.as_str())), v, ts);
        let entries: Vec<_> = Parser::new(text.as_bytes(), Format::PrometheusText).collect();
        prop_assert_eq!(entries.len(), 1, "{}", text);
        let Ok(Entry::Series(s)) = &entries[0] else {
            return Err(TestCaseError::fail(format!("not a series: {:?} from {text}", entries[0])));
        };
        prop_assert_eq!(s.name(), name.as_str());
        let parsed: Vec<(String, String)> =
            s.labels().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let want: Vec<(String, String)> = labels.into_iter().collect();
        prop_assert_eq!(parsed, want);
        prop_assert!(s.value.to_bits() == v.to_bits() || (s.value.is_nan() && v.is_nan()));
        prop_assert_eq!(s.timestamp_ms, ts);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        for format in [Format::PrometheusText, Format::OpenMetrics] {
            for entry in Parser::new(&input, format) {
                if let Ok(Entry::Series(s)) = entry {
                    let _ = s.labels().count();
                    let _ = s.name();
                }
            }
        }
    }

    #[test]
    fn near_valid_lines_never_panic(
        line in "[a-z{}=\",# \\\\.0-9+eEInfNa\t-]{0,60}",
    ) {
        for format in [Format::PrometheusText, Format::OpenMetrics] {
            for entry in Parser::new(line.as_bytes(), format) {
                if let Ok(Entry::Series(s)) = entry {
                    let _ = s.to_labels();
                }
            }
        }
    }
}

#[test]
fn openmetrics_exemplars_created_and_quoted_names() {
    let input = "# TYPE req_requests counter\n# UNIT req_requests requests\nreq_requests_total{code=\"200\"} 17 1700000000.5 # {trace_id=\"abc\"} 0.25 1700000000.1\nreq_requests_created{code=\"200\"} 1699999999\n{\"my.metric\",a=\"b\"} 1\n# EOF\n";
    let entries: Vec<Entry<'_>> = Parser::new(input.as_bytes(), Format::OpenMetrics)
        .collect::<Result<_, _>>()
        .expect("valid OpenMetrics");
    let Entry::Series(total) = &entries[2] else {
        panic!("series expected")
    };
    assert_eq!(total.timestamp_ms, Some(1_700_000_000_500));
    let ex = total.exemplar.as_ref().expect("exemplar");
    assert_eq!((ex.value, ex.timestamp_ms), (0.25, Some(1_700_000_000_100)));
    assert_eq!(
        ex.labels()
            .next()
            .map(|(k, v)| (k.into_owned(), v.into_owned())),
        Some(("trace_id".into(), "abc".into()))
    );
    let Entry::Series(quoted) = &entries[4] else {
        panic!("series expected")
    };
    assert_eq!(quoted.name(), "my.metric");
    assert_eq!(quoted.to_labels().to_string(), "my.metric{a=\"b\"}");
    assert!(matches!(entries.last(), Some(Entry::Eof)));
}
