//! Where the report's queries run: the embedded engine over a store, or a remote engine.

use apilens_model::Queryable;
use apilens_promql::{Engine, RemoteClient, Value};

/// Something that answers PromQL instant and range queries.
///
/// The report sends every panel query through one source, so it reads the same whether the
/// embedded engine or a remote Prometheus-compatible engine evaluates it.
pub trait QuerySource: Send + Sync {
    /// What the source is, for the report header and errors ("store data", a URL).
    fn describe(&self) -> String;

    /// Evaluates `query` at `t_ms`.
    ///
    /// # Errors
    ///
    /// The engine's message, as text.
    fn instant(&self, query: &str, t_ms: i64) -> Result<Value, String>;

    /// Evaluates `query` from `start_ms` to `end_ms` every `step_ms`.
    ///
    /// # Errors
    ///
    /// The engine's message, as text.
    fn range(&self, query: &str, start_ms: i64, end_ms: i64, step_ms: i64)
    -> Result<Value, String>;
}

/// The embedded engine over any [`Queryable`] (the store, a test's memory series).
pub struct LocalSource<'a> {
    engine: Engine,
    queryable: &'a dyn Queryable,
    name: String,
}

impl<'a> LocalSource<'a> {
    /// Queries `queryable` with `engine`; `name` says what it is ("store ./data").
    pub fn new(engine: Engine, queryable: &'a dyn Queryable, name: &str) -> Self {
        Self {
            engine,
            queryable,
            name: name.to_owned(),
        }
    }
}

impl std::fmt::Debug for LocalSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSource")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl QuerySource for LocalSource<'_> {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn instant(&self, query: &str, t_ms: i64) -> Result<Value, String> {
        self.engine
            .instant_query(self.queryable, query, t_ms)
            .map_err(|e| e.to_string())
    }

    fn range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Value, String> {
        self.engine
            .range_query(self.queryable, query, start_ms, end_ms, step_ms)
            .map_err(|e| e.to_string())
    }
}

/// A remote Prometheus-compatible engine; queries are sent unchanged.
#[derive(Debug)]
pub struct RemoteSource {
    client: RemoteClient,
}

impl RemoteSource {
    /// Queries through `client`.
    pub fn new(client: RemoteClient) -> Self {
        Self { client }
    }
}

impl QuerySource for RemoteSource {
    fn describe(&self) -> String {
        self.client.base().to_owned()
    }

    fn instant(&self, query: &str, t_ms: i64) -> Result<Value, String> {
        self.client.query(query, t_ms).map_err(|e| e.to_string())
    }

    fn range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Value, String> {
        self.client
            .query_range(query, start_ms, end_ms, step_ms)
            .map_err(|e| e.to_string())
    }
}
