//! `top --by user` over the named files with only this crate: `cargo run --release --example top -- FILE...`.

use apilens_audit::{
    Filter, FilterSpec, Format, ScanOpts, Top, TopKey, View, collect_inputs, scan,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inputs = collect_inputs(&args)?;
    let filter = Filter::new(&FilterSpec::default())?;
    let (top, summary) = scan(&inputs, &filter, &ScanOpts::default(), || {
        Top::new(&[TopKey::User], 5, 20_000)
    })?;
    print!("{}", top.finish(&summary).render(&summary, Format::Csv));
    Ok(())
}
