//! The request model: one audit event reduced to what the analyses need.

use crate::uri::Shape;
use serde::Deserialize;
use std::borrow::Cow;

/// The audit stage of an event.
///
/// A request is logged once per stage; analyses count one event per request, preferring the final
/// stage ([`Stage::is_final`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Before the handler ran; no response status yet.
    RequestReceived,
    /// Headers sent for a long-running request (watch, exec).
    ResponseStarted,
    /// The response was sent.
    ResponseComplete,
    /// The handler panicked.
    Panic,
    /// Missing or not a known stage (old layouts had none).
    Unknown,
}

impl Stage {
    /// Parses the `stage` field; a missing stage is [`Stage::Unknown`].
    pub fn parse(text: Option<&str>) -> Stage {
        match text {
            Some("RequestReceived") => Stage::RequestReceived,
            Some("ResponseStarted") => Stage::ResponseStarted,
            Some("ResponseComplete") => Stage::ResponseComplete,
            Some("Panic") => Stage::Panic,
            _ => Stage::Unknown,
        }
    }

    /// True for the stages that end a request (ResponseComplete, Panic) and for events without a
    /// stage, which old layouts logged once per request.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Stage::ResponseComplete | Stage::Panic | Stage::Unknown
        )
    }

    /// The stage name as logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::RequestReceived => "RequestReceived",
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
            Stage::Panic => "Panic",
            Stage::Unknown => "",
        }
    }
}

/// One API request as seen in the audit log, borrowing from the line it came from.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `auditID`, shared by every stage of one request; empty when absent.
    pub audit_id: Cow<'a, str>,
    /// The stage of the event this request was read from.
    pub stage: Stage,
    /// The Kubernetes verb (`get`, `list`, `watch`, ...), or the lower-case HTTP method for
    /// non-resource URLs.
    pub verb: Cow<'a, str>,
    /// `user.username`: who authenticated.
    pub user: Cow<'a, str>,
    /// `user.groups` as raw JSON (decode with [`Request::groups`]).
    pub groups: Option<&'a str>,
    /// `user.extra` as raw JSON (read one key with [`Request::extra_value`]).
    pub extra: Option<&'a str>,
    /// `impersonatedUser.username`, when the request impersonated someone.
    pub impersonated_user: Option<Cow<'a, str>>,
    /// `userAgent` as sent by the client (empty when absent).
    pub user_agent: Cow<'a, str>,
    /// The last entry of `sourceIPs`, the only one the server vouches for.
    pub source_ip: Cow<'a, str>,
    /// `requestURI`: path and raw query.
    pub request_uri: Cow<'a, str>,
    /// `objectRef.resource`.
    pub object_resource: Option<Cow<'a, str>>,
    /// `objectRef.namespace`.
    pub object_namespace: Option<Cow<'a, str>>,
    /// `objectRef.apiGroup`.
    pub object_api_group: Option<Cow<'a, str>>,
    /// `objectRef.subresource`.
    pub object_subresource: Option<Cow<'a, str>>,
    /// `responseStatus.code`; absent before the response.
    pub code: Option<u16>,
    /// Whether `responseStatus.message` is present and non-empty.
    pub status_message: bool,
    /// `requestReceivedTimestamp` (or the old `timestamp`) in microseconds since the epoch.
    pub received_us: Option<i64>,
    /// `stageTimestamp` in microseconds since the epoch.
    pub stage_us: Option<i64>,
    /// `annotations` as raw JSON (decode with [`Request::annotations`]).
    pub annotations: Option<&'a str>,
}

