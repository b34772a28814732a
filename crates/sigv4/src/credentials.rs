//! Where AWS credentials come from: environment, shared files, web identity, containers,
//! instance metadata.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use crate::error::Error;
use apilens_model::error_chain;

/// Temporary credentials are renewed this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Timeout of one call to STS or a container credentials endpoint.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The ECS/EKS container credentials host of `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
const CONTAINER_HOST: &str = "http://169.254.170.2";

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

    fn fresh(&self, now: SystemTime) -> bool {
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

/// The environment variables and home directory the credential sources read, captured once,
/// so that tests can give their own.
#[derive(Clone, Default)]
pub struct EnvSnapshot {
    vars: HashMap<String, String>,
    home: Option<PathBuf>,
}

impl std::fmt::Debug for EnvSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("EnvSnapshot")
            .field("names", &names)
            .field("home", &self.home)
            .finish()
    }
}

impl EnvSnapshot {
    /// The `AWS_*` variables and `HOME` of this process.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars()
                .filter(|(k, _)| k.starts_with("AWS_"))
                .collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }

    /// Given variables and home directory.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
        home: Option<&Path>,
    ) -> Self {
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            home: home.map(Path::to_path_buf),
        }
    }

    /// A variable that is set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub fn region(&self) -> Option<&str> {
        self.get("AWS_REGION").or(self.get("AWS_DEFAULT_REGION"))
    }

    /// The `region` of the profile (`AWS_PROFILE`, else `default`) in the shared config file
    /// (`AWS_CONFIG_FILE`, else `~/.aws/config`), as the AWS CLI reads it.
    pub fn config_region(&self) -> Option<String> {
        let profile = self
            .get("AWS_PROFILE")
            .or(self.get("AWS_DEFAULT_PROFILE"))
            .unwrap_or("default");
        let path = self.aws_file("AWS_CONFIG_FILE", "config")?;
        let text = std::fs::read_to_string(path).ok()?;
        ini_section(&text, profile, true)?
            .remove("region")
            .filter(|r| !r.is_empty())
    }

    fn aws_file(&self, var: &str, name: &str) -> Option<PathBuf> {
        match self.get(var) {
            Some(p) => Some(PathBuf::from(p)),
            None => self.home.as_ref().map(|h| h.join(".aws").join(name)),
        }
    }
}

/// The credential sources, in the order of the AWS SDKs' default chain, with a cache of the
/// last credentials until five minutes before they expire. Cheap to clone; clones share the
/// cache.
#[derive(Clone)]
pub struct CredentialsChain {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    cache: Mutex<Option<Credentials>>,
    http: OnceLock<Result<reqwest::blocking::Client, String>>,
    imds_http: OnceLock<Result<reqwest::blocking::Client, String>>,
}

enum Source {
    Fixed(Credentials),
    Env(EnvSnapshot),
}

impl std::fmt::Debug for CredentialsChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner.source {
            Source::Fixed(c) => write!(f, "CredentialsChain(fixed {})", c.access_key_id),
            Source::Env(_) => f.write_str("CredentialsChain(default)"),
        }
    }
}

impl CredentialsChain {
    /// Always the same credentials.
    pub fn fixed(credentials: Credentials) -> Self {
        Self::with_source(Source::Fixed(credentials))
    }

    /// The default chain over this process's environment.
    pub fn from_env() -> Self {
        Self::from_snapshot(EnvSnapshot::from_process())
    }

    /// The default chain over the given environment.
    pub fn from_snapshot(env: EnvSnapshot) -> Self {
        Self::with_source(Source::Env(env))
    }

