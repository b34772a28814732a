//! Integration tests of the text parser: real scrapes, exact errors, round-trips, no panics, and
//! the same verdicts as the real `promtool check metrics`.

mod errors;
mod fixtures;
mod promtool;
mod roundtrip;