/// The annotations the analyses read.
///
/// The `apiserver.latency.k8s.io/*` keys are written by the apiserver only at ResponseComplete and
/// only when the request took longer than 500 ms (1.24+; `decode-response-object` 1.30+,
/// `apf-queue-wait` 1.31+; missing in 1.34.0–1.34.6 and 1.35.0–1.35.3, kubernetes#135684).
/// Values are Go duration strings, converted here to milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotations {
    /// `authorization.k8s.io/decision`, absent on APF rejections and unauthenticated requests.
    pub authorization_decision: Option<String>,
    /// `apiserver.latency.k8s.io/total` in ms.
    pub total_ms: Option<f64>,
    /// `apiserver.latency.k8s.io/etcd` in ms.
    pub etcd_ms: Option<f64>,
    /// `apiserver.latency.k8s.io/apf-queue-wait` in ms.
    pub apf_queue_wait_ms: Option<f64>,
    /// `apiserver.latency.k8s.io/serialize-response-object` in ms.
    pub serialize_ms: Option<f64>,
    /// `apiserver.latency.k8s.io/transform-response-object` in ms.
    pub transform_ms: Option<f64>,
    /// `apiserver.latency.k8s.io/decode-response-object` in ms.
    pub decode_ms: Option<f64>,
    /// `apiserver.latency.k8s.io/response-write` in ms.
    pub response_write_ms: Option<f64>,
    /// `apiserver.latency.k8s.io/mutating-webhook` in ms.
    pub mutating_webhook_ms: Option<f64>,
    /// `apiserver.latency.k8s.io/validating-webhook` in ms.
    pub validating_webhook_ms: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawAnnotations<'a> {
    #[serde(borrow, rename = "authorization.k8s.io/decision")]
    decision: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiserver.latency.k8s.io/total")]
    total: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiserver.latency.k8s.io/etcd")]
    etcd: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiserver.latency.k8s.io/apf-queue-wait")]
    apf_queue_wait: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiserver.latency.k8s.io/serialize-response-object")]
    serialize: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiserver.latency.k8s.io/transform-response-object")]
    transform: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiserver.latency.k8s.io/decode-response-object")]
    decode: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiserver.latency.k8s.io/response-write")]
    response_write: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiserver.latency.k8s.io/mutating-webhook")]
    mutating_webhook: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiserver.latency.k8s.io/validating-webhook")]
    validating_webhook: Option<Cow<'a, str>>,
}

