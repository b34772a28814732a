//! The one error type of the parser.

use std::fmt;

/// A syntax error at a line and column of the input.
///
/// Displays as `LINE:COLUMN: WHAT`, so a caller that knows the source name prints
/// `SOURCE:LINE:COLUMN: WHAT`. Lines and columns count from 1; columns count bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    /// Line number, from 1.
    pub line: usize,
    /// Byte column within the line, from 1.
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, column: usize, message: impl fmt::Display) -> Self {
        Self {
            line,
            column,
            message: message.to_string(),
        }
    }
}

/// Shows at most 24 bytes of what was found, so a huge label does not flood the message.
pub(crate) fn found(rest: &[u8]) -> String {
    match rest.first() {
        None => "end of line".to_owned(),
        Some(_) => {
            let cut = rest.len().min(24);
            let shown = String::from_utf8_lossy(&rest[..cut]);
            if rest.len() > cut {
                format!("{shown:?}...")
            } else {
                format!("{shown:?}")
            }
        }
    }
}
