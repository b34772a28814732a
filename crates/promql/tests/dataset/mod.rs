//! The dataset and the queries shared by the differential test and the engine benchmark:
//! kube-apiserver-like series over hours with jittered 15 s scrapes, and every `expr` of the
//! reference dashboards with Grafana variables substituted.

#![allow(dead_code)]

use apilens_model::{Labels, Sample};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Start of the dataset, milliseconds.
pub const T0: i64 = 1_700_000_000_000;
/// Hours of data.
pub const HOURS: i64 = 2;

/// A tiny deterministic generator (xorshift) so the dataset is the same in every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

/// One metric family of the dataset: name, OpenMetrics type, series with samples.
pub struct Family {
    pub name: &'static str,
    pub kind: &'static str,
    pub series: Vec<(Labels, Vec<Sample>)>,
}

/// The dataset, the same in every run.
pub fn dataset() -> Vec<Family> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let n = (HOURS * 3600 / 15) as usize;
    let instances = ["10.0.0.1:6443", "10.0.0.2:6443"];
    // Scrape times per instance: 15 s apart with up to ±2 s of jitter, never on a whole second.
    let times: Vec<Vec<i64>> = instances
        .iter()
        .map(|_| {
            (0..n)
                .map(|i| T0 + i as i64 * 15_000 + (rng.next() % 4000) as i64 - 2000 + 7)
                .collect()
        })
        .collect();
    let mut families = Vec::new();
    let base = |name: &str, inst: &str| {
        vec![
            ("__name__".to_owned(), name.to_owned()),
            ("job".into(), "apiserver".into()),
            ("instance".into(), inst.to_owned()),
        ]
    };
    // Counters with rates that vary, and a counter reset on one series.
    let mut req = Family {
        name: "apiserver_request",
        kind: "counter",
        series: Vec::new(),
    };
    let mut dur_buckets = Family {
        name: "apiserver_request_duration_seconds",
        kind: "histogram",
        series: Vec::new(),
    };
    let les = [
        "0.005", "0.025", "0.1", "0.25", "0.5", "1", "2.5", "10", "60", "+Inf",
    ];
    for (ii, inst) in instances.iter().enumerate() {
        for verb in ["GET", "LIST", "WATCH", "POST"] {
            for (resource, scope) in [
                ("pods", "namespace"),
                ("nodes", "cluster"),
                ("configmaps", "resource"),
            ] {
                for code in ["200", "429", "500"] {
                    let mut v = 0.0;
                    let speed = 1.0 + rng.unit() * 20.0 * if code == "200" { 10.0 } else { 0.1 };
                    let mut samples = Vec::new();
                    for (i, &t) in times[ii].iter().enumerate() {
                        v += (speed * (1.0 + (i as f64 / 40.0).sin())).round();
                        if verb == "POST" && code == "500" && i == n / 2 {
                            v = 0.0;
                        }
                        samples.push(Sample { t, v });
                    }
                    let mut l = base("apiserver_request_total", inst);
                    l.extend([
                        ("verb".into(), verb.into()),
                        ("resource".into(), resource.into()),
                        ("scope".into(), scope.into()),
                        ("code".into(), code.into()),
                    ]);
                    req.series.push((Labels::from_pairs(l), samples));
                }
                // Histogram: cumulative buckets, sum and count.
                let mut counts = vec![0.0; les.len()];
                let mut sum = 0.0;
                let mut per_le: Vec<Vec<Sample>> = vec![Vec::new(); les.len()];
                let (mut sums, mut cnts) = (Vec::new(), Vec::new());
                for (i, &t) in times[ii].iter().enumerate() {
                    let obs = 5 + (rng.next() % 20) as usize;
                    for _ in 0..obs {
                        let x = rng.unit().powi(3)
                            * if verb == "LIST" { 20.0 } else { 1.5 }
                            * (1.0 + (i as f64 / 100.0).cos().abs());
                        sum += x;
                        for (k, le) in les.iter().enumerate() {
                            let b = if *le == "+Inf" {
                                f64::INFINITY
                            } else {
                                le.parse().unwrap()
                            };
                            if x <= b {
                                counts[k] += 1.0;
                            }
                        }
                    }
                    for k in 0..les.len() {
                        per_le[k].push(Sample { t, v: counts[k] });
                    }
                    sums.push(Sample { t, v: sum });
                    cnts.push(Sample {
                        t,
                        v: counts[les.len() - 1],
                    });
                }
                let extra = |name: &str| {
                    let mut l = base(name, inst);
                    l.extend([
                        ("verb".into(), verb.into()),
                        ("resource".into(), resource.into()),
                        ("scope".into(), scope.into()),
                    ]);
                    l
                };
                for (k, le) in les.iter().enumerate() {
                    let mut l = extra("apiserver_request_duration_seconds_bucket");
                    l.push(("le".into(), (*le).into()));
                    dur_buckets
                        .series
                        .push((Labels::from_pairs(l), per_le[k].clone()));
                }
                dur_buckets.series.push((
                    Labels::from_pairs(extra("apiserver_request_duration_seconds_sum")),
                    sums,
                ));
                dur_buckets.series.push((
                    Labels::from_pairs(extra("apiserver_request_duration_seconds_count")),
                    cnts,
                ));
            }
        }
    }
    families.push(req);
    families.push(dur_buckets);
    // Gauges.
    let mut inflight = Family {
        name: "apiserver_current_inflight_requests",
        kind: "gauge",
        series: Vec::new(),
    };
    let mut mem = Family {
        name: "process_resident_memory_bytes",
        kind: "gauge",
        series: Vec::new(),
    };
    let mut up = Family {
        name: "up",
        kind: "gauge",
        series: Vec::new(),
    };
    for (ii, inst) in instances.iter().enumerate() {
        for kind in ["mutating", "readOnly"] {
            let mut l = base("apiserver_current_inflight_requests", inst);
            l.push(("request_kind".into(), kind.into()));
            let s = times[ii]
                .iter()
                .map(|&t| Sample {
                    t,
                    v: (rng.next() % 200) as f64,
                })
                .collect();
            inflight.series.push((Labels::from_pairs(l), s));
        }
        let s = times[ii]
            .iter()
            .enumerate()
            .map(|(i, &t)| Sample {
                t,
                v: 5e8 + i as f64 * 1e5 + (rng.next() % 1000) as f64,
            })
            .collect();
        mem.series.push((
            Labels::from_pairs(base("process_resident_memory_bytes", inst)),
            s,
        ));
        let s = times[ii].iter().map(|&t| Sample { t, v: 1.0 }).collect();
        up.series.push((Labels::from_pairs(base("up", inst)), s));
    }
    families.extend([inflight, mem, up]);
    families
}

