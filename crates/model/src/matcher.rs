//! Label matchers with Prometheus's semantics.

use regex::Regex;
use std::fmt;

/// The four matcher operators of PromQL selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`: the value equals the string.
    Equal,
    /// `!=`: the value differs from the string.
    NotEqual,
    /// `=~`: the whole value matches the regular expression.
    RegexMatch,
    /// `!~`: the whole value does not match the regular expression.
    RegexNoMatch,
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        })
    }
}

/// A matcher whose regular expression does not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid regular expression {pattern:?} for label {name:?}: {source}")]
pub struct MatcherError {
    name: String,
    pattern: String,
    #[source]
    source: regex::Error,
}

/// One label matcher, such as `verb=~"LIST|GET"`.
///
/// A missing label matches as the empty string, so `foo=""` selects series without `foo`, and
/// regular expressions are anchored at both ends (`=~"a"` does not match `"ab"`), as in
/// Prometheus's `model/labels/matcher.go`.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The operator.
    pub op: MatchOp,
    /// The string or the regular expression source as written.
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher, compiling the anchored regular expression for `=~` and `!~`.
    ///
    /// # Errors
    ///
    /// [`MatcherError`] when the regular expression does not compile.
    pub fn new(op: MatchOp, name: &str, value: &str) -> Result<Self, MatcherError> {
        let regex = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => Some(
                Regex::new(&format!("^(?s:{value})$")).map_err(|source| MatcherError {
                    name: name.to_owned(),
                    pattern: value.to_owned(),
                    source,
                })?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Self {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            regex,
        })
    }

    /// An `=` matcher; it cannot fail.
    pub fn equal(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            op: MatchOp::Equal,
            value: value.to_owned(),
            regex: None,
        }
    }

    /// Whether a label value (empty when the label is absent) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::RegexMatch, Some(re)) => re.is_match(value),
            (MatchOp::RegexNoMatch, Some(re)) => !re.is_match(value),
            (MatchOp::RegexMatch | MatchOp::RegexNoMatch, None) => {
                unreachable!("regex matchers are built with a compiled regex")
            }
        }
    }

    /// Whether the matcher selects series that lack the label entirely.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored() {
        let m = Matcher::new(MatchOp::RegexMatch, "verb", "LIST|GET").unwrap();
        assert!(m.matches("LIST"));
        assert!(!m.matches("LISTX"));
        let n = Matcher::new(MatchOp::RegexNoMatch, "verb", "WATCH.*").unwrap();
        assert!(n.matches("LIST"));
        assert!(!n.matches("WATCHLIST"));
    }

    #[test]
    fn absent_label_matches_as_empty() {
        assert!(Matcher::equal("subresource", "").matches_empty());
        assert!(
            !Matcher::new(MatchOp::RegexMatch, "x", ".+")
                .unwrap()
                .matches_empty()
        );
    }

    #[test]
    fn bad_regex_names_the_label() {
        let err = Matcher::new(MatchOp::RegexMatch, "le", "(").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid regular expression \"(\" for label \"le\"")
        );
    }
}
