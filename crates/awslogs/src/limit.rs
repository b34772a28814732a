//! Politeness: a cap on requests per second shared by every reader, and exponential back-off
//! with full jitter between retries.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most `per_second` requests per second over all threads: each caller takes the next free
/// slot, evenly spaced, and sleeps until it comes.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// `per_second` must be positive and finite (checked by the options).
    pub(crate) fn new(per_second: f64) -> RateLimiter {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: Mutex::new(None),
        }
    }

    /// Waits for the next slot.
    pub(crate) fn acquire(&self) {
        let wait = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + self.interval);
            at - now
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

/// Exponential back-off with full jitter (the AWS SDKs' rule): before retry `n` (from 0), sleep
/// a random time between zero and `min(cap, base × 2ⁿ)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
}

impl Backoff {
    /// The SDKs' standard values: 100 ms doubling up to 20 s. Throttling gets a longer base.
    pub(crate) const STANDARD: Backoff = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(20),
    };

    /// The delay before retry `retry`.
    pub(crate) fn delay(&self, retry: u32, throttled: bool) -> Duration {
        let base = if throttled { self.base * 5 } else { self.base };
        let ceiling = base
            .checked_mul(1u32 << retry.min(16))
            .unwrap_or(self.cap)
            .min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_spaces_requests_over_threads() {
        let limiter = std::sync::Arc::new(RateLimiter::new(50.0));
        let start = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let limiter = std::sync::Arc::clone(&limiter);
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        limiter.acquire();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // 20 requests at 50/s: the last one waits 19 intervals of 20 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(380),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let b = Backoff::STANDARD;
        for retry in 0..40 {
            let d = b.delay(retry, retry % 2 == 0);
            assert!(d <= b.cap);
        }
        let ceilings: Vec<Duration> = (0..5)
            .map(|r| (0..200).map(|_| b.delay(r, false)).max().unwrap())
            .collect();
        assert!(ceilings[4] > ceilings[0] * 4, "{ceilings:?}");
        assert!(ceilings[0] <= Duration::from_millis(100));
    }
}
