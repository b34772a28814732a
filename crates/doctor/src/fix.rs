//! Writing the fix: a PriorityLevelConfiguration and a FlowSchema (`apilens-apf` objects,
//! serialised by `apilens_apf::to_yaml_v1`) that contain exactly the client's offending
//! requests, with comments whose figures `apilens-apf` computed.
//!
//! - **Subject**: the client's ServiceAccount, or its User; every kubelet folded into one
//!   client is the group `system:nodes`, which is exactly them. Never a wider group.
//! - **Rules**: one resource rule per (API group, resource or `resource/subresource`, scope)
//!   with the verbs observed there; cluster-scope requests set `clusterScope: true`, namespaced
//!   ones list their namespaces (`*` past 64). APF cannot tell requests apart by query, so every
//!   request of the client with the same verb, resource and scope moves too: [`OffendingCall`]
//!   lists exactly what moves.
//! - **Precedence**: one less than the schema that takes the requests today, or the nearest free
//!   value below it (at precedence 1, the same value with a name that sorts first), so the new
//!   schema wins for these requests and no other request changes schema.
//! - **Level**: `Limited`, `lendablePercent: 0`, `borrowingLimitPercent: 0`. Nominal seats cover
//!   the client's mean seat use per replica, at least one request at its estimated width (at
//!   most 10 seats), and at most a quarter of the level it leaves; `nominalConcurrencyShares` is
//!   the smallest value that gives those seats. `Queue` unless the client only polls reads and
//!   is not a controller (then `Reject`: a rejected poll is simply the next poll); never `Reject`
//!   for leader election or a controller that must eventually succeed.

use crate::analysis::{Analysis, count};
use crate::finding::Fix;
use crate::identity;
use crate::ledger::call::Scope;
use crate::patterns::Candidate;
use apilens_apf::{
    ApfConfig, Capacity, Distinguisher, FlowSchema, LevelSpec, LimitResponse, NonResourceRule,
    PolicyRule, PriorityLevel, ResourceRule, Subject,
};
use std::collections::{BTreeMap, BTreeSet};

/// Namespaces listed in a rule before it says `*`.
const NAMESPACE_LIST_CAP: usize = 64;

/// The most of its old level's nominal seats a jail may take.
const MAX_SHARE_OF_OLD_LEVEL: f64 = 0.25;

/// One kind of request the fix moves: verb, group, resource and where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OffendingCall {
    /// The verb.
    pub verb: String,
    /// The API group (empty for the core group).
    pub api_group: String,
    /// `resource` or `resource/subresource`; for a non-resource URL, the path.
    pub resource: String,
    /// True for requests without a namespace (cluster-wide, or of a cluster-scoped resource).
    pub cluster: bool,
    /// The namespaces of namespaced requests (`*` for every namespace).
    pub namespaces: Vec<String>,
    /// True for a non-resource URL.
    pub non_resource: bool,
}

/// The APF objects of a fix and what they move.
#[derive(Debug, Clone)]
pub(crate) struct Containment {
    pub(crate) level: PriorityLevel,
    pub(crate) schema: FlowSchema,
    pub(crate) moves: Vec<OffendingCall>,
    pub(crate) comments: Vec<String>,
}

/// Writes the fix of a client candidate.
pub(crate) fn write(a: &Analysis<'_>, cand: &Candidate, advice: Vec<String>) -> Fix {
    let Some(c) = contain(a, cand) else {
        return Fix {
            advice,
            ..Fix::default()
        };
    };
    let mut yaml = String::new();
    for line in &c.comments {
        yaml.push_str(&crate::render::wrap(
            &crate::render::escape_controls(line, false),
            96,
            "# ",
            "#   ",
        ));
    }
    yaml.push_str(&apilens_apf::to_yaml_v1(
        std::slice::from_ref(&c.level),
        std::slice::from_ref(&c.schema),
    ));
    let mut advice = advice;
    advice.push(format!(
        "apply the YAML with kubectl apply -f, then check it: apilens doctor --what-if FILE replays this window with it (FlowSchema {} takes these requests at precedence {})",
        c.schema.name, c.schema.matching_precedence
    ));
    Fix {
        yaml,
        advice,
        schemas: vec![c.schema],
        levels: vec![c.level],
        moves: c.moves,
    }
}

