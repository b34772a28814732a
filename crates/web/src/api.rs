//! The Prometheus-compatible `/api/v1/*` routes.
//!
//! Follows Prometheus v3.5.0 `web/api/v1/api.go`: parameters come from the query string and,
//! for POST, from an `application/x-www-form-urlencoded` body; `time` defaults to now, series
//! and label endpoints default to all time; errors are `{"status":"error","errorType":…,
//! "error":…}` with 400 for bad parameters, 422 for evaluation errors, 503 for timeouts and
//! when every query thread is busy. Queries run on the [`QueryPool`], never on the runtime.

use crate::pool::{PoolOpts, QueryJob, QueryPool};
use apilens_model::Queryable;
use apilens_model::now_ms;
use apilens_promapi::{Answer, LocalEngine, PromApiError, QueryEngine, QueryRequest, Selection};
use apilens_promql::{Engine, Error, parse_duration, parse_time};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

/// What the API reads: a [`QueryEngine`] (the embedded engine over a store, or a remote
/// engine) and the query threads it runs on.
#[derive(Clone)]
pub struct ApiState {
    /// The engine every request goes to.
    pub engine: Arc<dyn QueryEngine>,
    /// The threads queries run on.
    pub pool: Arc<QueryPool>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("engine", &self.engine.describe())
            .field("pool", &self.pool)
            .finish()
    }
}

impl ApiState {
    /// The state of a server over `queryable` with the embedded `engine`, starting its query
    /// threads.
    pub fn new(queryable: Arc<dyn Queryable>, engine: Engine, pool: PoolOpts) -> Self {
        Self::with_engine(
            Arc::new(LocalEngine::shared(engine, queryable, "store")),
            pool,
        )
    }

    /// The state of a server over any `engine` (a remote one, say), starting its query
    /// threads.
    pub fn with_engine(engine: Arc<dyn QueryEngine>, pool: PoolOpts) -> Self {
        Self {
            engine,
            pool: Arc::new(QueryPool::start(pool)),
        }
    }

    /// The timeout of one request: its `timeout` parameter (a duration or seconds), capped by
    /// the engine's.
    fn timeout(&self, p: &Params) -> Result<std::time::Duration, Error> {
        let cap = self.engine.limits().timeout;
        match p.get("timeout") {
            None | Some("") => Ok(cap),
            Some(s) => {
                let ms = parse_duration(s)
                    .map_err(|e| Error::BadParam(format!("invalid parameter \"timeout\": {e}")))?;
                if ms <= 0 {
                    return Err(Error::BadParam(
                        "invalid parameter \"timeout\": must be positive".into(),
                    ));
                }
                Ok(cap.min(std::time::Duration::from_millis(ms as u64)))
            }
        }
    }

    async fn run(&self, request: QueryRequest, timeout: std::time::Duration) -> Response {
        let job = QueryJob {
            engine: Arc::clone(&self.engine),
            request,
            timeout,
        };
        let (status, body) = self.pool.run_query(job).await;
        json(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
    }

    /// Runs a series or label request on the heavy lane and answers with its body.
    async fn select(
        &self,
        work: impl FnOnce(&dyn QueryEngine) -> Result<Answer, PromApiError> + Send + 'static,
    ) -> Response {
        let engine = Arc::clone(&self.engine);
        match self
            .pool
            .run_heavy(move |_| Ok(work(engine.as_ref())))
            .await
        {
            Ok(Ok(answer)) => json(
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY),
                answer.body,
            ),
            Ok(Err(e)) => api_error(&e),
            Err(e) => error(&e),
        }
    }
}

/// The router of the Prometheus-compatible API, to be merged into the server's router.
pub fn api_router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/metadata", get(metadata))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .with_state(state)
}

/// The request parameters, query string first, then the form body.
struct Params(Vec<(String, String)>);

impl Params {
    fn new(query: Option<String>, body: &Bytes) -> Self {
        let mut v: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            v.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        v.extend(form_urlencoded::parse(body).into_owned());
        Params(v)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn time(&self, name: &str, default: i64) -> Result<i64, Error> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(s) => parse_time(s)
                .map_err(|e| Error::BadParam(format!("invalid parameter \"{name}\": {e}"))),
        }
    }
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(err: &Error) -> Response {
    let (status, body) = apilens_promql::api_error(err);
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
}