/// The dataset as OpenMetrics text, as `promtool tsdb create-blocks-from openmetrics` reads it.
pub fn openmetrics(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families {
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, samples) in &f.series {
            let name = labels.metric_name().unwrap_or_default();
            let rest: Vec<String> = labels
                .iter()
                .filter(|l| l.name != "__name__")
                .map(|l| format!("{}=\"{}\"", l.name, l.value))
                .collect();
            for s in samples {
                let _ = writeln!(
                    out,
                    "{name}{{{}}} {} {}.{:03}",
                    rest.join(","),
                    s.v,
                    s.t / 1000,
                    s.t % 1000
                );
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Every `expr` string of the reference dashboards.
pub fn dashboard_exprs() -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("expr", serde_json::Value::String(s)) if !s.trim().is_empty() => {
                            out.push(s.clone())
                        }
                        _ => walk(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/anchors/dashboards");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    let mut exprs = Vec::new();
    for p in paths {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(&p).unwrap_or_default(),
        ) {
            walk(&v, &mut exprs);
        }
    }
    let matcher = regex::Regex::new(r#"(\w+)\s*(=~|!~|!=|=)\s*"[^"]*\$[^"]*""#).unwrap();
    let var = regex::Regex::new(r"\$\{?(\w+)(:\w+)?\}?").unwrap();
    let mut out: Vec<String> = exprs
        .into_iter()
        .map(|e| {
            let e = matcher.replace_all(&e, r#"$1=~".*""#);
            var.replace_all(&e, |c: &regex::Captures| match &c[1] {
                "__rate_interval" | "__interval" | "resolution" | "interval" => "1m".to_owned(),
                "period" | "__range" => "1h".to_owned(),
                _ => "1".to_owned(),
            })
            .into_owned()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
