//! Memory stays bounded by the samples cap: this binary counts every allocation, and a query
//! that would materialise gigabytes fails at the cap with its peak far below that.
//! See: issue 15 (`max_over_time(m[1h:1ms])` over 100 series reached 4.6 GB).

use apilens_model::{Labels, Sample};
use apilens_promql::{Engine, EngineOpts, Error, MemQueryable, with_query_stack};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Live and peak bytes; an allocation past [`CEILING`] fails, so a regression ends this test
/// instead of the machine.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
const CEILING: usize = 2 << 30;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        if now > CEILING {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const T: i64 = 1_700_003_600_000;

#[test]
fn a_heavy_subquery_fails_at_the_cap_without_materialising_it() {
    let mut store = MemQueryable::new();
    for i in 0..100 {
        let labels = Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]);
        for k in 0..=240 {
            store.append(
                &labels,
                Sample {
                    t: T - 3_600_000 + k * 15_000,
                    v: k as f64,
                },
            );
        }
    }
    let max_samples = 5_000_000;
    let engine = Engine::new(EngineOpts {
        max_samples,
        ..EngineOpts::default()
    });
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let err = with_query_stack(|| engine.instant_query(&store, "max_over_time(m[1h:1ms])", T))
        .unwrap_err();
    assert!(matches!(err, Error::TooManySamples(_)), "{err}");
    let peak = PEAK.load(Ordering::Relaxed) - before;
    // 16 bytes a sample, twice that while a vector grows: the cap's worth, not 360 million
    // points (5.8 GB).
    assert!(peak < max_samples * 40, "peak {} MB", peak >> 20);
}
