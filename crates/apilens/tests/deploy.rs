//! `deploy/`: the Helm chart rendered (by a Go-template engine here, and by `helm template` too
//! where Helm is installed), every object of the chart and of the plain manifests read into the
//! k8s-openapi types with unknown fields as errors, the plain manifests equal to the chart's
//! defaults, and the RBAC rules checked against the requests `apilens serve` (and `apilens
//! doctor` in the pod) really make to a fake HTTPS API server.

#[path = "../../kube/tests/support/fake_apiserver.rs"]
mod fake_apiserver;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn chart_dir() -> PathBuf {
    deploy_dir().join("helm/apilens")
}

// ---- Rendering the chart -------------------------------------------------------------------

/// A YAML text (one or more documents) as JSON values; empty documents are left out.
fn yaml_docs(text: &str, what: &str) -> Vec<Value> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// A JSON value as a template value.
fn to_gtmpl(v: &Value) -> gtmpl::Value {
    match v {
        Value::Null => gtmpl::Value::Nil,
        Value::Bool(b) => gtmpl::Value::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => gtmpl::Value::from(u),
            (None, Some(i)) => gtmpl::Value::from(i),
            _ => gtmpl::Value::from(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => gtmpl::Value::from(s.clone()),
        Value::Array(a) => gtmpl::Value::Array(a.iter().map(to_gtmpl).collect()),
        Value::Object(o) => gtmpl::Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), to_gtmpl(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// A template value as JSON, for `toYaml`.
fn to_json(v: &gtmpl::Value) -> Value {
    match v {
        gtmpl::Value::Bool(b) => Value::Bool(*b),
        gtmpl::Value::String(s) => Value::String(s.clone()),
        gtmpl::Value::Number(n) => n
            .as_u64()
            .map(Value::from)
            .or_else(|| n.as_i64().map(Value::from))
            .or_else(|| n.as_f64().map(Value::from))
            .unwrap_or(Value::Null),
        gtmpl::Value::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        gtmpl::Value::Map(m) | gtmpl::Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<serde_json::Map<_, _>>(),
        ),
        _ => Value::Null,
    }
}

/// Helm's `toYaml`: the value as block YAML, without the final newline.
fn to_yaml(args: &[gtmpl::Value]) -> Result<gtmpl::Value, gtmpl::FuncError> {
    let [value] = args else {
        return Err(gtmpl::FuncError::ExactlyXArgs("toYaml".into(), 1));
    };
    let text = serde_saphyr::to_string(&to_json(value))
        .map_err(|e| gtmpl::FuncError::Generic(e.to_string()))?;
    Ok(gtmpl::Value::from(text.trim_end().to_owned()))
}

/// Helm's `nindent N TEXT`: a newline, then every line of TEXT indented by N spaces.
fn nindent(args: &[gtmpl::Value]) -> Result<gtmpl::Value, gtmpl::FuncError> {
    let [gtmpl::Value::Number(n), gtmpl::Value::String(text)] = args else {
        return Err(gtmpl::FuncError::ExactlyXArgs("nindent".into(), 2));
    };
    let pad = " ".repeat(n.as_u64().unwrap_or_default() as usize);
    let body: Vec<String> = text.lines().map(|l| format!("{pad}{l}")).collect();
    Ok(gtmpl::Value::from(format!("\n{}", body.join("\n"))))
}

/// The chart's values.yaml with `overrides` merged in (objects key by key).
fn values(overrides: &Value) -> Value {
    fn merge(into: &mut Value, from: &Value) {
        match (into, from) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
            (slot, v) => *slot = v.clone(),
        }
    }
    let text = std::fs::read_to_string(chart_dir().join("values.yaml")).unwrap();
    let mut values = yaml_docs(&text, "values.yaml").remove(0);
    if !overrides.is_null() {
        merge(&mut values, overrides);
    }
    values
}

/// Every template of the chart rendered with `overrides` over its values, as Helm does for
/// release `apilens` in namespace `apilens`; the objects, in template file order.
fn render_chart(overrides: &Value) -> Vec<Value> {
    let chart = yaml_docs(
        &std::fs::read_to_string(chart_dir().join("Chart.yaml")).unwrap(),
        "Chart.yaml",
    )
    .remove(0);
    let context = serde_json::json!({
        "Values": values(overrides),
        "Release": { "Name": "apilens", "Namespace": "apilens", "Service": "Helm" },
        "Chart": { "Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"] },
    });
    let mut files: Vec<PathBuf> = std::fs::read_dir(chart_dir().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let mut template = gtmpl::Template::default();
        template.add_func("toYaml", to_yaml);
        template.add_func("nindent", nindent);
        template
            .parse(std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let text = template
            .render(&gtmpl::Context::from(to_gtmpl(&context)))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        out.extend(yaml_docs(&text, &file.display().to_string()));
    }
    out
}

/// `helm template` of the chart with `--set` pairs, where Helm is installed.
fn helm_template(sets: &[&str]) -> Option<Vec<Value>> {
    let mut cmd = Command::new("helm");
    cmd.args(["template", "apilens"])
        .arg(chart_dir())
        .args(["--namespace", "apilens"]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.stderr(Stdio::piped()).output().ok()?;
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(yaml_docs(
        std::str::from_utf8(&out.stdout).unwrap(),
        "helm template",
    ))
}

/// Objects keyed by kind and name, for comparisons that ignore order.
fn by_name(objects: &[Value]) -> BTreeMap<(String, String), Value> {
    objects
        .iter()
        .map(|o| {
            (
                (
                    o["kind"].as_str().unwrap().to_owned(),
                    o["metadata"]["name"].as_str().unwrap().to_owned(),
                ),
                o.clone(),
            )
        })
        .collect()
}

// ---- Reading objects strictly --------------------------------------------------------------

/// One object of the deployment, read into its k8s-openapi type.
#[derive(Debug)]
enum Object {
    Namespace(Box<Namespace>),
    ServiceAccount(Box<ServiceAccount>),
    Service(Box<Service>),
    Claim(Box<PersistentVolumeClaim>),
    Deployment(Box<Deployment>),
    ClusterRole(Box<ClusterRole>),
    ClusterRoleBinding(Box<ClusterRoleBinding>),
    Role(Box<Role>),
    RoleBinding(Box<RoleBinding>),
    NetworkPolicy(Box<NetworkPolicy>),
}

/// Reads `value` as `T`; a field `T` does not have is an error naming its path.
fn strict<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Box<T> {
    let mut unknown = Vec::new();
    let parsed: T = serde_ignored::deserialize(value.clone(), |path| {
        unknown.push(path.to_string());
    })
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(unknown.is_empty(), "{what}: unknown fields {unknown:?}");
    Box::new(parsed)
}

/// Reads every object by its apiVersion and kind; an unexpected kind fails.
fn read_objects(values: &[Value], source: &str) -> Vec<Object> {
    values
        .iter()
        .map(|v| {
            let what = format!(
                "{source}: {} {}",
                v["kind"].as_str().unwrap_or("?"),
                v["metadata"]["name"].as_str().unwrap_or("?")
            );
            let api = (
                v["apiVersion"].as_str().unwrap_or_default(),
                v["kind"].as_str().unwrap_or_default(),
            );
            match api {
                ("v1", "Namespace") => Object::Namespace(strict(v, &what)),
                ("v1", "ServiceAccount") => Object::ServiceAccount(strict(v, &what)),
                ("v1", "Service") => Object::Service(strict(v, &what)),
                ("v1", "PersistentVolumeClaim") => Object::Claim(strict(v, &what)),
                ("apps/v1", "Deployment") => Object::Deployment(strict(v, &what)),
                ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
                    Object::ClusterRole(strict(v, &what))
                }
                ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
                    Object::ClusterRoleBinding(strict(v, &what))
                }
                ("rbac.authorization.k8s.io/v1", "Role") => Object::Role(strict(v, &what)),
                ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
                    Object::RoleBinding(strict(v, &what))
                }
                ("networking.k8s.io/v1", "NetworkPolicy") => {
                    Object::NetworkPolicy(strict(v, &what))
                }
                other => panic!("{what}: unexpected {other:?}"),
            }
        })
        .collect()
}

