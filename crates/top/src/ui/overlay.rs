//! What opens over a screen: the keys, a client's finding and its fix YAML.

use crate::app::{App, Overlay};
use crate::frame::{ClientRow, EventRow, FindingLine};
use crate::style::Theme;
use ratatui::Frame as TermFrame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// The keys, as `?` shows them.
pub const HELP: &[(&str, &str)] = &[
    (
        ":pl",
        "priority levels: seats used/limit per replica, borrowed (+) or lent (-)",
    ),
    (
        ":clients",
        "clients by harm (the doctor's ranking), flows by seats",
    ),
    (
        ":calls",
        "the slowest calls, request rates, errors and 429s",
    ),
    (":watches", "open WATCHes and the events they send"),
    (":etcd", "etcd as the API server sees it, and etcd itself"),
    ("Tab 1-6", "next screen / screen by number"),
    ("/", "filter the rows (Esc clears)"),
    (
        "Enter",
        "drill down: section → screen, level → its FlowSchemas and clients, client → finding → its audit events",
    ),
    ("e", "the selected client's last audit events, newest first"),
    ("Esc Bksp", "back up one drill-down step"),
    (
        "y",
        "the doctor's fix YAML for the selected client or server finding",
    ),
    ("← →", "back and forth through stored history"),
    ("r", "per replica or per level"),
    ("R F5", "refresh now"),
    ("j k ↑ ↓", "move; PgUp PgDn Home End"),
    ("q", "quit (Esc closes a window)"),
];

pub(crate) fn draw(f: &mut TermFrame<'_>, area: Rect, app: &App, theme: Theme) {
    let (title, lines) = match &app.overlay {
        Overlay::None => return,
        Overlay::Help => ("keys", help_lines(theme)),
        Overlay::Client(i) => match client(app, *i) {
            Some(c) => ("client", client_lines(c, theme)),
            None => return,
        },
        Overlay::Fix(i) => match client(app, *i) {
            Some(c) => ("fix (y: the doctor's YAML)", fix_lines(c, theme)),
            None => return,
        },
        Overlay::Events(i) => match client(app, *i) {
            Some(c) => (
                "audit events (Esc: back to the client)",
                event_lines(c, app.frame.as_ref().is_some_and(|f| f.audit_log), theme),
            ),
            None => return,
        },
        Overlay::Finding(i) => match app.frame.as_ref().and_then(|f| f.findings.get(*i)) {
            Some(finding) => ("finding about the server", finding_lines(finding, theme)),
            None => return,
        },
    };
    let rect = super::centred(area, area.width.saturating_sub(2).max(20), area.height);
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(lines)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" {title} · Esc closes ")),
            )
            .wrap(Wrap { trim: false })
            .scroll((app.scroll, 0)),
        rect,
    );
}

fn client(app: &App, i: usize) -> Option<&ClientRow> {
    app.frame.as_ref()?.clients.get(i)
}

fn help_lines(theme: Theme) -> Vec<Line<'static>> {
    HELP.iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:<10}"), theme.heading()),
                Span::raw(*what),
            ])
        })
        .collect()
}

fn client_lines(c: &ClientRow, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(vec![
            Span::styled(c.severity.clone(), theme.level(&c.severity)),
            Span::raw(format!(" {}", c.finding)),
        ]),
        Line::raw(format!("user        {}", c.user)),
        Line::raw(format!("user agent  {}", c.user_agent)),
        Line::raw(format!("calls       {}", c.verb_resource)),
        Line::raw(format!(
            "level       {} ({:.0}% of its seat-seconds), FlowSchema {}",
            c.priority_level, c.level_share_pct, c.flow_schema
        )),
        Line::raw(format!(
            "cost        {} req/s, {} seats busy, {} 429/s, {} source IPs",
            crate::text::num(c.req_per_s),
            crate::text::num(c.seat_s_per_s),
            crate::text::num(c.rejected_per_s),
            c.source_ips
        )),
        Line::raw(""),
    ];
    lines.extend(c.evidence.iter().map(|e| Line::raw(format!("• {e}"))));
    lines.push(Line::styled(
        "Enter or e: its last audit events",
        theme.dim(),
    ));
    if !c.requests.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            "requests (audit window)      count    req/s",
            theme.heading(),
        ));
        lines.extend(c.requests.iter().take(20).map(|r| {
            Line::raw(format!(
                "{:<28} {:>6} {:>8}",
                r.call,
                r.count,
                crate::text::num(r.per_s)
            ))
        }));
    }
    if !c.advice.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("fix", theme.heading()));
        lines.extend(c.advice.iter().map(|a| Line::raw(format!("• {a}"))));
    }
    if !c.fix_yaml.is_empty() {
        lines.push(Line::styled("y shows the YAML", theme.dim()));
    }
    lines
}