/// Builds the objects that contain a client candidate's offending calls.
pub(crate) fn contain(a: &Analysis<'_>, cand: &Candidate) -> Option<Containment> {
    let l = a.ledger?;
    let client = cand.client?;
    if cand.calls.is_empty() || !cand.apf_fix {
        return None;
    }
    let stats = &l.clients[client as usize];
    let user = stats.user().to_owned();
    if !nameable(&user) {
        return None;
    }
    let subject = if user == identity::FOLDED_NODES {
        Subject::Group {
            name: "system:nodes".to_owned(),
        }
    } else if let Some((ns, name)) = identity::service_account(&user) {
        Subject::ServiceAccount {
            namespace: ns.to_owned(),
            name: name.to_owned(),
        }
    } else {
        Subject::User { name: user.clone() }
    };
    // Everything of this client that APF cannot tell apart from the offending calls moves too.
    let moves = offending(a, cand);
    let rules = rules(&moves);
    // The schema that takes the requests today: the one with most of their seat-seconds.
    let mut by_schema: BTreeMap<u16, f64> = BTreeMap::new();
    for &i in &cand.calls {
        *by_schema.entry(l.calls[i].schema).or_default() += l.costs[i].seat_seconds + 1e-9;
    }
    let today_idx = *by_schema
        .iter()
        .max_by(|x, y| x.1.total_cmp(y.1))
        .map(|(k, _)| k)?;
    let today = &a.config.schemas()[today_idx as usize];
    let old_level_name = today.priority_level.clone();
    let name = object_name(&user, stats.user_agent());
    let precedence = free_precedence_below(a.config, today.matching_precedence, &name);
    // Sizing.
    let span = a.span_s();
    let replicas = f64::from(a.replicas.max(1));
    let seat_s: f64 = cand.calls.iter().map(|&i| l.costs[i].seat_seconds).sum();
    let mean_seats = seat_s / span / replicas;
    let widest = cand
        .calls
        .iter()
        .map(|&i| l.costs[i].estimate.initial_seats)
        .max()
        .unwrap_or(1)
        .clamp(1, 10);
    let old_nominal = a.capacity.level(&old_level_name).map_or(0, |c| c.nominal);
    let ceiling = ((f64::from(old_nominal) * MAX_SHARE_OF_OLD_LEVEL).floor() as u32).max(widest);
    let target = (mean_seats.ceil() as u32).clamp(widest, ceiling);
    let (shares, after) = shares_for(a, &name, target);
    let nominal = after.level(&name).map_or(0, |c| c.nominal);
    // One flow or many.
    let one_user = !matches!(subject, Subject::Group { .. });
    let reads_only = cand
        .calls
        .iter()
        .all(|&i| matches!(l.calls[i].verb.as_str(), "get" | "list" | "watch"));
    let controller = is_controller(stats.user_agent(), &user);
    let reject = reads_only && !controller && cand.kind == crate::finding::Kind::PollingLoop;
    let limit_response = if reject {
        LimitResponse::Reject
    } else if one_user {
        LimitResponse::Queue {
            queues: 1,
            hand_size: 1,
            queue_length_limit: 50,
        }
    } else {
        LimitResponse::Queue {
            queues: 16,
            hand_size: 4,
            queue_length_limit: 50,
        }
    };
    let level = PriorityLevel {
        name: name.clone(),
        spec: LevelSpec::Limited {
            nominal_concurrency_shares: shares,
            lendable_percent: 0,
            borrowing_limit_percent: Some(0),
            limit_response,
        },
    };
    let schema = FlowSchema {
        name: name.clone(),
        matching_precedence: precedence,
        priority_level: name.clone(),
        distinguisher: (!one_user).then_some(Distinguisher::ByUser),
        rules: vec![PolicyRule {
            subjects: vec![subject],
            resource_rules: rules.0,
            non_resource_rules: rules.1,
        }],
    };
    // Comments: sizing, dilution, replicas, DaemonSets.
    let mut comments = vec![
        format!(
            "apilens doctor: contain {} ({}) in its own priority level.",
            stats.user_agent(),
            user
        ),
        format!(
            "FlowSchema {name} (precedence {precedence}) takes these requests before {} (precedence {}), which sends them to {old_level_name} today.",
            today.name, today.matching_precedence
        ),
        format!(
            "Sizing: {shares} shares give {nominal} seats per API server (server limit {}): the client used {:.1} seats on average per server, its widest request takes {widest}, capped at a quarter of {old_level_name}'s {old_nominal}.",
            a.capacity.server_concurrency_limit, mean_seats
        ),
        "lendablePercent 0 and borrowingLimitPercent 0: it neither lends nor borrows, so it cannot take seats from other levels.".to_owned(),
    ];
    let diluted = dilution(a.capacity, &after, &name);
    if !diluted.is_empty() {
        comments.push(format!(
            "Dilution: the {shares} new shares take seats from every limited level: {}.",
            diluted.join(", ")
        ));
    }
    if a.replicas > 1 {
        comments.push(format!(
            "Per replica: the limit applies on each of the {} API servers, so the client may hold up to {} seats in all.",
            a.replicas,
            count(f64::from(nominal) * replicas)
        ));
    }
    if one_user && a.is_per_node(client) {
        comments.push(format!(
            "One service account, many pods: all {} copies share one flow and one queue, so the limit is for the DaemonSet as a whole, not per pod.",
            count(stats.pods.count().max(stats.source_ips.count()) as f64)
        ));
    }
    if reject {
        comments.push("Reject: the client polls reads on a timer and is not a controller: a rejected poll is retried by the next one.".to_owned());
    } else {
        comments.push("Queue, not Reject: the client's requests must eventually succeed; excess waits up to the queue wait limit, then gets 429 and client-go backs off.".to_owned());
    }
    let extra: Vec<String> = moves
        .iter()
        .filter(|m| {
            !cand.calls.iter().any(|&i| {
                let c = &l.calls[i];
                c.verb == m.verb && c.group == m.api_group && c.rule_resource() == m.resource
            })
        })
        .map(|m| format!("{} {}", m.verb, m.resource))
        .collect();
    if !extra.is_empty() {
        comments.push(format!(
            "It also takes this client's {} (APF cannot tell requests apart by query parameters).",
            extra.join(", ")
        ));
    }
    let others = l
        .clients
        .iter()
        .filter(|c| c.user() == user && c.user_agent() != stats.user_agent() && c.requests > 0)
        .count();
    if others > 0 {
        comments.push(format!(
            "The same identity is used by {others} other user agent(s): their matching requests move too."
        ));
    }
    Some(Containment {
        level,
        schema,
        moves,
        comments,
    })
}

