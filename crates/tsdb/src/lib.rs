//! The embedded time-series store of apilens: Prometheus's storage design in one process.
//!
//! # Brief overview
//!
//! - [`Db::open`] opens a directory for writing, replays the WAL and serves reads and writes;
//!   [`Db::open_read_only`] serves reads and never changes a file. `Db` is `Send + Sync` and
//!   implements [`apilens_model::Queryable`], so the PromQL engine reads it directly.
//! - [`Appender`] collects one scrape; [`Appender::commit`] writes it to the WAL as one
//!   checksummed record, syncs it, then makes it visible.
//! - Damage on disk never stops an open and never becomes a changed value: a bad WAL record is
//!   skipped, a bad block is quarantined, a bad chunk is an error naming block and series; each
//!   is a [`Damage`] in [`Db::damage`] and a warning in the log. [`check_store`] verifies
//!   everything.
//! - [`XorChunk`] is Prometheus's XOR chunk encoding, bit for bit (delta-of-delta timestamps,
//!   Gorilla XOR values); staleness markers round-trip.
//! - Closed time ranges become immutable blocks, one `redb` file each, merged by a leveled
//!   compactor and deleted by retention (time and size).
//! - [`import_openmetrics`] and [`write_openmetrics`] move data in and out in the OpenMetrics
//!   text that `promtool tsdb create-blocks-from openmetrics` reads.
//!
//! ```text
//! dir/lock               held while open: exclusively by a writer, shared by readers
//! dir/wal/00000001 …     WAL segments: magic, version, then records of length, sample count,
//!                        CRC32C of the payload, CRC32C of the header, payload (one commit each)
//! dir/wal/corrupt-*      damaged segments moved aside (their readable records were rewritten)
//! dir/blocks/*.redb      one block per closed range: meta, symbols, series, postings, chunks,
//!                        every value with a CRC32C
//! dir/quarantine/*.redb  blocks that could not be read, no longer served
//! ```
//!
//! ```
//! use apilens_model::{Labels, Matcher, Queryable, SelectHints};
//! use apilens_tsdb::{Db, DbOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), DbOptions::default())?;
//! let up = Labels::from_pairs([("__name__", "up"), ("job", "apiserver")]);
//! let mut app = db.appender();
//! app.append(&up, 1_000, 1.0)?;
//! app.commit()?;
//! let got = db.select(&[Matcher::equal("job", "apiserver")], 0, 2_000, SelectHints::default())?;
//! assert_eq!(got[0].samples[0].v, 1.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Why redb for blocks
//!
//! Blocks are written once and read many times; redb gives a crash-safe single file with a
//! B-tree index per table, so the postings and per-series chunk lookups need no format of our
//! own, and a block is one file to rename into place or delete. The hot write path never touches
//! redb: scrapes go to the WAL and the head, which avoids rewriting B-tree pages every scrape.
#![deny(missing_docs)]

mod appender;
mod block;
mod bstream;
mod check;
mod compact;
#[cfg(test)]
mod compact_tests;
mod damage;
mod db;
mod error;
mod head;
mod index;
mod openmetrics;
mod recover;
mod report;
mod sink;
mod transfer;
mod wal;
mod xor;

pub use crate::{
    appender::Appender,
    block::BlockMeta,
    check::{BlockCheck, CheckReport, CheckSummary, SegmentCheck, check_store},
    damage::{Damage, DamageAction},
    db::{Db, DbOptions, DbStats, ImportStats},
    error::Error,
    openmetrics::{import_file, import_openmetrics, parse_openmetrics, write_openmetrics},
    report::{render_check, render_import, select_union},
    transfer::{ExportSelection, export_store, import_into},
    xor::{SAMPLES_PER_CHUNK, XorChunk, XorIter, decode_chunk},
};