    fn with_source(source: Source) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                cache: Mutex::new(None),
                http: OnceLock::new(),
                imds_http: OnceLock::new(),
            }),
        }
    }

    /// Current credentials: the cached ones while fresh, else resolved again. May block on
    /// STS, a container endpoint or instance metadata (about a second off EC2).
    ///
    /// # Errors
    ///
    /// [`Error::NoCredentials`] when no source is configured, [`Error::Source`] when the
    /// first configured source fails.
    pub fn credentials(&self) -> Result<Credentials, Error> {
        let env = match &self.inner.source {
            Source::Fixed(c) => return Ok(c.clone()),
            Source::Env(env) => env,
        };
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = cache.as_ref().filter(|c| c.fresh(SystemTime::now())) {
            return Ok(c.clone());
        }
        let (creds, source) = self.resolve(env)?;
        tracing::debug!(
            source,
            access_key_id = creds.access_key_id(),
            "AWS credentials"
        );
        *cache = Some(creds.clone());
        Ok(creds)
    }

    fn resolve(&self, env: &EnvSnapshot) -> Result<(Credentials, &'static str), Error> {
        if let Some(c) = from_env_vars(env)? {
            return Ok((c, "environment"));
        }
        if let Some(c) = self.profile_credentials(env)? {
            return Ok((c, "profile"));
        }
        if let (Some(token_file), Some(role)) = (
            env.get("AWS_WEB_IDENTITY_TOKEN_FILE"),
            env.get("AWS_ROLE_ARN"),
        ) {
            let c = self.web_identity(env, Path::new(token_file), role)?;
            return Ok((c, "web identity"));
        }
        if let Some(c) = self.container_credentials(env)? {
            return Ok((c, "container"));
        }
        if let Some(endpoint) = crate::imds::endpoint(env)
            && let Some(c) = crate::imds::credentials(self.imds_http(), env, &endpoint)?
        {
            return Ok((c, "instance metadata"));
        }
        Err(Error::NoCredentials)
    }

    /// The client for STS and container endpoints.
    fn http(&self) -> Result<&reqwest::blocking::Client, String> {
        client(&self.inner.http, || {
            reqwest::blocking::Client::builder().timeout(FETCH_TIMEOUT)
        })
    }

    /// The client for instance metadata: short timeouts, never through a proxy.
    fn imds_http(&self) -> Result<&reqwest::blocking::Client, String> {
        client(&self.inner.imds_http, crate::imds::client_builder)
    }

    fn profile_credentials(&self, env: &EnvSnapshot) -> Result<Option<Credentials>, Error> {
        let explicit = env.get("AWS_PROFILE").or(env.get("AWS_DEFAULT_PROFILE"));
        let profile = explicit.unwrap_or("default");
        let mut found = HashMap::new();
        let mut files = Vec::new();
        for (var, name, config) in [
            ("AWS_CONFIG_FILE", "config", true),
            ("AWS_SHARED_CREDENTIALS_FILE", "credentials", false),
        ] {
            let Some(path) = env.aws_file(var, name) else {
                continue;
            };
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && env.get(var).is_none() => {
                    continue;
                }
                Err(e) => {
                    return Err(Error::Source {
                        source_name: format!("{}", path.display()),
                        message: e.to_string(),
                    });
                }
            };
            // Keys of the credentials file win over the config file's.
            if let Some(section) = ini_section(&text, profile, config) {
                found.extend(section);
                files.push(path);
            }
        }
        let source_name = || {
            format!(
                "profile {profile} in {}",
                files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        };
        if files.is_empty() {
            return match explicit {
                Some(p) => Err(Error::Source {
                    source_name: format!("profile {p}"),
                    message: "no such profile in ~/.aws/credentials or ~/.aws/config".into(),
                }),
                None => Ok(None),
            };
        }
        let get = |k: &str| found.get(k).map(String::as_str).filter(|v| !v.is_empty());
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(id), Some(secret)) => {
                return Ok(Some(Credentials::new(id, secret, get("aws_session_token"))));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::Source {
                    source_name: source_name(),
                    message: "aws_access_key_id and aws_secret_access_key must both be set".into(),
                });
            }
            (None, None) => {}
        }
        if let (Some(role), Some(token_file)) = (get("role_arn"), get("web_identity_token_file")) {
            return self
                .web_identity(env, Path::new(token_file), role)
                .map(Some);
        }
        let unsupported = [
            "source_profile",
            "credential_process",
            "sso_session",
            "sso_start_url",
        ]
        .into_iter()
        .find(|k| get(k).is_some());
        match (unsupported, explicit) {
            (Some(key), _) => Err(Error::Source {
                source_name: source_name(),
                message: format!(
                    "{key} is not supported; export the role's credentials (e.g. `aws configure export-credentials --format env`)"
                ),
            }),
            (None, Some(_)) => Err(Error::Source {
                source_name: source_name(),
                message: "the profile has no aws_access_key_id/aws_secret_access_key and no role_arn/web_identity_token_file".into(),
            }),
            (None, None) => Ok(None),
        }
    }

    fn web_identity(
        &self,
        env: &EnvSnapshot,
        token_file: &Path,
        role: &str,
    ) -> Result<Credentials, Error> {
        let err = |message: String| Error::Source {
            source_name: format!("web identity (role {role})"),
            message,
        };
        let token = std::fs::read_to_string(token_file)
            .map_err(|e| err(format!("cannot read {}: {e}", token_file.display())))?;
        let session = env.get("AWS_ROLE_SESSION_NAME").map_or_else(
            || {
                let ms = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis();
                format!("apilens-{ms}")
            },
            str::to_owned,
        );
        let endpoint = match env
            .get("AWS_ENDPOINT_URL_STS")
            .or(env.get("AWS_ENDPOINT_URL"))
        {
            Some(e) => e.trim_end_matches('/').to_owned(),
            None => match env.region() {
                Some(r) if r.starts_with("cn-") => format!("https://sts.{r}.amazonaws.com.cn"),
                Some(r) => format!("https://sts.{r}.amazonaws.com"),
                None => "https://sts.amazonaws.com".to_owned(),
            },
        };
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", role),
            ("RoleSessionName", &session),
            ("WebIdentityToken", token.trim()),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let http = self.http().map_err(&err)?;
        let resp = http
            .post(format!("{endpoint}/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/xml")
            .body(form)
            .send()
            .map_err(|e| err(format!("STS {endpoint}: {}", error_chain(&e.without_url()))))?;
        let status = resp.status();
        let body = resp
            .text()
            .map_err(|e| err(format!("STS {endpoint}: {}", error_chain(&e.without_url()))))?;
        if !status.is_success() {
            let code = xml_text(&body, "Code").unwrap_or_default();
            let message = xml_text(&body, "Message").unwrap_or_default();
            return Err(err(format!(
                "STS {endpoint} answered {}: {code} {message}",
                status.as_u16()
            )));
        }
        let field = |tag: &str| {
            xml_text(&body, tag).ok_or_else(|| err(format!("STS response without <{tag}>")))
        };
        let creds = Credentials::new(
            &field("AccessKeyId")?,
            &field("SecretAccessKey")?,
            Some(&field("SessionToken")?),
        );
        Ok(match xml_text(&body, "Expiration") {
            Some(e) => creds.with_expiry(parse_expiry(&e).map_err(err)?),
            None => creds,
        })
    }

    fn container_credentials(&self, env: &EnvSnapshot) -> Result<Option<Credentials>, Error> {
        let url = match (
            env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        ) {
            (_, Some(rel)) => format!("{CONTAINER_HOST}{rel}"),
            (Some(full), None) => full.to_owned(),
            (None, None) => return Ok(None),
        };
        let shown = url.split('?').next().unwrap_or(&url).to_owned();
        let err = |message: String| Error::Source {
            source_name: format!("container endpoint {shown}"),
            message,
        };
        let token = match (
            env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
            env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        ) {
            (Some(file), _) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| err(format!("cannot read {file}: {e}")))?
                    .trim()
                    .to_owned(),
            ),
            (None, Some(t)) => Some(t.to_owned()),
            (None, None) => None,
        };
        let http = self.http().map_err(&err)?;
        let mut req = http.get(&url).header("accept", "application/json");
        if let Some(t) = &token {
            req = req.header("authorization", t);
        }
        let resp = req.send().map_err(|e| err(error_chain(&e.without_url())))?;
        let status = resp.status();
        let body = resp
            .text()
            .map_err(|e| err(error_chain(&e.without_url())))?;
        if !status.is_success() {
            return Err(err(format!("answered {}", status.as_u16())));
        }
        json_document(&body).map(Some).map_err(err)
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

