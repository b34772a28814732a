//! Counters of what a read has done so far, for a progress line on stderr.

use std::sync::atomic::{AtomicU64, Ordering};

/// Shared counters, updated by every reader as it goes.
#[derive(Debug, Default)]
pub struct Progress {
    requests: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    events: AtomicU64,
    bytes: AtomicU64,
    ignored: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressSnapshot {
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Answers that asked to slow down (`ThrottlingException`, `SlowDown`, HTTP 429).
    pub throttled: u64,
    /// Requests sent again after a throttle, a 5xx or a network error.
    pub retries: u64,
    /// Log events (lines) handed to the reader.
    pub events: u64,
    /// Bytes of those events.
    pub bytes: u64,
    /// Events of other log streams met in a batch and left out.
    pub ignored: u64,
}

impl Progress {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self, throttled: bool) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        if throttled {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn event(&self, bytes: usize) {
        self.events.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn events(&self, n: usize) {
        self.events.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn bytes(&self, bytes: usize) {
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn ignored(&self) {
        self.ignored.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            ignored: self.ignored.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Display for ProgressSnapshot {
    /// `12,345 events, 8.1 MiB read in 14 requests (2 throttled, 3 retries)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events, {} read in {} requests",
            thousands(self.events),
            human_bytes(self.bytes),
            thousands(self.requests)
        )?;
        if self.retries > 0 {
            write!(
                f,
                " ({} throttled, {} retries)",
                thousands(self.throttled),
                thousands(self.retries)
            )?;
        }
        Ok(())
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readable_line() {
        let p = Progress::default();
        for _ in 0..1234 {
            p.event(1000);
        }
        p.request();
        p.request();
        assert_eq!(
            p.snapshot().to_string(),
            "1,234 events, 1.2 MiB read in 2 requests"
        );
        p.retry(true);
        assert!(
            p.snapshot()
                .to_string()
                .ends_with("(1 throttled, 1 retries)")
        );
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
