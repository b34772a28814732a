//! Criterion bench of the cost ledger.
fn main() {}
