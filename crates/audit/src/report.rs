//! The result of a view as a table, rendered as text table, JSON, CSV or Markdown.

use crate::summary::Summary;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned text table with notes below.
    Table,
    /// One JSON object: `view`, `events`, `malformed`, `partial`, `rows` (each with `key` and
    /// `count`), notes.
    Json,
    /// RFC 4180 CSV with a header row; notes are left out. A partial result starts with one
    /// `# partial: ...` line.
    Csv,
    /// A Markdown table with notes as a list.
    Markdown,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "markdown" | "md" => Ok(Format::Markdown),
            _ => Err(format!(
                "unknown format {s:?} (expected table, json, csv or markdown)"
            )),
        }
    }
}

/// One value in a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A whole number.
    Int(u64),
    /// A number shown with the given decimals.
    Float(f64, u8),
    /// Nothing to show.
    Empty,
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Float(v, d) => format!("{v:.*}", usize::from(*d)),
            Cell::Empty => String::new(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Int(n) => json!(n),
            Cell::Float(v, d) => {
                let scale = 10f64.powi(i32::from(*d));
                json!((v * scale).round() / scale)
            }
            Cell::Empty => Value::Null,
        }
    }
}

/// One row: its key, its request count and the other columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What the row is about (a user, a client, a time step, ...).
    pub key: String,
    /// Requests in this row.
    pub count: u64,
    /// The other columns, in [`Report::columns`] order.
    pub cells: Vec<Cell>,
}

/// The result of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The view name (`top`, `lists`, ...).
    pub view: String,
    /// The header of the key column.
    pub key_name: String,
    /// The headers of the other columns.
    pub columns: Vec<String>,
    /// The rows, most significant first.
    pub rows: Vec<Row>,
    /// Things the reader must know: approximations, biases, caveats.
    pub notes: Vec<String>,
    /// True when a figure comes from a sketch rather than an exact count.
    pub approximate: bool,
}

