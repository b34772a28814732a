//! Turning what a caller read into [`DoctorInputs`](crate::DoctorInputs): the release whose APF
//! applies, `--apf-config` objects on top of the defaults, the metrics window, and whether a
//! troubleshooter report read anything at all. Callers open files, stores and clusters; these
//! take what they read.

use crate::diagnose::{ApfObjects, DoctorInputs, audit_span};
use crate::dumps::ReplicaDumps;
use crate::error::DoctorError;
use apilens_apf::{ApfError, KubeVersion, LoadedObjects, NEWEST, OLDEST, load_objects};
use apilens_audit::{Filter, Input, ScanOpts};
use apilens_promapi::QueryEngine;
use apilens_report::{PanelSummary, Report, ReportOpts, build_report};
use std::path::PathBuf;
use std::time::Duration;

/// The release whose APF applies when `--kubernetes-version` says `text`, and what said so:
/// outside the releases apilens knows, the nearest one's, and the reason says it. A text that
/// is no release is an error.
pub fn release_from_flag(text: &str) -> Result<(KubeVersion, String), DoctorError> {
    let given = KubeVersion::parse(text).map_err(|source| DoctorError::KubernetesVersion {
        text: text.to_owned(),
        source,
    })?;
    let release = KubeVersion::minor(given.major, given.minor);
    let known = release.clamp(OLDEST, NEWEST);
    if known == release {
        Ok((given, "--kubernetes-version".to_owned()))
    } else {
        let from = format!(
            "--kubernetes-version {text}, outside the releases apilens knows ({OLDEST} to {NEWEST}): the nearest one's APF"
        );
        Ok((known, from))
    }
}

impl ApfObjects {
    /// No object yet; those added go on top of the version's defaults, as `--apf-config` files do.
    pub fn over_defaults() -> Self {
        Self {
            over_defaults: true,
            ..Self::default()
        }
    }

    /// Adds the objects read from the file `name`.
    pub fn add_file(&mut self, name: &str, (schemas, levels, notes): LoadedObjects) {
        if !self.source.is_empty() {
            self.source.push_str(", ");
        }
        self.source.push_str(name);
        self.schemas.extend(schemas);
        self.levels.extend(levels);
        self.notes.extend(notes);
    }

    /// Adds the objects of the `--apf-config` file `name`, whose text is `text`.
    ///
    /// # Errors
    ///
    /// [`DoctorError::ApfConfig`] naming the file when it holds no APF object or a malformed one.
    pub fn add_config_file(&mut self, name: &str, text: &str) -> Result<(), DoctorError> {
        let loaded = load_objects(text, name).map_err(|error| DoctorError::ApfConfig {
            hint: if matches!(error, ApfError::NotApf { .. } | ApfError::Empty { .. }) {
                ": give FlowSchemas and PriorityLevelConfigurations (kubectl get flowschemas,prioritylevelconfigurations -o yaml)"
            } else {
                ""
            },
            name: name.to_owned(),
            error,
        })?;
        self.add_file(name, loaded);
        Ok(())
    }

    /// The objects of every file of `paths` (`--apf-config`) over the defaults, in order;
    /// `None` when `paths` is empty.
    pub fn from_config_files(paths: &[PathBuf]) -> Result<Option<Self>, DoctorError> {
        let mut apf: Option<ApfObjects> = None;
        for path in paths {
            let name = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|source| DoctorError::ReadApfConfig {
                    name: name.clone(),
                    source,
                })?;
            (apf.get_or_insert_with(ApfObjects::over_defaults)).add_config_file(&name, &text)?;
        }
        Ok(apf)
    }
}

/// What a live cluster told (`context` is the kubeconfig context read).
#[derive(Debug, Clone, Default)]
pub struct LiveInputs {
    /// The kubeconfig context.
    pub context: String,
    /// The release its `/version` gave.
    pub version: Option<KubeVersion>,
    /// Its FlowSchemas and PriorityLevelConfigurations.
    pub objects: Option<ApfObjects>,
    /// Every replica's debug dumps.
    pub dumps: Vec<ReplicaDumps>,
    /// What it refused, each naming the server and path.
    pub notes: Vec<String>,
}

