//! Where AWS credentials come from: environment, shared files, web identity, containers,
//! instance metadata.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use crate::env::{EnvSnapshot, ini_section};
use crate::error::Error;
use crate::keys::{Credentials, json_document, parse_expiry};
use apilens_model::error_chain;

/// Timeout of one call to STS or a container credentials endpoint.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The ECS/EKS container credentials host of `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
const CONTAINER_HOST: &str = "http://169.254.170.2";

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
            Source::Fixed(c) => write!(f, "CredentialsChain(fixed {})", c.access_key_id()),
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
