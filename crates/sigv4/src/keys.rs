//! One set of AWS credentials (an access key, its secret, a session token and an expiry) and the
//! JSON document that container endpoints and instance metadata serve them in.

use std::time::{Duration, SystemTime};

/// Temporary credentials are renewed this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// An access key, its secret, and for temporary credentials a session token and an expiry.
/// `Debug` shows only the access key id.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiry: Option<SystemTime>,
}

impl Credentials {
    /// Credentials that do not expire.
    pub fn new(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: session_token.map(str::to_owned),
            expiry: None,
        }
    }

    /// The same credentials, expiring at `expiry`.
    pub fn with_expiry(mut self, expiry: SystemTime) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The session token of temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// When temporary credentials expire.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expiry
    }

    pub(crate) fn fresh(&self, now: SystemTime) -> bool {
        self.expiry.is_none_or(|e| now + REFRESH_MARGIN < e)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiry", &self.expiry)
            .finish()
    }
}

/// The JSON credentials document of container endpoints and instance metadata:
/// `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`, and from instance metadata a
/// `Code` that is `Success` unless the role cannot be used.
pub(crate) fn json_document(body: &str) -> Result<Credentials, String> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("invalid JSON: {e}"))?;
    if let Some(code) = v.get("Code").and_then(|c| c.as_str())
        && code != "Success"
    {
        let message = v.get("Message").and_then(|m| m.as_str()).unwrap_or("");
        return Err(format!("{code} {message}").trim_end().to_owned());
    }
    let field = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("response without {k}"))
    };
    let creds = Credentials::new(
        field("AccessKeyId")?,
        field("SecretAccessKey")?,
        v.get("Token").and_then(|x| x.as_str()),
    );
    Ok(match v.get("Expiration").and_then(|x| x.as_str()) {
        Some(e) => creds.with_expiry(parse_expiry(e)?),
        None => creds,
    })
}

pub(crate) fn parse_expiry(text: &str) -> Result<SystemTime, String> {
    let ts: jiff::Timestamp = text
        .trim()
        .parse()
        .map_err(|e| format!("invalid expiration {text:?}: {e}"))?;
    Ok(SystemTime::from(ts))
}
