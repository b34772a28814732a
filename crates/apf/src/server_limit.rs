//! Where each replica's server concurrency limit comes from: given outright, the API server's
//! two in-flight flags, inferred from the nominal seats a replica reports, or the default.

use crate::capacity::{DEFAULT_SERVER_CONCURRENCY_LIMIT, infer_server_concurrency_limit};
use crate::explain::ObservedSeats;
use crate::{ApfConfig, ApfError, KubeVersion};

/// The server concurrency limit as the flags of `apilens apf capacity` give it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitFlags {
    /// `--server-concurrency-limit`: the limit itself.
    pub server_concurrency_limit: Option<u32>,
    /// The API server's `--max-requests-inflight`.
    pub max_requests_inflight: Option<u32>,
    /// The API server's `--max-mutating-requests-inflight`.
    pub max_mutating_requests_inflight: Option<u32>,
}

/// A replica's server concurrency limit and, in words, where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimit {
    /// Seats of one replica, over every level.
    pub limit: u32,
    /// Where it came from (a flag, the scrape it was inferred from, the default).
    pub source: String,
}

/// The limit `flags` give, else the one that gives the `observed` nominal seats under `config`
/// (the configuration of `version`), else the default of 400 + 200.
///
/// # Errors
///
/// [`ApfError::ServerLimit`] naming the scrape when it reports no nominal seats, when some of
/// its levels are not in `config`, or when no limit gives its seats.
pub fn choose_server_limit(
    config: &ApfConfig,
    version: KubeVersion,
    flags: LimitFlags,
    observed: Option<ObservedSeats<'_>>,
) -> Result<ServerLimit, ApfError> {
    let (limit, source) = match (
        flags.server_concurrency_limit,
        flags.max_requests_inflight,
        flags.max_mutating_requests_inflight,
        observed,
    ) {
        (Some(n), _, _, _) => (n, "--server-concurrency-limit".to_owned()),
        (None, Some(r), Some(m), _) => (
            r + m,
            "--max-requests-inflight + --max-mutating-requests-inflight".to_owned(),
        ),
        (_, _, _, Some(seen)) => (
            infer_from(config, version, seen)?,
            format!(
                "inferred from apiserver_flowcontrol_nominal_limit_seats in {}",
                seen.source
            ),
        ),
        _ => (
            DEFAULT_SERVER_CONCURRENCY_LIMIT,
            "default (400 + 200)".to_owned(),
        ),
    };
    Ok(ServerLimit { limit, source })
}

/// The limit that gives the nominal seats `seen` reports, or why none does.
fn infer_from(
    config: &ApfConfig,
    version: KubeVersion,
    seen: ObservedSeats<'_>,
) -> Result<u32, ApfError> {
    let fail = |why: String| ApfError::ServerLimit {
        source_name: seen.source.to_owned(),
        why,
    };
    if seen.nominal.is_empty() {
        return Err(fail(
            "no apiserver_flowcontrol_nominal_limit_seats (it exists from Kubernetes 1.26); give --server-concurrency-limit".to_owned(),
        ));
    }
    infer_server_concurrency_limit(config, seen.nominal).ok_or_else(|| {
        let unknown: Vec<&str> = seen
            .nominal
            .iter()
            .filter(|(level, _)| config.level(level).is_none())
            .map(|(level, _)| level.as_str())
            .collect();
        fail(if unknown.is_empty() {
            format!(
                "no server concurrency limit gives these nominal seats under the objects of Kubernetes {version}; are the --apf-config objects the cluster's?"
            )
        } else {
            format!(
                "levels {} are not in the configuration; give the cluster's objects with --apf-config",
                unknown.join(", ")
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NEWEST;

    fn config() -> ApfConfig {
        ApfConfig::defaults(NEWEST)
    }

    #[test]
    fn flags_come_before_the_scrape() {
        let nominal = [("workload-low".to_owned(), 1.0)];
        let seen = ObservedSeats {
            source: "scrape.txt",
            nominal: &nominal,
        };
        let given = LimitFlags {
            server_concurrency_limit: Some(900),
            ..LimitFlags::default()
        };
        let got = choose_server_limit(&config(), NEWEST, given, Some(seen)).unwrap();
        assert_eq!(got.limit, 900);
        let pair = LimitFlags {
            max_requests_inflight: Some(800),
            max_mutating_requests_inflight: Some(400),
            ..LimitFlags::default()
        };
        let got = choose_server_limit(&config(), NEWEST, pair, None).unwrap();
        assert_eq!(got.limit, 1200);
        let got = choose_server_limit(&config(), NEWEST, LimitFlags::default(), None).unwrap();
        assert_eq!(got.limit, DEFAULT_SERVER_CONCURRENCY_LIMIT);
        assert_eq!(got.source, "default (400 + 200)");
    }

    #[test]
    fn the_scrape_gives_back_the_limit_its_seats_came_from() {
        let capacity = config().capacity(NEWEST, 1000);
        let nominal: Vec<(String, f64)> = capacity
            .levels
            .iter()
            .map(|l| (l.name.clone(), f64::from(l.nominal)))
            .collect();
        let seen = ObservedSeats {
            source: "scrape.txt",
            nominal: &nominal,
        };
        let got = choose_server_limit(&config(), NEWEST, LimitFlags::default(), Some(seen));
        assert_eq!(got.unwrap().limit, 1000);
    }

    #[test]
    fn a_scrape_that_cannot_say_is_an_error_naming_it() {
        let empty = ObservedSeats {
            source: "old.txt",
            nominal: &[],
        };
        let err = choose_server_limit(&config(), NEWEST, LimitFlags::default(), Some(empty))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("old.txt: no apiserver_flowcontrol_nominal_limit_seats"),
            "{err}"
        );
        let nominal = [("no-such-level".to_owned(), 3.0)];
        let unknown = ObservedSeats {
            source: "other.txt",
            nominal: &nominal,
        };
        let err = choose_server_limit(&config(), NEWEST, LimitFlags::default(), Some(unknown))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("levels no-such-level are not in the configuration"),
            "{err}"
        );
    }
}
