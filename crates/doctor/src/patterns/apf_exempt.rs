//! `apf-exempt-application`: application traffic that today's configuration classifies exempt.
//! Exempt requests are never queued or rejected, so an expensive client there takes the server's
//! CPU, memory and etcd from everyone with nothing to stop it.
//!
//! Application traffic: resource requests from users other than the control plane (the API
//! server itself, the controller manager, the scheduler, kubelets). Health probes are
//! non-resource requests and are left out. Severity: critical when the client reads at least
//! [`CRITICAL_ETCD_BYTES_PER_S`] from etcd or keeps at least [`CRITICAL_POOL_SHARE`] of the
//! server's seat pool busy (what its requests would cost were they limited), warning otherwise.

use super::{Candidate, by_client, client_name, cost_rate, examples, material};
use crate::analysis::{Analysis, bytes, count, significant};
use crate::finding::{Evidence, Kind, Severity};
use crate::identity;
use crate::ledger::call::Scope;

/// etcd bytes per second that make exempt traffic critical.
const CRITICAL_ETCD_BYTES_PER_S: f64 = 10e6;
/// Share of the server's seats that makes exempt traffic critical.
const CRITICAL_POOL_SHARE: f64 = 0.1;

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let Some(l) = a.ledger else { return Vec::new() };
    let mut out = Vec::new();
    for (client, calls) in by_client(a, |c| {
        a.config.levels()[c.level as usize].spec.is_exempt() && c.scope != Some(Scope::NonResource)
    }) {
        let user = l.clients[client as usize].user();
        if identity::is_control_plane(user) || !material(a, &calls) {
            continue;
        }
        let (seats, etcd) = cost_rate(a, &calls);
        let pool = f64::from(a.capacity.server_concurrency_limit) * f64::from(a.replicas);
        let severity = if etcd >= CRITICAL_ETCD_BYTES_PER_S || seats >= CRITICAL_POOL_SHARE * pool {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let schema = l.schema_name(&l.calls[calls[0]]).to_owned();
        let requests: u64 = calls.iter().map(|&i| l.calls[i].count).sum();
        let mut c = Candidate::client(
            Kind::ApfExemptApplication,
            client,
            calls.clone(),
            format!(
                "{} is exempt from APF (FlowSchema {schema}) and costs {} seats on average, with nothing to limit it",
                client_name(a, client),
                significant(seats)
            ),
        );
        c.severity = Some(severity);
        c.figure(
            "exempt_seats",
            seats,
            "seats",
            format!(
                "{} requests in the exempt level; were they limited they would keep {} seats busy on average ({:.0}% of the {}-seat pool){}",
                count(requests as f64),
                significant(seats),
                100.0 * seats / pool.max(1.0),
                count(pool),
                if etcd > 0.0 {
                    format!(", and they read {}/s from etcd", bytes(etcd))
                } else {
                    String::new()
                }
            ),
        );
        c.evidence.push(Evidence::Examples {
            uris: examples(a, &calls),
        });
        c.advice.push(if schema == "exempt" {
            "exempt is meant for system:masters, the cluster's break-glass identity: give the client its own ServiceAccount or user with a ClusterRole that grants what it needs, out of system:masters".to_owned()
        } else {
            format!("FlowSchema {schema} sends application traffic to an exempt level: point it at a limited level (or delete it) so APF can queue this client")
        });
        out.push(c);
    }
    out
}
