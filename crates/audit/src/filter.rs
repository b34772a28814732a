//! Request filters with `kubectl-dev_tool`'s value rules: exact, `foo*` prefix, `-foo` negation.

use crate::client::normalize_user_agent;
use crate::error::AuditError;
use crate::request::{Request, parse_timestamp_us};

/// The filters as given on the command line; every list accepts repeated values and commas.
#[derive(Debug, Clone, Default)]
pub struct FilterSpec {
    /// Keep requests received at or after this time: RFC 3339 (`2024-05-01T10:00:00Z`) or a
    /// duration before now (`2h`, `30m`, `1h30m`, `2d`).
    pub since: Option<String>,
    /// Keep requests received before this time, in the same forms as `since`.
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
    /// Compiles the filters; relative times count back from the system clock.
    ///
    /// # Errors
    ///
    /// [`AuditError::InvalidOption`] when `--since` or `--until` is neither an RFC 3339 time nor
    /// a duration.
    pub fn new(spec: &FilterSpec) -> Result<Filter, AuditError> {
        Filter::at(spec, jiff::Timestamp::now().as_microsecond())
    }

    /// Compiles the filters with relative times (`2h`) counted back from `now_us`, microseconds
    /// since the epoch.
    ///
    /// ```
    /// use apilens_audit::{Filter, FilterSpec};
    ///
    /// let spec = FilterSpec { since: Some("1h30m".into()), ..FilterSpec::default() };
    /// let now = 1_714_557_600_000_000; // 2024-05-01T10:00:00Z
    /// assert_eq!(Filter::at(&spec, now)?.since_us(), Some(now - 5_400_000_000));
    /// # Ok::<(), apilens_audit::AuditError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Filter::new`].
    pub fn at(spec: &FilterSpec, now_us: i64) -> Result<Filter, AuditError> {
        let time = |option: &'static str,
                    value: &Option<String>|
         -> Result<Option<i64>, AuditError> {
            value
                .as_deref()
                .map(|v| {
                    parse_time(v, now_us).ok_or_else(|| AuditError::InvalidOption {
                        option,
                        value: v.to_owned(),
                        why: "expected an RFC 3339 time such as 2024-05-01T10:00:00Z or a duration before now such as 2h, 30m or 1h30m".to_owned(),
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

    /// The lower time bound (inclusive) in microseconds since the epoch, when set.
    pub fn since_us(&self) -> Option<i64> {
        self.since_us
    }

    /// The upper time bound (exclusive) in microseconds since the epoch, when set.
    pub fn until_us(&self) -> Option<i64> {
        self.until_us
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

/// The time syntax of every `--since` and `--until`: an RFC 3339 time, or a duration (`90s`,
/// `30m`, `2h`, `1h30m`, `1.5h`, `2d`, `1w`: [`apilens_model::parse_duration`]) before `now_us`;
/// microseconds since the epoch.
pub fn parse_time(text: &str, now_us: i64) -> Option<i64> {
    let text = text.trim();
    if let Some(t) = parse_timestamp_us(text) {
        return Some(t);
    }
    let ago = apilens_model::parse_duration(text).ok()?;
    let ago_us = i64::try_from(ago.as_micros()).ok()?;
    if ago_us > 1_000_000_000_000_000_000 {
        return None;
    }
    Some(now_us - ago_us)
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
            "invalid --since \"yesterday\": expected an RFC 3339 time such as 2024-05-01T10:00:00Z or a duration before now such as 2h, 30m or 1h30m"
        );
        for bad in ["", "2", "h", "2x", "-2h", "1.2.3h"] {
            assert_eq!(parse_time(bad, 0), None, "{bad:?}");
        }
    }

    #[test]
    fn times_absolute_and_relative() {
        let now = parse_timestamp_us("2024-05-01T10:00:00Z").unwrap();
        let at = |t: &str| parse_timestamp_us(t).unwrap();
        assert_eq!(parse_time("2h", now), Some(at("2024-05-01T08:00:00Z")));
        assert_eq!(parse_time("30m", now), Some(at("2024-05-01T09:30:00Z")));
        assert_eq!(parse_time("1h30m", now), Some(at("2024-05-01T08:30:00Z")));
        assert_eq!(parse_time("90s", now), Some(at("2024-05-01T09:58:30Z")));
        assert_eq!(parse_time("2d", now), Some(at("2024-04-29T10:00:00Z")));
        assert_eq!(parse_time("1w", now), Some(at("2024-04-24T10:00:00Z")));
        assert_eq!(parse_time("1.5h", now), Some(at("2024-05-01T08:30:00Z")));
        // RFC 3339 wins over the clock, with any offset.
        assert_eq!(
            parse_time("2024-05-01T12:00:00+02:00", now),
            Some(at("2024-05-01T10:00:00Z"))
        );
        let spec = FilterSpec {
            since: Some("2h".into()),
            until: Some("30m".into()),
            ..FilterSpec::default()
        };
        let f = Filter::at(&spec, now).unwrap();
        assert_eq!(f.since_us(), Some(at("2024-05-01T08:00:00Z")));
        assert_eq!(f.until_us(), Some(at("2024-05-01T09:30:00Z")));
    }
}
