//! A scan with a progress bar on stderr: bytes read of the inputs' total (a spinner when a size
//! is unknown, as for stdin), drawn on a terminal once the scan has taken a second.

use crate::error::AuditError;
use crate::input::Input;
use crate::scan::{ScanOpts, scan};
use crate::summary::Summary;
use crate::{Filter, View};
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// [`scan`] with a progress bar on stderr when stderr is a terminal; `opts.progress` is
/// replaced by the bar's own counter.
///
/// # Errors
///
/// As [`scan`].
pub fn scan_with_progress<V, F>(
    inputs: &[Input],
    filter: &Filter,
    opts: &ScanOpts,
    make_view: F,
) -> Result<(V, Summary), AuditError>
where
    V: View,
    F: Fn() -> V + Sync,
{
    if !std::io::stderr().is_terminal() {
        return scan(inputs, filter, opts, make_view);
    }
    let read = Arc::new(AtomicU64::new(0));
    let opts = ScanOpts {
        progress: Some(Arc::clone(&read)),
        ..opts.clone()
    };
    let total: Option<u64> = inputs.iter().map(Input::size).sum();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| draw_until(total, &read, &done));
        let result = scan(inputs, filter, &opts, make_view);
        done.store(true, Ordering::Relaxed);
        result
    })
}

/// Draws the bar every 100 ms, after the first second, until `done`.
fn draw_until(total: Option<u64>, read: &AtomicU64, done: &AtomicBool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        if done.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let bar = match total {
        Some(t) => indicatif::ProgressBar::new(t).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_bar}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    while !done.load(Ordering::Relaxed) {
        bar.set_position(read.load(Ordering::Relaxed));
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}
