//! Any bytes, in either format: the parser, the label decoder and the family grouping never panic.
#![no_main]

use apilens_textparse::families::Families;
use apilens_textparse::{Entry, Format, Parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [Format::PrometheusText, Format::OpenMetrics] {
        for entry in Parser::new(data, format) {
            if let Ok(Entry::Series(s)) = entry {
                let _ = s.to_labels();
                if let Some(e) = &s.exemplar {
                    let _ = e.labels().count();
                }
            }
        }
        for family in Families::new(Parser::new(data, format)).flatten() {
            let _ = family.metrics.len();
        }
    }
});
