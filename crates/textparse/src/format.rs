//! Which of the two text formats an input is in.

/// The exposition format of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4: timestamps in milliseconds, free comments, no `# EOF`.
    PrometheusText,
    /// OpenMetrics 1.0 text: timestamps in seconds, `UNIT`, exemplars, ends with `# EOF`.
    OpenMetrics,
}

impl Format {
    /// Picks the format from an HTTP `Content-Type` header value, defaulting to the Prometheus
    /// text format as Prometheus does.
    pub fn from_content_type(content_type: &str) -> Self {
        if content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/openmetrics-text")
        {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }

    /// Guesses the format from the content: OpenMetrics when the input ends with `# EOF` (the
    /// marker OpenMetrics requires and the Prometheus text format never has).
    pub fn detect(input: &[u8]) -> Self {
        let end = input
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        if input[..end].ends_with(b"# EOF") {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_eof_marker_and_content_type() {
        assert_eq!(Format::detect(b"a 1\n# EOF\n"), Format::OpenMetrics);
        assert_eq!(Format::detect(b"a 1\n"), Format::PrometheusText);
        assert_eq!(
            Format::from_content_type("application/openmetrics-text; version=1.0.0"),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_content_type("text/plain; version=0.0.4"),
            Format::PrometheusText
        );
    }
}
