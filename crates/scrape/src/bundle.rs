//! Support bundles: raw scrapes recorded to a directory with a manifest, and read back.
//!
//! ```text
//! DIR/
//!   manifest.json              format, version, interval, one entry per scrape (in order)
//!   scrapes/000001-apiserver-10.0.0.1_6443.txt
//!   scrapes/000002-apiserver-10.0.0.2_6443.txt
//!   ...
//! ```
//!
//! Each scrape file is the exposition exactly as the target sent it (decompressed), so any tool
//! that reads a `/metrics` dump reads it. The manifest is rewritten (atomically) after every
//! scrape, so an interrupted recording is still a valid bundle.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use apilens_textparse::Format;

use serde::{Deserialize, Serialize};

use crate::target::ReplayScrape;
use crate::{Fetched, ScrapeError, Target};

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The manifest's `format` value.
pub const BUNDLE_FORMAT: &str = "apilens-record";
/// The manifest version this crate writes and reads.
pub const BUNDLE_VERSION: u32 = 1;

/// The manifest of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// Always [`BUNDLE_VERSION`] for now.
    pub version: u32,
    /// The apilens version that wrote it.
    pub created_by: String,
    /// The scrape interval of the recording, in milliseconds.
    pub interval_ms: u64,
    /// Every scrape, in the order taken.
    pub scrapes: Vec<RecordedScrape>,
}

/// One recorded scrape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedScrape {
    /// The file under the bundle directory, `None` when the scrape failed.
    pub file: Option<String>,
    /// The `job` label of the target.
    pub job: String,
    /// The `instance` label of the target.
    pub instance: String,
    /// The URL or file scraped.
    pub source: String,
    /// When the scrape started, in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The `Content-Type` the target sent.
    pub content_type: Option<String>,
    /// Body size in bytes.
    pub bytes: u64,
    /// Why the scrape failed, naming the target.
    pub error: Option<String>,
}

/// A recorded bundle opened for reading.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
    manifest: Manifest,
}

fn file_err(path: &Path, reason: impl std::fmt::Display) -> ScrapeError {
    ScrapeError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl Bundle {
    /// Whether `dir` holds a bundle manifest.
    pub fn is_bundle(dir: &Path) -> bool {
        dir.join(MANIFEST).is_file()
    }

    /// Opens the bundle in `dir` and checks its manifest.
    ///
    /// # Errors
    ///
    /// [`ScrapeError::File`] naming the manifest when it is missing, not JSON, of another format
    /// or version, or lists a file outside the bundle or missing.
    pub fn open(dir: &Path) -> Result<Self, ScrapeError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read(&path).map_err(|e| file_err(&path, e))?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| file_err(&path, format!("invalid manifest: {e}")))?;
        if manifest.format != BUNDLE_FORMAT {
            return Err(file_err(
                &path,
                format!(
                    "expected format {BUNDLE_FORMAT:?}, got {:?}",
                    manifest.format
                ),
            ));
        }
        if manifest.version != BUNDLE_VERSION {
            return Err(file_err(
                &path,
                format!(
                    "expected version {BUNDLE_VERSION}, got {}",
                    manifest.version
                ),
            ));
        }
        for (idx, scrape) in manifest.scrapes.iter().enumerate() {
            if let Some(file) = &scrape.file {
                let rel = Path::new(file);
                if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
                    return Err(file_err(
                        &path,
                        format!("scrape {}: file {file:?} is outside the bundle", idx + 1),
                    ));
                }
                if !dir.join(rel).is_file() {
                    return Err(file_err(
                        &path,
                        format!("scrape {}: file {file:?} is missing", idx + 1),
                    ));
                }
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            manifest,
        })
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The successful scrapes in order, with their full paths.
    pub fn scrapes(&self) -> impl Iterator<Item = (&RecordedScrape, PathBuf)> {
        self.manifest
            .scrapes
            .iter()
            .filter_map(|s| s.file.as_ref().map(|f| (s, self.dir.join(f))))
    }

    /// The latest successful scrape of each `job`/`instance`, in target order, with its full
    /// path and the format its `Content-Type` names (the Prometheus text format without one).
    ///
    /// # Errors
    ///
    /// [`ScrapeError::File`] naming the directory when no scrape of the bundle succeeded.
    pub fn latest_scrapes(&self) -> Result<Vec<(PathBuf, Format)>, ScrapeError> {
        let mut latest: BTreeMap<(&str, &str), (i64, PathBuf, Format)> = BTreeMap::new();
        for (scrape, path) in self.scrapes().filter(|(s, _)| s.error.is_none()) {
            let format = (scrape.content_type.as_deref())
                .map_or(Format::PrometheusText, Format::from_content_type);
            let key = (scrape.job.as_str(), scrape.instance.as_str());
            if latest
                .get(&key)
                .is_none_or(|(t, _, _)| *t <= scrape.timestamp_ms)
            {
                latest.insert(key, (scrape.timestamp_ms, path, format));
            }
        }
        if latest.is_empty() {
            return Err(file_err(&self.dir, "the bundle holds no successful scrape"));
        }
        Ok(latest.into_values().map(|(_, p, f)| (p, f)).collect())
    }

    /// One replay target per recorded `job`/`instance`, replaying its scrapes at their
    /// recorded times.
    pub fn targets(&self) -> Vec<Target> {
        let mut by_target: BTreeMap<(String, String), Vec<ReplayScrape>> = BTreeMap::new();
        for (scrape, path) in self.scrapes() {
            by_target
                .entry((scrape.job.clone(), scrape.instance.clone()))
                .or_default()
                .push(ReplayScrape {
                    path,
                    timestamp_ms: Some(scrape.timestamp_ms),
                });
        }
        by_target
            .into_iter()
            .map(|((job, instance), scrapes)| Target::replay(&job, &instance, scrapes))
            .collect()
    }
}