impl Report {
    /// The cell of `row` in the column named `column`.
    pub fn cell<'r>(&self, row: &'r Row, column: &str) -> Option<&'r Cell> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| row.cells.get(i))
    }

    /// The row with key `key`.
    pub fn row(&self, key: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == key)
    }

    /// Renders the report with the scan summary. A partial result (an input failed part-way,
    /// [`Summary::is_partial`]) says so first in every format.
    pub fn render(&self, summary: &Summary, format: Format) -> String {
        let partial = partial_note(summary);
        match format {
            Format::Json => self.render_json(summary),
            Format::Csv => prefixed(
                partial.map(|p| format!("# partial: {p}\n")),
                self.render_csv(),
            ),
            Format::Markdown => prefixed(
                partial.map(|p| format!("**Partial result:** {p}\n\n")),
                self.render_markdown(summary),
            ),
            Format::Table => prefixed(
                partial.map(|p| format!("PARTIAL RESULT: {p}\n\n")),
                self.render_table(summary),
            ),
        }
    }

    fn headers(&self) -> Vec<String> {
        let mut h = vec![self.key_name.clone(), "count".to_owned()];
        h.extend(self.columns.iter().cloned());
        h
    }

    fn row_texts(&self, row: &Row) -> Vec<String> {
        let mut v = vec![row.key.clone(), row.count.to_string()];
        v.extend(row.cells.iter().map(Cell::text));
        v
    }

    fn footer(&self, summary: &Summary) -> Vec<String> {
        let mut lines = vec![format!(
            "{} requests counted from {} audit events in {} lines ({} earlier stages folded, {} filtered out)",
            summary.events,
            summary.records,
            summary.lines,
            summary.folded_stages,
            summary.filtered_out
        )];
        if summary.malformed.count > 0 {
            lines.push(format!("{} malformed lines:", summary.malformed.count));
            lines.extend(summary.malformed.examples.iter().map(|e| format!("  {e}")));
            if summary.malformed.count > summary.malformed.examples.len() as u64 {
                lines.push(format!(
                    "  ... and {} more",
                    summary.malformed.count - summary.malformed.examples.len() as u64
                ));
            }
        }
        for e in &summary.read_errors {
            lines.push(format!("read error: {e}"));
        }
        if summary.dedup_overflow > 0 {
            lines.push(format!(
                "{} early-stage events were counted without de-duplication (too many requests in flight at once)",
                summary.dedup_overflow
            ));
        }
        lines.extend(self.notes.iter().map(|n| format!("note: {n}")));
        lines
    }

    fn render_table(&self, summary: &Summary) -> String {
        let headers = self.headers();
        let rows: Vec<Vec<String>> = self.rows.iter().map(|r| self.row_texts(r)).collect();
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            let mut text = String::new();
            for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                let pad = w - c.chars().count();
                // Numbers (every column after the key) align right.
                if i == 0 {
                    text.push_str(c);
                    text.extend(std::iter::repeat_n(' ', pad));
                } else {
                    text.extend(std::iter::repeat_n(' ', pad));
                    text.push_str(c);
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        // Column names of the view (`p99_ms`) read as headings in capitals; columns named after
        // data (the clients of `timeline`) keep their names as written.
        let upper: Vec<String> = headers
            .iter()
            .map(|h| {
                if h.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ' ' || c == '|'
                }) {
                    h.to_uppercase()
                } else {
                    h.clone()
                }
            })
            .collect();
        line(&mut out, &upper);
        for r in &rows {
            line(&mut out, r);
        }
        if rows.is_empty() {
            out.push_str("(no matching requests)\n");
        }
        out.push('\n');
        for l in self.footer(summary) {
            let _ = writeln!(out, "{l}");
        }
        out
    }

    fn render_csv(&self) -> String {
        let mut out = String::new();
        let esc = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_owned()
            }
        };
        let join = |cells: Vec<String>| cells.iter().map(|c| esc(c)).collect::<Vec<_>>().join(",");
        out.push_str(&join(self.headers()));
        out.push('\n');
        for r in &self.rows {
            out.push_str(&join(self.row_texts(r)));
            out.push('\n');
        }
        out
    }

    fn render_markdown(&self, summary: &Summary) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let headers = self.headers();
        let mut out = format!(
            "| {} |\n",
            headers
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        out.push_str(&format!(
            "|{}\n",
            headers
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
                .collect::<String>()
        ));
        for r in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                self.row_texts(r)
                    .iter()
                    .map(|c| esc(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        out.push('\n');
        for l in self.footer(summary) {
            let _ = writeln!(out, "- {}", l.trim_start());
        }
        out
    }

    fn render_json(&self, summary: &Summary) -> String {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("key".to_owned(), Value::String(r.key.clone()));
                m.insert("count".to_owned(), json!(r.count));
                for (name, cell) in self.columns.iter().zip(&r.cells) {
                    m.insert(name.clone(), cell.json());
                }
                Value::Object(m)
            })
            .collect();
        let doc = json!({
            "view": self.view,
            "key": self.key_name,
            "events": summary.events,
            "records": summary.records,
            "lines": summary.lines,
            "folded_stages": summary.folded_stages,
            "filtered_out": summary.filtered_out,
            "malformed": {"count": summary.malformed.count, "examples": summary.malformed.examples},
            "read_errors": summary.read_errors,
            "partial": summary.is_partial(),
            "approximate": self.approximate,
            "notes": self.notes,
            "rows": rows,
        });
        let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// What a partial result covers, or `None` for a whole one.
fn partial_note(summary: &Summary) -> Option<String> {
    summary.is_partial().then(|| {
        let n = summary.read_errors.len();
        format!(
            "{n} input{} could not be read to the end; the figures cover what was read before the error ({})",
            if n == 1 { "" } else { "s" },
            summary.read_errors.join("; ")
        )
    })
}

fn prefixed(head: Option<String>, body: String) -> String {
    match head {
        Some(mut head) => {
            head.push_str(&body);
            head
        }
        None => body,
    }
}
