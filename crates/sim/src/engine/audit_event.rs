//! The audit events of finished requests, as a real server writes them, and their flush in
//! time order at the end of each tick.

use super::identity::{authz_reason, hash2, node_ip, node_name, pod_suffix, username};
use super::{Failure, Pending, Simulator, is_deprecated};
use crate::KubeVersion;
use crate::SimError;
use crate::audit::{self, Event, ObjectRef, ResponseStatus, User};
use crate::rng::Rng;
use crate::scenario::Webhook;
use crate::workload::{ClientSpec, Identity, RequestSpec, Verb};
use std::collections::BTreeMap;
use std::io::Write;

impl Simulator {
    /// Writes the audit event of one finished request into the tick's buffer (a WATCH adds the
    /// `ResponseStarted` event of the watch its client opens next).
    pub(super) fn audit_event(
        &mut self,
        rng: &mut Rng,
        p: &Pending,
        spec: &RequestSpec,
        latency: f64,
    ) {
        let client = &self.scenario.clients[p.client];
        let version = self.replicas[p.replica].version;
        let info = spec.resource.info();
        let watch = spec.verb == Verb::Watch;
        let node = node_name(p.instance);
        let username = username(client, p.instance);
        // The groups APF classified the request with.
        let groups = self.client_groups[p.client].clone();
        let (extra, uid) = authentication_extra(client, p, version, &node);
        let source_ip = if client.per_node {
            node_ip(p.instance)
        } else {
            format!("10.244.{}.{}", (p.client * 7) % 250, 10 + p.instance % 200)
        };
        let uri = request_uri(spec, p, &node, self.tick, rng);
        let annotations = annotations(spec, p, client, version, latency);
        let webhook = self.scenario.webhook.as_ref();
        let object_ref = ObjectRef {
            resource: info.resource,
            namespace: p.namespace.as_deref(),
            name: p.name.as_deref().filter(|_| spec.verb != Verb::List),
            api_group: info.group,
            api_version: info.version,
            subresource: spec.subresource,
        };
        let end_us = p.at_us;
        let start_us = end_us - (latency * 1e6) as i64;
        let mut events = Vec::with_capacity(2);
        let id = audit::uuid(rng.next_u64(), rng.next_u64());
        events.push((
            end_us,
            Event {
                kind: "Event",
                api_version: "audit.k8s.io/v1",
                level: "Metadata",
                audit_id: id,
                stage: "ResponseComplete",
                request_uri: uri.clone(),
                verb: spec.verb.audit(),
                user: User {
                    username: &username,
                    uid: uid.clone(),
                    groups: &groups,
                    extra: extra.clone(),
                },
                source_ips: [source_ip.clone()],
                user_agent: &client.user_agent,
                object_ref: ObjectRef { ..object_ref },
                response_status: Some(response_status(p.code, p, spec, webhook)),
                request_received_timestamp: audit::micro_time(start_us),
                stage_timestamp: audit::micro_time(end_us),
                annotations,
            },
        ));
        if watch {
            // The reconnect opens the next watch: its ResponseStarted event.
            let started = end_us + (p.exec_s * 1e6) as i64;
            let mut ann = BTreeMap::new();
            ann.insert("authorization.k8s.io/decision", "allow".to_string());
            ann.insert("authorization.k8s.io/reason", authz_reason(client));
            events.push((
                started,
                Event {
                    kind: "Event",
                    api_version: "audit.k8s.io/v1",
                    level: "Metadata",
                    audit_id: audit::uuid(rng.next_u64(), rng.next_u64()),
                    stage: "ResponseStarted",
                    request_uri: uri,
                    verb: "watch",
                    user: User {
                        username: &username,
                        uid,
                        groups: &groups,
                        extra,
                    },
                    source_ips: [source_ip],
                    user_agent: &client.user_agent,
                    object_ref: ObjectRef {
                        resource: info.resource,
                        namespace: p.namespace.as_deref(),
                        name: p.name.as_deref(),
                        api_group: info.group,
                        api_version: info.version,
                        subresource: spec.subresource,
                    },
                    response_status: Some(response_status(200, p, spec, webhook)),
                    request_received_timestamp: audit::micro_time(end_us),
                    stage_timestamp: audit::micro_time(started),
                    annotations: ann,
                },
            ));
        }
        for (t, e) in events {
            if let Ok(line) = serde_json::to_string(&e) {
                self.audit_buf.push((t, line));
            }
        }
    }

