//! The APF seats one replica reports in its scrape (`apiserver_flowcontrol_nominal_limit_seats`
//! per priority level) and the release it runs (`kubernetes_build_info`), read in one pass.

use crate::error::InspectError;
use apilens_model::KubeVersion;
use apilens_textparse::{Entry, Format, parse_reader};
use std::io::Read;
use std::ops::ControlFlow;

/// What a scrape says of its replica's APF seats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApfSeats {
    /// The scrape's name.
    pub name: String,
    /// The release of `kubernetes_build_info`'s `git_version`, when the scrape has it.
    pub version: Option<KubeVersion>,
    /// Each priority level's nominal seats, in the scrape's order (empty before 1.26).
    pub nominal: Vec<(String, f64)>,
}

/// Reads the nominal seats and the release of the scrape `name` from `reader`.
///
/// # Errors
///
/// [`InspectError::NotAScrape`] at the first line that is not the text format,
/// [`InspectError::Read`] when the reader fails.
pub fn read_apf_seats(
    name: &str,
    reader: impl Read,
    format: Format,
) -> Result<ApfSeats, InspectError> {
    let mut seats = ApfSeats {
        name: name.to_owned(),
        ..ApfSeats::default()
    };
    let mut first_error = None;
    parse_reader(reader, format, |entry| {
        match entry {
            Ok(Entry::Series(s)) => match s.name_bytes() {
                b"apiserver_flowcontrol_nominal_limit_seats" => {
                    if let Some(level) = s.label("priority_level") {
                        seats.nominal.push((level.into_owned(), s.value));
                    }
                }
                b"kubernetes_build_info" => {
                    seats.version = s
                        .label("git_version")
                        .and_then(|v| KubeVersion::parse(&v).ok());
                }
                _ => {}
            },
            Ok(_) => {}
            Err(e) => {
                first_error = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })
    .map_err(|error| InspectError::Read {
        name: name.to_owned(),
        error,
    })?;
    match first_error {
        Some(error) => Err(InspectError::NotAScrape {
            name: name.to_owned(),
            error,
        }),
        None => Ok(seats),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_level_and_the_release_of_a_real_scrape() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/real/metrics-apiserver/newrelic-nri-kubernetes-apiserver-1.29.5-minikube.txt"
        );
        let Ok(file) = std::fs::File::open(path) else {
            panic!("missing fixture {path}");
        };
        let seats = read_apf_seats("scrape", file, Format::PrometheusText).unwrap();
        assert_eq!(seats.version.map(|v| (v.major, v.minor)), Some((1, 29)));
        assert_eq!(seats.nominal.len(), 8);
        assert!(
            seats.nominal.contains(&("workload-low".to_owned(), 245.0)),
            "{:?}",
            seats.nominal
        );
    }

    #[test]
    fn a_document_that_is_not_a_scrape_is_an_error_naming_it() {
        let yaml = "apiVersion: v1\nkind: List\n";
        let err = read_apf_seats("objects.yaml", yaml.as_bytes(), Format::PrometheusText)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("objects.yaml: not a Prometheus text scrape: "),
            "{err}"
        );
    }
}
