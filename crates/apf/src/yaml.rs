//! Reading FlowSchema and PriorityLevelConfiguration objects from YAML or JSON, and writing
//! them as `flowcontrol.apiserver.k8s.io/v1` YAML.
//!
//! Fields follow `k8s.io/api/flowcontrol/{v1beta1,v1beta2,v1beta3,v1}/types.go`; unset fields
//! take the API's defaults (`pkg/apis/flowcontrol/v1/defaults.go` in kubernetes/kubernetes):
//! `matchingPrecedence` 1000, `nominalConcurrencyShares` 30, `lendablePercent` 0, queuing
//! 64 queues, hand size 8, queue length limit 50. v1beta1/v1beta2's
//! `assuredConcurrencyShares` is the same field as `nominalConcurrencyShares`.

use crate::config::ConfigNote;
use crate::error::ApfError;
use crate::objects::{
    Distinguisher, FlowSchema, LevelSpec, LimitResponse, NonResourceRule, PolicyRule,
    PriorityLevel, ResourceRule, Subject,
};
use serde::Serialize;
use serde_json::Value;

const GROUP: &str = "flowcontrol.apiserver.k8s.io";

/// Objects read from one source: schemas, levels, and notes about what was skipped.
pub type LoadedObjects = (Vec<FlowSchema>, Vec<PriorityLevel>, Vec<ConfigNote>);

/// Reads YAML or JSON: one object, several documents, a `List`/`FlowSchemaList`/
/// `PriorityLevelConfigurationList`; `flowcontrol.apiserver.k8s.io` v1beta1 … v1.
///
/// Documents of other kinds are noted and skipped when the source also holds APF objects;
/// when it holds none, the first one is the error.
///
/// # Errors
/// [`ApfError::Yaml`] for text that is not YAML/JSON or a malformed APF object,
/// [`ApfError::NotApf`] for a source of other kinds only, [`ApfError::Empty`] for a source
/// without any document.
pub fn load_objects(text: &str, source: &str) -> Result<LoadedObjects, ApfError> {
    let docs = parse_documents(text, source)?;
    let mut schemas = Vec::new();
    let mut levels = Vec::new();
    let mut notes = Vec::new();
    let mut first_other: Option<ApfError> = None;
    for (i, doc) in docs.iter().enumerate() {
        let document = i + 1;
        if doc.is_null() {
            continue;
        }
        let mut other = |kind: String, notes: &mut Vec<ConfigNote>| {
            notes.push(ConfigNote {
                object: format!("{source} document {document}"),
                message: format!("skipped: a {kind}, not an APF object"),
            });
            if first_other.is_none() {
                first_other = Some(ApfError::NotApf {
                    source_name: source.to_string(),
                    document,
                    kind,
                });
            }
        };
        let Some(obj) = doc.as_object() else {
            other(describe(doc), &mut notes);
            continue;
        };
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let items: Vec<&Value> = if kind.ends_with("List") {
            match obj.get("items") {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(Value::Null) | None => Vec::new(),
                Some(_) => {
                    return Err(yaml_err(
                        source,
                        document,
                        "items is not a list".to_string(),
                    ));
                }
            }
        } else {
            vec![doc]
        };
        for (j, item) in items.into_iter().enumerate() {
            let at = |why: String| {
                if kind.ends_with("List") {
                    yaml_err(source, document, format!("items[{j}]: {why}"))
                } else {
                    yaml_err(source, document, why)
                }
            };
            let item_kind = item.get("kind").and_then(Value::as_str).unwrap_or("");
            let item_api = item.get("apiVersion").and_then(Value::as_str).unwrap_or(
                if kind.ends_with("List") {
                    api_version
                } else {
                    ""
                },
            );
            let apf_group = item_api.split('/').next() == Some(GROUP);
            let item_kind = if item_kind.is_empty() {
                // `kubectl get flowschemas -o yaml` lists carry the kind on the list only.
                kind.strip_suffix("List").unwrap_or("")
            } else {
                item_kind
            };
            match item_kind {
                "FlowSchema" if apf_group || item_api.is_empty() => {
                    schemas.push(read_schema(item).map_err(at)?);
                }
                "PriorityLevelConfiguration" if apf_group || item_api.is_empty() => {
                    levels.push(read_level(item).map_err(at)?);
                }
                _ => {
                    let described = if item_kind.is_empty() && item_api.is_empty() {
                        describe(item)
                    } else {
                        format!("{item_api} {item_kind}").trim().to_string()
                    };
                    other(described, &mut notes);
                }
            }
        }
    }
    if schemas.is_empty() && levels.is_empty() {
        return Err(first_other.unwrap_or(ApfError::Empty {
            source_name: source.to_string(),
        }));
    }
    Ok((schemas, levels, notes))
}

