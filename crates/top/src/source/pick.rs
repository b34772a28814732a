//! Which source `top`'s flags name, and the checks of its cadence flags.

use crate::error::TopError;
use std::path::PathBuf;
use std::time::Duration;

/// What the command line named (or found) as a place to read.
#[derive(Debug, Clone, Default)]
pub struct SourceFlags {
    /// `--sim SCENARIO` was given.
    pub sim: bool,
    /// `--prometheus` or `--amp-workspace` was given.
    pub remote: bool,
    /// `--kubeconfig`, `--context` or `--etcd` was given.
    pub named_cluster: bool,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// A default kubeconfig exists (`KUBECONFIG`, `~/.kube/config`, the in-cluster account).
    pub default_kubeconfig: bool,
}

/// The source to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChoice {
    /// The simulator in-process ([`crate::SimSource`]).
    Sim,
    /// A remote engine ([`crate::RemoteStoreSource`]).
    Remote,
    /// A live cluster ([`crate::ClusterSource`]), its scrapes kept in `--data-dir` if given.
    Cluster,
    /// A store directory ([`crate::StoreSource`]) that exists.
    Store(PathBuf),
}

/// The source the flags name: the simulator, else a remote engine, else a named cluster, else
/// the default kubeconfig's cluster when no store is named, else the store (`./data` by
/// default).
///
/// # Errors
///
/// An engine and a cluster named together, or a store directory that does not exist.
pub fn choose_source(flags: &SourceFlags) -> Result<SourceChoice, TopError> {
    if flags.sim {
        return Ok(SourceChoice::Sim);
    }
    if flags.remote && flags.named_cluster {
        return Err(TopError::Invalid(
            "--prometheus and --amp-workspace read an engine, --kubeconfig, --context and --etcd a cluster: choose one".to_owned(),
        ));
    }
    if flags.remote {
        return Ok(SourceChoice::Remote);
    }
    if flags.named_cluster || (flags.data_dir.is_none() && flags.default_kubeconfig) {
        return Ok(SourceChoice::Cluster);
    }
    let dir = flags
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("data"));
    if !dir.is_dir() {
        return Err(TopError::Invalid(format!(
            "store directory {} does not exist (pass --kubeconfig PATH for a cluster, --sim SCENARIO to try it, --data-dir DIR, or --prometheus URL)",
            dir.display()
        )));
    }
    Ok(SourceChoice::Store(dir))
}

/// Checks the cadence flags: `--window` at least 1m (rates look a minute or more back),
/// `--interval` at least 100ms, `--scrape-interval` at least 1s.
///
/// # Errors
///
/// The first flag out of range, named.
pub fn check_cadence(
    window: Duration,
    interval: Duration,
    scrape_interval: Duration,
) -> Result<(), TopError> {
    let problem = if window < Duration::from_secs(60) {
        "--window must be at least 1m: rates look a minute or more back"
    } else if interval < Duration::from_millis(100) {
        "--interval must be at least 100ms"
    } else if scrape_interval < Duration::from_secs(1) {
        "--scrape-interval must be at least 1s"
    } else {
        return Ok(());
    };
    Err(TopError::Invalid(problem.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulator_then_an_engine_then_a_cluster_then_a_store() {
        let all = SourceFlags {
            sim: true,
            remote: true,
            named_cluster: true,
            data_dir: None,
            default_kubeconfig: true,
        };
        assert_eq!(choose_source(&all).unwrap(), SourceChoice::Sim);
        let both = SourceFlags { sim: false, ..all };
        assert!(
            choose_source(&both)
                .unwrap_err()
                .to_string()
                .contains("choose one")
        );
        let remote = SourceFlags {
            named_cluster: false,
            ..both.clone()
        };
        assert_eq!(choose_source(&remote).unwrap(), SourceChoice::Remote);
        let default_cluster = SourceFlags {
            remote: false,
            ..remote
        };
        assert_eq!(
            choose_source(&default_cluster).unwrap(),
            SourceChoice::Cluster
        );
        let dir = tempfile::tempdir().unwrap();
        let store = SourceFlags {
            data_dir: Some(dir.path().to_owned()),
            ..default_cluster
        };
        assert_eq!(
            choose_source(&store).unwrap(),
            SourceChoice::Store(dir.path().to_owned())
        );
        let missing = SourceFlags {
            data_dir: Some(dir.path().join("missing")),
            ..store
        };
        let err = choose_source(&missing).unwrap_err().to_string();
        assert!(err.contains("missing does not exist"), "{err}");
    }

    #[test]
    fn each_cadence_flag_out_of_range_is_named() {
        let (m, s) = (Duration::from_secs(60), Duration::from_secs(1));
        assert!(check_cadence(m, s, s).is_ok());
        let err = |w, i, si| check_cadence(w, i, si).unwrap_err().to_string();
        assert!(err(s, s, s).starts_with("--window"));
        assert!(err(m, Duration::from_millis(10), s).starts_with("--interval"));
        assert!(err(m, s, Duration::from_millis(500)).starts_with("--scrape-interval"));
    }
}
