//! The entry path allocates nothing per sample, strictness checks included: parsing 100,000
//! samples costs the same few allocations as parsing 1,000 (one per metric name and metadata
//! line, none per sample or label).

use apilens_textparse::{Entry, Format, Parser};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// An exposition of `n` samples of two histograms and a counter with `labels` labels each.
fn exposition(n: usize, labels: usize) -> Vec<u8> {
    let mut out = String::from(
        "# HELP req_seconds Latency.\n# TYPE req_seconds histogram\n# TYPE calls_total counter\n",
    );
    for i in 0..n {
        let set: String = (0..labels)
            .map(|l| format!("l{l}=\"v{}\",", (i + l) % 7))
            .collect();
        match i % 3 {
            0 => out.push_str(&format!("req_seconds_bucket{{{set}le=\"{i}\"}} {i}\n")),
            1 => out.push_str(&format!("req_seconds_count{{{set}id=\"{i}\"}} {i}\n")),
            _ => out.push_str(&format!("calls_total{{{set}id=\"{i}\"}} {i}.5\n")),
        }
    }
    out.into_bytes()
}

/// Allocations made while parsing `input` to the end (entries read, labels decoded).
fn allocations(input: &[u8]) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut samples = 0usize;
    let mut label_bytes = 0usize;
    for entry in Parser::new(input, Format::PrometheusText) {
        if let Entry::Series(s) = entry.expect("valid exposition") {
            samples += 1;
            for (name, value) in s.labels() {
                label_bytes += name.len() + value.len();
            }
        }
    }
    assert!(samples > 0 && label_bytes > 0);
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn no_allocation_per_sample() {
    // 4 labels rarely hit the uniqueness filter; 20 fill it, and compare by rescanning.
    for labels in [4, 20] {
        let small = allocations(&exposition(1_000, labels));
        let large = allocations(&exposition(100_000, labels));
        assert_eq!(
            small, large,
            "{labels} labels: {small} vs {large} allocations"
        );
        assert!(large < 40, "{labels} labels: {large} allocations");
    }
}
