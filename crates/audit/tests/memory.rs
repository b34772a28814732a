//! Memory stays bounded whatever the input: the heap a scan allocates, counted by a global
//! allocator, for 2 GiB of zeros in a 2 MB gzip and for `/dev/zero` through a pipe.
//!
//! See: issue 15, "a 2 GB-of-zeros gzip (9.4 MB) took 6.3 GB of memory and exited 0;
//! `/dev/zero` grew without end".

use apilens_audit::{Filter, FilterSpec, Input, ScanOpts, Summary, Top, TopKey, scan};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most heap a scan may hold at once here: the chunks in flight (2 threads, 4 MiB chunks)
/// and the longest line's buffers (twice the 16 MiB limit), with room to spare.
const BOUND: usize = 160 << 20;

/// Beyond this the allocator refuses, so an unbounded scan fails fast instead of taking the
/// machine's memory.
const REFUSE: usize = 1 << 30;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        if now > REFUSE {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let now = if new_size >= layout.size() {
            CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size()
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed)
                - (layout.size() - new_size)
        };
        if now > REFUSE {
            CURRENT.fetch_sub(new_size.saturating_sub(layout.size()), Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests measure one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Scans `input` with two threads and returns the summary and the peak heap above what was
/// held before.
fn scan_peak(input: Input) -> (Summary, usize) {
    let filter = Filter::new(&FilterSpec::default()).expect("filter");
    let opts = ScanOpts {
        threads: 2,
        ..ScanOpts::default()
    };
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let (_, summary) = scan(&[input], &filter, &opts, || {
        Top::new(&[TopKey::User], 10, 100)
    })
    .expect("scan");
    let peak = PEAK.load(Ordering::Relaxed) - base;
    eprintln!(
        "peak heap of the scan: {:.1} MiB",
        peak as f64 / (1 << 20) as f64
    );
    (summary, peak)
}

/// A gzip of `gib` GiB of zeros, as the same 16 MiB member repeated (gzip members concatenate).
fn zeros_gzip(dir: &Path, gib: usize) -> PathBuf {
    let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let block = vec![0u8; 1 << 20];
    for _ in 0..16 {
        member.write_all(&block).expect("compress");
    }
    let member = member.finish().expect("compress");
    let path = dir.join("zeros.gz");
    let mut file = std::fs::File::create(&path).expect("create");
    for _ in 0..gib * 64 {
        file.write_all(&member).expect("write");
    }
    path
}

#[test]
fn two_gib_of_zeros_in_a_gzip_stay_in_bounded_memory() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = zeros_gzip(dir.path(), 2);
    assert!(std::fs::metadata(&path).expect("size").len() < 3 << 20);
    let (summary, peak) = scan_peak(Input::Path(path.clone()));
    assert_eq!(summary.bytes, 2 << 30, "every byte was read");
    assert_eq!(summary.malformed.count, 1);
    assert_eq!(
        summary.malformed.examples,
        [format!(
            "{}:1: line longer than 16777216 bytes",
            path.display()
        )]
    );
    assert!(peak < BOUND, "peak heap {} MiB", peak >> 20);
}

#[test]
fn dev_zero_through_a_pipe_stays_in_bounded_memory() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("zero.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    const BYTES: u64 = 1 << 30;
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let zero = std::fs::File::open("/dev/zero").expect("/dev/zero");
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .open(writer_path)
            .expect("open fifo");
        std::io::copy(&mut std::io::Read::take(zero, BYTES), &mut out).expect("copy")
    });
    let (summary, peak) = scan_peak(Input::Path(fifo.clone()));
    assert_eq!(writer.join().expect("writer"), BYTES);
    assert_eq!(summary.bytes, BYTES);
    assert_eq!(summary.lines, 1);
    assert_eq!(summary.malformed.count, 1);
    assert!(peak < BOUND, "peak heap {} MiB", peak >> 20);
}