fn yaml_err(source: &str, document: usize, why: String) -> ApfError {
    ApfError::Yaml {
        source_name: source.to_string(),
        document,
        why,
    }
}

/// A short description of a value that is not an object with a kind.
fn describe(v: &Value) -> String {
    match v {
        Value::Object(_) => "mapping without kind".to_string(),
        Value::Array(_) => "sequence".to_string(),
        Value::String(_) => "plain string".to_string(),
        Value::Number(_) => "number".to_string(),
        Value::Bool(_) => "boolean".to_string(),
        Value::Null => "null".to_string(),
    }
}

/// Splits the text into documents: JSON when it starts with `{` or `[`, else YAML.
fn parse_documents(text: &str, source: &str) -> Result<Vec<Value>, ApfError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        return Err(ApfError::Empty {
            source_name: source.to_string(),
        });
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let mut out = Vec::new();
        for (i, v) in serde_json::Deserializer::from_str(trimmed)
            .into_iter::<Value>()
            .enumerate()
        {
            match v {
                Ok(Value::Array(items)) if i == 0 && out.is_empty() => out.extend(items),
                Ok(v) => out.push(v),
                Err(e) => return Err(yaml_err(source, i + 1, format!("invalid JSON: {e}"))),
            }
        }
        return Ok(out);
    }
    // YAML 1.2 booleans only: a level named `y` or `on` stays a name.
    let options = serde_saphyr::options!(strict_booleans: true);
    serde_saphyr::from_multiple_with_options::<Value>(trimmed, options).map_err(|e| {
        let why = e.to_string();
        let why = why.lines().next().unwrap_or("invalid YAML").to_string();
        yaml_err(source, 1, format!("invalid YAML: {why}"))
    })
}

fn field<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
        if cur.is_null() {
            return None;
        }
    }
    Some(cur)
}

fn string_at(v: &Value, path: &[&str]) -> Result<Option<String>, String> {
    match field(v, path) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "{} is {}, not a string",
            path.join("."),
            describe(other)
        )),
    }
}

fn u32_at(v: &Value, path: &[&str]) -> Result<Option<u32>, String> {
    match field(v, path) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("{} is {n}, not a non-negative integer", path.join("."))),
        Some(Value::String(s)) => s
            .parse::<u32>()
            .map(Some)
            .map_err(|_| format!("{} is {s:?}, not a non-negative integer", path.join("."))),
        Some(other) => Err(format!(
            "{} is {}, not a number",
            path.join("."),
            describe(other)
        )),
    }
}

fn strings_at(v: &Value, key: &str) -> Result<Vec<String>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("{key} holds {}, not a string", describe(other))),
            })
            .collect(),
        Some(other) => Err(format!("{key} is {}, not a list", describe(other))),
    }
}

fn list_at<'v>(v: &'v Value, key: &str) -> Result<&'v [Value], String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!("{key} is {}, not a list", describe(other))),
    }
}

fn name_of(v: &Value) -> Result<String, String> {
    string_at(v, &["metadata", "name"])?.ok_or_else(|| "metadata.name is missing".to_string())
}

