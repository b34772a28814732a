//! What a person sees on stderr while the reads run: the plans' notes, a progress line on a
//! terminal once a read has taken a second, and at the end one line of what each place gave.

use crate::reads::Reads;
use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

impl Reads {
    /// Prints the plans' notes on stderr, then, while `work` (the scan of these reads' sources)
    /// runs, a progress line when stderr is a terminal, and at the end a `read …` line per
    /// place. Returns what `work` returns.
    pub fn run_with_progress<T>(&self, work: impl FnOnce() -> T) -> T {
        for note in &self.notes {
            eprintln!("note: {note}");
        }
        let done = AtomicBool::new(false);
        let result = std::thread::scope(|s| {
            if std::io::stderr().is_terminal() {
                s.spawn(|| self.draw_until(&done));
            }
            let result = work();
            done.store(true, Ordering::Relaxed);
            result
        });
        for line in self.progress_lines() {
            eprintln!("read {line}");
        }
        result
    }

    /// Redraws the progress line every 200 ms, after the first second, until `done`.
    fn draw_until(&self, done: &AtomicBool) {
        let start = Instant::now();
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        while !done.load(Ordering::Relaxed) {
            if start.elapsed() > Duration::from_secs(1) {
                bar.set_message(self.progress_lines().join("; "));
                bar.tick();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bar.finish_and_clear();
    }
}
