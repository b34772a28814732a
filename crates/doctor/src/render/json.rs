//! The JSON form: `{"findings": [...], "inputs": {...}}`, findings most harmful first.

use crate::diagnose::Diagnosis;

/// Renders the diagnosis as one JSON document.
pub fn render_json(d: &Diagnosis) -> String {
    // Diagnosis serialises as {findings, inputs}; a failure would be a bug in a derive.
    serde_json::to_string_pretty(d).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