impl DoctorInputs {
    /// Adds what a live cluster told: its release when `--kubernetes-version` gave none, its
    /// APF objects when no `--apf-config` file did, and every replica's dumps and the notes.
    pub fn add_live(&mut self, live: LiveInputs) {
        if self.version.is_none()
            && let Some(v) = live.version
        {
            self.version = Some((v, format!("/version of {}", live.context)));
        }
        if self.apf.is_none() {
            self.apf = live.objects;
        }
        self.dumps.extend(live.dumps);
        self.notes.extend(live.notes);
    }
}

/// The metrics range, as its end in milliseconds and its length: the filter's window (at least a
/// minute), else the audit log's span widened to whole minutes (at least 5), else the last hour
/// before `now_ms`.
///
/// # Errors
///
/// [`DoctorError::Audit`] when an audit input cannot be opened.
pub fn metrics_window(
    filter: &Filter,
    audit: &[Input],
    scan: &ScanOpts,
    now_ms: i64,
) -> Result<(i64, Duration), DoctorError> {
    let end_ms = filter.until_us().map_or(now_ms, |us| us / 1000);
    if let Some(since) = filter.since_us() {
        let range = Duration::from_millis((end_ms - since / 1000).max(60_000) as u64);
        return Ok((end_ms, range));
    }
    if !audit.is_empty()
        && filter.until_us().is_none()
        && let Some((first, last)) = audit_span(audit, filter, scan)?
    {
        let end = last / 1000 + 30_000;
        let range = Duration::from_millis(((last - first) / 1000 + 60_000).max(300_000) as u64);
        return Ok((end, range));
    }
    Ok((end_ms, Duration::from_secs(3600)))
}

/// The troubleshooter report of `engine` over `window` (its end in milliseconds and its
/// length), the 30 top rows of each table: the report, or, when the engine answers nothing,
/// why, naming the engine (the doctor's metrics note).
pub fn metrics_report(
    engine: &dyn QueryEngine,
    (end_ms, range): (i64, Duration),
) -> Result<Report, String> {
    let opts = ReportOpts {
        end_ms,
        range,
        selector: String::new(),
        top: 30,
    };
    build_report(engine, &opts)
        .map_err(|e| e.to_string())
        .and_then(readable_report)
        .map_err(|e| format!("{}: {e}", engine.describe()))
}

/// The report when it read something: one whose every panel failed is why, in words (the first
/// panel's first error).
///
/// # Errors
///
/// `no panel could be read (...)` when every panel failed.
pub fn readable_report(report: Report) -> Result<Report, String> {
    let panels: Vec<&PanelSummary> = report.sections.iter().flat_map(|s| &s.panels).collect();
    if !panels.is_empty() && panels.iter().all(|p| !p.errors.is_empty()) {
        return Err(format!(
            "no panel could be read ({})",
            panels[0].errors.first().cloned().unwrap_or_default()
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod live_tests {
    use super::*;

    fn live() -> LiveInputs {
        LiveInputs {
            context: "prod".to_owned(),
            version: Some(KubeVersion::minor(1, 31)),
            objects: Some(ApfObjects {
                source: "cluster prod".to_owned(),
                ..ApfObjects::default()
            }),
            dumps: vec![ReplicaDumps::default()],
            notes: vec!["10.0.0.1: dump_queues: 403".to_owned()],
        }
    }

    #[test]
    fn the_cluster_fills_only_what_the_flags_left_open() {
        let mut open = DoctorInputs::default();
        open.add_live(live());
        let (version, from) = open.version.clone().unwrap();
        assert_eq!(
            (version, from.as_str()),
            (KubeVersion::minor(1, 31), "/version of prod")
        );
        assert_eq!(
            open.apf.as_ref().map(|a| a.source.as_str()),
            Some("cluster prod")
        );
        assert_eq!((open.dumps.len(), open.notes.len()), (1, 1));

        let mut given = DoctorInputs {
            version: Some((KubeVersion::minor(1, 29), "--kubernetes-version".to_owned())),
            apf: Some(ApfObjects {
                source: "apf.yaml".to_owned(),
                ..ApfObjects::over_defaults()
            }),
            ..DoctorInputs::default()
        };
        given.add_live(live());
        assert_eq!(given.version.unwrap().1, "--kubernetes-version");
        assert_eq!(given.apf.unwrap().source, "apf.yaml");
        assert_eq!(given.dumps.len(), 1);
    }
}
