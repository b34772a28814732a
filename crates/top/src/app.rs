//! The view's state: the frames read so far, the screen, the selection, the filter and what a
//! key does to them.

use crate::frame::{ClientRow, FindingLine, Frame};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::time::{Duration, Instant};

/// The screens, in the order `Tab` visits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// One verdict line per report section.
    Overview,
    /// Priority levels per replica.
    Levels,
    /// Clients and flows.
    Clients,
    /// The slowest calls.
    Calls,
    /// WATCHes.
    Watches,
    /// etcd.
    Etcd,
}

impl Screen {
    /// Every screen, in `Tab` order.
    pub const ALL: [Screen; 6] = [
        Screen::Overview,
        Screen::Levels,
        Screen::Clients,
        Screen::Calls,
        Screen::Watches,
        Screen::Etcd,
    ];

    /// The command that opens it (`:pl`).
    pub fn command(self) -> &'static str {
        match self {
            Screen::Overview => "overview",
            Screen::Levels => "pl",
            Screen::Clients => "clients",
            Screen::Calls => "calls",
            Screen::Watches => "watches",
            Screen::Etcd => "etcd",
        }
    }

    /// Its title.
    pub fn title(self) -> &'static str {
        match self {
            Screen::Overview => "Overview",
            Screen::Levels => "Priority levels",
            Screen::Clients => "Clients",
            Screen::Calls => "Slowest calls",
            Screen::Watches => "WATCHes",
            Screen::Etcd => "etcd",
        }
    }

    fn from_command(cmd: &str) -> Option<Screen> {
        let cmd = cmd.trim().to_ascii_lowercase();
        let cmd = match cmd.as_str() {
            "o" | "ov" | "overview" => "overview",
            "pl" | "levels" | "priority-levels" | "plc" => "pl",
            "c" | "clients" | "flows" | "fs" => "clients",
            "calls" | "slow" => "calls",
            "w" | "watch" | "watches" => "watches",
            "e" | "etcd" => "etcd",
            _ => return None,
        };
        Screen::ALL.into_iter().find(|s| s.command() == cmd)
    }
}

/// What is drawn over the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// Nothing.
    None,
    /// The keys.
    Help,
    /// The selected client: finding, evidence, advice.
    Client(usize),
    /// The fix YAML of the selected client.
    Fix(usize),
    /// The selected client's last audit events of the window, the newest first.
    Events(usize),
    /// A finding about the server or its configuration (no client): its evidence, remediation
    /// and YAML; the index is in [`Frame::findings`].
    Finding(usize),
}

/// What the line at the bottom is being used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Showing the status.
    None,
    /// Typing a `:` command.
    Command(String),
    /// Typing a `/` filter.
    Filter(String),
}

/// What the loop must do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing beyond redrawing.
    Redraw,
    /// Read a new frame now (`history` changed or a refresh was asked).
    Fetch,
    /// Leave.
    Quit,
}

/// The view's state.
#[derive(Debug)]
pub struct App {
    /// The current frame, if any was read.
    pub frame: Option<Frame>,
    /// When the current frame arrived.
    pub frame_at: Option<Instant>,
    /// The last error from the source, with when it happened.
    pub error: Option<(String, Instant)>,
    /// Per section title, its figure at each refresh (oldest first), for the sparklines.
    pub sparks: Vec<(String, Vec<u64>)>,
    /// The screen shown.
    pub screen: Screen,
    /// The row selected on the screen.
    pub selected: usize,
    /// The filter of the screen's rows (case-insensitive substring), empty for none.
    pub filter: String,
    /// The overlay.
    pub overlay: Overlay,
    /// The scroll offset of the overlay.
    pub scroll: u16,
    /// The bottom line's use.
    pub prompt: Prompt,
    /// Per replica (true) or per level over all replicas.
    pub per_replica: bool,
    /// How far back from now the frame is read; zero is live.
    pub history: Duration,
    /// The step of `←`/`→`.
    pub history_step: Duration,
    /// The refresh interval, for the staleness mark.
    pub interval: Duration,
    /// A one-off message for the status line.
    pub message: Option<String>,
    /// Where `Enter` drilled down from (screen, filter, selection), newest last: `Esc` and
    /// `Backspace` go back to it.
    pub back: Vec<(Screen, String, usize)>,
}

