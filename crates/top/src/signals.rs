//! The signals `top` answers: the terminal closing (SIGHUP) and the requests to stop (SIGINT,
//! SIGTERM), which no longer end the process by themselves: the live view leaves as `q` leaves
//! ([`run_on_terminal`]) and `--once` removes its temporary store first.

use crate::error::TopError;
use crate::source::remove_scratch_dirs;
use crate::style::Theme;
use crate::term::{LiveOpts, Source, run_live};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Calls `then` on a thread of its own at the first SIGHUP, SIGINT or SIGTERM.
fn on_signal(then: impl FnOnce() + Send + 'static) -> Result<(), TopError> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(TopError::Signal)?;
    let (mut hup, mut int, mut term) = runtime
        .block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::hangup())?,
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })
        .map_err(TopError::Signal)?;
    std::thread::Builder::new()
        .name("top-signals".to_owned())
        .spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    _ = hup.recv() => {}
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            });
            then();
        })
        .map_err(TopError::Signal)?;
    Ok(())
}

/// For `--once`: a signal (Ctrl-C while the first frame is read) removes the temporary store
/// and spool directories, then ends the process as the signal would have (exit status 130).
///
/// # Errors
///
/// When the signal handlers cannot be installed.
pub fn remove_scratch_on_signal() -> Result<(), TopError> {
    on_signal(|| {
        remove_scratch_dirs();
        std::process::exit(130);
    })
}

/// A flag for `LiveOpts::stop`, set when the terminal closes or the process is asked
/// to stop, so that the view leaves as `q` leaves: terminal restored, temporary store removed.
/// A closed terminal can leave the main thread stuck in the terminal library, so the process
/// ends (status 0) three seconds later, when the reader thread has dropped the source.
fn stop_on_signal() -> Result<Arc<AtomicBool>, TopError> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    on_signal(move || {
        flag.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_secs(3));
        std::process::exit(0);
    })?;
    Ok(stop)
}

/// The live view as `apilens top` runs it: on a terminal only (in a script, `--once` is the
/// way), in the environment's colours ([`Theme::from_env`]), leaving on SIGHUP, SIGINT and
/// SIGTERM as on `q`.
///
/// # Errors
///
/// [`TopError::Invalid`] when standard output is not a terminal; otherwise as [`run_live`].
pub fn run_on_terminal(
    source: Box<dyn Source>,
    interval: Duration,
    history_step: Duration,
) -> Result<(), TopError> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(TopError::Invalid(
            "standard output is not a terminal: use --once [--format text|json] in scripts"
                .to_owned(),
        ));
    }
    let opts = LiveOpts {
        interval,
        history_step,
        theme: Theme::from_env(),
        stop: Some(stop_on_signal()?),
    };
    run_live(source, opts)
}