    pub(super) fn flush_audit(&mut self) -> Result<(), SimError> {
        let Some(sink) = self.audit.as_mut() else {
            self.audit_buf.clear();
            return Ok(());
        };
        self.audit_buf.sort_by_key(|(t, _)| *t);
        for (_, line) in self.audit_buf.drain(..) {
            sink.write_all(line.as_bytes())
                .map_err(SimError::AuditWrite)?;
            sink.write_all(b"\n").map_err(SimError::AuditWrite)?;
        }
        Ok(())
    }
}

/// What authentication adds to a service account's user (its pod, credential and, from 1.30,
/// node for per-node agents) and its uid; nothing for nodes and people.
fn authentication_extra(
    client: &ClientSpec,
    p: &Pending,
    version: KubeVersion,
    node: &str,
) -> (BTreeMap<&'static str, [String; 1]>, Option<String>) {
    match &client.identity {
        Identity::Node => (BTreeMap::new(), None),
        Identity::ServiceAccount { namespace, name } => {
            let mut extra = BTreeMap::new();
            let seed = hash2(p.client as u64, u64::from(p.instance));
            let pod = format!("{}-{}", client.name, pod_suffix(seed));
            extra.insert("authentication.kubernetes.io/pod-name", [pod]);
            extra.insert(
                "authentication.kubernetes.io/pod-uid",
                [audit::uuid(seed, seed.rotate_left(17))],
            );
            extra.insert(
                "authentication.kubernetes.io/credential-id",
                [format!(
                    "JTI={}",
                    audit::uuid(seed.rotate_left(5), seed ^ 0x55)
                )],
            );
            if version.at_least(1, 30) && client.per_node {
                extra.insert("authentication.kubernetes.io/node-name", [node.to_owned()]);
                extra.insert(
                    "authentication.kubernetes.io/node-uid",
                    [audit::uuid(hash2(7, u64::from(p.instance)), 11)],
                );
            }
            let uid = audit::uuid(
                hash2(namespace.len() as u64, p.client as u64),
                hash2(name.len() as u64, 3),
            );
            (extra, Some(uid))
        }
        Identity::User { .. } => (BTreeMap::new(), None),
    }
}

/// The request URI as the client sent it: the object's path, and the query a LIST or WATCH of
/// this client carries (bookmarks, selectors, limit, resourceVersion, timeout).
fn request_uri(spec: &RequestSpec, p: &Pending, node: &str, tick: u64, rng: &mut Rng) -> String {
    let watch = spec.verb == Verb::Watch;
    let mut uri = spec.resource.path(p.namespace.as_deref());
    if let (Some(name), false) = (&p.name, watch || spec.verb == Verb::List) {
        uri.push('/');
        uri.push_str(name);
    }
    if !spec.subresource.is_empty() {
        uri.push('/');
        uri.push_str(spec.subresource);
    }
    let mut query: Vec<String> = Vec::new();
    if watch {
        query.push("allowWatchBookmarks=true".into());
    }
    if spec.node_selector {
        query.push(format!("fieldSelector=spec.nodeName%3D{node}"));
    } else if watch && spec.name.is_some() {
        query.push(format!(
            "fieldSelector=metadata.name%3D{}",
            p.name.as_deref().unwrap_or("")
        ));
    }
    if let Some(l) = spec.limit {
        query.push(format!("limit={l}"));
    }
    if spec.rv_zero {
        query.push("resourceVersion=0".into());
    } else if watch {
        query.push(format!(
            "resourceVersion={}",
            48_000_000 + tick * 40 + rng.below(40)
        ));
    }
    if watch {
        query.push(format!("timeoutSeconds={}", p.watch_s.round() as u64));
        query.push("watch=true".into());
    }
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query.join("&"));
    }
    uri
}

