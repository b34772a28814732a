//! Integration tests of the text parser: real scrapes, exact errors, round-trips, no panics.

mod errors;
mod fixtures;
mod roundtrip;