fn read_schema(v: &Value) -> Result<FlowSchema, String> {
    let name = name_of(v)?;
    let in_obj = |why: String| format!("FlowSchema {name}: {why}");
    let spec = field(v, &["spec"]).ok_or_else(|| in_obj("spec is missing".to_string()))?;
    let priority_level = string_at(spec, &["priorityLevelConfiguration", "name"])
        .map_err(in_obj)?
        .ok_or_else(|| in_obj("spec.priorityLevelConfiguration.name is missing".to_string()))?;
    let matching_precedence = u32_at(spec, &["matchingPrecedence"])
        .map_err(in_obj)?
        .unwrap_or(1000);
    let distinguisher = match string_at(spec, &["distinguisherMethod", "type"]).map_err(in_obj)? {
        None => None,
        Some(t) if t == "ByUser" => Some(Distinguisher::ByUser),
        Some(t) if t == "ByNamespace" => Some(Distinguisher::ByNamespace),
        Some(t) => return Err(in_obj(format!("unknown distinguisherMethod.type {t:?}"))),
    };
    let mut rules = Vec::new();
    for (i, r) in list_at(spec, "rules").map_err(in_obj)?.iter().enumerate() {
        rules.push(read_rule(r).map_err(|e| in_obj(format!("rules[{i}]: {e}")))?);
    }
    Ok(FlowSchema {
        name,
        matching_precedence,
        priority_level,
        distinguisher,
        rules,
    })
}

fn read_rule(r: &Value) -> Result<PolicyRule, String> {
    let mut subjects = Vec::new();
    for s in list_at(r, "subjects")? {
        let kind = string_at(s, &["kind"])?.unwrap_or_default();
        let subject = match kind.as_str() {
            "User" => Subject::User {
                name: string_at(s, &["user", "name"])?.ok_or("a User subject without user.name")?,
            },
            "Group" => Subject::Group {
                name: string_at(s, &["group", "name"])?
                    .ok_or("a Group subject without group.name")?,
            },
            "ServiceAccount" => Subject::ServiceAccount {
                namespace: string_at(s, &["serviceAccount", "namespace"])?
                    .ok_or("a ServiceAccount subject without serviceAccount.namespace")?,
                name: string_at(s, &["serviceAccount", "name"])?
                    .ok_or("a ServiceAccount subject without serviceAccount.name")?,
            },
            other => return Err(format!("unknown subject kind {other:?}")),
        };
        subjects.push(subject);
    }
    let mut resource_rules = Vec::new();
    for rr in list_at(r, "resourceRules")? {
        resource_rules.push(ResourceRule {
            verbs: strings_at(rr, "verbs")?,
            api_groups: strings_at(rr, "apiGroups")?,
            resources: strings_at(rr, "resources")?,
            cluster_scope: match rr.get("clusterScope") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(format!("clusterScope is {other}, not true or false")),
            },
            namespaces: strings_at(rr, "namespaces")?,
        });
    }
    let mut non_resource_rules = Vec::new();
    for nr in list_at(r, "nonResourceRules")? {
        non_resource_rules.push(NonResourceRule {
            verbs: strings_at(nr, "verbs")?,
            non_resource_urls: strings_at(nr, "nonResourceURLs")?,
        });
    }
    Ok(PolicyRule {
        subjects,
        resource_rules,
        non_resource_rules,
    })
}

