//! Who a simulated request comes from, as the audit log and the metrics name it: users,
//! nodes, pods and their addresses, drawn from stable hashes.

use crate::rng::Rng;
use crate::workload::{ClientSpec, Identity};

pub(super) fn hash2(a: u64, b: u64) -> u64 {
    Rng::derive(a, b, 0x5EED).next_u64()
}

/// EKS-style node names: `ip-10-0-3-17.ec2.internal`.
pub(super) fn node_name(instance: u32) -> String {
    format!(
        "ip-10-{}-{}-{}.ec2.internal",
        16 + instance / 65_536,
        (instance / 256) % 256,
        instance % 256
    )
}

pub(super) fn node_ip(instance: u32) -> String {
    format!(
        "10.{}.{}.{}",
        16 + instance / 65_536,
        (instance / 256) % 256,
        instance % 256
    )
}

pub(super) fn username(client: &ClientSpec, instance: u32) -> String {
    match &client.identity {
        Identity::Node => format!("system:node:{}", node_name(instance)),
        Identity::ServiceAccount { namespace, name } => {
            format!("system:serviceaccount:{namespace}:{name}")
        }
        Identity::User { name, .. } => name.clone(),
    }
}

pub(super) fn authz_reason(client: &ClientSpec) -> String {
    match &client.identity {
        Identity::Node => String::new(),
        Identity::ServiceAccount { namespace, name } => format!(
            "RBAC: allowed by ClusterRoleBinding \"{name}\" of ClusterRole \"{name}\" to ServiceAccount \"{name}/{namespace}\""
        ),
        Identity::User { name, .. } => {
            let short = name.trim_start_matches("system:");
            format!(
                "RBAC: allowed by ClusterRoleBinding \"system:{short}\" of ClusterRole \"system:{short}\" to User \"{name}\""
            )
        }
    }
}

pub(super) const APPS: [&str; 8] = [
    "checkout", "cart", "search", "payments", "web", "api", "worker", "cache",
];

pub(super) fn pick_app(rng: &mut Rng) -> &'static str {
    APPS[rng.below(APPS.len() as u64) as usize]
}

/// Five characters as Kubernetes generates pod name suffixes (no vowels, no confusables).
pub(super) fn pod_suffix(seed: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = seed;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
            x /= ALPHABET.len() as u64;
            c
        })
        .collect()
}