fn deployment(objects: &[Object]) -> &Deployment {
    objects
        .iter()
        .find_map(|o| match o {
            Object::Deployment(d) => Some(d.as_ref()),
            _ => None,
        })
        .expect("a Deployment")
}

/// The apilens container of the Deployment.
fn container(objects: &[Object]) -> &k8s_openapi::api::core::v1::Container {
    &deployment(objects)
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
}

#[test]
fn the_strict_reader_refuses_an_unknown_field() {
    let ok = serde_json::json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": "a" } });
    read_objects(&[ok], "test");
    let bad = serde_json::json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": "a", "labelz": {} } });
    let e = std::panic::catch_unwind(|| read_objects(&[bad], "test")).unwrap_err();
    let message = e.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("unknown fields") && message.contains("labelz"),
        "{message}"
    );
}

#[test]
fn the_chart_renders_into_valid_objects_of_a_secure_deployment() {
    let rendered = render_chart(&Value::Null);
    let objects = read_objects(&rendered, "chart");
    let kinds: BTreeSet<&str> = rendered
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "NetworkPolicy",
            "PersistentVolumeClaim",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ])
    );
    let d = deployment(&objects);
    let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("apilens"));
    assert_eq!(
        pod.security_context.as_ref().unwrap().run_as_non_root,
        Some(true)
    );
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    let probe_path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone())
    };
    assert_eq!(probe_path(&c.liveness_probe).as_deref(), Some("/-/healthy"));
    assert_eq!(probe_path(&c.readiness_probe).as_deref(), Some("/-/ready"));
    let requests = c.resources.as_ref().unwrap().requests.as_ref().unwrap();
    assert!(requests.contains_key("cpu") && requests.contains_key("memory"));
    // The store is on the claim, and the claim is the chart's.
    let data = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "data")
        .unwrap();
    assert_eq!(
        data.persistent_volume_claim.as_ref().unwrap().claim_name,
        "apilens-data"
    );
    assert!(
        c.volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .any(|m| m.name == "data" && m.mount_path == "/data")
    );
    // The Service and the NetworkPolicy select the pod.
    let pod_labels = d
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    for o in &objects {
        let selector = match o {
            Object::Service(s) => s.spec.as_ref().unwrap().selector.clone().unwrap(),
            Object::NetworkPolicy(n) => n
                .spec
                .as_ref()
                .unwrap()
                .pod_selector
                .as_ref()
                .unwrap()
                .match_labels
                .clone()
                .unwrap(),
            _ => continue,
        };
        assert!(
            selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)),
            "{selector:?} vs {pod_labels:?}"
        );
    }
    let claim = objects
        .iter()
        .find_map(|o| match o {
            Object::Claim(c) => Some(c),
            _ => None,
        })
        .unwrap();
    let claim_spec = claim.spec.as_ref().unwrap();
    assert_eq!(claim.metadata.name.as_deref(), Some("apilens-data"));
    assert_eq!(
        claim_spec.access_modes.as_deref(),
        Some(&["ReadWriteOnce".to_owned()][..])
    );
    assert_eq!(
        claim_spec
            .resources
            .as_ref()
            .unwrap()
            .requests
            .as_ref()
            .unwrap()["storage"]
            .0,
        "20Gi"
    );
    // No remote write unless asked.
    assert!(
        !c.args
            .as_ref()
            .unwrap()
            .iter()
            .any(|a| a.contains("remote-write"))
    );
}