fn read_level(v: &Value) -> Result<PriorityLevel, String> {
    let name = name_of(v)?;
    let in_obj = |why: String| format!("PriorityLevelConfiguration {name}: {why}");
    let spec = field(v, &["spec"]).ok_or_else(|| in_obj("spec is missing".to_string()))?;
    let kind = string_at(spec, &["type"])
        .map_err(in_obj)?
        .unwrap_or_default();
    let spec = match kind.as_str() {
        "Exempt" => LevelSpec::Exempt {
            nominal_concurrency_shares: u32_at(spec, &["exempt", "nominalConcurrencyShares"])
                .map_err(in_obj)?
                .unwrap_or(0),
            lendable_percent: u32_at(spec, &["exempt", "lendablePercent"])
                .map_err(in_obj)?
                .unwrap_or(0),
        },
        "Limited" => {
            let limited = field(spec, &["limited"])
                .ok_or_else(|| in_obj("spec.limited is missing".to_string()))?;
            let shares = match u32_at(limited, &["nominalConcurrencyShares"]).map_err(in_obj)? {
                Some(s) => s,
                None => u32_at(limited, &["assuredConcurrencyShares"])
                    .map_err(in_obj)?
                    .unwrap_or(30),
            };
            let response = string_at(limited, &["limitResponse", "type"])
                .map_err(in_obj)?
                .unwrap_or_default();
            let limit_response = match response.as_str() {
                "Reject" => LimitResponse::Reject,
                "Queue" => {
                    let q = |k: &str, d: u32| {
                        u32_at(limited, &["limitResponse", "queuing", k])
                            .map(|v| v.unwrap_or(d))
                            .map_err(in_obj)
                    };
                    LimitResponse::Queue {
                        queues: q("queues", 64)?,
                        hand_size: q("handSize", 8)?,
                        queue_length_limit: q("queueLengthLimit", 50)?,
                    }
                }
                other => {
                    return Err(in_obj(format!(
                        "spec.limited.limitResponse.type is {other:?}, expected Queue or Reject"
                    )));
                }
            };
            LevelSpec::Limited {
                nominal_concurrency_shares: shares,
                lendable_percent: u32_at(limited, &["lendablePercent"])
                    .map_err(in_obj)?
                    .unwrap_or(0),
                borrowing_limit_percent: u32_at(limited, &["borrowingLimitPercent"])
                    .map_err(in_obj)?,
                limit_response,
            }
        }
        other => {
            return Err(in_obj(format!(
                "spec.type is {other:?}, expected Exempt or Limited"
            )));
        }
    };
    Ok(PriorityLevel { name, spec })
}

// ---- writing ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Doc<S> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Meta,
    spec: S,
}