/// Every request kind of the client that the rules will match: the offending calls' (verb,
/// group, resource, scope), with the namespaces seen.
fn offending(a: &Analysis<'_>, cand: &Candidate) -> Vec<OffendingCall> {
    let l = a.ledger.expect("checked");
    // (verb, group, resource, non-resource) → (cluster scope, namespaces, many namespaces)
    type Kind = (String, String, String, bool);
    let mut map: BTreeMap<Kind, (bool, BTreeSet<String>, bool)> = BTreeMap::new();
    for &i in &cand.calls {
        let c = &l.calls[i];
        let non_resource = c.scope == Some(Scope::NonResource);
        let resource = if non_resource {
            c.path.clone()
        } else {
            c.rule_resource()
        };
        let e = map
            .entry((c.verb.clone(), c.group.clone(), resource, non_resource))
            .or_default();
        let cluster = matches!(c.scope, Some(Scope::Cluster))
            || (c.scope == Some(Scope::Object) && c.namespaces.is_empty() && !c.many_namespaces);
        if cluster || non_resource {
            e.0 = true;
        }
        if c.many_namespaces {
            e.2 = true;
        }
        e.1.extend(c.namespaces.iter().cloned());
    }
    map.into_iter()
        .map(
            |((verb, api_group, resource, non_resource), (cluster, ns, many))| {
                let namespaces = if many || ns.len() > NAMESPACE_LIST_CAP {
                    vec!["*".to_owned()]
                } else {
                    ns.into_iter().collect()
                };
                OffendingCall {
                    verb,
                    api_group,
                    resource,
                    cluster,
                    namespaces,
                    non_resource,
                }
            },
        )
        .collect()
}

