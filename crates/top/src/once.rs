//! `--once`: every screen of one frame as plain text, for scripts and tickets.

use crate::app::{App, Screen};
use crate::frame::Frame;
use crate::style::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use std::time::{Duration, Instant};

/// Rows a screen may take in the text form before it is cut.
const MAX_ROWS: u16 = 400;

/// Every screen of `frame` drawn `width` columns wide without colour, one after the other, as
/// the terminal shows them (trailing spaces and the key hints left out).
pub fn render_text(frame: &Frame, width: u16) -> String {
    let mut out = String::new();
    for screen in Screen::ALL {
        let mut app = App::new(Duration::from_secs(3600));
        app.set_frame(frame.clone(), Instant::now());
        app.screen = screen;
        app.selected = usize::MAX;
        let text = draw_to_text(&app, Theme { colour: false }, width, MAX_ROWS);
        let mut lines: Vec<&str> = text.lines().collect();
        // The last line holds the key hints, which mean nothing on paper.
        lines.pop();
        let mut blank = false;
        for line in lines {
            if line.is_empty() {
                if !blank {
                    out.push('\n');
                }
                blank = true;
            } else {
                out.push_str(line);
                out.push('\n');
                blank = false;
            }
        }
        out.push('\n');
    }
    out
}

/// Draws `app` on a `width` x `height` buffer and returns it as lines of text without trailing
/// spaces.
pub fn draw_to_text(app: &App, theme: Theme, width: u16, height: u16) -> String {
    buffer_text(&draw_to_buffer(app, theme, width, height))
}

/// Draws `app` on a `width` x `height` buffer.
pub fn draw_to_buffer(app: &App, theme: Theme, width: u16, height: u16) -> Buffer {
    let mut terminal = match Terminal::new(TestBackend::new(width, height)) {
        Ok(t) => t,
        Err(never) => match never {},
    };
    let now = Instant::now();
    if let Err(never) = terminal.draw(|f| crate::ui::draw(f, app, theme, now)) {
        match never {}
    }
    terminal.backend().buffer().clone()
}

/// A buffer's cells as lines of text without trailing spaces.
pub fn buffer_text(buffer: &Buffer) -> String {
    let width = usize::from(buffer.area.width);
    let mut out = String::new();
    for row in buffer.content.chunks(width.max(1)) {
        let mut line = String::new();
        for cell in row {
            line.push_str(cell.symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
