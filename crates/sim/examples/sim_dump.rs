//! Writes what one simulation produces, for comparing two builds byte for byte
//! (`scripts/sim-identical.sh`).
//!
//! ```text
//! sim_dump OUT_DIR [SECONDS]
//! ```
//!
//! For every scenario, with 3 replicas and seed 7, it runs SECONDS simulated seconds (default
//! 300) in steps of 17 s and writes, after each step, every replica's `/metrics` and etcd's to
//! `OUT_DIR/<scenario>.metrics`, and the whole audit log to `OUT_DIR/<scenario>.audit.jsonl`.

use apilens_sim::{KubeVersion, ScenarioConfig, Simulator, scenario_names};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An audit sink that the caller can still read.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(out) = args.get(1) else {
        eprintln!("usage: sim_dump OUT_DIR [SECONDS]");
        std::process::exit(2);
    };
    let seconds: u64 = args.get(2).map_or(Ok(300), |s| s.parse())?;
    let out = Path::new(out);
    std::fs::create_dir_all(out)?;
    for name in scenario_names() {
        let mut config = ScenarioConfig::new(name, "v1.34.2".parse::<KubeVersion>()?);
        config.replicas = 3;
        config.seed = 7;
        let mut sim = Simulator::new(config)?;
        let audit = Shared::default();
        sim.set_audit_sink(Box::new(audit.clone()));
        let mut metrics = std::fs::File::create(out.join(format!("{name}.metrics")))?;
        let mut elapsed = 0;
        while elapsed < seconds {
            let by = 17.min(seconds - elapsed);
            sim.advance(Duration::from_secs(by))?;
            elapsed += by;
            for i in 0..sim.replicas() {
                writeln!(metrics, "# replica {i} at {elapsed} s")?;
                metrics.write_all(sim.render_metrics(i)?.as_bytes())?;
            }
            writeln!(metrics, "# etcd at {elapsed} s")?;
            metrics.write_all(sim.render_etcd_metrics().as_bytes())?;
        }
        drop(sim);
        let log = audit.0.lock().map_err(|_| "poisoned")?.clone();
        std::fs::write(out.join(format!("{name}.audit.jsonl")), log)?;
    }
    Ok(())
}