impl Request<'_> {
    /// Wall time inside the apiserver: `stageTimestamp - requestReceivedTimestamp`, in
    /// microseconds. Only meaningful on the final stage; `None` when a timestamp is missing or
    /// the difference is negative.
    pub fn latency_us(&self) -> Option<i64> {
        match (self.received_us, self.stage_us) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        }
    }

    /// True for requests whose duration is a connection lifetime rather than a latency: watches,
    /// exec/attach/port-forward/proxy, and streamed logs.
    pub fn is_long_running(&self) -> bool {
        if self.verb == "watch" || self.verb == "proxy" || self.stage == Stage::ResponseStarted {
            return true;
        }
        // An objectRef names the subresource when there is one; only without an objectRef is
        // the URI parsed.
        let sub = match (&self.object_subresource, &self.object_resource) {
            (Some(sub), _) => sub.as_ref(),
            (None, Some(_)) => "",
            (None, None) => self.shape().subresource,
        };
        matches!(sub, "exec" | "attach" | "portforward" | "proxy")
            || (sub == "log" && self.request_uri.contains("follow=true"))
    }

    /// The request shape parsed from `requestURI` (group, version, resource, namespace, name,
    /// subresource and the query parameters that matter for load).
    pub fn shape(&self) -> Shape<'_> {
        Shape::parse(&self.request_uri)
    }

    /// The resource as `resource` for the core group and `resource.group` otherwise, from
    /// `objectRef` when present, else from the URI; empty for non-resource URLs.
    pub fn resource_key(&self) -> String {
        match self.object_resource.as_deref() {
            Some(res) if !res.is_empty() => match self.object_api_group.as_deref() {
                Some(g) if !g.is_empty() => format!("{res}.{g}"),
                _ => res.to_owned(),
            },
            _ => self.shape().resource_key(),
        }
    }

    /// The namespace from `objectRef`, else from the URI; empty for cluster-scoped requests.
    pub fn namespace(&self) -> Cow<'_, str> {
        match self.object_namespace.as_deref() {
            Some(ns) => Cow::Borrowed(ns),
            None => Cow::Borrowed(self.shape().namespace),
        }
    }

    /// `user.groups`, decoded; empty when absent or unreadable.
    pub fn groups(&self) -> Vec<String> {
        self.groups
            .and_then(|g| serde_json::from_str(g).ok())
            .unwrap_or_default()
    }

    /// The first value of `user.extra[key]`, such as the pod name of a service account token
    /// (`authentication.kubernetes.io/pod-name`, 1.30+ also `.../node-name`); `None` when
    /// absent or unreadable.
    ///
    /// ```
    /// use apilens_audit::decode_record;
    ///
    /// let line = r#"{"auditID":"a","verb":"list","requestURI":"/api/v1/pods","user":{"username":"system:serviceaccount:logging:agent","extra":{"authentication.kubernetes.io/pod-name":["agent-x7"]}}}"#;
    /// let mut pods = Vec::new();
    /// decode_record(line, &mut |req| {
    ///     pods.push(req.extra_value("authentication.kubernetes.io/pod-name"));
    ///     assert_eq!(req.extra_value("authentication.kubernetes.io/node-name"), None);
    /// })?;
    /// assert_eq!(pods, [Some("agent-x7".to_owned())]);
    /// # Ok::<(), apilens_audit::AuditError>(())
    /// ```
    pub fn extra_value(&self, key: &str) -> Option<String> {
        let raw = self.extra?;
        // Cheap test first: most events never carry the key.
        if !raw.contains(key) {
            return None;
        }
        let map: std::collections::HashMap<Cow<'_, str>, Vec<Cow<'_, str>>> =
            serde_json::from_str(raw).ok()?;
        map.get(key)?.first().map(|v| v.clone().into_owned())
    }

    /// The annotations the analyses read, decoded. GKE entries carry the authorization decision
    /// in their `labels`, which take this place.
    pub fn annotations(&self) -> Annotations {
        let Some(raw) = self.annotations else {
            return Annotations::default();
        };
        let Ok(a) = serde_json::from_str::<RawAnnotations<'_>>(raw) else {
            return Annotations::default();
        };
        let ms = |v: Option<Cow<'_, str>>| v.as_deref().and_then(parse_go_duration_ms);
        Annotations {
            authorization_decision: a.decision.map(Cow::into_owned),
            total_ms: ms(a.total),
            etcd_ms: ms(a.etcd),
            apf_queue_wait_ms: ms(a.apf_queue_wait),
            serialize_ms: ms(a.serialize),
            transform_ms: ms(a.transform),
            decode_ms: ms(a.decode),
            response_write_ms: ms(a.response_write),
            mutating_webhook_ms: ms(a.mutating_webhook),
            validating_webhook_ms: ms(a.validating_webhook),
        }
    }

    /// Copies every borrowed field so the request can outlive its line.
    pub fn into_owned(self) -> OwnedRequest {
        OwnedRequest {
            audit_id: self.audit_id.into_owned(),
            stage: self.stage,
            verb: self.verb.into_owned(),
            user: self.user.into_owned(),
            groups: self.groups.map(Box::from),
            extra: self.extra.map(Box::from),
            impersonated_user: self.impersonated_user.map(Cow::into_owned),
            user_agent: self.user_agent.into_owned(),
            source_ip: self.source_ip.into_owned(),
            request_uri: self.request_uri.into_owned(),
            object_resource: self.object_resource.map(Cow::into_owned),
            object_namespace: self.object_namespace.map(Cow::into_owned),
            object_api_group: self.object_api_group.map(Cow::into_owned),
            object_subresource: self.object_subresource.map(Cow::into_owned),
            code: self.code,
            status_message: self.status_message,
            received_us: self.received_us,
            stage_us: self.stage_us,
            annotations: self.annotations.map(Box::from),
        }
    }
}

/// A [`Request`] that owns its strings, kept while waiting for the final stage of its auditID.
#[derive(Debug, Clone)]
pub struct OwnedRequest {
    audit_id: String,
    stage: Stage,
    verb: String,
    user: String,
    groups: Option<Box<str>>,
    extra: Option<Box<str>>,
    impersonated_user: Option<String>,
    user_agent: String,
    source_ip: String,
    request_uri: String,
    object_resource: Option<String>,
    object_namespace: Option<String>,
    object_api_group: Option<String>,
    object_subresource: Option<String>,
    code: Option<u16>,
    status_message: bool,
    received_us: Option<i64>,
    stage_us: Option<i64>,
    annotations: Option<Box<str>>,
}

