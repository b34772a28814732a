//! Drawing: the header, the screen, the overlay and the status line.

pub(crate) mod clients;
pub(crate) mod levels;
mod overlay;
mod overview;
pub(crate) mod panels;

use crate::app::{App, Prompt, Screen};
use crate::style::Theme;
use ratatui::Frame as TermFrame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::time::Instant;

/// Draws the whole view for `app` at `now`.
pub fn draw(f: &mut TermFrame<'_>, app: &App, theme: Theme, now: Instant) {
    let status_text = status_line(app, theme, now);
    // An error gets the lines it needs, up to three, so that its cause is not cut off.
    let erring = app.error.is_some() || frame_errors(app).is_some();
    let status_height = if erring && app.prompt == Prompt::None {
        let width = usize::from(f.area().width.max(1));
        status_text.width().div_ceil(width).clamp(1, 3) as u16
    } else {
        1
    };
    let [header, verdict, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(status_height),
    ])
    .areas(f.area());
    f.render_widget(Paragraph::new(header_line(app, theme, now)), header);
    f.render_widget(Paragraph::new(verdict_line(app, theme)), verdict);
    match &app.frame {
        None => f.render_widget(
            Paragraph::new(Line::styled("reading the first frame ...", theme.dim())),
            body,
        ),
        Some(frame) => match app.screen {
            Screen::Overview => overview::draw(f, body, app, frame, theme),
            Screen::Levels => levels::draw(f, body, app, frame, theme),
            Screen::Clients => clients::draw(f, body, app, frame, theme),
            Screen::Calls => panels::draw(f, body, app, &frame.calls, theme),
            Screen::Watches => panels::draw(f, body, app, &frame.watches, theme),
            Screen::Etcd => panels::draw(f, body, app, &frame.etcd, theme),
        },
    }
    overlay::draw(f, body, app, theme);
    f.render_widget(
        Paragraph::new(status_text).wrap(ratatui::widgets::Wrap { trim: false }),
        status,
    );
}

fn header_line(app: &App, theme: Theme, now: Instant) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!(" apilens top · {} ", app.screen.title()),
        theme.header(),
    )];
    if let Some(frame) = &app.frame {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(frame.level.clone(), theme.level(&frame.level)));
    }
    if app.history.is_zero() {
        spans.push(Span::raw(" · live"));
    } else {
        spans.push(Span::styled(
            format!(" · {} ago", crate::text::duration(app.history.as_secs())),
            theme.level("WARNING"),
        ));
    }
    if let Some(age) = app.stale_for(now) {
        spans.push(Span::styled(
            format!(" · STALE {}s", age.as_secs()),
            theme.error(),
        ));
    }
    if let Some(frame) = &app.frame {
        spans.push(Span::raw(format!(
            " · {} window · {}",
            crate::text::duration(frame.window_s),
            frame.source
        )));
    }
    if let Some(frame) = app.frame.as_ref().filter(|_| app.screen == Screen::Clients) {
        let behind_s = frame
            .clients_end_ms
            .map_or(0, |t| (frame.end_ms - t).max(0) / 1000);
        if behind_s > 0 {
            spans.push(Span::raw(format!(
                " · clients as of {} earlier",
                crate::text::duration(behind_s as u64)
            )));
        }
    }
    if !app.filter.is_empty() {
        spans.push(Span::raw(format!(" · filter \"{}\"", app.filter)));
    }
    Line::from(spans)
}

fn verdict_line(app: &App, theme: Theme) -> Line<'static> {
    let Some(frame) = &app.frame else {
        return Line::raw("");
    };
    // Off the overview, the doctor's word: its culprit, else its first finding (about the
    // server or its APF configuration).
    let named = match (&frame.culprit, frame.findings.first()) {
        (Some(c), _) => Some(("culprit ", &c.severity, &c.finding)),
        (None, Some(f)) => Some(("doctor ", &f.severity, &f.title)),
        (None, None) => None,
    };
    match named {
        Some((what, severity, title)) if app.screen != Screen::Overview => Line::from(vec![
            Span::styled(what, theme.dim()),
            Span::styled(severity.clone(), theme.level(severity)),
            Span::raw(format!(" {title}")),
        ]),
        _ => Line::raw(frame.overall.clone()),
    }
}

/// What the source could not read for the frame on screen: the first, and how many more.
fn frame_errors(app: &App) -> Option<String> {
    let errors = &app.frame.as_ref()?.errors;
    let first = errors.first()?;
    Some(match errors.len() {
        1 => first.clone(),
        n => format!("{first} (and {} more)", n - 1),
    })
}

fn status_line(app: &App, theme: Theme, now: Instant) -> Line<'static> {
    match &app.prompt {
        Prompt::Command(t) => return Line::raw(format!(":{t}▏")),
        Prompt::Filter(t) => return Line::raw(format!("/{t}▏")),
        Prompt::None => {}
    }
    if let Some((e, at)) = &app.error {
        let kept = if app.frame.is_some() {
            "showing the last frame"
        } else {
            "retrying"
        };
        return Line::styled(
            format!("{e} ({}s ago; {kept})", now.duration_since(*at).as_secs()),
            theme.error(),
        );
    }
    if let Some(m) = &app.message {
        return Line::raw(m.clone());
    }
    if let Some(e) = frame_errors(app) {
        return Line::styled(e, theme.error());
    }
    Line::styled(
        "?:help :pl :clients :calls :watches :etcd /:filter ⏎:drill y:fix ←→:hist q:quit",
        theme.dim(),
    )
}

/// The rectangle of `width` x `height` cells centred in `area` (clipped to it).
pub(crate) fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
