//! Borrowed serde structs for one audit record and the unwrapping of the managed-cluster envelopes.
//!
//! One line may hold a native `audit.k8s.io` `Event` (v1, v1beta1, or the old layout with only
//! `timestamp`), an `EventList`, an EKS CloudWatch Logs record (`message` holds the event as a
//! string, or `logEvents[].message` in a subscription batch), an AKS diagnostic record
//! (`properties.log` as an object or as an escaped string), or a GKE Cloud Audit Log entry
//! (`protoPayload`). Everything is parsed into one borrowed struct so the common case, a native
//! event, costs a single pass with no allocation for unescaped strings.

use crate::native::{Native, raw_string};
use crate::plausible::{self, Stamp};
use crate::request::{Request, Stage};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A native audit event, or any of the envelopes around one.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawRecord<'a> {
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "auditID")]
    audit_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    stage: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "requestURI")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(borrow)]
    verb: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user: Option<RawUser<'a>>,
    #[serde(borrow, rename = "impersonatedUser")]
    impersonated_user: Option<RawUser<'a>>,
    #[serde(borrow, rename = "sourceIPs")]
    source_ips: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, rename = "userAgent")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "objectRef")]
    object_ref: Option<RawObjectRef<'a>>,
    #[serde(borrow, rename = "responseStatus")]
    response_status: Option<RawStatus<'a>>,
    #[serde(borrow, rename = "requestReceivedTimestamp")]
    request_received_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "stageTimestamp")]
    stage_timestamp: Option<Cow<'a, str>>,
    /// A string in audit events (old layout) and GKE entries; a number in CloudWatch records.
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    annotations: Option<&'a RawValue>,
    // Envelopes.
    #[serde(borrow)]
    items: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "logEvents", alias = "events")]
    log_events: Option<Vec<RawCloudWatchEvent<'a>>>,
    #[serde(borrow)]
    properties: Option<RawAksProperties<'a>>,
    #[serde(borrow, rename = "protoPayload")]
    proto_payload: Option<RawGkePayload<'a>>,
    #[serde(borrow)]
    labels: Option<&'a RawValue>,
    #[serde(borrow)]
    operation: Option<RawGkeOperation<'a>>,
    #[serde(borrow, rename = "insertId")]
    insert_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawUser<'a> {
    #[serde(borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(borrow)]
    groups: Option<&'a RawValue>,
    #[serde(borrow)]
    extra: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawObjectRef<'a> {
    #[serde(borrow)]
    resource: Option<Cow<'a, str>>,
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiGroup")]
    api_group: Option<Cow<'a, str>>,
    #[serde(borrow)]
    subresource: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawStatus<'a> {
    code: Option<i64>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawCloudWatchEvent<'a> {
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawAksProperties<'a> {
    #[serde(borrow)]
    log: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawGkePayload<'a> {
    #[serde(borrow, rename = "methodName")]
    method_name: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "resourceName")]
    resource_name: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "authenticationInfo")]
    authentication_info: Option<RawGkeAuthn<'a>>,
    #[serde(borrow, rename = "requestMetadata")]
    request_metadata: Option<RawGkeRequestMetadata<'a>>,
    status: Option<RawGkeStatus>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawGkeAuthn<'a> {
    #[serde(borrow, rename = "principalEmail")]
    principal_email: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawGkeRequestMetadata<'a> {
    #[serde(borrow, rename = "callerIp")]
    caller_ip: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "callerSuppliedUserAgent")]
    caller_supplied_user_agent: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawGkeStatus {
    code: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawGkeOperation<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

/// How deep envelopes may nest (an EventList inside a CloudWatch message, and so on).
const MAX_DEPTH: u8 = 4;

/// One thing read from a record: a request, or an item of an envelope that is not one.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // handed by value to a callback once per event, never stored: boxing would allocate per event
pub(crate) enum Decoded<'a> {
    /// A request.
    Request(Request<'a>),
    /// An item of an `EventList` or of a CloudWatch batch that is malformed, as
    /// `items[3]: why` (nested envelopes name each level). The other items are still read.
    BadItem(String),
}

/// Decodes one JSON record (a native event, an `EventList`, or a CloudWatch, AKS or GKE
/// envelope) into requests, calling `emit` for each in order, and returns how many there were.
///
/// Native events take a scanner that reads only the fields the analyses use; anything else goes
/// through serde. This is the per-line step of [`crate::scan`], without the de-duplication of
/// stages. An event whose timestamps cannot be real (before 2014, a day in the future, a
/// latency no request can have: see `plausible.rs`) is malformed, not a request. An item of an
/// envelope that is malformed does not stop the others: every good item is emitted, then the
/// error names the bad ones (`items[3]: ...`).
///
/// ```
/// use apilens_audit::decode_record;
///
/// let line = r#"{"kind":"Event","auditID":"a","stage":"ResponseComplete","verb":"list","requestURI":"/api/v1/pods?limit=500","user":{"username":"alice"},"responseStatus":{"code":200}}"#;
/// let mut users = Vec::new();
/// assert_eq!(decode_record(line, &mut |req| users.push(req.user.into_owned()))?, 1);
/// assert_eq!(users, ["alice"]);
/// assert!(decode_record(r#"{"kind":"Pod"}"#, &mut |_| {}).is_err());
/// # Ok::<(), apilens_audit::AuditError>(())
/// ```
///
/// # Errors
///
/// [`AuditError::Record`] when the text is not JSON or holds no audit event, or when an item of
/// it is malformed (after the good items were emitted).
pub fn decode_record(
    text: &str,
    emit: &mut dyn FnMut(Request<'_>),
) -> Result<usize, crate::AuditError> {
    let mut n = 0;
    let mut bad = Vec::new();
    decode(text, &mut |item| match item {
        Decoded::Request(req) => {
            n += 1;
            emit(req);
        }
        Decoded::BadItem(why) => bad.push(why),
    })
    .map_err(|why| crate::AuditError::Record { why })?;
    if !bad.is_empty() {
        return Err(crate::AuditError::Record {
            why: bad.join("; "),
        });
    }
    Ok(n)
}

/// Decodes one JSON text into requests and bad envelope items, calling `emit` for each in
/// order; returns why it is not an audit record when it is not one at all.
pub(crate) fn decode(text: &str, emit: &mut dyn FnMut(Decoded<'_>)) -> Result<(), String> {
    decode_depth(text, emit, 0, true)
}

/// [`decode`] with serde alone, to check the fast scanner against.
#[cfg(test)]
pub(crate) fn decode_with_serde(
    text: &str,
    emit: &mut dyn FnMut(Decoded<'_>),
) -> Result<(), String> {
    decode_depth(text, emit, 0, false)
}

/// Decodes each item of an envelope on its own: a bad item is emitted as
/// [`Decoded::BadItem`] naming `field[index]`, and the next items are still read.
fn decode_items<'t>(
    items: impl Iterator<Item = (usize, &'t str)>,
    field: &str,
    emit: &mut dyn FnMut(Decoded<'_>),
    depth: u8,
    fast: bool,
) {
    for (index, item) in items {
        let mut named = |d: Decoded<'_>| match d {
            Decoded::BadItem(why) => emit(Decoded::BadItem(format!("{field}[{index}]: {why}"))),
            ok => emit(ok),
        };
        if let Err(why) = decode_depth(item, &mut named, depth + 1, fast) {
            emit(Decoded::BadItem(format!("{field}[{index}]: {why}")));
        }
    }
}

fn decode_depth(
    text: &str,
    emit: &mut dyn FnMut(Decoded<'_>),
    depth: u8,
    fast: bool,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("envelopes nested too deep".to_owned());
    }
    if fast && let Some(native) = crate::fast::native(text) {
        emit(Decoded::Request(native.into_request()?));
        return Ok(());
    }
    let mut rec: RawRecord<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if let Some(items) = rec.items.take() {
        decode_items(
            items.iter().map(|i| i.get()).enumerate(),
            "items",
            emit,
            depth,
            fast,
        );
        return Ok(());
    }
    if let Some(log) = rec.properties.take().and_then(|p| p.log) {
        return decode_nested(log, emit, depth, fast);
    }
    if let Some(payload) = rec.proto_payload.take() {
        emit(Decoded::Request(gke_request(
            payload,
            rec.timestamp,
            rec.labels,
            rec.operation,
            rec.insert_id,
        )?));
        return Ok(());
    }
    if let Some(events) = rec.log_events.take() {
        let messages = events
            .iter()
            .enumerate()
            .filter_map(|(i, ev)| ev.message.as_deref().map(|m| (i, m.trim())));
        decode_items(messages, "logEvents", emit, depth, fast);
        return Ok(());
    }
    if rec.request_uri.is_none() && rec.verb.is_none() {
        if let Some(msg) = rec.message.take() {
            let msg = msg.trim();
            if msg.starts_with('{') {
                return decode_depth(msg, emit, depth + 1, fast);
            }
            return Err("message field does not hold a JSON audit event".to_owned());
        }
        return match rec.kind.as_deref() {
            Some(kind) if kind != "Event" => Err(format!("not an audit event (kind {kind})")),
            _ => Err("not an audit event (no requestURI or verb)".to_owned()),
        };
    }
    emit(Decoded::Request(native_from_serde(rec).into_request()?));
    Ok(())
}

fn decode_nested(
    log: &RawValue,
    emit: &mut dyn FnMut(Decoded<'_>),
    depth: u8,
    fast: bool,
) -> Result<(), String> {
    let raw = log.get();
    if raw.starts_with('"') {
        let inner: Cow<'_, str> = serde_json::from_str(raw).map_err(|e| e.to_string())?;
        decode_depth(inner.trim(), emit, depth + 1, fast)
    } else {
        decode_depth(raw, emit, depth + 1, fast)
    }
}

/// Maps a GKE Cloud Audit Log entry onto the request model.
///
/// `methodName` is `io.k8s.<group>.<version>.<resource>[.<subresource>].<verb>` (or `io.k8s.get`
/// for non-resource URLs), `resourceName` is the object path without `/api`/`/apis`, and
/// `status.code` is a gRPC code, translated to the HTTP code the apiserver returned.
fn gke_request<'a>(
    payload: RawGkePayload<'a>,
    timestamp: Option<&'a RawValue>,
    labels: Option<&'a RawValue>,
    operation: Option<RawGkeOperation<'a>>,
    insert_id: Option<Cow<'a, str>>,
) -> Result<Request<'a>, String> {
    let method = payload.method_name.unwrap_or_default();
    let verb = method.rsplit('.').next().unwrap_or_default().to_owned();
    let resource_name = payload.resource_name.unwrap_or_default();
    let uri = gke_uri(&resource_name);
    let (ua, ip) = match payload.request_metadata {
        Some(m) => (
            m.caller_supplied_user_agent.unwrap_or_default(),
            m.caller_ip.unwrap_or_default(),
        ),
        None => (Cow::Borrowed(""), Cow::Borrowed("")),
    };
    let user = payload
        .authentication_info
        .and_then(|a| a.principal_email)
        .unwrap_or_default();
    let code = payload.status.and_then(|s| s.code).map(grpc_to_http);
    let ts_text = timestamp.map(RawValue::get).and_then(raw_string);
    let ts = Stamp::read(ts_text.as_deref());
    let audit_id = operation
        .and_then(|o| o.id)
        .or(insert_id)
        .unwrap_or_default();
    let req = Request {
        audit_id,
        stage: Stage::ResponseComplete,
        verb: Cow::Owned(verb),
        user,
        groups: None,
        extra: None,
        impersonated_user: None,
        user_agent: ua,
        source_ip: ip,
        request_uri: Cow::Owned(uri),
        object_resource: None,
        object_namespace: None,
        object_api_group: None,
        object_subresource: None,
        code,
        status_message: false,
        received_us: ts.us(),
        stage_us: None,
        annotations: labels.map(RawValue::get),
    };
    plausible::check(&req, ts, "timestamp", Stamp::Absent)?;
    Ok(req)
}

fn gke_uri(resource_name: &str) -> String {
    let name = resource_name.trim_start_matches('/');
    if let Some(rest) = name.strip_prefix("core/") {
        format!("/api/{rest}")
    } else if name.matches('/').count() >= 2 {
        format!("/apis/{name}")
    } else {
        format!("/{name}")
    }
}

/// Translates a google.rpc.Code into the HTTP status code the apiserver sent.
fn grpc_to_http(code: i64) -> u16 {
    match code {
        0 => 200,
        1 => 499,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => 500,
    }
}

/// The fields of a native event that serde read, as the fast scanner gives them.
fn native_from_serde(rec: RawRecord<'_>) -> Native<'_> {
    let (username, groups, extra) = match rec.user {
        Some(u) => (
            u.username,
            u.groups.map(RawValue::get),
            u.extra.map(RawValue::get),
        ),
        None => (None, None, None),
    };
    let (resource, namespace, api_group, subresource) = match rec.object_ref {
        Some(o) => (o.resource, o.namespace, o.api_group, o.subresource),
        None => (None, None, None, None),
    };
    let (code, status_message) = match rec.response_status {
        Some(s) => (s.code, s.message.is_some_and(|m| !m.is_empty())),
        None => (None, false),
    };
    Native {
        audit_id: rec.audit_id,
        stage: rec.stage,
        request_uri: rec.request_uri,
        verb: rec.verb,
        username,
        groups,
        extra,
        impersonated: rec.impersonated_user.and_then(|u| u.username),
        source_ip: rec.source_ips.and_then(|mut ips| ips.pop()),
        user_agent: rec.user_agent,
        resource,
        namespace,
        api_group,
        subresource,
        code,
        status_message,
        received: rec.request_received_timestamp,
        stage_timestamp: rec.stage_timestamp,
        timestamp: rec.timestamp.map(RawValue::get),
        annotations: rec.annotations.map(RawValue::get),
    }
}