/// Writes a bundle scrape by scrape.
#[derive(Debug)]
pub struct BundleWriter {
    dir: PathBuf,
    manifest: Manifest,
}

impl BundleWriter {
    /// Creates the bundle directory (which must not exist yet or be empty).
    ///
    /// # Errors
    ///
    /// [`ScrapeError::File`] when the directory holds files or cannot be created.
    pub fn create(dir: &Path, interval_ms: u64) -> Result<Self, ScrapeError> {
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(|e| file_err(dir, e))?;
            if entries.next().is_some() {
                return Err(file_err(
                    dir,
                    "the output directory is not empty; choose a new one",
                ));
            }
        }
        std::fs::create_dir_all(dir.join("scrapes")).map_err(|e| file_err(dir, e))?;
        let writer = Self {
            dir: dir.to_owned(),
            manifest: Manifest {
                format: BUNDLE_FORMAT.to_owned(),
                version: BUNDLE_VERSION,
                created_by: concat!("apilens ", env!("CARGO_PKG_VERSION")).to_owned(),
                interval_ms,
                scrapes: Vec::new(),
            },
        };
        writer.write_manifest()?;
        Ok(writer)
    }

    /// Records one scrape of `target` (a body or the error) and rewrites the manifest.
    /// Returns the file written, if any.
    ///
    /// # Errors
    ///
    /// [`ScrapeError::File`] when a file cannot be written.
    pub fn add(
        &mut self,
        target: &Target,
        timestamp_ms: i64,
        duration_ms: u64,
        result: Result<&Fetched, &ScrapeError>,
    ) -> Result<Option<PathBuf>, ScrapeError> {
        let seq = self.manifest.scrapes.len() + 1;
        let mut entry = RecordedScrape {
            file: None,
            job: target.job.clone(),
            instance: target.instance.clone(),
            source: target.source(),
            timestamp_ms,
            duration_ms,
            content_type: None,
            bytes: 0,
            error: None,
        };
        let written = match result {
            Ok(fetched) => {
                let slug: String = format!("{}-{}", target.job, target.instance)
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let rel = format!("scrapes/{seq:06}-{slug}.txt");
                let path = self.dir.join(&rel);
                std::fs::write(&path, &fetched.body).map_err(|e| file_err(&path, e))?;
                entry.file = Some(rel);
                entry.content_type = fetched.content_type.clone();
                entry.bytes = fetched.body.len() as u64;
                Some(path)
            }
            Err(err) => {
                entry.error = Some(err.to_string());
                None
            }
        };
        self.manifest.scrapes.push(entry);
        self.write_manifest()?;
        Ok(written)
    }

    /// The manifest so far.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn write_manifest(&self) -> Result<(), ScrapeError> {
        let path = self.dir.join(MANIFEST);
        let tmp = self.dir.join(".manifest.json.tmp");
        let json = serde_json::to_vec_pretty(&self.manifest).map_err(|e| file_err(&path, e))?;
        let mut f = std::fs::File::create(&tmp).map_err(|e| file_err(&tmp, e))?;
        f.write_all(&json)
            .and_then(|()| f.write_all(b"\n"))
            .and_then(|()| f.sync_all())
            .map_err(|e| file_err(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| file_err(&path, e))
    }
}

/// Replay targets for paths given on a command line: a bundle directory yields its recorded
/// targets; a directory without a manifest replays its files in name order as one target; a
/// file replays once. Plain files are replayed at the current time under `job`, with the
/// file (or directory) name as `instance`.
///
/// # Errors
///
/// [`ScrapeError::File`] for a path that does not exist, an empty directory or a bad bundle.
pub fn replay_targets(path: &Path, job: &str) -> Result<Vec<Target>, ScrapeError> {
    if Bundle::is_bundle(path) {
        return Ok(Bundle::open(path)?.targets());
    }
    let instance = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| file_err(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(file_err(path, "no file to replay in this directory"));
        }
        let scrapes = files
            .into_iter()
            .map(|path| ReplayScrape {
                path,
                timestamp_ms: None,
            })
            .collect();
        return Ok(vec![Target::replay(job, &instance, scrapes)]);
    }
    if !path.is_file() {
        return Err(file_err(path, "no such file or directory"));
    }
    Ok(vec![Target::replay(
        job,
        &instance,
        vec![ReplayScrape {
            path: path.to_owned(),
            timestamp_ms: None,
        }],
    )])
}
