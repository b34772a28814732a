//! One query a command runs and prints (`apilens query`): the API body or a table, and a note
//! for a person when nothing matched.

use crate::engine::{QueryEngine, QueryRequest};
use crate::error::PromApiError;
use apilens_promql::{Value, format_value_table, with_query_stack};

/// How the answer of a one-shot query is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintAs {
    /// Exactly the Prometheus API response body.
    Json,
    /// One line per sample.
    Table,
}

/// What a one-shot query prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Printed {
    /// The answer, ending with a newline unless empty.
    pub text: String,
    /// When no series matched, a line that says so: an empty result is a successful answer (as
    /// the Prometheus API says `success`), but a person should not take it for a failure to
    /// run.
    pub empty_note: Option<String>,
}

/// Runs `request` on `engine`, on a thread whose stack fits the deepest query accepted, and
/// renders the answer `as_`.
///
/// # Errors
///
/// The engine's error: a query that does not parse or fails, a remote engine that cannot
/// answer.
pub fn query_once(
    engine: &dyn QueryEngine,
    request: &QueryRequest,
    as_: PrintAs,
) -> Result<Printed, PromApiError> {
    let (text, empty) = with_query_stack(|| match as_ {
        PrintAs::Json => engine.body(request).map(|body| {
            let empty = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|b| b["data"]["result"].as_array().map(Vec::is_empty))
                .unwrap_or(false);
            (body + "\n", empty)
        }),
        PrintAs::Table => engine.evaluate(request).map(|value| {
            let empty = match &value {
                Value::Vector(v) => v.is_empty(),
                Value::Matrix(m) => m.is_empty(),
                _ => false,
            };
            (format_value_table(&value), empty)
        }),
    })?;
    let empty_note = empty.then(|| {
        let when = match request {
            QueryRequest::Range { .. } => "in the range".to_owned(),
            QueryRequest::Instant { time, .. } => format!("at {}", rfc3339(*time)),
        };
        format!("no series matched {:?} {when}", request.text())
    });
    Ok(Printed { text, empty_note })
}

/// Milliseconds since the epoch as RFC 3339 (seconds), or the number when out of range.
fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}
