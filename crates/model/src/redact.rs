//! What a remote body may show in a log line or an API answer: a short, printable excerpt with
//! every credential removed.
//!
//! Targets and receivers sometimes echo the request in their error body (a proxy's debug page,
//! an `Authorization` header quoted back). Such bodies end up in WARN logs and in the
//! unauthenticated `/api/v1/targets`, so every place that shows one goes through
//! [`body_excerpt`] with the credentials it sent.

use regex::Regex;
use std::sync::OnceLock;

/// The most characters of a body an excerpt keeps.
pub const EXCERPT_CHARS: usize = 200;
/// How much of a body is looked at; the rest never reaches an excerpt.
const SCAN_BYTES: usize = 4096;
/// What replaces a credential.
pub const REDACTED: &str = "<redacted>";

/// The start of `body` as one line of at most [`EXCERPT_CHARS`] printable characters, with
/// every occurrence of each of `secrets` (the bearer token, password or signature sent with the
/// request) and anything shaped like a credential (`Bearer …`, `Basic …`, JSON web tokens, EKS
/// tokens, AWS access key ids) replaced by [`REDACTED`]. Control characters become spaces and
/// runs of white space one space; a cut is marked with `…`.
///
/// ```
/// let body = b"401: token \"s3cr3t-token\" refused\nAuthorization: Bearer abc.def";
/// assert_eq!(
///     apilens_model::body_excerpt(body, &["s3cr3t-token"]),
///     "401: token \"<redacted>\" refused Authorization: Bearer <redacted>"
/// );
/// ```
pub fn body_excerpt(body: &[u8], secrets: &[&str]) -> String {
    let head = &body[..body.len().min(SCAN_BYTES)];
    let text = redact(&String::from_utf8_lossy(head), secrets);
    let mut out = String::with_capacity(EXCERPT_CHARS + 4);
    let mut chars = 0;
    let mut space = false;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() || c == '\u{fffd}' {
            if c == '\u{fffd}' { '?' } else { ' ' }
        } else {
            c
        };
        if c == ' ' {
            if space || out.is_empty() {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if chars == EXCERPT_CHARS {
            out.truncate(out.trim_end().len());
            out.push('…');
            return out;
        }
        out.push(c);
        chars += 1;
    }
    let cut = body.len() > SCAN_BYTES;
    out.truncate(out.trim_end().len());
    if cut {
        out.push('…');
    }
    out
}

/// `text` with every occurrence of each of `secrets` and anything shaped like a credential
/// replaced by [`REDACTED`]; for text passed on whole (a relayed API error).
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if out.contains(s) {
            out = out.replace(s, REDACTED);
        }
    }
    credential_shapes()
        .replace_all(&out, |c: &regex::Captures<'_>| match (c.get(1), c.get(2)) {
            // "Basic authentication required" stays; "Basic dXNlcjpwYXNz" does not.
            (Some(scheme), Some(token)) if looks_like_credential(token.as_str()) => {
                format!("{} {REDACTED}", scheme.as_str())
            }
            (Some(_), _) => c[0].to_owned(),
            _ => REDACTED.to_owned(),
        })
        .into_owned()
}

/// A token with a digit, a symbol, or both cases of letters: not an English word.
fn looks_like_credential(token: &str) -> bool {
    token.bytes().any(|b| !b.is_ascii_alphabetic())
        || (token.bytes().any(|b| b.is_ascii_uppercase())
            && token.bytes().any(|b| b.is_ascii_lowercase()))
}

fn credential_shapes() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"(?i:\b(bearer|basic))\s+([A-Za-z0-9._~+/=-]{3,})",
            r"|\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
            r"|\bk8s-aws-v1\.[A-Za-z0-9_-]+",
            r"|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
        ))
        .expect("the credential patterns compile")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_to_a_printable_prefix() {
        let body = format!("bad\r\n\t\u{1b}[31mred{}", "x".repeat(500));
        let e = body_excerpt(body.as_bytes(), &[]);
        assert!(e.starts_with("bad [31mred"), "{e}");
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(body_excerpt(b"\xff\xfe ok", &[]), "?? ok");
        assert_eq!(body_excerpt(b"  \n ", &[]), "");
    }

    #[test]
    fn scrubs_configured_secrets_and_credential_shapes() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl";
        let body = format!(
            "token={jwt} basic dXNlcjpwYXNz key=AKIAIOSFODNN7EXAMPLE eks=k8s-aws-v1.aHR0cHM6Ly9zdHM pw=hunter22"
        );
        let e = body_excerpt(body.as_bytes(), &["hunter22"]);
        assert_eq!(
            e,
            "token=<redacted> basic <redacted> key=<redacted> eks=<redacted> pw=<redacted>"
        );
    }

    #[test]
    fn words_after_basic_or_bearer_are_not_credentials() {
        let text = "401 Basic authentication required; Bearer token missing";
        assert_eq!(redact(text, &[]), text);
    }

    #[test]
    fn a_secret_past_the_cut_leaves_no_prefix() {
        let secret = "0123456789abcdef0123456789abcdef";
        let body = format!("{}{secret}", "a ".repeat(95));
        let e = body_excerpt(body.as_bytes(), &[secret]);
        assert!(!e.contains("0123"), "{e}");
    }
}