/// A figure as a sparkline point: thousandths, none below zero.
fn spark_point(figure: Option<f64>) -> u64 {
    figure.map_or(0, |v| {
        if v.is_finite() && v > 0.0 {
            (v * 1000.0).min(u64::MAX as f64 / 2.0) as u64
        } else {
            0
        }
    })
}

/// Points kept per sparkline.
const SPARK_POINTS: usize = 120;

impl App {
    /// A view with no frame yet, refreshing every `interval`.
    pub fn new(interval: Duration) -> App {
        App {
            frame: None,
            frame_at: None,
            error: None,
            sparks: Vec::new(),
            screen: Screen::Overview,
            selected: 0,
            filter: String::new(),
            overlay: Overlay::None,
            scroll: 0,
            prompt: Prompt::None,
            per_replica: true,
            history: Duration::ZERO,
            history_step: Duration::from_secs(60),
            interval,
            message: None,
            back: Vec::new(),
        }
    }

    /// Takes a new frame: the sparklines grow by a point when it is live.
    pub fn set_frame(&mut self, frame: Frame, now: Instant) {
        let live = self.history.is_zero();
        for s in frame.sections.iter().filter(|_| live) {
            let value = spark_point(s.figure);
            match self.sparks.iter_mut().find(|(t, _)| *t == s.title) {
                Some((_, points)) => {
                    points.push(value);
                    if points.len() > SPARK_POINTS {
                        points.remove(0);
                    }
                }
                // The first frame seeds the line with the window's stored history.
                None => {
                    let before = s.trend.len().saturating_sub(1);
                    let mut points: Vec<u64> = s.trend[..before]
                        .iter()
                        .map(|&v| spark_point(Some(v)))
                        .collect();
                    points.push(value);
                    self.sparks.push((s.title.clone(), points));
                }
            }
        }
        self.frame = Some(frame);
        self.frame_at = Some(now);
        self.error = None;
    }

    /// Records a failed read; the last frame stays on screen.
    pub fn set_error(&mut self, error: String, now: Instant) {
        self.error = Some((error, now));
    }

