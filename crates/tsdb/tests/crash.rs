//! Crash-safety tests.
fn main() {}
