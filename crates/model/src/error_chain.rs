//! An error as a person reads it: the error and the causes behind it on one line.

/// The error and its sources, `: `-joined, skipping a cause whose text is already shown: the
/// innermost cause (`Connection refused`, `invalid peer certificate`) is usually the one that
/// says what to fix.
///
/// ```
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
/// let outer = std::io::Error::other(io);
/// assert_eq!(apilens_model::error_chain(&outer), "Connection refused");
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
    #[error("error sending request")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_follow_the_error() {
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        ));
        assert_eq!(
            error_chain(&e),
            "error sending request: Connection refused (os error 111)"
        );
    }
}