/// The client in `cell`, built on first use with a TLS crypto provider installed.
fn client(
    cell: &OnceLock<Result<reqwest::blocking::Client, String>>,
    builder: impl FnOnce() -> reqwest::blocking::ClientBuilder,
) -> Result<&reqwest::blocking::Client, String> {
    apilens_model::install_crypto_provider();
    cell.get_or_init(|| builder().build().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

fn from_env_vars(env: &EnvSnapshot) -> Result<Option<Credentials>, Error> {
    let id = env.get("AWS_ACCESS_KEY_ID").or(env.get("AWS_ACCESS_KEY"));
    let secret = env
        .get("AWS_SECRET_ACCESS_KEY")
        .or(env.get("AWS_SECRET_KEY"));
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some(Credentials::new(
            id,
            secret,
            env.get("AWS_SESSION_TOKEN"),
        ))),
        (None, None) => Ok(None),
        _ => Err(Error::Source {
            source_name: "environment".into(),
            message: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set".into(),
        }),
    }
}

/// The keys of `[profile]` (credentials file) or `[profile name]`/`[default]` (config file).
fn ini_section(text: &str, profile: &str, config: bool) -> Option<HashMap<String, String>> {
    let mut current: Option<bool> = None;
    let mut found: Option<HashMap<String, String>> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            let name = if config {
                match name.strip_prefix("profile ") {
                    Some(n) => n.trim(),
                    None if name == "default" => name,
                    None => "",
                }
            } else {
                name
            };
            let hit = !name.is_empty() && name == profile;
            if hit {
                found.get_or_insert_with(HashMap::new);
            }
            current = Some(hit);
            continue;
        }
        if current == Some(true)
            && let Some((k, v)) = line.split_once('=')
            && let Some(map) = found.as_mut()
        {
            map.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    found
}

