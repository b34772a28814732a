//! Writes a synthetic audit log to stdout: `cargo run --release --example synth -- BYTES [SEED]`.

use apilens_audit::{SynthOpts, write_synthetic};
use std::io::Write as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bytes: u64 = args.next().ok_or("usage: synth BYTES [SEED]")?.parse()?;
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(42);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let stats = write_synthetic(
        &mut out,
        &SynthOpts {
            bytes,
            seed,
            ..SynthOpts::default()
        },
    )?;
    out.flush()?;
    eprintln!(
        "wrote {} lines, {} requests, {} bytes",
        stats.lines, stats.requests, stats.bytes
    );
    Ok(())
}
