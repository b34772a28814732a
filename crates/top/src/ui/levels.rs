//! The priority levels screen: seats in use against the limit per replica, queue wait, 429s.

use crate::app::App;
use crate::build::merge_replicas;
use crate::frame::{Frame, LevelRow};
use crate::style::Theme;
use crate::text::{opt, pct};
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
    // The bar needs room: below 100 columns the replica's name is worth more.
    let bar_width: u16 = if area.width >= 100 { 10 } else { 0 };
    let rows: Vec<Row> = visible(app, frame)
        .iter()
        .map(|r| {
            let level = match r.utilisation_pct {
                Some(u) if u >= 100.0 => "CRITICAL",
                Some(u) if u >= 80.0 => "WARNING",
                Some(_) => "OK",
                None => "NO DATA",
            };
            Row::new(vec![
                Cell::from(r.level.clone()),
                Cell::from(if r.instance.is_empty() {
                    "all".to_owned()
                } else {
                    r.instance.clone()
                }),
                Cell::from(bar(r.utilisation_pct, usize::from(bar_width)))
                    .style(theme.level(level)),
                Cell::from(pct(r.utilisation_pct)).style(theme.level(level)),
                Cell::from(pct(r.utilisation_peak_pct)),
                Cell::from(opt(r.wait_p99_s, "s")),
                Cell::from(opt(r.rejected_per_s, "")),
                Cell::from(opt(r.dispatched_per_s, "")),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(18),
            Constraint::Fill(1),
            Constraint::Length(bar_width),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(7),
        ],
    )
    .header(
        Row::new([
            "PRIORITY LEVEL",
            "REPLICA",
            "SEATS",
            "USED",
            "PEAK",
            "WAIT p99",
            "429/s",
            "REQ/s",
        ])
        .style(theme.heading()),
    )
    .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}

/// A bar of `width` cells filled to `pct` of 100.
fn bar(pct: Option<f64>, width: usize) -> String {
    let Some(p) = pct.filter(|p| p.is_finite() && width > 0) else {
        return String::new();
    };
    let filled = ((p.clamp(0.0, 100.0) / 100.0) * width as f64).round() as usize;
    "█".repeat(filled) + &"·".repeat(width - filled)
}
