//! Seats per level against real servers: the nominal, lower and upper limit gauges of every
//! real scrape that exposes them (1.26+), and the server limit inferred back from them.

use apilens_apf::{
    ApfConfig, KubeVersion, LevelSpec, LimitResponse, PriorityLevel,
    infer_server_concurrency_limit, queue_wait_limit, queue_wait_limit_for,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real/metrics-apiserver")
}

/// `name{priority_level="x"} value` samples of one gauge, by level.
fn gauge(text: &str, name: &str) -> BTreeMap<String, f64> {
    let prefix = format!("{name}{{priority_level=\"");
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (level, value) = rest.split_once("\"} ")?;
            Some((level.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

fn version_of(text: &str) -> KubeVersion {
    let line = text
        .lines()
        .find(|l| l.starts_with("kubernetes_build_info{"))
        .expect("kubernetes_build_info");
    let start = line.find("git_version=\"").expect("git_version") + "git_version=\"".len();
    let end = line[start..].find('"').unwrap() + start;
    KubeVersion::parse(&line[start..end]).unwrap()
}

#[test]
fn nominal_seats_of_a_real_1_32_server() {
    let v = KubeVersion::minor(1, 32);
    let cap = ApfConfig::defaults(v).capacity(v, 600);
    let got: Vec<(&str, u32)> = cap
        .levels
        .iter()
        .map(|l| (l.name.as_str(), l.nominal))
        .collect();
    assert_eq!(
        got,
        [
            ("catch-all", 13),
            ("exempt", 0),
            ("global-default", 49),
            ("leader-election", 25),
            ("node-high", 98),
            ("system", 74),
            ("workload-high", 98),
            ("workload-low", 245),
        ]
    );
    let low = cap.level("workload-low").unwrap();
    assert_eq!((low.lendable, low.min_limit, low.max_limit), (221, 24, 845));
    assert_eq!(
        (low.queues, low.hand_size, low.queue_length_limit),
        (128, 6, 50)
    );
    // max(1, min(ceil(0.15 · 245), 245 / 6)) = 37, capped at 10 before 1.34.
    assert_eq!(low.max_seats_per_request, 10);
    let le = cap.level("leader-election").unwrap();
    assert_eq!(le.max_seats_per_request, 4);
    let catch_all = cap.level("catch-all").unwrap();
    assert!(catch_all.reject);
    assert_eq!(catch_all.max_seats_per_request, 10);
    let v34 = KubeVersion::minor(1, 34);
    let cap = ApfConfig::defaults(v34).capacity(v34, 600);
    assert_eq!(cap.level("workload-low").unwrap().max_seats_per_request, 37);
    assert_eq!(
        cap.level("global-default").unwrap().max_seats_per_request,
        8
    );
    assert_eq!(cap.level("catch-all").unwrap().max_seats_per_request, 100);
}

#[test]
fn every_real_scrape_with_nominal_limits_is_reproduced_and_inverted() {
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let nominal = gauge(&text, "apiserver_flowcontrol_nominal_limit_seats");
        if nominal.is_empty() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let version = version_of(&text);
        let config = ApfConfig::defaults(version);
        let pairs: Vec<(String, f64)> = nominal.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let server_cl = infer_server_concurrency_limit(&config, &pairs)
            .unwrap_or_else(|| panic!("{name}: no server limit gives {pairs:?}"));
        assert_eq!(server_cl, 600, "{name}");
        let cap = config.capacity(version, server_cl);
        let lower = gauge(&text, "apiserver_flowcontrol_lower_limit_seats");
        let upper = gauge(&text, "apiserver_flowcontrol_upper_limit_seats");
        for (level, seats) in &nominal {
            let l = cap
                .level(level)
                .unwrap_or_else(|| panic!("{name}: level {level}"));
            assert_eq!(f64::from(l.nominal), *seats, "{name} {level} nominal");
            assert_eq!(
                Some(f64::from(l.min_limit)),
                lower.get(level).copied(),
                "{name} {level} lower"
            );
            assert_eq!(
                Some(f64::from(l.max_limit)),
                upper.get(level).copied(),
                "{name} {level} upper"
            );
        }
        // Before 1.28 the exempt level takes no part in the division and has no gauges.
        assert_eq!(
            nominal.contains_key("exempt"),
            version.at_least(1, 28),
            "{name}"
        );
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} scrapes expose nominal limits");
}

#[test]
fn inference_is_consistent_off_the_defaults() {
    let v = KubeVersion::minor(1, 33);
    let config = ApfConfig::defaults(v);
    for server_cl in [250, 400, 600, 1000, 1234, 2000, 3000, 5000] {
        let cap = config.capacity(v, server_cl);
        let pairs: Vec<(String, f64)> = cap
            .levels
            .iter()
            .map(|l| (l.name.clone(), f64::from(l.nominal)))
            .collect();
        let inferred = infer_server_concurrency_limit(&config, &pairs).expect("consistent");
        let again = config.capacity(v, inferred);
        assert_eq!(again.levels, cap.levels, "{server_cl} -> {inferred}");
        if server_cl % 100 == 0 {
            assert_eq!(inferred, server_cl);
        }
    }
    // Inconsistent values or an unknown level: no answer.
    let bad = vec![
        ("workload-low".to_string(), 245.0),
        ("catch-all".to_string(), 40.0),
    ];
    assert_eq!(infer_server_concurrency_limit(&config, &bad), None);
    let unknown = vec![("openshift-control-plane-operators".to_string(), 10.0)];
    assert_eq!(infer_server_concurrency_limit(&config, &unknown), None);
}

#[test]
fn exempt_shares_count_from_1_28() {
    let mut levels = ApfConfig::defaults(KubeVersion::minor(1, 35))
        .levels()
        .to_vec();
    for l in &mut levels {
        if l.name == "exempt" {
            l.spec = LevelSpec::Exempt {
                nominal_concurrency_shares: 245,
                lendable_percent: 50,
            };
        }
    }
    let jail = PriorityLevel {
        name: "jail".to_string(),
        spec: LevelSpec::Limited {
            nominal_concurrency_shares: 0,
            lendable_percent: 0,
            borrowing_limit_percent: Some(0),
            limit_response: LimitResponse::Reject,
        },
    };
    levels.push(jail);
    for (minor, exempt_nominal, low_nominal) in [(27, 0, 245), (28, 300, 123)] {
        let v = KubeVersion::minor(1, minor);
        let config = ApfConfig::from_objects(v, vec![], levels.clone()).0;
        let cap = config.capacity(v, 600);
        let exempt = cap.level("exempt").unwrap();
        assert_eq!(exempt.nominal, exempt_nominal, "1.{minor}");
        assert_eq!(
            cap.level("workload-low").unwrap().nominal,
            low_nominal,
            "1.{minor}"
        );
        let jail = cap.level("jail").unwrap();
        assert_eq!(
            (jail.nominal, jail.max_limit, jail.max_seats_per_request),
            (0, 0, 10)
        );
    }
}

#[test]
fn fixed_limits_before_borrowing_and_per_level_caps_by_patch() {
    let v = KubeVersion::minor(1, 25);
    let cap = ApfConfig::defaults(v).capacity(v, 600);
    for l in &cap.levels {
        assert_eq!(
            (l.lendable, l.borrowing_limit, l.min_limit, l.max_limit),
            (0, 0, l.nominal, l.nominal),
            "{}",
            l.name
        );
    }
    let le = |v: KubeVersion| {
        ApfConfig::defaults(v)
            .capacity(v, 600)
            .level("leader-election")
            .unwrap()
            .max_seats_per_request
    };
    assert_eq!(le(KubeVersion::new(1, 27, 4)), 10);
    assert_eq!(le(KubeVersion::new(1, 27, 5)), 4);
    assert_eq!(le(KubeVersion::new(1, 26, 8)), 4);
    assert_eq!(le(KubeVersion::new(1, 25, 12)), 10);
    assert_eq!(
        le(KubeVersion::minor(1, 25)),
        4,
        "a version without patch is its newest patch"
    );
    assert_eq!(le(KubeVersion::minor(1, 24)), 10);
}

#[test]
fn queue_wait_limits() {
    assert_eq!(queue_wait_limit(60.0), 15.0);
    assert_eq!(queue_wait_limit(600.0), 60.0);
    assert_eq!(
        queue_wait_limit_for(KubeVersion::minor(1, 28), 600.0),
        150.0
    );
    assert_eq!(queue_wait_limit_for(KubeVersion::minor(1, 29), 600.0), 60.0);
}

/// `max_seats_test.go` (kubernetes-1.35.0): one level of 10000 shares at a server limit equal to
/// its nominal limit, max seats by hand size (1.35's caps of 100 and 10 do not bind here).
#[test]
fn max_seats_per_level_as_upstream() {
    let v = KubeVersion::minor(1, 35);
    let cases = [
        (5, 6, 1),
        (10, 6, 1),
        (15, 6, 2),
        (20, 6, 3),
        (35, 6, 5),
        (100, 6, 15),
        (200, 6, 30),
        (10, 1, 2),
        (100, 20, 5),
    ];
    for (nominal, hand_size, want) in cases {
        let level = PriorityLevel {
            name: "test-pl".to_string(),
            spec: LevelSpec::Limited {
                nominal_concurrency_shares: 10_000,
                lendable_percent: 0,
                borrowing_limit_percent: None,
                limit_response: LimitResponse::Queue {
                    queues: 64,
                    hand_size,
                    queue_length_limit: 50,
                },
            },
        };
        let config = ApfConfig::from_objects(v, vec![], vec![level]).0;
        let cap = config.capacity(v, nominal);
        let l = cap.level("test-pl").unwrap();
        assert_eq!(l.nominal, nominal, "{nominal}/{hand_size}");
        assert_eq!(l.max_seats_per_request, want, "{nominal}/{hand_size}");
    }
}
