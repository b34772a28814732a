//! The calls, WATCH and etcd screens: the report's panels of those sections, one block of rows
//! per panel.

use crate::app::{App, Screen};
use crate::frame::{Frame, PanelRow, PanelTable};
use crate::style::Theme;
use ratatui::Frame as TermFrame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table, TableState};

/// The panels of the screen shown.
fn screen_panels<'f>(app: &App, frame: &'f Frame) -> &'f [PanelTable] {
    match app.screen {
        Screen::Calls => &frame.calls,
        Screen::Watches => &frame.watches,
        Screen::Etcd => &frame.etcd,
        _ => &[],
    }
}

/// The selectable rows of the screen after the filter, each with its panel.
pub(crate) fn visible_rows<'f>(app: &App, frame: &'f Frame) -> Vec<(&'f PanelTable, &'f PanelRow)> {
    screen_panels(app, frame)
        .iter()
        .flat_map(|p| p.rows.iter().map(move |r| (p, r)))
        .filter(|(p, r)| app.matches(&[&p.title, &r.name]))
        .collect()
}

pub(crate) fn draw(
    f: &mut TermFrame<'_>,
    area: Rect,
    app: &App,
    panels: &[PanelTable],
    theme: Theme,
) {
    let mut rows: Vec<Row> = Vec::new();
    let mut selected_line = None;
    let mut idx = 0;
    for p in panels {
        let matching: Vec<&PanelRow> = p
            .rows
            .iter()
            .filter(|r| app.matches(&[&p.title, &r.name]))
            .collect();
        if matching.is_empty() && !app.filter.is_empty() {
            continue;
        }
        let mut title = p.title.clone();
        if let Some(e) = p.errors.first() {
            title = format!("{title}: error {e}");
        } else if matching.is_empty() {
            title = format!("{title}: no data");
        }
        rows.push(
            Row::new(vec![
                Cell::from(p.level.clone()).style(theme.level(&p.level)),
                Cell::from(title),
            ])
            .style(theme.heading()),
        );
        for r in matching {
            if idx == app.selected {
                selected_line = Some(rows.len());
            }
            idx += 1;
            rows.push(Row::new(vec![
                Cell::from(""),
                Cell::from(format!("  {}", r.name)),
                Cell::from(r.now.clone()),
                Cell::from(r.peak.clone()),
            ]));
        }
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Fill(2),
            Constraint::Length(12),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["LEVEL", "PANEL / SERIES", "NOW", "PEAK"]).style(theme.heading()))
    .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(selected_line);
    f.render_stateful_widget(table, area, &mut state);
}
