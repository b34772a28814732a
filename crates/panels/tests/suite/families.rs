//! Every metric a panel reads is a family of the kubemetrics catalog, for every release the
//! panel's template claims: the family catalog is the one list of names per release.

use apilens_kubemetrics::catalog as families;
use apilens_panels::{Row, catalog};

#[test]
fn every_template_metric_is_a_catalog_family_of_its_releases() {
    let families = families();
    let mut gaps = Vec::new();
    let mut checked = 0;
    for panel in catalog().panels() {
        if panel.row == Row::EtcdServer {
            continue;
        }
        for query in &panel.queries {
            for alt in &query.alternatives {
                for release in families.releases().filter(|r| alt.covers(*r)) {
                    for metric in alt.metric_names() {
                        checked += 1;
                        match families.family_of_series(&metric) {
                            Some(f) if f.releases.contains(release) => {}
                            Some(f) => gaps.push(format!(
                                "{}/{} 1.{}: {metric} is {} only in {}",
                                panel.id, query.id, release.minor, f.name, f.releases
                            )),
                            None => gaps.push(format!(
                                "{}/{}: {metric} is no catalog family",
                                panel.id, query.id
                            )),
                        }
                    }
                }
            }
        }
    }
    gaps.sort();
    gaps.dedup();
    assert!(gaps.is_empty(), "{} gaps:\n{}", gaps.len(), gaps.join("\n"));
    assert!(checked > 1000, "{checked}");
}

/// The names of every series family in a text exposition.
fn series_names(text: &str) -> std::collections::BTreeSet<String> {
    use apilens_textparse::{Entry, Format, Parser};
    Parser::new(text.as_bytes(), Format::PrometheusText)
        .filter_map(
            |entry| match entry.expect("the simulator's exposition parses") {
                Entry::Series(series) => Some(series.name().into_owned()),
                _ => None,
            },
        )
        .collect()
}

#[test]
fn the_simulator_emits_catalog_families_only_in_their_releases() {
    use apilens_sim::{ScenarioConfig, Simulator};
    let families = families();
    let mut gaps = Vec::new();
    let mut checked = 0;
    for release in families.releases() {
        let mut sim = Simulator::new(ScenarioConfig::new("healthy", release)).unwrap();
        sim.advance(std::time::Duration::from_secs(60)).unwrap();
        let emitted = series_names(&sim.render_metrics(0).unwrap());
        for name in &emitted {
            checked += usize::from(families.family_of_series(name).is_some());
            if let Some(f) = families.family_of_series(name)
                && !f.releases.contains(release)
            {
                gaps.push(format!(
                    "1.{}: the simulator emits {name}, which the catalog has only in {}",
                    release.minor, f.releases
                ));
            }
        }
    }
    assert!(gaps.is_empty(), "{} gaps:\n{}", gaps.len(), gaps.join("\n"));
    assert!(checked > 500, "{checked}");
}
