//! `--web.config.file`: TLS and basic auth in the Prometheus exporter-toolkit format, read and
//! checked whole at start-up.
//!
//! The format is exporter-toolkit's `web-configuration.md`: `tls_server_config` (`cert_file`
//! and `key_file` or inline `cert`/`key`, `client_auth_type`, `client_ca_file`,
//! `min_version`, `max_version`, `cipher_suites`, `curve_preferences`,
//! `prefer_server_cipher_suites`), `http_server_config` (`http2`, `headers`) and
//! `basic_auth_users` (user name to bcrypt hash). As there, unknown fields are errors and
//! relative file names are read from the configuration file's directory. A field apilens
//! cannot honour (TLS 1.0 and 1.1, unverified client certificates, `client_allowed_sans`) is
//! an error naming it, never ignored.

use crate::error::WebError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A checked web configuration: what the server needs to serve TLS and check passwords.
#[derive(Clone, Default)]
pub struct WebConfig {
    /// The TLS configuration, `None` for plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// User names and their bcrypt hashes; empty for no authentication.
    pub basic_auth_users: BTreeMap<String, String>,
    /// Headers added to every response (`http_server_config.headers`).
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field(
                "basic_auth_users",
                &self.basic_auth_users.keys().collect::<Vec<_>>(),
            )
            .field("headers", &self.headers)
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_ca: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

/// The response headers exporter-toolkit lets a configuration set.
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

impl WebConfig {
    /// Reads and checks the file: every certificate, key and CA is loaded and every hash
    /// parsed now, so a mistake stops the server before it listens.
    ///
    /// # Errors
    ///
    /// [`WebError::Config`] naming the file and the field at fault.
    pub fn load(path: &Path) -> Result<Self, WebError> {
        let text = std::fs::read_to_string(path).map_err(|e| config_err(path, "", e))?;
        Self::parse(path, &text)
    }

    /// Checks `text` as the content of `path` (relative names are read beside `path`).
    ///
    /// # Errors
    ///
    /// As [`WebConfig::load`].
    pub fn parse(path: &Path, text: &str) -> Result<Self, WebError> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| config_err(path, "", e))?
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let http = raw.http_server_config.unwrap_or_default();
        let mut headers = Vec::new();
        for (name, value) in http.headers.unwrap_or_default() {
            let Some(allowed) = ALLOWED_HEADERS
                .iter()
                .find(|h| h.eq_ignore_ascii_case(&name))
            else {
                return Err(config_err(
                    path,
                    "http_server_config.headers",
                    format!(
                        "{name:?} cannot be set (allowed: {})",
                        ALLOWED_HEADERS.join(", ")
                    ),
                ));
            };
            if axum::http::HeaderValue::from_str(&value).is_err() {
                return Err(config_err(
                    path,
                    "http_server_config.headers",
                    format!("the value of {name} is not a valid header value"),
                ));
            }
            headers.push(((*allowed).to_owned(), value));
        }
        let users = raw.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            if user.contains(':') {
                return Err(config_err(
                    path,
                    "basic_auth_users",
                    format!("user name {user:?} contains ':'"),
                ));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(config_err(
                    path,
                    "basic_auth_users",
                    format!(
                        "the password of {user:?} is not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"
                    ),
                ));
            }
        }
        let tls = match raw.tls_server_config {
            Some(tls) => tls_config(path, dir, tls, http.http2.unwrap_or(true))?,
            None => None,
        };
        Ok(Self {
            tls,
            basic_auth_users: users,
            headers,
        })
    }
}

fn config_err(path: &Path, field: &str, message: impl std::fmt::Display) -> WebError {
    WebError::Config {
        path: path.display().to_string(),
        field: field.to_owned(),
        message: message.to_string(),
    }
}