/// Resource and non-resource rules for `moves`: one resource rule per (group, resource, scope)
/// with its verbs.
fn rules(moves: &[OffendingCall]) -> (Vec<ResourceRule>, Vec<NonResourceRule>) {
    let mut resource: BTreeMap<(String, String, bool, Vec<String>), BTreeSet<String>> =
        BTreeMap::new();
    let mut non_resource: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in moves {
        if m.non_resource {
            non_resource
                .entry(m.resource.clone())
                .or_default()
                .insert(m.verb.clone());
            continue;
        }
        if m.cluster {
            resource
                .entry((m.api_group.clone(), m.resource.clone(), true, Vec::new()))
                .or_default()
                .insert(m.verb.clone());
        }
        if !m.namespaces.is_empty() {
            resource
                .entry((
                    m.api_group.clone(),
                    m.resource.clone(),
                    false,
                    m.namespaces.clone(),
                ))
                .or_default()
                .insert(m.verb.clone());
        }
    }
    let rr = resource
        .into_iter()
        .map(|((group, res, cluster, namespaces), verbs)| ResourceRule {
            verbs: verbs.into_iter().collect(),
            api_groups: vec![group],
            resources: vec![res],
            cluster_scope: cluster,
            namespaces,
        })
        .collect();
    let nr = non_resource
        .into_iter()
        .map(|(url, verbs)| NonResourceRule {
            verbs: verbs.into_iter().collect(),
            non_resource_urls: vec![url],
        })
        .collect();
    (rr, nr)
}

/// The matching precedence just below `today`: `today - 1`, or the nearest free value below;
/// at 1, `today` itself (the new schema's name must then sort first, which `apilens-` does
/// against every default schema).
fn free_precedence_below(config: &ApfConfig, today: u32, name: &str) -> u32 {
    let taken: BTreeSet<u32> = config
        .schemas()
        .iter()
        .filter(|s| s.name != name)
        .map(|s| s.matching_precedence)
        .collect();
    (1..today)
        .rev()
        .find(|p| !taken.contains(p))
        .unwrap_or(today.max(1))
}

/// The smallest `nominalConcurrencyShares` that gives `name` at least `seats` nominal seats,
/// and the capacity with it.
fn shares_for(a: &Analysis<'_>, name: &str, seats: u32) -> (u32, Capacity) {
    let scl = a.capacity.server_concurrency_limit;
    let total: u32 = a
        .config
        .levels()
        .iter()
        .filter(|l| !l.spec.is_exempt() || a.version.at_least(1, 28))
        .map(|l| l.spec.nominal_concurrency_shares())
        .sum();
    // nominal = ceil(scl * n / (total + n)) >= seats  <=>  n >= seats * total / (scl - seats).
    let guess = if seats >= scl {
        total.max(1)
    } else {
        ((f64::from(seats) * f64::from(total) / f64::from(scl - seats)).floor() as u32).max(1)
    };
    let capacity_with = |n: u32| {
        let level = PriorityLevel {
            name: name.to_owned(),
            spec: LevelSpec::Limited {
                nominal_concurrency_shares: n,
                lendable_percent: 0,
                borrowing_limit_percent: Some(0),
                limit_response: LimitResponse::Reject,
            },
        };
        a.config
            .with_objects(&[], std::slice::from_ref(&level))
            .capacity(a.version, scl)
    };
    let mut n = guess.saturating_sub(2).max(1);
    loop {
        let cap = capacity_with(n);
        if cap.level(name).is_some_and(|l| l.nominal >= seats) || n > 10_000 {
            return (n, cap);
        }
        n += 1;
    }
}

/// Levels whose nominal seats the new level takes from: `workload-low 245 → 233`.
fn dilution(before: &Capacity, after: &Capacity, new: &str) -> Vec<String> {
    after
        .levels
        .iter()
        .filter(|l| l.name != new && !l.exempt)
        .filter_map(|l| {
            let b = before.level(&l.name)?;
            (b.nominal > l.nominal).then(|| format!("{} {} -> {}", l.name, b.nominal, l.nominal))
        })
        .collect()
}

