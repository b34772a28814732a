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

/// The warnings and infos of an evaluation, as Prometheus's `annotations.Annotations`: each
/// message once, in the order first raised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    /// Messages starting `PromQL warning: `: the result may be wrong or incomplete.
    pub warnings: Vec<String>,
    /// Messages starting `PromQL info: `: the query may not do what was meant.
    pub infos: Vec<String>,
}

impl Annotations {
    /// Adds a warning unless the same message is already there.
    pub fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    /// Adds an info unless the same message is already there.
    pub fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }

    /// Whether there is neither a warning nor an info.
    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty() && self.infos.is_empty()
    }
}

/// A query's value with the annotations raised while evaluating it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Warnings and infos, as Prometheus's API returns them beside `data`.
    pub annotations: Annotations,
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub(crate) fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}
