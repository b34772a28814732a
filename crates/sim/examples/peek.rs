//! Scratch: print a scenario's key figures.
use apilens_sim::{KubeVersion, ScenarioConfig, Simulator};
use std::time::{Duration, Instant};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scen = args.get(1).map(String::as_str).unwrap_or("healthy");
    let ver = args.get(2).map(String::as_str).unwrap_or("1.34");
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(300);
    let mut sim = Simulator::new(ScenarioConfig::new(scen, KubeVersion::parse(ver).unwrap())).unwrap();
    let t = Instant::now();
    let f = std::fs::File::create("/tmp/sim-audit.jsonl").unwrap();
    sim.set_audit_sink(Box::new(std::io::BufWriter::new(f)));
    sim.advance(Duration::from_secs(secs)).unwrap();
    eprintln!("advance {secs}s took {:?}", t.elapsed());
    let t = Instant::now();
    let m = sim.render_metrics(0).unwrap();
    eprintln!("render took {:?}, {} bytes", t.elapsed(), m.len());
    std::fs::write("/tmp/sim-0.txt", &m).unwrap();
    std::fs::write("/tmp/sim-1.txt", sim.render_metrics(1).unwrap()).unwrap();
    std::fs::write("/tmp/sim-etcd.txt", sim.render_etcd_metrics()).unwrap();
}