/// Builds the rustls configuration; `None` when the section names no certificate (TLS off,
/// as exporter-toolkit treats it).
fn tls_config(
    path: &Path,
    dir: &Path,
    raw: RawTls,
    http2: bool,
) -> Result<Option<Arc<rustls::ServerConfig>>, WebError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let field_err =
        |field: &str, msg: String| config_err(path, &format!("tls_server_config.{field}"), msg);
    let resolve = |name: &str| -> PathBuf {
        let p = Path::new(name);
        if p.is_absolute() {
            p.to_owned()
        } else {
            dir.join(p)
        }
    };
    if raw.cert_file.is_some() && raw.cert.is_some() {
        return Err(field_err(
            "cert",
            "cert and cert_file are mutually exclusive".into(),
        ));
    }
    if raw.key_file.is_some() && raw.key.is_some() {
        return Err(field_err(
            "key",
            "key and key_file are mutually exclusive".into(),
        ));
    }
    let has_cert = raw.cert_file.is_some() || raw.cert.is_some();
    let has_key = raw.key_file.is_some() || raw.key.is_some();
    match (has_cert, has_key) {
        (false, false) => return Ok(None),
        (true, false) => return Err(field_err("key_file", "missing key_file (or key)".into())),
        (false, true) => return Err(field_err("cert_file", "missing cert_file (or cert)".into())),
        (true, true) => {}
    }
    if let Some(sans) = &raw.client_allowed_sans
        && !sans.is_empty()
    {
        return Err(field_err(
            "client_allowed_sans",
            "not supported by apilens; restrict clients with client_ca_file".into(),
        ));
    }
    let certs: Vec<CertificateDer<'static>> = match (&raw.cert_file, &raw.cert) {
        (Some(f), _) => {
            let file = resolve(f);
            CertificateDer::pem_file_iter(&file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| field_err("cert_file", format!("{}: {e}", file.display())))?
        }
        (_, Some(pem)) => CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| field_err("cert", e.to_string()))?,
        _ => Vec::new(),
    };
    if certs.is_empty() {
        return Err(field_err("cert_file", "no PEM certificate found".into()));
    }
    let key: PrivateKeyDer<'static> = match (&raw.key_file, &raw.key) {
        (Some(f), _) => {
            let file = resolve(f);
            PrivateKeyDer::from_pem_file(&file)
                .map_err(|e| field_err("key_file", format!("{}: {e}", file.display())))?
        }
        (_, Some(pem)) => PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| field_err("key", e.to_string()))?,
        _ => return Err(field_err("key_file", "missing key_file (or key)".into())),
    };

    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = &raw.cipher_suites {
        let mut chosen = Vec::new();
        for name in names {
            let suite = provider
                .cipher_suites
                .iter()
                .find(|s| format!("{:?}", s.suite()) == *name)
                .ok_or_else(|| {
                    field_err(
                        "cipher_suites",
                        format!("{name:?} is not a supported cipher suite"),
                    )
                })?;
            chosen.push(*suite);
        }
        // As in Go, the list governs TLS 1.2; TLS 1.3 suites are always on.
        chosen.extend(
            provider
                .cipher_suites
                .iter()
                .filter(|s| s.version() == &rustls::version::TLS13),
        );
        provider.cipher_suites = chosen;
    }
    if let Some(names) = &raw.curve_preferences {
        let mut chosen = Vec::new();
        for name in names {
            let group = match name.as_str() {
                "X25519" => rustls::NamedGroup::X25519,
                "CurveP256" => rustls::NamedGroup::secp256r1,
                "CurveP384" => rustls::NamedGroup::secp384r1,
                other => {
                    return Err(field_err(
                        "curve_preferences",
                        format!("{other:?} is not supported (X25519, CurveP256, CurveP384)"),
                    ));
                }
            };
            if let Some(g) = provider.kx_groups.iter().find(|g| g.name() == group) {
                chosen.push(*g);
            }
        }
        provider.kx_groups = chosen;
    }
    let version = |field: &str, v: &Option<String>, default: u8| -> Result<u8, WebError> {
        match v.as_deref() {
            None | Some("") => Ok(default),
            Some("TLS12") => Ok(12),
            Some("TLS13") => Ok(13),
            Some(other @ ("TLS10" | "TLS11")) => Err(field_err(
                field,
                format!("{other} is not supported: TLS12 or TLS13"),
            )),
            Some(other) => Err(field_err(field, format!("unknown TLS version {other:?}"))),
        }
    };
    let min = version("min_version", &raw.min_version, 12)?;
    let max = version("max_version", &raw.max_version, 13)?;
    if min > max {
        return Err(field_err(
            "max_version",
            "max_version is below min_version".into(),
        ));
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (min..=max).contains(v))
            .map(|(_, p)| p)
            .collect();
    let provider = Arc::new(provider);

    let auth = raw.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let ca_roots = || -> Result<Arc<rustls::RootCertStore>, WebError> {
        let certs: Vec<CertificateDer<'static>> = match (&raw.client_ca_file, &raw.client_ca) {
            (Some(f), _) => {
                let file = resolve(f);
                CertificateDer::pem_file_iter(&file)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| field_err("client_ca_file", format!("{}: {e}", file.display())))?
            }
            (_, Some(pem)) => CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| field_err("client_ca", e.to_string()))?,
            _ => {
                return Err(field_err(
                    "client_ca_file",
                    format!("client_auth_type {auth} needs client_ca_file"),
                ));
            }
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in certs {
            roots
                .add(c)
                .map_err(|e| field_err("client_ca_file", e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(field_err(
                "client_ca_file",
                "no PEM certificate found".into(),
            ));
        }
        Ok(Arc::new(roots))
    };
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| field_err("min_version", e.to_string()))?;
    let builder = match auth {
        "" | "NoClientCert" => {
            if raw.client_ca_file.is_some() || raw.client_ca.is_some() {
                return Err(field_err(
                    "client_auth_type",
                    "client_ca_file is set but client_auth_type is NoClientCert; use RequireAndVerifyClientCert or VerifyClientCertIfGiven".into(),
                ));
            }
            builder.with_no_client_auth()
        }
        "RequireAndVerifyClientCert" | "VerifyClientCertIfGiven" => {
            let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                ca_roots()?,
                Arc::clone(&provider),
            );
            if auth == "VerifyClientCertIfGiven" {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier
                .build()
                .map_err(|e| field_err("client_ca_file", e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(field_err(
                "client_auth_type",
                format!(
                    "{auth} is not supported: apilens verifies every client certificate (use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file)"
                ),
            ));
        }
        other => {
            return Err(field_err(
                "client_auth_type",
                format!("invalid ClientAuth {other:?}"),
            ));
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| field_err("key_file", format!("certificate and key do not fit: {e}")))?;
    config.ignore_client_order = raw.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Some(Arc::new(config)))
}
