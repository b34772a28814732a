//! The diagnosis as text (reads at a glance at 100 columns), Markdown (for a ticket) and JSON.

mod json;
mod markdown;
mod text;
mod who;

pub use json::render_json;
pub use markdown::render_markdown;
pub use text::render_text;
pub use who::{render_who_markdown, render_who_text};

use crate::finding::Evidence;

/// `text` with every control character escaped (newlines kept when `keep_newlines`): names from
/// an audit log are written as the client sent them, and an escape sequence or a newline in one
/// must neither reach the terminal nor end a YAML comment and start YAML of its own.
pub(crate) fn escape_controls(text: &str, keep_newlines: bool) -> String {
    let escaped = |c: char| c.is_control() && !(keep_newlines && c == '\n');
    if !text.chars().any(escaped) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escaped(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Seconds, short (`412 ms`, `3.2 s`, `12.5 min`, `4.2 h`).
pub(crate) fn seconds(v: f64) -> String {
    if v.abs() >= 3600.0 {
        format!("{:.1} h", v / 3600.0)
    } else if v.abs() >= 120.0 {
        format!("{:.1} min", v / 60.0)
    } else {
        apilens_report::format_value(v, apilens_panels::Unit::Seconds)
    }
}

/// The sentence of a piece of evidence, for text and Markdown.
pub(crate) fn evidence_line(e: &Evidence) -> String {
    match e {
        Evidence::Figure { text, .. } | Evidence::Note { text } => text.clone(),
        Evidence::Window { window, text } => {
            format!("{text}: {} to {}", window.start, window.end)
        }
        Evidence::Examples { uris } => format!("e.g. {}", uris.join("  ")),
        Evidence::Panels { ids, text } => format!("{text} [panels: {}]", ids.join(", ")),
    }
}

/// Wraps `text` at `width` columns; continuation lines start with `indent`.
pub(crate) fn wrap(text: &str, width: usize, first: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(first);
    let mut line_len = first.chars().count();
    let mut empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = word.chars().count();
        if !empty && line_len + 1 + len > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
            line_len = indent.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
            line_len += 1;
        }
        line.push_str(word);
        line_len += len;
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_the_width_without_cutting_words() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let out = wrap(text, 20, "- ", "  ");
        for line in out.lines() {
            assert!(line.chars().count() <= 20, "{line:?}");
        }
        assert_eq!(out.replace("\n  ", " ").trim_end(), format!("- {text}"));
    }
}
