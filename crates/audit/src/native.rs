//! The fields of one native audit event that the analyses read, borrowed from the line, as
//! serde ([`crate::event`]) or the fast scanner ([`crate::fast`]) finds them, and their mapping
//! onto the request model.

use crate::plausible::{self, Stamp};
use crate::request::{Request, Stage};
use std::borrow::Cow;

/// The fields of a native audit event, read by serde or by [`crate::fast`].
#[derive(Default)]
pub(crate) struct Native<'a> {
    pub(crate) audit_id: Option<Cow<'a, str>>,
    pub(crate) stage: Option<Cow<'a, str>>,
    pub(crate) request_uri: Option<Cow<'a, str>>,
    pub(crate) verb: Option<Cow<'a, str>>,
    /// `user.username`.
    pub(crate) username: Option<Cow<'a, str>>,
    /// `user.groups`, raw JSON.
    pub(crate) groups: Option<&'a str>,
    /// `user.extra`, raw JSON.
    pub(crate) extra: Option<&'a str>,
    /// `impersonatedUser.username`.
    pub(crate) impersonated: Option<Cow<'a, str>>,
    /// The last entry of `sourceIPs`.
    pub(crate) source_ip: Option<Cow<'a, str>>,
    pub(crate) user_agent: Option<Cow<'a, str>>,
    pub(crate) resource: Option<Cow<'a, str>>,
    pub(crate) namespace: Option<Cow<'a, str>>,
    pub(crate) api_group: Option<Cow<'a, str>>,
    pub(crate) subresource: Option<Cow<'a, str>>,
    /// `responseStatus.code`.
    pub(crate) code: Option<i64>,
    /// `responseStatus.message` is present and non-empty.
    pub(crate) status_message: bool,
    /// `requestReceivedTimestamp`.
    pub(crate) received: Option<Cow<'a, str>>,
    pub(crate) stage_timestamp: Option<Cow<'a, str>>,
    /// `timestamp` (old layouts), raw JSON.
    pub(crate) timestamp: Option<&'a str>,
    /// `annotations`, raw JSON.
    pub(crate) annotations: Option<&'a str>,
}

impl<'a> Native<'a> {
    /// The request this event describes, or why its timestamps cannot be real (see
    /// `plausible.rs`).
    pub(crate) fn into_request(self) -> Result<Request<'a>, String> {
        let old_layout = self.timestamp.and_then(raw_string);
        let (received, received_field) = match (self.received.as_deref(), old_layout.as_deref()) {
            (Some(t), _) => (Stamp::read(Some(t)), "requestReceivedTimestamp"),
            (None, Some(t)) => (Stamp::read(Some(t)), "timestamp"),
            (None, None) => (Stamp::Absent, "requestReceivedTimestamp"),
        };
        let stage = Stamp::read(self.stage_timestamp.as_deref());
        let req = Request {
            audit_id: self.audit_id.unwrap_or_default(),
            stage: Stage::parse(self.stage.as_deref()),
            verb: self.verb.unwrap_or_default(),
            user: self.username.unwrap_or_default(),
            groups: self.groups,
            extra: self.extra,
            impersonated_user: self.impersonated,
            user_agent: self.user_agent.unwrap_or_default(),
            source_ip: self.source_ip.unwrap_or_default(),
            request_uri: self.request_uri.unwrap_or_default(),
            object_resource: self.resource,
            object_namespace: self.namespace,
            object_api_group: self.api_group,
            object_subresource: self.subresource,
            code: self.code.and_then(|c| u16::try_from(c).ok()),
            status_message: self.status_message,
            received_us: received.us(),
            stage_us: stage.us(),
            annotations: self.annotations,
        };
        plausible::check(&req, received, received_field, stage)?;
        Ok(req)
    }
}

/// The string inside a raw JSON value, `None` when it is not a string.
pub(crate) fn raw_string(raw: &str) -> Option<Cow<'_, str>> {
    serde_json::from_str(raw).ok()
}