#[derive(Serialize)]
struct Meta {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LevelSpecOut {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exempt: Option<ExemptOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limited: Option<LimitedOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExemptOut {
    nominal_concurrency_shares: u32,
    lendable_percent: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LimitedOut {
    nominal_concurrency_shares: u32,
    lendable_percent: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    borrowing_limit_percent: Option<u32>,
    limit_response: LimitResponseOut,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LimitResponseOut {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    queuing: Option<QueuingOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueuingOut {
    queues: u32,
    hand_size: u32,
    queue_length_limit: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SchemaSpecOut<'a> {
    priority_level_configuration: NameRef<'a>,
    matching_precedence: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    distinguisher_method: Option<TypeRef>,
    rules: Vec<RuleOut<'a>>,
}

#[derive(Serialize)]
struct NameRef<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct TypeRef {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleOut<'a> {
    subjects: Vec<SubjectOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resource_rules: Vec<ResourceRuleOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    non_resource_rules: Vec<NonResourceRuleOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubjectOut<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<NameRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<NameRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_account: Option<SaRef<'a>>,
}

#[derive(Serialize)]
struct SaRef<'a> {
    namespace: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceRuleOut<'a> {
    verbs: &'a [String],
    api_groups: &'a [String],
    resources: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cluster_scope: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    namespaces: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NonResourceRuleOut<'a> {
    verbs: &'a [String],
    #[serde(rename = "nonResourceURLs")]
    non_resource_urls: &'a [String],
}

fn level_doc(l: &PriorityLevel) -> Doc<LevelSpecOut> {
    let spec = match l.spec {
        LevelSpec::Exempt {
            nominal_concurrency_shares,
            lendable_percent,
        } => LevelSpecOut {
            kind: "Exempt",
            exempt: Some(ExemptOut {
                nominal_concurrency_shares,
                lendable_percent,
            }),
            limited: None,
        },
        LevelSpec::Limited {
            nominal_concurrency_shares,
            lendable_percent,
            borrowing_limit_percent,
            limit_response,
        } => LevelSpecOut {
            kind: "Limited",
            exempt: None,
            limited: Some(LimitedOut {
                nominal_concurrency_shares,
                lendable_percent,
                borrowing_limit_percent,
                limit_response: match limit_response {
                    LimitResponse::Reject => LimitResponseOut {
                        kind: "Reject",
                        queuing: None,
                    },
                    LimitResponse::Queue {
                        queues,
                        hand_size,
                        queue_length_limit,
                    } => LimitResponseOut {
                        kind: "Queue",
                        queuing: Some(QueuingOut {
                            queues,
                            hand_size,
                            queue_length_limit,
                        }),
                    },
                },
            }),
        },
    };
    Doc {
        api_version: "flowcontrol.apiserver.k8s.io/v1",
        kind: "PriorityLevelConfiguration",
        metadata: Meta {
            name: l.name.clone(),
        },
        spec,
    }
}

fn schema_doc(s: &FlowSchema) -> Doc<SchemaSpecOut<'_>> {
    let rules = s
        .rules
        .iter()
        .map(|r| RuleOut {
            subjects: r
                .subjects
                .iter()
                .map(|sub| match sub {
                    Subject::User { name } => SubjectOut {
                        kind: "User",
                        user: Some(NameRef { name }),
                        group: None,
                        service_account: None,
                    },
                    Subject::Group { name } => SubjectOut {
                        kind: "Group",
                        user: None,
                        group: Some(NameRef { name }),
                        service_account: None,
                    },
                    Subject::ServiceAccount { namespace, name } => SubjectOut {
                        kind: "ServiceAccount",
                        user: None,
                        group: None,
                        service_account: Some(SaRef { namespace, name }),
                    },
                })
                .collect(),
            resource_rules: r
                .resource_rules
                .iter()
                .map(|rr| ResourceRuleOut {
                    verbs: &rr.verbs,
                    api_groups: &rr.api_groups,
                    resources: &rr.resources,
                    cluster_scope: rr.cluster_scope,
                    namespaces: &rr.namespaces,
                })
                .collect(),
            non_resource_rules: r
                .non_resource_rules
                .iter()
                .map(|nr| NonResourceRuleOut {
                    verbs: &nr.verbs,
                    non_resource_urls: &nr.non_resource_urls,
                })
                .collect(),
        })
        .collect();
    Doc {
        api_version: "flowcontrol.apiserver.k8s.io/v1",
        kind: "FlowSchema",
        metadata: Meta {
            name: s.name.clone(),
        },
        spec: SchemaSpecOut {
            priority_level_configuration: NameRef {
                name: &s.priority_level,
            },
            matching_precedence: s.matching_precedence,
            distinguisher_method: s.distinguisher.map(|d| TypeRef { kind: d.as_str() }),
            rules,
        },
    }
}

/// Serialises objects as `flowcontrol.apiserver.k8s.io/v1` YAML documents (levels first, then
/// schemas), each starting with `---`.
pub fn to_yaml_v1(levels: &[PriorityLevel], schemas: &[FlowSchema]) -> String {
    let mut out = String::new();
    let mut push = |body: Result<String, serde_saphyr::SerializeError>| {
        out.push_str("---\n");
        // Serialising these plain structs cannot fail; an error would be a bug in the writer,
        // so it is written as a YAML comment rather than lost.
        match body {
            Ok(text) => out.push_str(&text),
            Err(e) => out.push_str(&format!("# unwritable object: {e}\n")),
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    };
    for l in levels {
        push(serde_saphyr::to_string(&level_doc(l)));
    }
    for s in schemas {
        push(serde_saphyr::to_string(&schema_doc(s)));
    }
    out
}
