//! The CloudWatch Logs filter pattern for `--verb` and `--user`: only ever a pattern that keeps
//! every event the local filter keeps, so it saves transfer and never changes a count.
//!
//! A JSON filter pattern compares a field with `=` as an exact, case-sensitive value, and a
//! message that is not JSON or lacks the field does not match. The local filter has prefixes
//! (`system:*`), exclusions (`-get`) and comparisons against an empty value; CloudWatch's
//! wildcards and `!=` on missing fields do not map onto those one for one. So only a list of
//! exact values is sent (the union of its equalities), and a field with any other kind of value
//! is left to the local filter alone. Exclusions beside exact values do not stop the push-down:
//! the exact values already keep a superset of what the local filter keeps.

/// The longest filter pattern CloudWatch accepts.
const MAX_PATTERN: usize = 1024;

/// A filter pattern keeping at least the events whose `verb` is one of `verbs` and whose
/// `user.username` is one of `users`, in the local filter's syntax (comma-separated, repeated,
/// `x*` prefixes, `-x` exclusions); `None` when neither list can be sent safely.
pub fn filter_pattern(verbs: &[String], users: &[String]) -> Option<String> {
    let terms: Vec<String> = [("$.verb", verbs), ("$.user.username", users)]
        .into_iter()
        .filter_map(|(field, values)| field_term(field, values))
        .collect();
    if terms.is_empty() {
        return None;
    }
    let pattern = format!("{{ {} }}", terms.join(" && "));
    (pattern.len() <= MAX_PATTERN).then_some(pattern)
}

/// `($.f = "a" || $.f = "b")` for a list of exact values, or `None`.
fn field_term(field: &str, values: &[String]) -> Option<String> {
    let mut exact = Vec::new();
    for value in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if value.starts_with('-') {
            continue;
        }
        let plain = !value.is_empty()
            && !value.ends_with('*')
            && !value
                .chars()
                .any(|c| c == '"' || c == '\\' || c.is_control());
        if !plain {
            return None;
        }
        exact.push(format!("{field} = \"{value}\""));
    }
    match exact.len() {
        0 => None,
        1 => exact.pop(),
        _ => Some(format!("({})", exact.join(" || "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn exact_values_only() {
        assert_eq!(
            filter_pattern(&strings(&["list,watch"]), &[]).as_deref(),
            Some(r#"{ ($.verb = "list" || $.verb = "watch") }"#)
        );
        assert_eq!(
            filter_pattern(
                &strings(&["list"]),
                &strings(&["system:serviceaccount:kube-system:fluent-bit"])
            )
            .as_deref(),
            Some(
                r#"{ $.verb = "list" && $.user.username = "system:serviceaccount:kube-system:fluent-bit" }"#
            )
        );
        // A prefix cannot be sent: the field is left out, the other stays.
        assert_eq!(
            filter_pattern(&strings(&["list"]), &strings(&["system:node:*"])).as_deref(),
            Some(r#"{ $.verb = "list" }"#)
        );
        // Exclusions alone keep almost everything: nothing to send.
        assert_eq!(filter_pattern(&strings(&["-get"]), &[]), None);
        // Exact values with exclusions: the exact values.
        assert_eq!(
            filter_pattern(&strings(&["list", "-get"]), &[]).as_deref(),
            Some(r#"{ $.verb = "list" }"#)
        );
        for unsafe_value in ["", "a\"b", "a\\b", "x*"] {
            assert_eq!(
                filter_pattern(&strings(&[unsafe_value]), &[]),
                None,
                "{unsafe_value:?}"
            );
        }
        let many: Vec<String> = (0..100).map(|i| format!("user-{i}")).collect();
        assert_eq!(filter_pattern(&[], &many), None);
    }
}
