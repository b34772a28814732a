//! A store directory to and from text, as `apilens tsdb import` and `export` move it: the store
//! opened, the file read or written, and what happened said in lines.

use crate::{Db, DbOptions, Error, import_file, render_import, select_union, write_openmetrics};
use apilens_model::Matcher;
use apilens_textparse::Format;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Imports `file` (in `format`) into the store in `dir`, opened as its writer with `retention`,
/// which is applied right after; returns what [`render_import`] says of it.
///
/// # Errors
///
/// [`Error`] when the store cannot be opened (another writer holds it), the file cannot be
/// read, a line cannot be stored (naming the file and line) or blocks cannot be written.
pub fn import_into(
    dir: &Path,
    file: &Path,
    format: Format,
    retention: Duration,
) -> Result<String, Error> {
    let opts = DbOptions {
        retention,
        ..DbOptions::default()
    };
    let db = Db::open(dir, opts)?;
    let stats = import_file(&db, file, format)?;
    Ok(render_import(&stats, dir, retention))
}

/// Which samples an export writes: the union of the series selected by any matcher set (every
/// series when there is none), within `[mint, maxt]`.
#[derive(Debug, Clone)]
pub struct ExportSelection {
    /// One set of matchers per selector.
    pub sets: Vec<Vec<Matcher>>,
    /// Oldest sample time, milliseconds since the epoch.
    pub mint: i64,
    /// Newest sample time, milliseconds since the epoch.
    pub maxt: i64,
}

/// Writes what `selection` picks of the store in `dir`, opened read-only, to `out` as
/// OpenMetrics text with timestamps in seconds (what `promtool tsdb create-blocks-from
/// openmetrics` reads); `out_name` names `out` in errors.
///
/// # Errors
///
/// [`Error::Range`] when `mint` is after `maxt`, [`Error`] when the store cannot be opened or
/// read, [`Error::Io`] naming `out_name` when writing fails.
pub fn export_store(
    dir: &Path,
    selection: &ExportSelection,
    out: &mut dyn Write,
    out_name: &Path,
) -> Result<(), Error> {
    if selection.mint > selection.maxt {
        return Err(Error::Range {
            mint: selection.mint,
            maxt: selection.maxt,
        });
    }
    let db = Db::open_read_only(dir)?;
    let every = [Vec::new()];
    let sets = match selection.sets.as_slice() {
        [] => &every[..],
        sets => sets,
    };
    let series = select_union(&db, sets, selection.mint, selection.maxt)?;
    let mut w = std::io::BufWriter::new(out);
    write_openmetrics(&series, &mut w)
        .and_then(|()| w.flush())
        .map_err(|e| Error::io(out_name, e))
}
