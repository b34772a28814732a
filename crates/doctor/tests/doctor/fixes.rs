//! Checks of a fix: its YAML reads as `flowcontrol.apiserver.k8s.io/v1` objects of the
//! Kubernetes API types, reads back into the same apf objects, and applied to today's
//! configuration moves exactly the culprit's offending requests of the log, request by request.

use apilens_apf::{ApfConfig, KubeVersion, RequestDigest, ResourceAttributes, load_objects};
use apilens_doctor::{Finding, OffendingCall};
use k8s_openapi::api::flowcontrol::v1::{FlowSchema, PriorityLevelConfiguration};
use std::io::BufRead as _;

/// The YAML's documents as Kubernetes objects.
pub(crate) fn parse_k8s(yaml: &str) -> (Vec<PriorityLevelConfiguration>, Vec<FlowSchema>) {
    let mut levels = Vec::new();
    let mut schemas = Vec::new();
    for doc in yaml.split("\n---\n").flat_map(|d| d.split("---\n")) {
        let body: String = doc
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        if body.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_saphyr::from_str(&body).unwrap();
        assert_eq!(
            value["apiVersion"], "flowcontrol.apiserver.k8s.io/v1",
            "{body}"
        );
        match value["kind"].as_str() {
            Some("PriorityLevelConfiguration") => {
                levels.push(serde_saphyr::from_str::<PriorityLevelConfiguration>(&body).unwrap())
            }
            Some("FlowSchema") => {
                schemas.push(serde_saphyr::from_str::<FlowSchema>(&body).unwrap())
            }
            other => panic!("unexpected kind {other:?} in\n{body}"),
        }
    }
    (levels, schemas)
}

/// Every check of a client finding's fix against the log it came from.
pub(crate) fn check_fix(f: &Finding, log: &std::path::Path, version: &str) {
    assert!(!f.fix.yaml.is_empty(), "no YAML for {}", f.title);
    // 1. Kubernetes types.
    let (levels, schemas) = parse_k8s(&f.fix.yaml);
    assert_eq!((levels.len(), schemas.len()), (1, 1), "{}", f.fix.yaml);
    let level = &levels[0];
    let limited = level
        .spec
        .as_ref()
        .and_then(|s| s.limited.as_ref())
        .expect("a Limited level");
    assert_eq!(limited.lendable_percent, Some(0));
    assert_eq!(limited.borrowing_limit_percent, Some(0));
    assert!(limited.nominal_concurrency_shares.unwrap_or(0) >= 1);
    let response = limited.limit_response.as_ref().expect("limitResponse");
    assert!(matches!(response.type_.as_str(), "Queue" | "Reject"));
    let schema = &schemas[0];
    let spec = schema.spec.as_ref().unwrap();
    assert_eq!(
        spec.priority_level_configuration.name,
        level.metadata.name.clone().unwrap()
    );
    // 2. The same objects when read back by apf.
    let (apf_schemas, apf_levels, notes) = load_objects(&f.fix.yaml, "fix.yaml").unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(apf_schemas, f.fix.schemas);
    assert_eq!(apf_levels, f.fix.levels);
    // The subject is never a group wider than the client.
    let c = f.culprit.as_ref().unwrap();
    for rule in &apf_schemas[0].rules {
        for s in &rule.subjects {
            match s {
                apilens_apf::Subject::Group { name } => {
                    assert!(c.user == "system:node:*" && name == "system:nodes", "{s:?}")
                }
                apilens_apf::Subject::User { name } => assert_eq!(name, &c.user),
                apilens_apf::Subject::ServiceAccount { namespace, name } => {
                    assert_eq!(c.user, format!("system:serviceaccount:{namespace}:{name}"))
                }
            }
        }
    }
    // 3. Request by request: exactly the culprit's offending requests change schema.
    let v = KubeVersion::parse(version).unwrap();
    let today = ApfConfig::defaults(v);
    let fixed = today.with_objects(&apf_schemas, &apf_levels);
    let (mut moved, mut total) = (0u64, 0u64);
    let file = std::io::BufReader::new(std::fs::File::open(log).unwrap());
    for line in file.lines() {
        let line = line.unwrap();
        apilens_audit::decode_record(&line, &mut |req| {
            total += 1;
            let shape = req.shape();
            let user = req
                .impersonated_user
                .as_deref()
                .unwrap_or(&req.user)
                .to_owned();
            let groups = req.groups();
            let group = req.object_api_group.as_deref().unwrap_or(shape.group);
            let resource = req.object_resource.as_deref().unwrap_or(shape.resource);
            let sub = req
                .object_subresource
                .as_deref()
                .unwrap_or(shape.subresource);
            let ns = req.object_namespace.as_deref().unwrap_or(shape.namespace);
            let path = req.request_uri.split('?').next().unwrap_or("");
            let digest = RequestDigest {
                user: &user,
                groups: &groups,
                verb: &req.verb,
                resource: (!shape.non_resource).then_some(ResourceAttributes {
                    api_group: group,
                    resource,
                    subresource: sub,
                    namespace: ns,
                    name: shape.name,
                }),
                path,
            };
            let before = today.classify(&digest);
            let after = fixed.classify(&digest);
            let changed = before.flow_schema != after.flow_schema;
            let res = if sub.is_empty() {
                resource.to_owned()
            } else {
                format!("{resource}/{sub}")
            };
            let same_client =
                user == c.user || (c.user == "system:node:*" && user.starts_with("system:node:"));
            let expected = same_client
                && f.fix.moves.iter().any(|m: &OffendingCall| {
                    m.verb == *req.verb
                        && m.api_group == group
                        && m.resource == res
                        && ((ns.is_empty() && m.cluster)
                            || (!ns.is_empty() && m.namespaces.iter().any(|n| n == "*" || n == ns)))
                });
            assert_eq!(
                changed, expected,
                "{} {}: {} -> {} (expected to move: {expected})",
                user, req.request_uri, before.flow_schema, after.flow_schema
            );
            if changed {
                moved += 1;
                assert_eq!(after.flow_schema, f.fix.schemas[0].name);
            }
        })
        .unwrap();
    }
    assert!(moved > 0, "the fix moves nothing of {total} requests");
}