/// The annotations of the event: deprecation, the authorization decision, and the latency
/// breakdown a server of `version` writes for a request slower than 500 ms.
fn annotations(
    spec: &RequestSpec,
    p: &Pending,
    client: &ClientSpec,
    version: KubeVersion,
    latency: f64,
) -> BTreeMap<&'static str, String> {
    let watch = spec.verb == Verb::Watch;
    let mut annotations = BTreeMap::new();
    if is_deprecated(spec.resource, version) {
        annotations.insert("k8s.io/deprecated", "true".to_string());
    }
    if p.rejected.is_none() {
        annotations.insert("authorization.k8s.io/decision", "allow".to_string());
        annotations.insert("authorization.k8s.io/reason", authz_reason(client));
    }
    if !watch
        && latency > 0.5
        && version.at_least(1, 24)
        && !crate::version::drops_latency_annotations(version)
    {
        annotations.insert(
            "apiserver.latency.k8s.io/total",
            audit::go_duration(latency),
        );
        if p.rejected.is_none() {
            if p.etcd_s > 0.0 {
                annotations.insert(
                    "apiserver.latency.k8s.io/etcd",
                    audit::go_duration(p.etcd_s),
                );
            }
            if p.bytes > 0.0 {
                annotations.insert(
                    "apiserver.latency.k8s.io/serialize-response-object",
                    audit::go_duration(p.bytes / 250e6),
                );
                annotations.insert(
                    "apiserver.latency.k8s.io/response-write",
                    audit::go_duration(p.bytes / 1e9 + 0.0001),
                );
                annotations.insert(
                    "apiserver.latency.k8s.io/transform-response-object",
                    audit::go_duration(3e-6 + p.returned * 2e-8),
                );
            }
            if p.fetched > 0.0 && version.at_least(1, 30) {
                annotations.insert(
                    "apiserver.latency.k8s.io/decode-response-object",
                    audit::go_duration(p.fetched * 8e-6),
                );
            }
            if p.webhook_s > 0.0 {
                annotations.insert(
                    "apiserver.latency.k8s.io/validating-webhook",
                    audit::go_duration(p.webhook_s),
                );
            }
        }
        if p.wait_s > 0.001 && version.at_least(1, 31) {
            annotations.insert(
                "apiserver.latency.k8s.io/apf-queue-wait",
                audit::go_duration(p.wait_s),
            );
        }
    }
    annotations
}

/// The response status of an answer with `code`, with the message a real server gives for a
/// missing object, a conflict, etcd's time-out, a hung webhook or the request deadline.
fn response_status(
    code: u16,
    p: &Pending,
    spec: &RequestSpec,
    webhook: Option<&Webhook>,
) -> ResponseStatus {
    let info = spec.resource.info();
    let (status, reason, message) = match code {
        404 => (
            Some("Failure"),
            Some("NotFound"),
            Some(format!(
                "{} \"{}\" not found",
                info.resource,
                p.name.as_deref().unwrap_or("")
            )),
        ),
        409 => (
            Some("Failure"),
            Some("Conflict"),
            Some(format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                spec.resource.qualified(),
                p.name.as_deref().unwrap_or("")
            )),
        ),
        500 | 504 => match p.failure {
            // Not a Status from storage: the server wraps the raw error, reason Unknown.
            Some(Failure::EtcdTimedOut) => (
                Some("Failure"),
                None,
                Some("etcdserver: request timed out".to_string()),
            ),
            Some(Failure::WebhookHung) => (
                Some("Failure"),
                Some("InternalError"),
                Some(format!(
                    "Internal error occurred: failed calling webhook \"{hook}\": failed to call webhook: Post \"https://policy-webhook.acme-system.svc:443/validate?timeout={secs}s\": context deadline exceeded",
                    hook = webhook.map_or("", |w| w.name),
                    secs = webhook.map_or(0.0, |w| w.timeout_seconds),
                )),
            ),
            Some(Failure::Deadline) => (
                Some("Failure"),
                Some("Timeout"),
                Some(
                    "Timeout: request did not complete within requested timeout - context deadline exceeded"
                        .to_string(),
                ),
            ),
            None => (None, None, None),
        },
        _ => (None, None, None),
    };
    ResponseStatus {
        metadata: BTreeMap::new(),
        status,
        message,
        reason,
        code,
    }
}
