//! `--once`: every screen of one frame as plain text, for scripts and tickets.

use crate::app::{App, Screen};
use crate::error::TopError;
use crate::frame::Frame;
use crate::style::Theme;
use crate::term::Source;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use std::io::Write as _;
use std::time::{Duration, Instant};

/// Rows a screen may take in the text form before it is cut.
const MAX_ROWS: u16 = 400;

/// How `--once` prints its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnceFormat {
    /// Every screen as plain text, this many columns wide (at least 60).
    Text {
        /// Columns.
        width: u16,
    },
    /// The frame as JSON ([`crate::render_json`]), one document on one line.
    Json,
}

/// Reads one live frame of `source` and prints it on standard output in `format`, each error
/// the frame carries as a `warning:` line on standard error; a closed standard output (`| head`)
/// is not an error.
///
/// # Errors
///
/// When the source cannot give a frame, or standard output fails otherwise.
pub fn print_once(source: &mut dyn Source, format: OnceFormat) -> Result<(), TopError> {
    let frame = source.read(Duration::ZERO).map_err(TopError::Source)?;
    for e in &frame.errors {
        let _ = writeln!(std::io::stderr().lock(), "warning: {e}");
    }
    match std::io::stdout()
        .lock()
        .write_all(once_text(&frame, format).as_bytes())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(TopError::Output),
    }
}

/// What [`print_once`] prints of `frame`.
pub fn once_text(frame: &Frame, format: OnceFormat) -> String {
    match format {
        OnceFormat::Json => crate::text::render_json(frame) + "\n",
        OnceFormat::Text { width } => render_text(frame, width.max(60)),
    }
}

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