/// True for a controller or operator, whose requests must eventually succeed.
fn is_controller(user_agent: &str, user: &str) -> bool {
    let ua = user_agent.to_ascii_lowercase();
    ["controller", "operator", "manager", "scheduler", "leader"]
        .iter()
        .any(|w| ua.contains(w))
        || identity::is_control_plane(user)
}

/// True when a FlowSchema subject can name `user` and no one else. `*` (as a user, or as a
/// service account's name) matches everyone there; an empty name matches no one; a kubelet
/// fold is written as the `system:nodes` group.
fn nameable(user: &str) -> bool {
    if user == identity::FOLDED_NODES {
        return true;
    }
    let name = identity::service_account(user).map_or(user, |(_, name)| name);
    !name.is_empty() && name != "*" && name != "-"
}

/// A DNS-1123 name for the fix's objects: `apilens-`, the service account (namespace and name)
/// or user made readable, and six hex digits of a hash of the exact user, so two clients whose
/// readable forms agree (`team-a:controller` and `team:a-controller`, `Jane.Doe` and
/// `jane-doe`) never share a name. The folded kubelets are `apilens-kubelets`.
fn object_name(user: &str, user_agent: &str) -> String {
    if user == identity::FOLDED_NODES {
        return "apilens-kubelets".to_owned();
    }
    let (base, exact) = if let Some((ns, name)) = identity::service_account(user) {
        (format!("{ns}-{name}"), user)
    } else if !user.is_empty() && user != "-" {
        (user.to_owned(), user)
    } else {
        (user_agent.to_owned(), user_agent)
    };
    let suffix = format!("-{:06x}", crate::hash::hash64(exact) & 0xff_ffff);
    let mut out = String::from("apilens-");
    for ch in base.chars() {
        let ch = ch.to_ascii_lowercase();
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out
        .trim_end_matches('-')
        .chars()
        .take(63 - suffix.len())
        .collect();
    while out.ends_with('-') {
        out.pop();
    }
    out + &suffix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_and_one_per_client() {
        let sa = object_name("system:serviceaccount:logging:log-agent", "log-agent");
        assert!(sa.starts_with("apilens-logging-log-agent-"), "{sa}");
        assert_eq!(sa.len(), "apilens-logging-log-agent-".len() + 6);
        assert_eq!(object_name("system:node:*", "kubelet"), "apilens-kubelets");
        let user = object_name("Alice@Example.com", "kubectl");
        assert!(user.starts_with("apilens-alice-example-com-"), "{user}");
        let long = object_name(&"x".repeat(100), "");
        assert!(long.len() <= 63 && !long.contains("--"), "{long}");
        // Readable forms that agree still give two names.
        for (a, b) in [
            (
                "system:serviceaccount:team-a:controller",
                "system:serviceaccount:team:a-controller",
            ),
            ("Jane.Doe@example.com", "jane-doe@example.com"),
        ] {
            assert_ne!(object_name(a, ""), object_name(b, ""), "{a} and {b}");
        }
        for name in [sa, user, long] {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
        }
    }

    #[test]
    fn a_comment_cannot_end_itself() {
        let line = crate::render::escape_controls(
            "contain x (evil\nkind: ClusterRoleBinding\r\u{1b}[2J)",
            false,
        );
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.contains("\\nkind: ClusterRoleBinding"), "{line:?}");
    }

    #[test]
    fn a_wildcard_or_empty_name_gets_no_fix() {
        for user in ["*", "", "system:serviceaccount:ns:*", "-"] {
            assert!(!nameable(user), "{user:?}");
        }
        for user in ["alice", "system:serviceaccount:ns:a", "system:node:*"] {
            assert!(nameable(user), "{user:?}");
        }
    }

    #[test]
    fn precedence_below_today_or_the_next_free_value() {
        let config = ApfConfig::defaults(apilens_apf::KubeVersion::minor(1, 34));
        // service-accounts is 9000: 8999 is free.
        assert_eq!(free_precedence_below(&config, 9000, "apilens-x"), 8999);
        // exempt is 1: nothing below, stay at 1 with a name that sorts first.
        assert_eq!(free_precedence_below(&config, 1, "apilens-x"), 1);
        // 801 is taken by nothing, 800 by kube-controller-manager: below 801 the next free is 799.
        assert_eq!(free_precedence_below(&config, 801, "apilens-x"), 799);
    }
}