    /// The clients shown on the clients screen, after the filter.
    pub fn visible_clients(&self) -> Vec<(usize, &ClientRow)> {
        let Some(frame) = &self.frame else {
            return Vec::new();
        };
        frame
            .clients
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                self.matches(&[
                    &c.user,
                    &c.user_agent,
                    &c.priority_level,
                    &c.flow_schema,
                    &c.verb_resource,
                ])
            })
            .collect()
    }

    /// The findings about the server or its configuration (no client) after the filter: the
    /// clients screen lists them below the clients.
    pub fn visible_server_findings(&self) -> Vec<(usize, &FindingLine)> {
        let Some(frame) = &self.frame else {
            return Vec::new();
        };
        frame
            .findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.client.is_empty() && self.matches(&[&f.kind, &f.title]))
            .collect()
    }

    /// True when one of `fields` contains the filter (case-insensitive).
    pub fn matches(&self, fields: &[&str]) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        fields.iter().any(|f| f.to_lowercase().contains(&needle))
    }

    /// How many rows the screen has after the filter.
    pub fn row_count(&self) -> usize {
        let Some(frame) = &self.frame else { return 0 };
        match self.screen {
            Screen::Overview => frame.sections.len(),
            Screen::Levels => crate::ui::levels::visible(self, frame).len(),
            Screen::Clients => self.visible_clients().len() + self.visible_server_findings().len(),
            Screen::Calls | Screen::Watches | Screen::Etcd => {
                crate::ui::panels::visible_rows(self, frame).len()
            }
        }
    }

    /// Applies one key.
    pub fn handle_key(&mut self, key: KeyEvent) -> Effect {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Effect::Quit;
        }
        if self.prompt != Prompt::None {
            let is_filter = matches!(self.prompt, Prompt::Filter(_));
            return self.handle_prompt_key(key, is_filter);
        }
        if self.overlay != Overlay::None {
            return self.handle_overlay_key(key);
        }
        self.message = None;
        match key.code {
            KeyCode::Char('q') => return Effect::Quit,
            KeyCode::Esc | KeyCode::Backspace if !self.back.is_empty() => {
                if let Some((screen, filter, selected)) = self.back.pop() {
                    self.screen = screen;
                    self.filter = filter;
                    self.selected = selected;
                }
            }
            KeyCode::Esc => {
                if !self.filter.is_empty() {
                    self.filter.clear();
                    self.selected = 0;
                } else if self.screen != Screen::Overview {
                    self.switch(Screen::Overview);
                }
            }
            KeyCode::Char(':') => self.prompt = Prompt::Command(String::new()),
            KeyCode::Char('/') => self.prompt = Prompt::Filter(self.filter.clone()),
            KeyCode::Char('?') | KeyCode::F(1) => self.overlay = Overlay::Help,
            KeyCode::Char('r') => {
                self.per_replica = !self.per_replica;
                self.selected = 0;
            }
            KeyCode::Char('R') | KeyCode::F(5) => return Effect::Fetch,
            KeyCode::Tab => self.cycle(1),
            KeyCode::BackTab => self.cycle(Screen::ALL.len() - 1),
            KeyCode::Char(c @ '1'..='6') => {
                let idx = c as usize - '1' as usize;
                self.switch(Screen::ALL[idx]);
            }
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::PageDown => self.move_selection(10),
            KeyCode::PageUp => self.move_selection(-10),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => {
                self.selected = self.row_count().saturating_sub(1);
            }
            KeyCode::Left => {
                self.history += self.history_step;
                return Effect::Fetch;
            }
            KeyCode::Right => {
                if self.history.is_zero() {
                    self.message = Some("already live".to_owned());
                } else {
                    self.history = self.history.saturating_sub(self.history_step);
                    return Effect::Fetch;
                }
            }
            KeyCode::Enter => self.drill_down(),
            KeyCode::Char('y') => self.show_fix(),
            KeyCode::Char('e') if self.screen == Screen::Clients => {
                self.open_selected_client(false);
                if let Overlay::Client(i) = self.overlay {
                    self.overlay = Overlay::Events(i);
                }
            }
            _ => {}
        }
        Effect::Redraw
    }

    fn handle_prompt_key(&mut self, key: KeyEvent, is_filter: bool) -> Effect {
        let text = match &mut self.prompt {
            Prompt::Command(t) | Prompt::Filter(t) => t,
            Prompt::None => return Effect::Redraw,
        };
        match key.code {
            KeyCode::Esc => self.prompt = Prompt::None,
            KeyCode::Backspace => {
                text.pop();
                if is_filter {
                    self.filter = text.clone();
                    self.selected = 0;
                }
            }
            KeyCode::Char(c) => {
                text.push(c);
                if is_filter {
                    self.filter = text.clone();
                    self.selected = 0;
                }
            }
            KeyCode::Enter => {
                let text = std::mem::take(text);
                self.prompt = Prompt::None;
                if !is_filter {
                    return self.run_command(&text);
                }
            }
            _ => {}
        }
        Effect::Redraw
    }

    fn run_command(&mut self, cmd: &str) -> Effect {
        match cmd.trim() {
            "q" | "quit" | "q!" => return Effect::Quit,
            "help" | "h" => self.overlay = Overlay::Help,
            other => match Screen::from_command(other) {
                Some(screen) => {
                    self.switch(screen);
                    self.filter.clear();
                }
                None => {
                    self.message = Some(format!(
                        "unknown command :{other} (try :pl :clients :calls :watches :etcd)"
                    ));
                }
            },
        }
        Effect::Redraw
    }

    fn handle_overlay_key(&mut self, key: KeyEvent) -> Effect {
        match key.code {
            // The events go back to the client they were opened from.
            KeyCode::Esc | KeyCode::Backspace if matches!(self.overlay, Overlay::Events(_)) => {
                if let Overlay::Events(i) = self.overlay {
                    self.overlay = Overlay::Client(i);
                    self.scroll = 0;
                }
            }
            KeyCode::Enter | KeyCode::Char('e') => {
                if let Overlay::Client(i) | Overlay::Fix(i) = self.overlay {
                    self.overlay = Overlay::Events(i);
                    self.scroll = 0;
                }
            }
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') | KeyCode::Backspace => {
                self.overlay = Overlay::None;
                self.scroll = 0;
            }
            KeyCode::Char('y') => {
                if let Overlay::Client(i) | Overlay::Events(i) = self.overlay {
                    self.overlay = Overlay::Fix(i);
                    self.scroll = 0;
                }
            }
            KeyCode::Down | KeyCode::Char('j') => self.scroll = self.scroll.saturating_add(1),
            KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll = self.scroll.saturating_add(10),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Home => self.scroll = 0,
            _ => {}
        }
        Effect::Redraw
    }

    fn switch(&mut self, screen: Screen) {
        self.screen = screen;
        self.selected = 0;
        self.back.clear();
    }

    fn cycle(&mut self, by: usize) {
        let idx = Screen::ALL
            .iter()
            .position(|s| *s == self.screen)
            .unwrap_or(0);
        self.switch(Screen::ALL[(idx + by) % Screen::ALL.len()]);
        self.filter.clear();
    }

    fn move_selection(&mut self, by: isize) {
        let n = self.row_count();
        if n == 0 {
            self.selected = 0;
            return;
        }
        self.selected = self.selected.saturating_add_signed(by).min(n - 1);
    }

    /// `Enter`: a level shows its clients, a client its finding, an overview line its screen.
    fn drill_down(&mut self) {
        let Some(frame) = &self.frame else { return };
        match self.screen {
            Screen::Overview => {
                let target = frame.sections.get(self.selected).map(|s| s.title.as_str());
                let screen = match target {
                    Some(t) if t.contains("Priority") => Screen::Levels,
                    Some(t) if t.contains("WATCH") || t.contains("Watch") => Screen::Watches,
                    Some(t) if t.contains("etcd") || t.contains("Storage") => Screen::Etcd,
                    Some(t) if t.contains("Latency") || t.contains("Traffic") => Screen::Calls,
                    _ => Screen::Clients,
                };
                self.switch(screen);
            }
            Screen::Levels => {
                let rows = crate::ui::levels::visible(self, frame);
                if let Some(level) = rows.get(self.selected).map(|r| r.level.clone()) {
                    let from = (self.screen, std::mem::take(&mut self.filter), self.selected);
                    self.switch(Screen::Clients);
                    self.back.push(from);
                    // The level's FlowSchemas (below) and its clients.
                    self.filter = level;
                }
            }
            Screen::Clients => self.open_selected_client(false),
            Screen::Calls | Screen::Watches | Screen::Etcd => {
                let rows = crate::ui::panels::visible_rows(self, frame);
                if let Some((_, row)) = rows.get(self.selected) {
                    self.filter = row.name.clone();
                    self.selected = 0;
                }
            }
        }
    }

    /// The selected row of the clients screen: a client's finding (`fix`: its YAML), or a
    /// finding about the server with its evidence and remediation.
    fn open_selected_client(&mut self, fix: bool) {
        let clients = self.visible_clients();
        let overlay = match clients.get(self.selected) {
            Some((i, _)) if fix => Some(Overlay::Fix(*i)),
            Some((i, _)) => Some(Overlay::Client(*i)),
            None => self
                .visible_server_findings()
                .get(self.selected - clients.len())
                .map(|(i, _)| Overlay::Finding(*i)),
        };
        match overlay {
            Some(o) => {
                self.overlay = o;
                self.scroll = 0;
            }
            None => self.message = Some("no client selected".to_owned()),
        }
    }

    /// `y`: the doctor's fix for the selected client or server finding (the culprit elsewhere
    /// than on the clients screen).
    fn show_fix(&mut self) {
        if self.screen == Screen::Clients {
            return self.open_selected_client(true);
        }
        let index = {
            self.frame
                .as_ref()
                .and_then(|f| f.culprit.as_ref().map(|_| 0))
        };
        match index {
            Some(i) => {
                self.overlay = Overlay::Fix(i);
                self.scroll = 0;
            }
            None => self.message = Some("no client selected".to_owned()),
        }
    }

    /// The staleness of the frame: its age when older than two refresh intervals.
    pub fn stale_for(&self, now: Instant) -> Option<Duration> {
        let age = now.duration_since(self.frame_at?);
        (age > self.interval * 2).then_some(age)
    }
}
