//! Plain-text output that every renderer shares: [`Table`], an aligned table that fits
//! [`MAX_WIDTH`] columns, and figures as a person reads them ([`number`], [`seconds`],
//! [`bytes`]).
#![deny(missing_docs)]

use std::fmt::Write;

/// A text table: a header row and aligned columns; columns whose cells all parse as numbers (or
/// are `-`) are right-aligned.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells are blank.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Renders with two spaces between columns and a leading indent, in at most
    /// [`MAX_WIDTH`] columns: when the table is wider, its widest columns narrow, text cells
    /// wrapping at spaces and single-word cells (names, metrics) cut with `…`.
    pub fn render(&self, indent: &str) -> String {
        let n = self.header.len();
        let cell = |r: &Vec<String>, i: usize| r.get(i).map_or("", String::as_str).to_owned();
        let mut width = vec![0usize; n];
        let mut numeric = vec![true; n];
        let mut wrappable = vec![false; n];
        for (i, w) in width.iter_mut().enumerate() {
            *w = self.header[i].chars().count();
            for r in &self.rows {
                let c = cell(r, i);
                *w = (*w).max(c.chars().count());
                wrappable[i] |= c.trim().contains(' ');
                let t = c
                    .strip_suffix("ms")
                    .or_else(|| c.strip_suffix('s'))
                    .or_else(|| c.strip_suffix('%'))
                    .unwrap_or(&c);
                if !(c.is_empty() || c == "-" || t.parse::<f64>().is_ok()) {
                    numeric[i] = false;
                }
            }
        }
        fit(
            &mut width,
            &self.header,
            &wrappable,
            &numeric,
            indent.chars().count(),
        );
        let mut out = String::new();
        let mut line = |cells: Vec<String>| {
            let parts: Vec<Vec<String>> = cells
                .iter()
                .enumerate()
                .take(n)
                .map(|(i, c)| fold(c, width[i]))
                .collect();
            let height = parts.iter().map(Vec::len).max().unwrap_or(1);
            for k in 0..height {
                let mut l = String::from(indent);
                for (i, part) in parts.iter().enumerate() {
                    let c = part.get(k).map_or("", String::as_str);
                    let pad = width[i].saturating_sub(c.chars().count());
                    if i > 0 {
                        l.push_str("  ");
                    }
                    if numeric[i] {
                        l.push_str(&" ".repeat(pad));
                        l.push_str(c);
                    } else {
                        l.push_str(c);
                        if i + 1 < n {
                            l.push_str(&" ".repeat(pad));
                        }
                    }
                }
                let _ = writeln!(out, "{}", l.trim_end());
            }
        };
        line(self.header.clone());
        for r in &self.rows {
            line((0..n).map(|i| cell(r, i)).collect());
        }
        out
    }
}

/// Widest a rendered table may be.
pub const MAX_WIDTH: usize = 120;

/// Narrows `width` until the table fits [`MAX_WIDTH`]: text columns first (they wrap), then
/// single-word ones (they are cut); never below the header or 10 characters, never a number.
fn fit(
    width: &mut [usize],
    header: &[String],
    wrappable: &[bool],
    numeric: &[bool],
    indent: usize,
) {
    let gaps = 2 * width.len().saturating_sub(1);
    let budget = MAX_WIDTH.saturating_sub(indent + gaps);
    let floor = |i: usize| header[i].chars().count().max(10);
    while width.iter().sum::<usize>() > budget {
        let pick = |text: bool| {
            (0..width.len())
                .filter(|&i| !numeric[i] && wrappable[i] == text && width[i] > floor(i))
                .max_by_key(|&i| width[i])
        };
        match pick(true).or_else(|| pick(false)) {
            Some(i) => width[i] -= 1,
            None => break,
        }
    }
}

/// `text` in lines of at most `width` characters: wrapped at spaces when it has them (a longer
/// word is broken), else cut with `…`.
fn fold(text: &str, width: usize) -> Vec<String> {
    if text.chars().count() <= width || width == 0 {
        return vec![text.to_owned()];
    }
    if !text.trim().contains(' ') {
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        return vec![format!("{cut}…")];
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: String = word.to_owned();
        loop {
            let len = line.chars().count();
            let wlen = word.chars().count();
            if len == 0 && wlen > width {
                let head: String = word.chars().take(width).collect();
                word = word.chars().skip(width).collect();
                lines.push(head);
                continue;
            }
            if len > 0 && len + 1 + wlen > width {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
            break;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Formats a count or gauge value: integers without decimals, others with up to 3 significant
/// decimals.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Formats seconds in a unit a person reads at a glance.
pub fn seconds(v: f64) -> String {
    if v.is_nan() {
        "-".to_owned()
    } else if v.is_infinite() {
        "+Inf".to_owned()
    } else if v < 1.0 {
        format!("{:.0}ms", v * 1000.0)
    } else {
        format!("{v:.2}s")
    }
}

/// Formats a byte count with a binary unit.
pub fn bytes(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = v;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        let mut t = Table::new(&["resource", "count"]);
        t.row(vec!["pods".into(), "5".into()]);
        t.row(vec!["configmaps".into(), "120".into()]);
        assert_eq!(
            t.render(""),
            "resource    count\npods            5\nconfigmaps    120\n"
        );
    }

    #[test]
    fn wide_tables_fit_by_wrapping_text_and_cutting_names() {
        let mut t = Table::new(&["question", "metric", "note"]);
        let long_note = "word ".repeat(30);
        t.row(vec![
            "How many WATCH connections does each API server hold right now?".into(),
            "apiserver_flowcontrol_request_wait_duration_seconds_bucket_and_more".into(),
            long_note.trim().to_owned(),
        ]);
        let text = t.render("  ");
        for line in text.lines() {
            assert!(line.chars().count() <= MAX_WIDTH, "{line}");
        }
        assert!(text.lines().count() > 2, "{text}");
        assert!(text.contains("How many WATCH"), "{text}");
        assert!(text.contains("apiserver_flowcontrol_request"), "{text}");
    }

    #[test]
    fn units_read_naturally() {
        assert_eq!(seconds(0.0123), "12ms");
        assert_eq!(seconds(2.5), "2.50s");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        assert_eq!(number(400.0), "400");
    }
}
