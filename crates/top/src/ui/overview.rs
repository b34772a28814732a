//! The overview: one verdict line per report section, with its level and a sparkline.

use crate::app::App;
use crate::frame::Frame;
use crate::style::Theme;
use ratatui::Frame as TermFrame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table, TableState};

pub(crate) fn draw(f: &mut TermFrame<'_>, area: Rect, app: &App, frame: &Frame, theme: Theme) {
    let spark_width = if area.width >= 100 { 16 } else { 8 };
    let rows: Vec<Row> = frame
        .sections
        .iter()
        .map(|s| {
            let points = app
                .sparks
                .iter()
                .find(|(t, _)| *t == s.title)
                .map(|(_, p)| p.as_slice())
                .unwrap_or_default();
            let title = if area.width >= 120 {
                s.title.clone()
            } else {
                short_title(&s.title)
            };
            Row::new(vec![
                Cell::from(s.level.clone()).style(theme.level(&s.level)),
                Cell::from(title),
                Cell::from(crate::text::sparkline(points, spark_width)),
                Cell::from(s.verdict.clone()),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(if area.width >= 120 { 32 } else { 16 }),
            Constraint::Length(spark_width as u16),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["LEVEL", "SECTION", "TREND", "VERDICT"]).style(theme.heading()))
    .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}

/// A section's heading up to its first colon or comma (`Latency: slowest calls` → `Latency`).
fn short_title(title: &str) -> String {
    title
        .split([':', ','])
        .next()
        .unwrap_or(title)
        .trim()
        .to_owned()
}
