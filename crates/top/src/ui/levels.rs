//! The priority levels screen: seats in use against the limit per replica, queue wait, 429s.

use crate::app::App;
use crate::build::merge_replicas;
use crate::frame::{Frame, LevelRow};
use crate::style::Theme;
use crate::text::{num, opt, pct};
use ratatui::Frame as TermFrame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table, TableState};

/// The rows shown: per replica or merged, after the filter.
pub(crate) fn visible(app: &App, frame: &Frame) -> Vec<LevelRow> {
    let rows = if app.per_replica {
        frame.levels.clone()
    } else {
        merge_replicas(&frame.levels)
    };
    rows.into_iter()
        .filter(|r| app.matches(&[&r.level, &r.instance]))
        .collect()
}

pub(crate) fn draw(f: &mut TermFrame<'_>, area: Rect, app: &App, frame: &Frame, theme: Theme) {
    // Below 100 columns the replica's name is worth more than the bar and the peak; below 120
    // more than the limit's bounds and the dispatch rate.
    let wide = area.width >= 100;
    let wider = area.width >= 120;
    let rows: Vec<Row> = visible(app, frame)
        .iter()
        .map(|r| {
            let level = match r.utilisation_pct {
                Some(u) if u >= 100.0 => "CRITICAL",
                Some(u) if u >= 80.0 => "WARNING",
                Some(_) => "OK",
                None => "NO DATA",
            };
            let mut cells = vec![
                Cell::from(r.level.clone()),
                Cell::from(if r.instance.is_empty() {
                    "all".to_owned()
                } else {
                    r.instance.clone()
                }),
            ];
            if wide {
                cells.push(Cell::from(bar(r.utilisation_pct, 10)).style(theme.level(level)));
            }
            cells.push(Cell::from(pct(r.utilisation_pct)).style(theme.level(level)));
            cells.push(Cell::from(seats_used(r.seats_in_use, r.seats_limit)));
            cells.push(Cell::from(borrowed(r.seats_borrowed)));
            if wider {
                cells.push(Cell::from(bounds(r.seats_lower, r.seats_upper)));
            }
            if wide {
                cells.push(Cell::from(pct(r.utilisation_peak_pct)));
            }
            cells.push(Cell::from(opt(r.wait_p99_s, "s")));
            cells.push(Cell::from(opt(r.rejected_per_s, "")));
            if wider {
                cells.push(Cell::from(opt(r.dispatched_per_s, "")));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(16), Constraint::Fill(1)];
    let mut header = vec!["PRIORITY LEVEL", "REPLICA"];
    if wide {
        widths.push(Constraint::Length(10));
        header.push("");
    }
    widths.extend([
        Constraint::Length(5),
        Constraint::Length(11),
        Constraint::Length(6),
    ]);
    header.extend(["USED", "SEATS", "BORROW"]);
    if wider {
        widths.push(Constraint::Length(9));
        header.push("LOW-HIGH");
    }
    if wide {
        widths.push(Constraint::Length(5));
        header.push("PEAK");
    }
    widths.extend([Constraint::Length(8), Constraint::Length(6)]);
    header.extend(["WAIT p99", "429/s"]);
    if wider {
        widths.push(Constraint::Length(7));
        header.push("REQ/s");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.heading()))
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}

/// Seats: whole numbers as they are (`56`, `1240`), others as [`num`] prints them.
fn seats(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e5 {
        format!("{v:.0}")
    } else {
        num(v)
    }
}

/// `12/56`: seats in use over the current limit.
pub(crate) fn seats_used(in_use: Option<f64>, limit: Option<f64>) -> String {
    let part = |v: Option<f64>| v.filter(|v| v.is_finite()).map_or("-".to_owned(), seats);
    if in_use.is_none() && limit.is_none() {
        return "-".to_owned();
    }
    format!("{}/{}", part(in_use), part(limit))
}

/// `+8` borrowed, `-189` lent, `0`.
pub(crate) fn borrowed(v: Option<f64>) -> String {
    match v.filter(|v| v.is_finite()) {
        None => "-".to_owned(),
        Some(v) if v > 0.0 => format!("+{}", seats(v)),
        Some(v) => seats(v),
    }
}

/// `24-649`: the lower and upper bounds of the limit.
fn bounds(lower: Option<f64>, upper: Option<f64>) -> String {
    match (lower, upper) {
        (Some(l), Some(u)) => format!("{}-{}", seats(l), seats(u)),
        _ => "-".to_owned(),
    }
}

/// A bar of `width` cells filled to `pct` of 100.
fn bar(pct: Option<f64>, width: usize) -> String {
    let Some(p) = pct.filter(|p| p.is_finite() && width > 0) else {
        return String::new();
    };
    let filled = ((p.clamp(0.0, 100.0) / 100.0) * width as f64).round() as usize;
    "█".repeat(filled) + &"·".repeat(width - filled)
}
