//! The live loop: a reader thread that never blocks the screen, keys, redraws, and the terminal
//! put back as it was on every way out.

use crate::app::{App, Effect};
use crate::error::TopError;
use crate::frame::Frame;
use crate::style::Theme;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// Where frames come from: the simulator, a store, a remote engine, an audit log.
pub trait Source: Send {
    /// Reads the frame whose window ends `back` before the newest data (zero: live).
    ///
    /// # Errors
    ///
    /// A sentence naming the source and what failed; the view shows it in its status line
    /// and keeps the last frame.
    fn read(&mut self, back: Duration) -> Result<Frame, String>;
}

/// How the live view runs.
#[derive(Debug, Clone)]
pub struct LiveOpts {
    /// Time between two reads.
    pub interval: Duration,
    /// The step of `←`/`→` through history.
    pub history_step: Duration,
    /// Colours.
    pub theme: Theme,
    /// Set from outside (a signal handler: the terminal closed, SIGTERM) to leave as `q` does,
    /// with the terminal restored and the source cleaned up.
    pub stop: Option<Arc<AtomicBool>>,
}

/// Runs the live view on the terminal until `q`.
///
/// The source is read on a thread of its own, so a slow source never blocks a key or a redraw:
/// the header says how stale the frame is and the status line shows the last error.
///
/// # Errors
///
/// [`TopError::Terminal`] when the terminal cannot be set up or drawn on; the terminal is put
/// back as it was first.
pub fn run_live(source: Box<dyn Source>, opts: LiveOpts) -> Result<(), TopError> {
    let (ask, asked) = mpsc::channel::<Duration>();
    let (answer, answers) = mpsc::channel::<(Duration, Result<Frame, String>)>();
    let reader = std::thread::Builder::new()
        .name("top-reader".to_owned())
        .spawn({
            let stop = opts.stop.clone();
            move || read_loop(source, &asked, &answer, stop.as_deref())
        })?;
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, &ask, &answers, &opts);
    let restored = ratatui::try_restore();
    drop(ask);
    // The source cleans up (a temporary store) when its thread ends.
    let _ = reader.join();
    result?;
    Ok(restored?)
}

fn read_loop(
    mut source: Box<dyn Source>,
    asked: &mpsc::Receiver<Duration>,
    answer: &mpsc::Sender<(Duration, Result<Frame, String>)>,
    stop: Option<&AtomicBool>,
) {
    loop {
        // The stop flag ends this thread even when the main thread is stuck on a closed
        // terminal, so the source (a temporary store) is dropped and cleaned up.
        if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            return;
        }
        let mut back = match asked.recv_timeout(Duration::from_millis(250)) {
            Ok(back) => back,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        // Only the newest request matters.
        while let Ok(newer) = asked.try_recv() {
            back = newer;
        }
        let frame = source.read(back);
        if answer.send((back, frame)).is_err() {
            break;
        }
    }
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    ask: &mpsc::Sender<Duration>,
    answers: &mpsc::Receiver<(Duration, Result<Frame, String>)>,
    opts: &LiveOpts,
) -> Result<(), TopError> {
    let mut app = App::new(opts.interval);
    app.history_step = opts.history_step;
    let mut last_ask: Option<Instant> = None;
    let mut in_flight = false;
    // A source slower than the interval is asked again only after as long again as its last
    // read took, so the reader thread is busy at most half the time.
    let mut gap = opts.interval;
    loop {
        if opts
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            return Ok(());
        }
        let now = Instant::now();
        if !in_flight && last_ask.is_none_or(|t| now.duration_since(t) >= gap) {
            let _ = ask.send(app.history);
            in_flight = true;
            last_ask = Some(now);
        }
        while let Ok((back, result)) = answers.try_recv() {
            in_flight = false;
            if let Some(asked) = last_ask {
                gap = opts.interval.max(asked.elapsed() * 2);
                // Stale means older than the pace the source can keep.
                app.interval = gap;
            }
            if back != app.history {
                continue;
            }
            match result {
                Ok(frame) => app.set_frame(frame, Instant::now()),
                Err(e) => app.set_error(e, Instant::now()),
            }
        }
        terminal.draw(|f| crate::ui::draw(f, &app, opts.theme, Instant::now()))?;
        if !event::poll(Duration::from_millis(250))? {
            continue;
        }
        match event::read()? {
            Event::Key(key) if key.kind == KeyEventKind::Press => match app.handle_key(key) {
                Effect::Quit => return Ok(()),
                Effect::Fetch => {
                    let _ = ask.send(app.history);
                    in_flight = true;
                    last_ask = Some(Instant::now());
                }
                Effect::Redraw => {}
            },
            // A resize redraws at the new size on the next turn.
            _ => {}
        }
    }
}
