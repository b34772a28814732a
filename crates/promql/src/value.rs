//! Query results: scalar, instant vector, range vector (matrix) and string values.

use apilens_model::{Labels, Series};

/// One sample of an instant vector: a series identity, the evaluation timestamp and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// Labels of the series, metric name included where PromQL keeps it.
    pub labels: Labels,
    /// Milliseconds since the epoch.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// The value a query returns, as Prometheus's `promql.Value`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at a timestamp (ms).
    Scalar {
        /// Milliseconds since the epoch.
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string at a timestamp (ms).
    String {
        /// Milliseconds since the epoch.
        t: i64,
        /// The string.
        v: String,
    },
    /// An instant vector: one sample per series.
    Vector(Vec<InstantSample>),
    /// A range vector or the result of a range query: series with several samples, sorted by
    /// labels.
    Matrix(Vec<Series>),
}

impl Value {
    /// The Prometheus API `resultType` of this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}