/// A finding about the server: what, the evidence, the remediation and its YAML.
fn finding_lines(f: &FindingLine, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(vec![
            Span::styled(f.severity.clone(), theme.level(&f.severity)),
            Span::raw(format!(" {}", f.title)),
        ]),
        Line::raw(format!("kind        {}", f.kind)),
        Line::raw(""),
    ];
    lines.extend(f.evidence.iter().map(|e| Line::raw(format!("• {e}"))));
    if !f.advice.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("fix", theme.heading()));
        lines.extend(f.advice.iter().map(|a| Line::raw(format!("• {a}"))));
    }
    if !f.fix_yaml.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("# kubectl apply -f -", theme.dim()));
        lines.extend(f.fix_yaml.lines().map(|l| Line::raw(l.to_owned())));
    }
    lines
}

fn fix_lines(c: &ClientRow, theme: Theme) -> Vec<Line<'static>> {
    if c.fix_yaml.is_empty() {
        let mut lines = vec![Line::raw(if c.severity.is_empty() {
            format!("the doctor found nothing to fix for {}", c.user)
        } else {
            format!("APF is not the remedy for {}:", c.user)
        })];
        lines.extend(c.advice.iter().map(|a| Line::raw(format!("• {a}"))));
        return lines;
    }
    let mut lines = vec![Line::styled(
        format!("# kubectl apply -f - for {}", c.user),
        theme.dim(),
    )];
    lines.extend(c.fix_yaml.lines().map(|l| Line::raw(l.to_owned())));
    lines
}

/// A client's last audit events, one line each: time, verb, code, latency, URI, user agent.
fn event_lines(c: &ClientRow, audit_log: bool, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::raw(format!("user        {}", c.user))];
    if !audit_log {
        lines.push(Line::raw("no audit log: start with --audit-log FILE"));
        return lines;
    }
    if c.events.is_empty() {
        lines.push(Line::raw("no audit event of this client in the window"));
        return lines;
    }
    lines.push(Line::raw(format!(
        "its last {} audit events of the window, newest first",
        c.events.len()
    )));
    lines.push(Line::styled(
        "TIME (UTC)    VERB     CODE  LATENCY  URI · USER AGENT",
        theme.heading(),
    ));
    lines.extend(c.events.iter().map(|e| {
        Line::from(vec![
            Span::raw(event_prefix(e)),
            Span::raw(e.uri.clone()),
            Span::styled(format!(" · {}", e.user_agent), theme.dim()),
        ])
    }));
    lines
}

/// The fixed columns of an event line: time, verb, code and latency.
fn event_prefix(e: &EventRow) -> String {
    let time = jiff::Timestamp::from_microsecond(e.time_us)
        .map(|t| t.strftime("%H:%M:%S%.3f").to_string())
        .unwrap_or_else(|_| "?".to_owned());
    let code = e.code.map_or_else(|| "-".to_owned(), |c| c.to_string());
    let latency = e
        .latency_ms
        .map_or_else(|| "-".to_owned(), crate::text::latency);
    format!("{time:<13} {:<8} {code:>4} {latency:>8}  ", e.verb)
}
