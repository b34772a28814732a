//! One request drawn: its instance, object, where it is served (watch cache or etcd) and how
//! long it runs before APF.

use super::identity::{node_name, pick_app, pod_suffix, username};
use super::{ETCD_REQUEST_TIMEOUT, Failure, Pending, Simulator};
use crate::rng::Rng;
use crate::workload::{RequestSpec, Scope, Verb};

impl Simulator {
    /// Draws one request: where it is served and how long it runs before APF.
    pub(super) fn draw(
        &self,
        rng: &mut Rng,
        ci: usize,
        si: usize,
        spec: &RequestSpec,
        instance: u32,
        at_us: i64,
    ) -> Pending {
        let client = self.client(ci);
        let replica = self.assignment[ci][instance as usize] as usize;
        let version = self.replicas[replica].version;
        let info = spec.resource.info();
        let namespace = match &spec.scope {
            _ if !info.namespaced => None,
            Scope::Cluster => None,
            Scope::Namespace(ns) => Some(ns.clone()),
            Scope::AnyNamespace => {
                let n = self.scenario.namespaces.len() as u64;
                Some(self.scenario.namespaces[rng.below(n) as usize].clone())
            }
        };
        let node = node_name(instance);
        let name = spec.name.as_ref().map(|n| match n.as_str() {
            "{node}" => node.clone(),
            "{pod}" => format!("{}-{}", pick_app(rng), pod_suffix(rng.next_u64())),
            "{obj}" => format!("{}-{}", pick_app(rng), rng.below(40)),
            other => other.to_string(),
        });
        let name = if spec.verb == Verb::Create && spec.subresource.is_empty() {
            None
        } else {
            name
        };
        let total = self.objects(spec.resource);
        let in_scope = if namespace.is_some() && spec.name.is_none() {
            total / self.scenario.namespaces.len() as f64
        } else {
            total
        };
        let from_cache = match spec.verb {
            Verb::Watch => true,
            Verb::Get => spec.rv_zero,
            Verb::List => {
                spec.rv_zero || (version.at_least(1, 31) && self.scenario.progress_notify)
            }
            _ => false,
        };
        let matching = if spec.node_selector {
            in_scope / f64::from(self.scenario.nodes.max(1))
        } else {
            in_scope
        };
        let (returned, fetched) = match spec.verb {
            Verb::List => {
                let limit_honoured = !spec.rv_zero || version.at_least(1, 31);
                let returned = match spec.limit {
                    Some(l) if limit_honoured => matching.min(f64::from(l)),
                    _ => matching,
                };
                let fetched = if from_cache {
                    0.0
                } else if spec.node_selector {
                    in_scope
                } else {
                    returned
                };
                (returned.round(), fetched.round())
            }
            Verb::Watch => (0.0, 0.0),
            _ => (1.0, if from_cache { 0.0 } else { 1.0 }),
        };
        let bytes = if matches!(spec.verb, Verb::Get | Verb::List) {
            (returned * info.object_bytes * rng.lognormal(1.0, 0.1)).max(200.0) + 120.0
        } else {
            0.0
        };
        let mutating = spec.verb.is_mutating();
        let mut etcd_s = 0.0;
        if !from_cache {
            let base = match spec.verb {
                Verb::Get => 0.0012,
                Verb::List => 0.002,
                _ => 0.003,
            };
            etcd_s = base * rng.lognormal(1.0, 0.3) * self.etcd_factor(mutating)
                + fetched * info.object_bytes / 400e6 * self.etcd_factor(false)
                + if mutating {
                    2.0 * self.fsync_median() * rng.lognormal(1.0, 0.3)
                } else {
                    0.0
                };
        }
        let mut failure = None;
        if !from_cache && let Some(stalls) = self.scenario.etcd_stalls {
            let t = (at_us as f64 / 1e6) - self.config.start_unix_ms as f64 / 1000.0;
            if let Some(left) = stalls.remaining(t) {
                if left > ETCD_REQUEST_TIMEOUT {
                    etcd_s = ETCD_REQUEST_TIMEOUT + rng.lognormal(0.002, 0.3);
                    failure = Some(Failure::EtcdTimedOut);
                } else {
                    etcd_s += left;
                }
            }
        }
        // A request etcd failed decodes and serializes nothing.
        let served = if failure.is_some() { 0.0 } else { 1.0 };
        let decode = if from_cache {
            0.0
        } else {
            served * fetched * 8e-6
        };
        let scan = if from_cache && spec.verb == Verb::List {
            matching * 0.4e-6 + total * 0.05e-6
        } else {
            0.0
        };
        let serialize = served * bytes / 250e6;
        let overhead = rng.lognormal(0.0012, 0.35);
        let webhook_s = match &self.scenario.webhook {
            Some(w)
                if mutating
                    && w.resources.contains(&spec.resource)
                    && spec.subresource.is_empty() =>
            {
                if rng.chance(w.hang_share) {
                    failure = Some(Failure::WebhookHung);
                    // The write never reaches etcd.
                    etcd_s = 0.0;
                    w.timeout_seconds + rng.lognormal(0.002, 0.3)
                } else {
                    rng.lognormal(w.median_seconds, 0.35)
                }
            }
            _ => 0.0,
        };
        let exec_s = if spec.verb == Verb::Watch {
            0.002 + rng.lognormal(0.001, 0.3)
        } else {
            overhead + etcd_s + decode + scan + serialize + webhook_s
        };
        let username = username(client, instance);
        let rep = &self.replicas[replica];
        let class = rep.apf.classify(
            &self.client_groups[ci],
            &username,
            spec.verb,
            &info,
            spec.subresource,
            namespace.as_deref().unwrap_or(""),
            name.as_deref()
                .filter(|_| spec.verb != Verb::List)
                .unwrap_or(""),
        );
        let level = class.level;
        let work = rep.apf.estimate(
            spec,
            level,
            from_cache,
            total,
            info.object_bytes,
            rep.watchers.get(&spec.resource).copied().unwrap_or(0.0),
        );
        // APF estimated the work before the request ran; a failed one returns nothing.
        let (returned, fetched, bytes) = if failure.is_some() {
            (0.0, 0.0, 0.0)
        } else {
            (returned, fetched, bytes)
        };
        let code = match spec.verb {
            _ if failure.is_some() => 500,
            Verb::Create => 201,
            Verb::Get if rng.chance(0.004) => 404,
            Verb::Update if rng.chance(0.004) => 409,
            _ => 200,
        };
        Pending {
            client: ci,
            spec: si,
            instance,
            replica,
            at_us,
            namespace,
            name,
            from_cache,
            returned,
            fetched,
            bytes,
            etcd_s,
            exec_s,
            webhook_s,
            class,
            level,
            work,
            wait_s: 0.0,
            queued: 0.0,
            rejected: None,
            failure,
            code,
            watch_s: if spec.verb == Verb::Watch {
                300.0 + 300.0 * rng.f64()
            } else {
                0.0
            },
        }
    }
}
