//! A [`Queryable`] that keeps what it read for as long as it lives: the queries of one report
//! select the same series many times (the three quantiles of a histogram, a panel's table and
//! its time series), and each select after the first is answered from memory.

use crate::{Matcher, Queryable, SelectError, SelectHints, Series};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The reads of one set of matchers: every series with a sample in `[mint, maxt]`, with its
/// samples in that range.
#[derive(Debug)]
struct Read {
    mint: i64,
    maxt: i64,
    series: Vec<Series>,
}

/// A [`Queryable`] over another that reads each set of matchers at most twice while it lives,
/// and answers every other select over a time range it holds from memory.
///
/// A select over a range the cache holds is cut out of the held read, so it returns what the
/// store itself would: the series with a sample in the range, in the same order, with their
/// samples in the range. A select over a range it does not hold reads the union of both
/// ranges, so a second miss on the same matchers is rare. Meant for one report's queries over
/// one instant of the store: it does not see samples appended after its first read.
pub struct ReadCache<'a> {
    inner: &'a dyn Queryable,
    reads: Mutex<HashMap<String, Arc<Read>>>,
}

impl std::fmt::Debug for ReadCache<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache").finish_non_exhaustive()
    }
}

impl<'a> ReadCache<'a> {
    /// An empty cache over `inner`.
    pub fn new(inner: &'a dyn Queryable) -> Self {
        ReadCache {
            inner,
            reads: Mutex::new(HashMap::new()),
        }
    }

    fn held(&self, key: &str) -> Option<Arc<Read>> {
        self.reads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn keep(&self, key: String, read: Arc<Read>) {
        let mut reads = self.reads.lock().unwrap_or_else(PoisonError::into_inner);
        let wider = reads
            .get(&key)
            .is_none_or(|r| read.mint <= r.mint && read.maxt >= r.maxt);
        if wider {
            reads.insert(key, read);
        }
    }
}

/// The same text for the same set of matchers, whatever their order.
fn key(matchers: &[Matcher]) -> String {
    let mut parts: Vec<String> = matchers
        .iter()
        .map(|m| format!("{}{}{:?}", m.name, m.op, m.value))
        .collect();
    parts.sort_unstable();
    parts.join(",")
}

/// The series of `read` with a sample in `[mint, maxt]`, with those samples.
fn cut(read: &Read, mint: i64, maxt: i64) -> Vec<Series> {
    read.series
        .iter()
        .filter_map(|s| {
            let from = s.samples.partition_point(|x| x.t < mint);
            let to = s.samples.partition_point(|x| x.t <= maxt);
            (from < to).then(|| Series {
                labels: s.labels.clone(),
                samples: s.samples[from..to].to_vec(),
            })
        })
        .collect()
}

impl Queryable for ReadCache<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        hints: SelectHints,
    ) -> Result<Vec<Series>, SelectError> {
        let key = key(matchers);
        let held = self.held(&key);
        if let Some(read) = held.as_ref().filter(|r| r.mint <= mint && r.maxt >= maxt) {
            return Ok(cut(read, mint, maxt));
        }
        let (wide_mint, wide_maxt) = held
            .as_ref()
            .map_or((mint, maxt), |r| (r.mint.min(mint), r.maxt.max(maxt)));
        let read = match self.inner.select(matchers, wide_mint, wide_maxt, hints) {
            Ok(series) => Read {
                mint: wide_mint,
                maxt: wide_maxt,
                series,
            },
            // The union may pass a sample limit the asked range stays under.
            Err(SelectError::TooManySamples { .. }) if (wide_mint, wide_maxt) != (mint, maxt) => {
                return self.inner.select(matchers, mint, maxt, hints);
            }
            Err(e) => return Err(e),
        };
        let read = Arc::new(read);
        let out = if (wide_mint, wide_maxt) == (mint, maxt) {
            read.series.clone()
        } else {
            cut(&read, mint, maxt)
        };
        self.keep(key, read);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Labels, MatchOp, Sample};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Two series, `a` with samples at 0, 10, ..., 100 and `b` with samples at 50 and 60;
    /// counts its selects.
    struct Store {
        selects: AtomicUsize,
    }

    impl Queryable for Store {
        fn select(
            &self,
            matchers: &[Matcher],
            mint: i64,
            maxt: i64,
            _hints: SelectHints,
        ) -> Result<Vec<Series>, SelectError> {
            self.selects.fetch_add(1, Ordering::Relaxed);
            let all = [
                ("a", (0..=10).map(|i| i * 10).collect::<Vec<i64>>()),
                ("b", vec![50, 60]),
            ];
            Ok(all
                .into_iter()
                .filter(|(name, _)| {
                    let labels = Labels::from_pairs([("__name__", "up"), ("pod", name)]);
                    matchers
                        .iter()
                        .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
                })
                .filter_map(|(name, ts)| {
                    let samples: Vec<Sample> = ts
                        .into_iter()
                        .filter(|t| (mint..=maxt).contains(t))
                        .map(|t| Sample { t, v: t as f64 })
                        .collect();
                    (!samples.is_empty()).then(|| Series {
                        labels: Labels::from_pairs([("__name__", "up"), ("pod", name)]),
                        samples,
                    })
                })
                .collect())
        }
    }

    fn up() -> Vec<Matcher> {
        vec![Matcher::new(MatchOp::Equal, "__name__", "up").unwrap()]
    }

    #[test]
    fn answers_like_the_store_and_reads_each_range_it_does_not_hold_once() {
        let store = Store {
            selects: AtomicUsize::new(0),
        };
        let cache = ReadCache::new(&store);
        let h = SelectHints::default();
        for (mint, maxt) in [(40, 70), (45, 55), (0, 30), (20, 100), (61, 100), (55, 59)] {
            assert_eq!(
                cache.select(&up(), mint, maxt, h).unwrap(),
                store.select(&up(), mint, maxt, h).unwrap(),
                "[{mint}, {maxt}]"
            );
        }
        // Six answers, six reads of the store by the comparison, and three by the cache: the
        // first range, its union with [0, 30], then [0, 100]; every other range was held.
        assert_eq!(store.selects.load(Ordering::Relaxed), 6 + 3);
    }

    #[test]
    fn matchers_in_another_order_are_the_same_read_and_other_matchers_are_not() {
        let store = Store {
            selects: AtomicUsize::new(0),
        };
        let cache = ReadCache::new(&store);
        let h = SelectHints::default();
        let pod = Matcher::new(MatchOp::Equal, "pod", "b").unwrap();
        let mut both = up();
        both.push(pod.clone());
        let reversed = vec![pod, up().remove(0)];
        assert_eq!(cache.select(&both, 0, 100, h).unwrap().len(), 1);
        assert_eq!(cache.select(&reversed, 0, 100, h).unwrap().len(), 1);
        assert_eq!(store.selects.load(Ordering::Relaxed), 1);
        assert_eq!(cache.select(&up(), 0, 100, h).unwrap().len(), 2);
        assert_eq!(store.selects.load(Ordering::Relaxed), 2);
    }
}
