//! The one error type of the panels crate.

/// Everything that can go wrong while reading the catalog.
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
    /// A rules selector is not a list of label matchers.
    #[error("--selector {selector:?} is not a list of label matchers: {message}")]
    Selector {
        /// The selector as given.
        selector: String,
        /// The parser's message.
        message: String,
    },
    /// No panel has this id.
    #[error("no panel with id {0:?}")]
    UnknownPanel(String),
}
