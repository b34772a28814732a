//! An error as a person reads it: the error and the causes behind it on one line.

/// The error and its sources, `: `-joined, skipping a cause whose text is already shown: the
/// innermost cause (`Connection refused`, `invalid peer certificate`) is usually the one that
/// says what to fix.
///
/// ```
/// #[derive(Debug)]
/// struct Request(std::io::Error);
/// impl std::fmt::Display for Request {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("error sending request")
///     }
/// }
/// impl std::error::Error for Request {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
/// let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
/// assert_eq!(
///     apilens_model::error_chain(&Request(refused)),
///     "error sending request: Connection refused"
/// );
/// ```
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Repeats(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("tcp connect error")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn a_cause_already_shown_is_not_repeated() {
        let e = Repeats(Inner(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        )));
        assert_eq!(
            error_chain(&e),
            "tcp connect error: Connection refused (os error 111)"
        );
    }
}
