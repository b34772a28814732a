//! Integration tests of the panel catalog: PromQL validity, version selection on the real scrapes,
//! Grafana export and Prometheus rules.

mod suite {
    mod catalog;
    mod exports;
    mod families;
    mod fixtures;
    mod prometheus;
}
