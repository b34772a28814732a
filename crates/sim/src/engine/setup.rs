//! Building a simulator: the scenario's replicas, the connections of every client instance
//! (sticky, one replica each) and the constant series (build info, start times).

use super::{Replica, ScenarioConfig, Simulator, scope_label};
use crate::SimError;
use crate::catalog::Catalog;
use crate::priority::Priority;
use crate::rng::Rng;
use crate::scenario;
use crate::store::Store;
use crate::workload::Verb;
use std::collections::{BTreeMap, HashMap};

impl Simulator {
    /// Builds the cluster of a scenario; simulated time starts at zero.
    ///
    /// # Errors
    /// [`SimError::UnknownScenario`] or [`SimError::InvalidConfig`] naming the bad setting.
    pub fn new(config: ScenarioConfig) -> Result<Self, SimError> {
        if config.replicas == 0 || config.replicas > 16 {
            return Err(SimError::InvalidConfig {
                what: format!("replicas must be between 1 and 16, got {}", config.replicas),
            });
        }
        if config.kubernetes_version.major != 1 || config.kubernetes_version.minor < 14 {
            return Err(SimError::InvalidConfig {
                what: format!(
                    "kubernetes version {} is not simulated: expected 1.14 or newer",
                    config.kubernetes_version
                ),
            });
        }
        let catalog = Catalog::apiserver_for(config.kubernetes_version);
        let build = catalog.family("kubernetes_build_info");
        let constant = |key: &str| {
            build
                .and_then(|f| {
                    f.constant
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                })
                .unwrap_or_default()
        };
        let commit_full = constant("git_commit");
        let commit: String = commit_full.chars().take(7).collect();
        let scenario = scenario::build(
            &config.scenario,
            config.kubernetes_version,
            config.replicas,
            &commit,
        )?;
        let start_s = config.start_unix_ms as f64 / 1000.0;
        let mut replicas = Vec::with_capacity(config.replicas);
        for (i, version) in scenario.replica_versions.iter().enumerate() {
            let apf = Priority::new(*version);
            let current_limit = (0..apf.capacity.levels.len())
                .map(|i| f64::from(apf.divider.limit(i)))
                .collect();
            // Replica 0 of upgrade-skew restarted recently; the others have run for days.
            let uptime = if scenario.replica_weights[i] < 0.5 / config.replicas as f64 {
                1_800.0
            } else {
                86_400.0 * 3.0 + 3_600.0 * i as f64
            };
            replicas.push(Replica {
                version: *version,
                store: Store::new(Catalog::apiserver_for(*version)),
                apf,
                current_limit,
                backlog: HashMap::new(),
                cpu_seconds: uptime * 0.4,
                start_unix_s: (start_s - uptime).floor(),
                watchers: BTreeMap::new(),
                longrunning: BTreeMap::new(),
                fanout: BTreeMap::new(),
                rss: 0.0,
                deprecated_seen: false,
            });
        }
        let mut sim = Self {
            etcd: Store::new(Catalog::etcd_for(config.kubernetes_version)),
            config,
            scenario,
            tick: 0,
            replicas,
            audit: None,
            audit_buf: Vec::new(),
            etcd_read_bytes_last: 0.0,
            assignment: Vec::new(),
            client_groups: Vec::new(),
        };
        sim.client_groups = sim
            .scenario
            .clients
            .iter()
            .map(|c| crate::priority::groups(&c.identity))
            .collect();
        sim.assign_connections();
        sim.init_metrics();
        Ok(sim)
    }

    pub(super) fn assign_connections(&mut self) {
        let weights = &self.scenario.replica_weights;
        let total: f64 = weights.iter().sum();
        let mut assignment = Vec::new();
        for (ci, client) in self.scenario.clients.iter().enumerate() {
            let mut v = Vec::with_capacity(client.instances as usize);
            for inst in 0..client.instances {
                let mut r = Rng::derive(self.config.seed, 0xC0FFEE + ci as u64, u64::from(inst));
                let mut x = r.f64() * total;
                let mut pick = weights.len() - 1;
                for (i, w) in weights.iter().enumerate() {
                    if x < *w {
                        pick = i;
                        break;
                    }
                    x -= w;
                }
                v.push(pick as u8);
            }
            assignment.push(v);
        }
        // Open watches per replica.
        for (ci, client) in self.scenario.clients.iter().enumerate() {
            for spec in client.requests.iter().filter(|s| s.verb == Verb::Watch) {
                let selectivity = self.selectivity(spec);
                for inst in 0..client.instances {
                    let rep = &mut self.replicas[assignment[ci][inst as usize] as usize];
                    *rep.watchers.entry(spec.resource).or_default() += spec.rate;
                    *rep.longrunning
                        .entry((spec.resource, scope_label(spec)))
                        .or_default() += spec.rate;
                    *rep.fanout.entry(spec.resource).or_default() += spec.rate * selectivity;
                }
            }
        }
        self.assignment = assignment;
    }

    pub(super) fn init_metrics(&mut self) {
        for rep in &mut self.replicas {
            let v = rep.version;
            let git_version = format!(
                "v{}.{}.{}",
                v.major,
                v.minor,
                crate::version::effective_patch(v)
            );
            let minor = v.minor.to_string();
            let major = v.major.to_string();
            let fam = rep.store.catalog().family("kubernetes_build_info").cloned();
            if let Some(f) = fam {
                let mut pairs: Vec<(&str, &str)> = f
                    .constant
                    .iter()
                    .map(|(k, val)| (k.as_str(), val.as_str()))
                    .collect();
                for (k, val) in [
                    ("git_version", git_version.as_str()),
                    ("minor", &minor),
                    ("major", &major),
                ] {
                    if let Some(p) = pairs.iter_mut().find(|(pk, _)| *pk == k) {
                        p.1 = val;
                    }
                }
                rep.store.set("kubernetes_build_info", &pairs, 1.0);
            }
            rep.store
                .set("process_start_time_seconds", &[], rep.start_unix_s);
        }
        if let Some(f) = self.etcd.catalog().family("etcd_server_version").cloned() {
            let pairs: Vec<(&str, &str)> = f
                .constant
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            self.etcd.set("etcd_server_version", &pairs, 1.0);
        }
        let etcd_start = (self.config.start_unix_ms as f64 / 1000.0 - 86_400.0 * 9.0).floor();
        self.etcd.set("process_start_time_seconds", &[], etcd_start);
        self.etcd.set("etcd_server_has_leader", &[], 1.0);
        self.etcd.set("etcd_server_is_leader", &[], 1.0);
        self.etcd
            .inc("etcd_server_leader_changes_seen_total", &[], 1.0);
        self.etcd
            .inc("etcd_server_proposals_failed_total", &[], 0.0);
        self.etcd
            .set("etcd_server_proposals_failed_total", &[], 0.0);
    }
}
