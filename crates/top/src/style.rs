//! Colours: the terminal's own sixteen (so they follow its theme), none under `NO_COLOR`.

use ratatui::style::{Color, Modifier, Style};

/// How the view is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// False under `NO_COLOR`: emphasis by bold and reverse video only.
    pub colour: bool,
}

impl Theme {
    /// Colours unless `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
    pub fn from_env() -> Theme {
        Theme {
            colour: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    /// The style of a level word (`CRITICAL`, `WARNING`, `OK`, `NO DATA`) or a severity.
    pub fn level(self, level: &str) -> Style {
        let base = Style::default();
        if !self.colour {
            return match level {
                "CRITICAL" | "WARNING" => base.add_modifier(Modifier::BOLD),
                _ => base,
            };
        }
        match level {
            "CRITICAL" => base.fg(Color::Red).add_modifier(Modifier::BOLD),
            "WARNING" => base.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            "OK" => base.fg(Color::Green),
            "INFO" => base.fg(Color::Cyan),
            _ => base.add_modifier(Modifier::DIM),
        }
    }

    /// The header line.
    pub fn header(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }

    /// A table's heading row.
    pub fn heading(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    /// The selected row.
    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// An error in the status line.
    pub fn error(self) -> Style {
        if self.colour {
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        }
    }

    /// Text that matters less (hints, units).
    pub fn dim(self) -> Style {
        Style::default().add_modifier(Modifier::DIM)
    }
}
