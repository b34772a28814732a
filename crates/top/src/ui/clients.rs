//! The clients screen: who costs what, the doctor's culprit first, and the flows of the
//! metrics below.

use crate::app::App;
use crate::frame::{ClientRow, Frame};
use crate::style::Theme;
use crate::text::{num, short_severity, short_user};
use ratatui::Frame as TermFrame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

pub(crate) fn draw(f: &mut TermFrame<'_>, area: Rect, app: &App, frame: &Frame, theme: Theme) {
    let flows: Vec<_> = frame
        .flows
        .iter()
        .filter(|r| app.matches(&[&r.flow_schema, &r.priority_level]))
        .collect();
    let flow_height = if area.height >= 16 && !flows.is_empty() {
        (flows.len() as u16 + 1).min(area.height / 3)
    } else {
        0
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(flow_height)]).areas(area);
    let clients = app.visible_clients();
    if clients.is_empty() && app.visible_server_findings().is_empty() {
        let text = if frame.clients.is_empty() {
            "no clients: they come from the audit log (--audit-log FILE, or --sim)"
        } else {
            "no client matches the filter (Esc clears it)"
        };
        f.render_widget(Paragraph::new(Line::styled(text, theme.dim())), top);
    } else {
        draw_clients(f, top, app, &clients, theme);
    }
    if flow_height > 0 {
        let rows: Vec<Row> = flows
            .iter()
            .map(|r| {
                Row::new(vec![
                    Cell::from(r.flow_schema.clone()),
                    Cell::from(r.priority_level.clone()),
                    Cell::from(r.seats.map(num).unwrap_or_default()),
                ])
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Length(32),
                Constraint::Length(20),
                Constraint::Length(10),
            ],
        )
        .header(
            Row::new(["FLOW SCHEMA (metrics)", "PRIORITY LEVEL", "PEAK SEATS"])
                .style(theme.heading()),
        );
        f.render_widget(table, bottom);
    }
}

fn draw_clients(
    f: &mut TermFrame<'_>,
    area: Rect,
    app: &App,
    clients: &[(usize, &ClientRow)],
    theme: Theme,
) {
    let wide = area.width >= 120;
    let user_width = if wide {
        34
    } else {
        usize::from(area.width).saturating_sub(52).clamp(20, 44)
    };
    let rows: Vec<Row> = clients
        .iter()
        .map(|(_, c)| {
            let mut cells = vec![
                Cell::from(short_severity(&c.severity)).style(theme.level(&c.severity)),
                Cell::from(short_user(&c.user, user_width)),
                Cell::from(num(c.req_per_s)),
                Cell::from(num(c.seat_s_per_s)),
                Cell::from(format!("{:.0}%", c.level_share_pct)),
                Cell::from(c.priority_level.clone()),
                Cell::from(num(c.rejected_per_s)),
            ];
            if wide {
                cells.push(Cell::from(c.verb_resource.clone()));
                cells.push(Cell::from(c.user_agent.clone()));
                cells.push(Cell::from(c.source_ips.to_string()));
            }
            Row::new(cells)
        })
        .chain(app.visible_server_findings().into_iter().map(|(_, f)| {
            Row::new(vec![
                Cell::from(short_severity(&f.severity)).style(theme.level(&f.severity)),
                Cell::from(format!("(server) {}", f.title)),
            ])
        }))
        .collect();
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Length(user_width as u16),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(4),
        Constraint::Length(16),
        Constraint::Length(6),
    ];
    let mut heading = vec![
        "SEV", "CLIENT", "REQ/s", "SEAT-s/s", "%LVL", "LEVEL", "429/s",
    ];
    if wide {
        widths.extend([
            Constraint::Length(18),
            Constraint::Fill(1),
            Constraint::Length(5),
        ]);
        heading.extend(["CALL", "USER AGENT", "IPs"]);
    }
    let table = Table::new(rows, widths)
        .header(Row::new(heading).style(theme.heading()))
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}
