//! The one error type of the panels crate.

/// Everything that can go wrong while reading the catalog or detecting a cluster's version.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PanelsError {
    /// A PromQL template did not parse after rendering.
    #[error("panel {panel}: query {query}: promql does not parse: {message}: {promql}")]
    Parse {
        /// The panel id.
        panel: String,
        /// The query id inside the panel.
        query: String,
        /// The parser's message.
        message: String,
        /// The rendered PromQL.
        promql: String,
    },
    /// A Kubernetes version string could not be read.
    #[error("expected a kubernetes version like 1.31 or v1.31.0-eks-1, got {0:?}")]
    Version(String),
    /// No panel has this id.
    #[error("no panel with id {0:?}")]
    UnknownPanel(String),
}