impl OwnedRequest {
    /// The stage this request was read from.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Borrows the request back as a [`Request`].
    pub fn as_request(&self) -> Request<'_> {
        Request {
            audit_id: Cow::Borrowed(&self.audit_id),
            stage: self.stage,
            verb: Cow::Borrowed(&self.verb),
            user: Cow::Borrowed(&self.user),
            groups: self.groups.as_deref(),
            extra: self.extra.as_deref(),
            impersonated_user: self.impersonated_user.as_deref().map(Cow::Borrowed),
            user_agent: Cow::Borrowed(&self.user_agent),
            source_ip: Cow::Borrowed(&self.source_ip),
            request_uri: Cow::Borrowed(&self.request_uri),
            object_resource: self.object_resource.as_deref().map(Cow::Borrowed),
            object_namespace: self.object_namespace.as_deref().map(Cow::Borrowed),
            object_api_group: self.object_api_group.as_deref().map(Cow::Borrowed),
            object_subresource: self.object_subresource.as_deref().map(Cow::Borrowed),
            code: self.code,
            status_message: self.status_message,
            received_us: self.received_us,
            stage_us: self.stage_us,
            annotations: self.annotations.as_deref(),
        }
    }
}

/// Parses an RFC 3339 timestamp (audit MicroTime such as `2022-03-24T21:38:52.741392Z`) into
/// microseconds since the epoch.
///
/// The common UTC form is decoded by hand (it is on the hot path, twice per event); anything
/// else, such as an offset other than `Z`, goes through `jiff`.
pub fn parse_timestamp_us(text: &str) -> Option<i64> {
    fast_utc_us(text.as_bytes()).or_else(|| {
        let ts: jiff::Timestamp = text.parse().ok()?;
        Some(ts.as_microsecond())
    })
}

fn fast_utc_us(b: &[u8]) -> Option<i64> {
    // YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b'T' && b[10] != b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |s: &[u8]| -> Option<i64> {
        let mut n = 0i64;
        for &c in s {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(c - b'0');
        }
        Some(n)
    };
    let (year, month, day) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let (hour, min, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut micros = 0i64;
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let frac = &rest[1..1 + digits];
        let mut scaled = 0i64;
        for i in 0..6 {
            scaled = scaled * 10 + frac.get(i).map_or(0, |c| i64::from(c - b'0'));
        }
        micros = scaled;
        rest = &rest[1 + digits..];
    }
    if rest != b"Z" && rest != b"z" {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hour * 3600 + min * 60 + sec) * 1_000_000) + micros)
}

/// Parses a Go duration string (`1.5s`, `415ns`, `1m2.5s`, `780µs`) into milliseconds, by
/// [`apilens_model::parse_duration`].
pub fn parse_go_duration_ms(text: &str) -> Option<f64> {
    let d = apilens_model::parse_duration(text).ok()?;
    Some(d.as_nanos() as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_jiff() {
        for ts in [
            "2022-03-24T21:38:52.741392Z",
            "2017-09-11T19:55:05Z",
            "2025-07-13T08:38:41.005864307Z",
            "2000-02-29T00:00:00.5Z",
        ] {
            let expected = ts.parse::<jiff::Timestamp>().unwrap().as_microsecond();
            assert_eq!(parse_timestamp_us(ts), Some(expected), "{ts}");
        }
        assert_eq!(
            parse_timestamp_us("2022-03-24T23:38:52.741392+02:00"),
            parse_timestamp_us("2022-03-24T21:38:52.741392Z")
        );
        assert_eq!(parse_timestamp_us("yesterday"), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration_ms("1.5s"), Some(1500.0));
        assert_eq!(parse_go_duration_ms("1m2.5s"), Some(62_500.0));
        assert_eq!(parse_go_duration_ms("780ns"), Some(0.00078));
        assert_eq!(parse_go_duration_ms("1.150272ms"), Some(1.150272));
        assert_eq!(parse_go_duration_ms("12µs"), Some(0.012));
        assert_eq!(parse_go_duration_ms("s"), None);
        assert_eq!(parse_go_duration_ms("5 parsecs"), None);
    }
}