/// The text of the first `<tag>…</tag>` of an XML document, entities decoded.
fn xml_text(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(
        body[start..end]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

fn parse_expiry(text: &str) -> Result<SystemTime, String> {
    let ts: jiff::Timestamp = text
        .trim()
        .parse()
        .map_err(|e| format!("invalid expiration {text:?}: {e}"))?;
    Ok(SystemTime::from(ts))
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_of_both_files() {
        let creds = "[default]\naws_access_key_id = A\n[prod]\naws_access_key_id=P\naws_secret_access_key = S\n";
        assert_eq!(
            ini_section(creds, "prod", false).unwrap()["aws_access_key_id"],
            "P"
        );
        let config =
            "[default]\nregion=x\n[profile prod]\nrole_arn = arn\n[prod]\nrole_arn=wrong\n";
        assert_eq!(
            ini_section(config, "prod", true).unwrap()["role_arn"],
            "arn"
        );
        assert!(ini_section(config, "dev", true).is_none());
    }

    #[test]
    fn region_of_the_profile_in_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            "[default]\nregion = eu-west-1\n[profile prod]\nregion=us-east-2\n",
        )
        .unwrap();
        let file = config.to_str().unwrap();
        let env = |profile: Option<&str>| {
            let mut vars = vec![("AWS_CONFIG_FILE", file)];
            vars.extend(profile.map(|p| ("AWS_PROFILE", p)));
            EnvSnapshot::from_pairs(vars, None)
        };
        assert_eq!(env(None).config_region().as_deref(), Some("eu-west-1"));
        assert_eq!(
            env(Some("prod")).config_region().as_deref(),
            Some("us-east-2")
        );
        assert_eq!(env(Some("dev")).config_region(), None);
        assert_eq!(
            EnvSnapshot::from_pairs(Vec::<(String, String)>::new(), Some(dir.path()))
                .config_region(),
            None
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials::new("AKID", "topsecret", Some("tok"));
        let s = format!("{c:?}");
        assert!(s.contains("AKID") && !s.contains("topsecret") && !s.contains("tok\""));
        let e = EnvSnapshot::from_pairs([("AWS_SECRET_ACCESS_KEY", "topsecret")], None);
        assert!(!format!("{e:?}").contains("topsecret"));
    }

    #[test]
    fn xml_fields_and_expiry() {
        let body = "<R><Credentials><AccessKeyId>ASIA</AccessKeyId><Expiration>2026-11-28T12:00:00Z</Expiration></Credentials></R>";
        assert_eq!(xml_text(body, "AccessKeyId").as_deref(), Some("ASIA"));
        let t = parse_expiry(&xml_text(body, "Expiration").unwrap()).unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            1_795_867_200
        );
        assert!(parse_expiry("tomorrow").is_err());
    }
}
