//! The Prometheus-compatible `/api/v1/*` routes.
//!
//! Follows Prometheus v3.5.0 `web/api/v1/api.go`: parameters come from the query string and,
//! for POST, from an `application/x-www-form-urlencoded` body; `time` defaults to now, series
//! and label endpoints default to all time; errors are `{"status":"error","errorType":…,
//! "error":…}` with 400 for bad parameters, 422 for evaluation errors, 503 for timeouts and
//! when every query thread is busy. Queries run on the [`QueryPool`], never on the runtime.

use crate::pool::{PoolOpts, QueryJob, QueryPool, QuerySpec};
use apilens_model::{Labels, Matcher, Queryable};
use apilens_promql::{Engine, Error, api_error, parse_duration, parse_series_selector, parse_time};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What the API reads: a store (embedded or remote), the engine options and the query threads.
#[derive(Clone)]
pub struct ApiState {
    /// The series source.
    pub queryable: Arc<dyn Queryable>,
    /// The engine, with its timeout and sample limit.
    pub engine: Engine,
    /// The threads queries run on.
    pub pool: Arc<QueryPool>,
}

impl ApiState {
    /// The state of a server over `queryable`, starting its query threads.
    pub fn new(queryable: Arc<dyn Queryable>, engine: Engine, pool: PoolOpts) -> Self {
        Self {
            queryable,
            engine,
            pool: Arc::new(QueryPool::start(pool)),
        }
    }

    /// The timeout of one request: its `timeout` parameter (a duration or seconds), capped by
    /// the engine's.
    fn timeout(&self, p: &Params) -> Result<std::time::Duration, Error> {
        let cap = self.engine.opts().timeout;
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

    async fn run(&self, spec: QuerySpec, timeout: std::time::Duration) -> Response {
        let job = QueryJob {
            engine: self.engine.clone(),
            queryable: Arc::clone(&self.queryable),
            spec,
            timeout,
        };
        let (status, body) = self.pool.run_query(job).await;
        json(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(err: &Error) -> Response {
    let (status, body) = api_error(err);
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
    s.run(QuerySpec::Instant { query: expr, t }, timeout).await
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
    let spec = QuerySpec::Range {
        query,
        start,
        end,
        step,
    };
    s.run(spec, timeout).await
}

/// The matcher sets of `match[]`, the start and the end (all time by default).
fn selection(p: &Params, required: bool) -> Result<(Vec<Vec<Matcher>>, i64, i64), Error> {
    let selectors = p.all("match[]");
    if required && selectors.is_empty() {
        return Err(Error::BadParam("no match[] parameter provided".into()));
    }
    let sets = selectors
        .into_iter()
        .map(parse_series_selector)
        .collect::<Result<Vec<_>, _>>()?;
    let start = p.time("start", i64::MIN / 2)?;
    let end = p.time("end", i64::MAX / 2)?;
    Ok((sets, start, end))
}

fn select_labels(
    q: &dyn Queryable,
    sets: &[Vec<Matcher>],
    start: i64,
    end: i64,
) -> Result<BTreeSet<Labels>, Error> {
    let mut out = BTreeSet::new();
    let all = [vec![
        Matcher::new(
            apilens_model::MatchOp::RegexMatch,
            apilens_model::METRIC_NAME,
            ".+",
        )
        .map_err(|e| Error::BadParam(e.to_string()))?,
    ]];
    let sets = if sets.is_empty() { &all[..] } else { sets };
    for m in sets {
        out.extend(q.series(m, start, end)?);
    }
    Ok(out)
}

fn string_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = items.collect();
    format!(
        r#"{{"status":"success","data":{}}}"#,
        serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
    )
}

async fn series(State(s): State<ApiState>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let p = Params::new(q, &body);
    let (sets, start, end) = match selection(&p, true) {
        Ok(v) => v,
        Err(e) => return error(&e),
    };
    let q = Arc::clone(&s.queryable);
    let res = s
        .pool
        .run_heavy(move |_| select_labels(q.as_ref(), &sets, start, end))
        .await;
    match res {
        Ok(set) => {
            let items: Vec<serde_json::Value> = set
                .iter()
                .map(|l| {
                    serde_json::Value::Object(
                        l.iter()
                            .map(|x| (x.name.clone(), x.value.clone().into()))
                            .collect(),
                    )
                })
                .collect();
            json(
                StatusCode::OK,
                format!(
                    r#"{{"status":"success","data":{}}}"#,
                    serde_json::Value::Array(items)
                ),
            )
        }
        Err(e) => error(&e),
    }
}

async fn labels(State(s): State<ApiState>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let p = Params::new(q, &body);
    let (sets, start, end) = match selection(&p, false) {
        Ok(v) => v,
        Err(e) => return error(&e),
    };
    let q = Arc::clone(&s.queryable);
    let res = s
        .pool
        .run_heavy(move |_| select_labels(q.as_ref(), &sets, start, end))
        .await;
    match res {
        Ok(set) => {
            let names: BTreeSet<&str> = set
                .iter()
                .flat_map(|l| l.iter().map(|x| x.name.as_str()))
                .collect();
            json(StatusCode::OK, string_list(names.into_iter()))
        }
        Err(e) => error(&e),
    }
}

async fn label_values(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::new(q, &Bytes::new());
    let (sets, start, end) = match selection(&p, false) {
        Ok(v) => v,
        Err(e) => return error(&e),
    };
    let q = Arc::clone(&s.queryable);
    let res = s
        .pool
        .run_heavy(move |_| select_labels(q.as_ref(), &sets, start, end))
        .await;
    match res {
        Ok(set) => {
            let values: BTreeSet<&str> = set.iter().filter_map(|l| l.get(&name)).collect();
            json(StatusCode::OK, string_list(values.into_iter()))
        }
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