fn api_error(err: &PromApiError) -> Response {
    let (status, body) = err.api_error();
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
}

async fn query(State(s): State<ApiState>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let p = Params::new(q, &body);
    let Some(expr) = p.get("query").map(str::to_owned) else {
        return error(&Error::BadParam(
            "invalid parameter \"query\": missing".into(),
        ));
    };
    let (t, timeout) = match p
        .time("time", now_ms())
        .and_then(|t| Ok((t, s.timeout(&p)?)))
    {
        Ok(v) => v,
        Err(e) => return error(&e),
    };
    s.run(
        QueryRequest::Instant {
            query: expr,
            time: t,
        },
        timeout,
    )
    .await
}

async fn query_range(State(s): State<ApiState>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let p = Params::new(q, &body);
    let parsed = (|| {
        let expr = p
            .get("query")
            .ok_or_else(|| Error::BadParam("invalid parameter \"query\": missing".into()))?;
        let start = p.time("start", i64::MIN)?;
        let end = p.time("end", i64::MIN)?;
        if start == i64::MIN || end == i64::MIN {
            return Err(Error::BadParam(
                "invalid parameter \"start\" or \"end\": missing".into(),
            ));
        }
        let step = p
            .get("step")
            .ok_or_else(|| Error::BadParam("invalid parameter \"step\": missing".into()))
            .and_then(|s| {
                parse_duration(s)
                    .map_err(|e| Error::BadParam(format!("invalid parameter \"step\": {e}")))
            })?;
        if step > 0 && (i128::from(end) - i128::from(start)) / i128::from(step) > 11_000 {
            return Err(Error::BadParam(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
            ));
        }
        Ok((expr.to_owned(), start, end, step, s.timeout(&p)?))
    })();
    let (query, start, end, step, timeout) = match parsed {
        Ok(v) => v,
        Err(e) => return error(&e),
    };
    let request = QueryRequest::Range {
        query,
        start,
        end,
        step,
    };
    s.run(request, timeout).await
}

/// The `match[]` selectors, the start and the end (all time when not given).
fn selection(p: &Params, required: bool) -> Result<Selection, Error> {
    let selectors: Vec<String> = p.all("match[]").into_iter().map(str::to_owned).collect();
    if required && selectors.is_empty() {
        return Err(Error::BadParam("no match[] parameter provided".into()));
    }
    let start = p.time("start", i64::MIN)?;
    let end = p.time("end", i64::MIN)?;
    Ok(Selection {
        selectors,
        start: (start != i64::MIN).then_some(start),
        end: (end != i64::MIN).then_some(end),
    })
}

async fn series(State(s): State<ApiState>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let p = Params::new(q, &body);
    match selection(&p, true) {
        Ok(sel) => s.select(move |e| e.series(&sel)).await,
        Err(e) => error(&e),
    }
}

async fn labels(State(s): State<ApiState>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let p = Params::new(q, &body);
    match selection(&p, false) {
        Ok(sel) => s.select(move |e| e.label_names(&sel)).await,
        Err(e) => error(&e),
    }
}

async fn label_values(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::new(q, &Bytes::new());
    match selection(&p, false) {
        Ok(sel) => s.select(move |e| e.label_values(&name, &sel)).await,
        Err(e) => error(&e),
    }
}

/// Metric metadata is not kept by the store: the answer is the empty set Prometheus gives for
/// metrics without metadata.
async fn metadata() -> Response {
    json(StatusCode::OK, r#"{"status":"success","data":{}}"#.into())
}

/// The Prometheus API level this server implements (Grafana reads `version` to pick features),
/// and apilens's own version as the revision.
async fn buildinfo() -> Response {
    let body = format!(
        r#"{{"status":"success","data":{{"version":"3.5.0","revision":"apilens-{}","branch":"","buildUser":"","buildDate":"","goVersion":""}}}}"#,
        env!("CARGO_PKG_VERSION")
    );
    json(StatusCode::OK, body)
}
