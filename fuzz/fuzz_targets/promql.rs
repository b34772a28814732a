//! Any bytes as a PromQL query: parsing and evaluating over a small store never panics,
//! overflows the stack or hangs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    apilens_promql::fuzz::parse_and_evaluate(data);
});