#[test]
fn remote_write_to_amp_with_irsa_is_a_matter_of_values() {
    let overrides = serde_json::json!({
        "remoteWrite": {
            "enabled": true,
            "url": "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd/api/v1/remote_write",
            "sigv4Region": "eu-west-1",
        },
        "serviceAccount": { "annotations": { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/apilens-amp" } },
        "networkPolicy": { "enabled": false },
    });
    let rendered = render_chart(&overrides);
    let objects = read_objects(&rendered, "chart with remote write");
    assert!(
        !objects
            .iter()
            .any(|o| matches!(o, Object::NetworkPolicy(_)))
    );
    let args = container(&objects).args.clone().unwrap();
    assert!(args.contains(&"--remote-write=https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd/api/v1/remote_write".to_owned()), "{args:?}");
    assert!(args.contains(&"--sigv4".to_owned()));
    assert!(args.contains(&"--sigv4-region=eu-west-1".to_owned()));
    let sa = objects
        .iter()
        .find_map(|o| match o {
            Object::ServiceAccount(s) => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        sa.metadata.annotations.as_ref().unwrap()["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/apilens-amp"
    );
    // The flags are flags `apilens serve` takes.
    let out = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(&args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Helm, where installed, renders the same objects.
    if let Some(helm) = helm_template(&[
        "remoteWrite.enabled=true",
        "remoteWrite.url=https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd/api/v1/remote_write",
        "remoteWrite.sigv4Region=eu-west-1",
        "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/apilens-amp",
        "networkPolicy.enabled=false",
    ]) {
        assert_eq!(by_name(&helm), by_name(&rendered));
    }
}

#[test]
fn the_plain_manifests_are_the_charts_defaults() {
    let text = std::fs::read_to_string(deploy_dir().join("kubernetes/apilens.yaml")).unwrap();
    let plain = yaml_docs(&text, "deploy/kubernetes/apilens.yaml");
    let objects = read_objects(&plain, "deploy/kubernetes/apilens.yaml");
    let Object::Namespace(namespace) = &objects[0] else {
        panic!("the plain manifests start with their namespace")
    };
    assert_eq!(namespace.metadata.name.as_deref(), Some("apilens"));
    let rendered = render_chart(&Value::Null);
    assert_eq!(by_name(&plain[1..]), by_name(&rendered));
    if let Some(helm) = helm_template(&[]) {
        assert_eq!(by_name(&helm), by_name(&rendered));
    }
}

// ---- RBAC against the requests made --------------------------------------------------------

/// What a request asks of the authorizer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Access {
    /// A non-resource URL (`/metrics`, `/debug/...`).
    NonResource { verb: String, path: String },
    /// A resource request.
    Resource {
        verb: String,
        group: String,
        resource: String,
        namespace: Option<String>,
    },
}

/// The attributes of `METHOD /path?query` as the API server's request-info resolver gives
/// them, for the GET requests a reader makes.
fn access_of(request: &str) -> Access {
    let (method, target) = request.split_once(' ').unwrap();
    assert_eq!(method, "GET", "{request}: apilens only reads");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
        _ => {
            return Access::NonResource {
                verb: "get".into(),
                path: path.to_owned(),
            };
        }
    };
    let (group, rest) = rest;
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
        _ => (None, rest),
    };
    let watch = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    let verb = match rest {
        [_resource] if watch => "watch",
        [_resource] => "list",
        [_resource, _name] => "get",
        _ => panic!("{request}: unexpected path"),
    };
    Access::Resource {
        verb: verb.into(),
        group: group.to_owned(),
        resource: rest[0].to_owned(),
        namespace,
    }
}

/// Non-resource URLs every authenticated client may get by the default bootstrap policy
/// (`system:discovery`, `system:public-info-viewer`).
const DEFAULT_ALLOWED: &[&str] = &[
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/readyz",
    "/version",
    "/version/",
    "/openapi",
    "/openapi/*",
];

fn url_matches(rule: &str, path: &str) -> bool {
    match rule.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => rule == path,
    }
}

fn has(list: &Option<Vec<String>>, item: &str) -> bool {
    list.as_ref()
        .is_some_and(|l| l.iter().any(|x| x == item || x == "*"))
}

/// The rules granted to the chart's service account: (rule, namespace the grant is limited
/// to), after checking every binding names it and a role of the chart.
fn granted_rules(objects: &[Object]) -> Vec<(PolicyRule, Option<String>)> {
    let subject_ok = |subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>| {
        subjects.as_ref().is_some_and(|s| {
            s.iter().all(|s| {
                s.kind == "ServiceAccount"
                    && s.name == "apilens"
                    && s.namespace.as_deref() == Some("apilens")
            })
        })
    };
    let mut out = Vec::new();
    for o in objects {
        match o {
            Object::ClusterRoleBinding(b) => {
                assert!(subject_ok(&b.subjects));
                assert_eq!(b.role_ref.kind, "ClusterRole");
                let role = objects
                    .iter()
                    .find_map(|o| match o {
                        Object::ClusterRole(r)
                            if r.metadata.name.as_deref() == Some(&b.role_ref.name) =>
                        {
                            Some(r)
                        }
                        _ => None,
                    })
                    .expect("the bound ClusterRole");
                for r in role.rules.clone().unwrap_or_default() {
                    out.push((r, None));
                }
            }
            Object::RoleBinding(b) => {
                assert!(subject_ok(&b.subjects));
                assert_eq!(b.role_ref.kind, "Role");
                let ns = b.metadata.namespace.clone().unwrap();
                let role = objects
                    .iter()
                    .find_map(|o| match o {
                        Object::Role(r)
                            if r.metadata.name.as_deref() == Some(&b.role_ref.name)
                                && r.metadata.namespace.as_deref() == Some(&ns) =>
                        {
                            Some(r)
                        }
                        _ => None,
                    })
                    .expect("the bound Role");
                for r in role.rules.clone().unwrap_or_default() {
                    out.push((r, Some(ns.clone())));
                }
            }
            _ => {}
        }
    }
    out
}

/// The index of the granted rule that allows `access`, or `None` (also `None` for what the
/// default policy allows).
fn allowing_rule(rules: &[(PolicyRule, Option<String>)], access: &Access) -> Option<usize> {
    rules.iter().position(|(rule, only_in)| match access {
        Access::NonResource { verb, path } => {
            only_in.is_none()
                && has(&Some(rule.verbs.clone()), verb)
                && rule
                    .non_resource_urls
                    .as_ref()
                    .is_some_and(|urls| urls.iter().any(|u| url_matches(u, path)))
        }
        Access::Resource {
            verb,
            group,
            resource,
            namespace,
        } => {
            (only_in.is_none() || only_in == namespace)
                && has(&Some(rule.verbs.clone()), verb)
                && has(&rule.api_groups, group)
                && has(&rule.resources, resource)
        }
    })
}

/// Waits until `ready`, failing after `what` has not happened in 30 s.
fn wait(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    (status, out)
}

#[test]
fn the_rbac_rules_cover_exactly_the_requests_serve_and_doctor_make() {
    let objects = read_objects(&render_chart(&Value::Null), "chart");
    let rules = granted_rules(&objects);
    let container = container(&objects).clone();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let metrics = bytes::Bytes::from(std::fs::read(fake_apiserver::fixture("1.34.0")).unwrap());
    let (replicas, kubeconfig) =
        runtime.block_on(fake_apiserver::two_replicas_with_apf(metrics, dir.path()));
    let recorded = || -> Vec<String> {
        replicas
            .iter()
            .flat_map(|r| r.requests.lock().unwrap().clone())
            .collect()
    };

    // `apilens serve` with the Deployment's own arguments, but the store in a temporary
    // directory and a loopback port.
    let port = apilens_testkit::free_port();
    let listen = format!("127.0.0.1:{port}");
    let data = dir.path().join("data");
    let args: Vec<String> = container
        .args
        .clone()
        .unwrap()
        .into_iter()
        .map(|a| {
            if a.starts_with("--data-dir=") {
                format!("--data-dir={}", data.display())
            } else if a.starts_with("--listen=") {
                format!("--listen={listen}")
            } else if a.starts_with("--scrape-interval=") {
                "--scrape-interval=1s".to_owned()
            } else {
                a
            }
        })
        .collect();
    let mut serve = apilens_testkit::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_apilens"))
            .args(&args)
            .env("KUBECONFIG", &kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait("both replicas scraped twice", || {
        replicas
            .iter()
            .all(|r| r.metrics_requests.load(std::sync::atomic::Ordering::SeqCst) >= 2)
    });
    // The probes the Deployment names answer.
    for probe in [&container.liveness_probe, &container.readiness_probe] {
        let path = probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .path
            .clone()
            .unwrap();
        let (status, body) = http_get(&listen, &path);
        assert_eq!(status, 200, "{path}: {body}");
    }
    let _ = serve.0.kill();
    let _ = serve.0.wait();
    let by_serve: BTreeSet<Access> = recorded().iter().map(|r| access_of(r)).collect();
    assert_eq!(
        by_serve,
        BTreeSet::from([
            Access::NonResource {
                verb: "get".into(),
                path: "/metrics".into()
            },
            Access::Resource {
                verb: "list".into(),
                group: "discovery.k8s.io".into(),
                resource: "endpointslices".into(),
                namespace: Some("default".into()),
            },
        ]),
        "{:?}",
        recorded()
    );

    // `apilens doctor` run in the pod (kubectl exec) reads the live APF state.
    let before = recorded().len();
    let out = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(["doctor", "--format", "json"])
        .env("KUBECONFIG", &kubeconfig)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: BTreeSet<Access> = recorded().iter().map(|r| access_of(r)).collect();
    assert!(recorded().len() > before, "the doctor read the cluster");

    // Every request is allowed, by the chart's rules or the default policy ...
    let mut used = BTreeSet::new();
    for access in &all {
        match allowing_rule(&rules, access) {
            Some(i) => {
                used.insert(i);
            }
            None => {
                let default = matches!(access, Access::NonResource { path, .. }
                    if DEFAULT_ALLOWED.iter().any(|u| url_matches(u, path)));
                assert!(default, "not allowed by the chart's RBAC: {access:?}");
            }
        }
    }
    // ... and every rule, every URL, resource and verb in it, is needed by one (watch is
    // granted beside list as the pair a collection reader is given).
    for (i, (rule, only_in)) in rules.iter().enumerate() {
        assert!(
            used.contains(&i),
            "rule {rule:?} allows nothing that is asked"
        );
        for verb in rule.verbs.iter().filter(|v| *v != "watch") {
            for url in rule.non_resource_urls.iter().flatten() {
                assert!(
                    all.iter().any(|a| matches!(a, Access::NonResource { verb: v, path } if v == verb && url_matches(url, path))),
                    "{verb} {url} is granted and never asked"
                );
            }
            for resource in rule.resources.iter().flatten() {
                assert!(
                    all.iter().any(|a| matches!(a, Access::Resource { verb: v, resource: r, namespace, .. }
                        if v == verb && r == resource && (only_in.is_none() || only_in == namespace))),
                    "{verb} {resource} is granted and never asked"
                );
            }
        }
    }
    drop(runtime);
}
