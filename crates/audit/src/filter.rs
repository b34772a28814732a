//! Request filters with `kubectl-dev_tool`'s value rules: exact, `foo*` prefix, `-foo` negation.

use crate::client::normalize_user_agent;
use crate::error::AuditError;
use crate::request::{Request, parse_timestamp_us};

/// The filters as given on the command line; every list accepts repeated values and commas.
#[derive(Debug, Clone, Default)]
pub struct FilterSpec {
    /// Keep requests received at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Keep requests received before this RFC 3339 time.
    pub until: Option<String>,
    /// Verbs (`list`, `watch`, ...).
    pub verb: Vec<String>,
    /// `user.username` values.
    pub user: Vec<String>,
    /// User agents, matched against the raw agent and its normalised form.
    pub useragent: Vec<String>,
    /// Resources as `pods` or `deployments.apps` (the bare name matches every group).
    pub resource: Vec<String>,
    /// Namespaces (the empty value matches cluster-scoped requests).
    pub namespace: Vec<String>,
    /// HTTP status codes (`429`, `5*`, `-200`).
    pub code: Vec<String>,
}

/// A compiled [`FilterSpec`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    since_us: Option<i64>,
    until_us: Option<i64>,
    verb: Patterns,
    user: Patterns,
    useragent: Patterns,
    resource: Patterns,
    namespace: Patterns,
    code: Patterns,
}

impl Filter {
    /// Compiles the filters.
    ///
    /// # Errors
    ///
    /// [`AuditError::InvalidOption`] when `--since` or `--until` is not an RFC 3339 time.
    pub fn new(spec: &FilterSpec) -> Result<Filter, AuditError> {
        let time = |option: &'static str,
                    value: &Option<String>|
         -> Result<Option<i64>, AuditError> {
            value
                .as_deref()
                .map(|v| {
                    parse_timestamp_us(v).ok_or_else(|| AuditError::InvalidOption {
                        option,
                        value: v.to_owned(),
                        why: "expected an RFC 3339 time such as 2024-05-01T10:00:00Z".to_owned(),
                    })
                })
                .transpose()
        };
        Ok(Filter {
            since_us: time("--since", &spec.since)?,
            until_us: time("--until", &spec.until)?,
            verb: Patterns::new(&spec.verb),
            user: Patterns::new(&spec.user),
            useragent: Patterns::new(&spec.useragent),
            resource: Patterns::new(&spec.resource),
            namespace: Patterns::new(&spec.namespace),
            code: Patterns::new(&spec.code),
        })
    }

    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self.since_us.is_none()
            && self.until_us.is_none()
            && [
                &self.verb,
                &self.user,
                &self.useragent,
                &self.resource,
                &self.namespace,
                &self.code,
            ]
            .iter()
            .all(|p| p.is_empty())
    }

    /// True when the request passes every filter.
    pub fn matches(&self, req: &Request<'_>) -> bool {
        if self.since_us.is_some() || self.until_us.is_some() {
            let Some(t) = req.received_us else {
                return false;
            };
            if self.since_us.is_some_and(|s| t < s) || self.until_us.is_some_and(|u| t >= u) {
                return false;
            }
        }
        if !self.verb.accepts(|p| p.hit(&req.verb)) || !self.user.accepts(|p| p.hit(&req.user)) {
            return false;
        }
        if !self.useragent.is_empty() {
            let normalized = normalize_user_agent(&req.user_agent);
            if !self
                .useragent
                .accepts(|p| p.hit(&req.user_agent) || p.hit(&normalized))
            {
                return false;
            }
        }
        if !self.resource.is_empty() {
            let key = req.resource_key();
            let bare = key.split('.').next().unwrap_or("");
            if !self.resource.accepts(|p| p.hit(&key) || p.hit(bare)) {
                return false;
            }
        }
        if !self.namespace.is_empty() && !self.namespace.accepts(|p| p.hit(&req.namespace())) {
            return false;
        }
        if !self.code.is_empty() {
            let code = req.code.map(|c| c.to_string()).unwrap_or_default();
            if !self.code.accepts(|p| p.hit(&code)) {
                return false;
            }
        }
        true
    }
}

#[derive(Debug, Clone, Default)]
struct Patterns {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    prefix: bool,
}

impl Pattern {
    fn hit(&self, value: &str) -> bool {
        if self.prefix {
            value.starts_with(&self.text)
        } else {
            value == self.text
        }
    }
}

impl Patterns {
    fn new(values: &[String]) -> Patterns {
        let mut out = Patterns::default();
        for value in values.iter().flat_map(|v| v.split(',')) {
            let value = value.trim();
            let (negated, body) = match value.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, value),
            };
            let pattern = match body.strip_suffix('*') {
                Some(p) => Pattern {
                    text: p.to_owned(),
                    prefix: true,
                },
                None => Pattern {
                    text: body.to_owned(),
                    prefix: false,
                },
            };
            if negated {
                out.exclude.push(pattern)
            } else {
                out.include.push(pattern)
            }
        }
        out
    }

    fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Exclusions win; with only exclusions, anything not excluded passes.
    fn accepts(&self, hit: impl Fn(&Pattern) -> bool) -> bool {
        if self.exclude.iter().any(&hit) {
            return false;
        }
        self.include.is_empty() || self.include.iter().any(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_rules() {
        let p = Patterns::new(&["list,watch".to_owned()]);
        assert!(p.accepts(|x| x.hit("list")) && !p.accepts(|x| x.hit("get")));
        let p = Patterns::new(&["-system:*".to_owned()]);
        assert!(p.accepts(|x| x.hit("alice")) && !p.accepts(|x| x.hit("system:admin")));
        let p = Patterns::new(&["system:*".to_owned(), "-system:admin".to_owned()]);
        assert!(
            p.accepts(|x| x.hit("system:node:a"))
                && !p.accepts(|x| x.hit("system:admin"))
                && !p.accepts(|x| x.hit("bob"))
        );
    }

    #[test]
    fn bad_time_names_the_option() {
        let err = Filter::new(&FilterSpec {
            since: Some("yesterday".into()),
            ..FilterSpec::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid --since \"yesterday\": expected an RFC 3339 time such as 2024-05-01T10:00:00Z"
        );
    }
}
