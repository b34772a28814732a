//! The default objects of every version against the table derived from kube-apiserver's
//! `bootstrap/default.go` at each tag (`scripts/apf-bootstrap-table.py` wrote
//! `tests/data/bootstrap-defaults.txt` from kubernetes/apiserver at kubernetes-1.20.0 …
//! kubernetes-1.35.0).

use apilens_apf::{
    ApfConfig, FlowSchema, KubeVersion, LevelSpec, LimitResponse, PolicyRule, PriorityLevel,
    Subject,
};

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| {
            if s.is_empty() {
                "\"\"".to_string()
            } else {
                s.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn render_rule(r: &PolicyRule) -> String {
    let subjects: Vec<String> = r
        .subjects
        .iter()
        .map(|s| match s {
            Subject::User { name } => format!("User:{name}"),
            Subject::Group { name } => format!("Group:{name}"),
            Subject::ServiceAccount { namespace, name } => {
                format!("ServiceAccount:{namespace}/{name}")
            }
        })
        .collect();
    let mut parts = vec![format!("subjects={}", subjects.join(","))];
    for rr in &r.resource_rules {
        parts.push(format!(
            "resource(verbs={} groups={} resources={} namespaces={} cluster={})",
            list(&rr.verbs),
            list(&rr.api_groups),
            list(&rr.resources),
            list(&rr.namespaces),
            rr.cluster_scope
        ));
    }
    for nr in &r.non_resource_rules {
        parts.push(format!(
            "nonresource(verbs={} urls={})",
            list(&nr.verbs),
            list(&nr.non_resource_urls)
        ));
    }
    parts.join(" ")
}

fn render_schema(minor: u32, s: &FlowSchema) -> String {
    let rules: Vec<String> = s.rules.iter().map(render_rule).collect();
    format!(
        "1.{minor} FS {} precedence={} level={} distinguisher={} rules: {}",
        s.name,
        s.matching_precedence,
        s.priority_level,
        s.distinguisher.map_or("-", |d| d.as_str()),
        rules.join(" | ")
    )
}

fn render_level(minor: u32, l: &PriorityLevel) -> String {
    match l.spec {
        LevelSpec::Exempt {
            nominal_concurrency_shares,
            lendable_percent,
        } => format!(
            "1.{minor} PL {} Exempt shares={nominal_concurrency_shares} lendable={lendable_percent}",
            l.name
        ),
        LevelSpec::Limited {
            nominal_concurrency_shares,
            lendable_percent,
            borrowing_limit_percent,
            limit_response,
        } => {
            assert_eq!(borrowing_limit_percent, None, "{}", l.name);
            let response = match limit_response {
                LimitResponse::Reject => "Reject".to_string(),
                LimitResponse::Queue {
                    queues,
                    hand_size,
                    queue_length_limit,
                } => format!(
                    "Queue queues={queues} handSize={hand_size} queueLengthLimit={queue_length_limit}"
                ),
            };
            format!(
                "1.{minor} PL {} Limited shares={nominal_concurrency_shares} lendable={lendable_percent} {response}",
                l.name
            )
        }
    }
}

#[test]
fn every_version_matches_the_upstream_bootstrap_objects() {
    let table = include_str!("data/bootstrap-defaults.txt");
    for minor in 20..=35 {
        let prefix = format!("1.{minor} ");
        let mut want: Vec<&str> = table.lines().filter(|l| l.starts_with(&prefix)).collect();
        want.sort_unstable();
        assert!(
            want.len() >= 17,
            "1.{minor}: table has {} lines",
            want.len()
        );
        let config = ApfConfig::defaults(KubeVersion::minor(1, minor));
        let mut got: Vec<String> = config
            .schemas()
            .iter()
            .map(|s| render_schema(minor, s))
            .chain(config.levels().iter().map(|l| render_level(minor, l)))
            .collect();
        got.sort_unstable();
        let got: Vec<&str> = got.iter().map(String::as_str).collect();
        assert_eq!(got, want, "1.{minor}");
    }
}

#[test]
fn defaults_digest_without_notes_and_outside_versions_clamp() {
    for minor in 20..=35 {
        let v = KubeVersion::minor(1, minor);
        let config = ApfConfig::defaults(v);
        let (_, notes) =
            ApfConfig::from_objects(v, config.schemas().to_vec(), config.levels().to_vec());
        assert!(notes.is_empty(), "1.{minor}: {notes:?}");
        let order: Vec<(u32, &str)> = config
            .schemas()
            .iter()
            .map(|s| (s.matching_precedence, s.name.as_str()))
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "1.{minor}: matching order");
    }
    let names = |v| {
        ApfConfig::defaults(v)
            .schemas()
            .iter()
            .map(|s| s.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(KubeVersion::minor(1, 19)),
        names(KubeVersion::minor(1, 20))
    );
    assert_eq!(
        names(KubeVersion::new(1, 40, 1)),
        names(KubeVersion::minor(1, 35))
    );
}
