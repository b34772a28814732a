//! The HTTP side: `/metrics` of each API server replica and of etcd, each on its own port.
//!
//! Replica `i` listens on `PORT + i` and etcd on `PORT + replicas`, so every target has its own
//! `instance` label as real API servers behind a Service do (port 0 gives each an ephemeral
//! port). A driver thread keeps simulated time at `start + speed × wall time elapsed`; a scrape
//! first catches up, then renders. Responses are gzip-compressed when the client accepts it.

use crate::{SimError, Simulator};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to serve a simulation.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address of replica 0; replica `i` gets port + i and etcd port + replicas.
    pub listen: SocketAddr,
    /// Simulated seconds per wall-clock second (1 = real time).
    pub speed: f64,
}

/// What one listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// kube-apiserver replica with this index.
    Apiserver(usize),
    /// The etcd server.
    Etcd,
}

struct Shared {
    sim: Mutex<Simulator>,
    wall_start: Instant,
    sim_start_ms: i64,
    speed: f64,
}

impl Shared {
    fn target_ms(&self) -> i64 {
        let elapsed = self.wall_start.elapsed().as_secs_f64() * self.speed;
        self.sim_start_ms + (elapsed * 1000.0) as i64
    }

    /// Advances at most `max_ticks` seconds towards the wall-clock target.
    fn catch_up(&self, max_ticks: i64) -> Result<(), SimError> {
        let target = self.target_ms();
        let mut sim = self.sim.lock().unwrap_or_else(|e| e.into_inner());
        let limit = sim.now_unix_ms() + max_ticks * 1000;
        sim.advance_to(target.min(limit))
    }
}

/// A bound simulation server; [`SimServer::run`] serves until shutdown.
pub struct SimServer {
    shared: Arc<Shared>,
    listeners: Vec<(Target, tokio::net::TcpListener)>,
    /// The real scrape each target's names come from, in the order of `listeners`.
    sources: Vec<String>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("addresses", &self.addresses())
            .finish()
    }
}

impl SimServer {
    /// Binds one listener per replica and one for etcd.
    ///
    /// # Errors
    /// [`SimError::Bind`] naming the address, [`SimError::InvalidConfig`] for a bad speed.
    pub async fn bind(sim: Simulator, config: ServeConfig) -> Result<Self, SimError> {
        if !(config.speed > 0.0 && config.speed <= 100_000.0) {
            return Err(SimError::InvalidConfig {
                what: format!(
                    "speed must be above 0 and at most 100000, got {}",
                    config.speed
                ),
            });
        }
        let mut targets: Vec<Target> = (0..sim.replicas()).map(Target::Apiserver).collect();
        targets.push(Target::Etcd);
        let mut sources = Vec::with_capacity(targets.len());
        for target in &targets {
            sources.push(match target {
                Target::Apiserver(i) => sim.catalog_source(*i)?.to_owned(),
                Target::Etcd => sim.etcd_catalog_source().to_owned(),
            });
        }
        let mut listeners = Vec::new();
        for (i, target) in targets.into_iter().enumerate() {
            let mut addr = config.listen;
            if addr.port() != 0 {
                let port = u16::try_from(usize::from(addr.port()) + i).map_err(|_| {
                    SimError::InvalidConfig {
                        what: format!("port {} + {i} is above 65535", addr.port()),
                    }
                })?;
                addr.set_port(port);
            }
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| SimError::Bind {
                    addr: addr.to_string(),
                    source,
                })?;
            listeners.push((target, listener));
        }
        let sim_start_ms = sim.now_unix_ms();
        Ok(Self {
            shared: Arc::new(Shared {
                sim: Mutex::new(sim),
                wall_start: Instant::now(),
                sim_start_ms,
                speed: config.speed,
            }),
            listeners,
            sources,
        })
    }

    /// What each listener serves and its bound address.
    pub fn addresses(&self) -> Vec<(Target, SocketAddr)> {
        self.listeners
            .iter()
            .filter_map(|(t, l)| l.local_addr().ok().map(|a| (*t, a)))
            .collect()
    }

    /// What it serves, as `apilens sim` says it on start: the scenario, release, replicas,
    /// speed and seed, then one line per target with its `/metrics` URL and the real scrape its
    /// names come from (`  kube-apiserver replica 0: http://127.0.0.1:9100/metrics  (names from
    /// …)`).
    pub fn describe(&self) -> String {
        let mut out = {
            let sim = self.shared.sim.lock().unwrap_or_else(|e| e.into_inner());
            let c = sim.config();
            format!(
                "apilens sim: scenario {}, Kubernetes {}, {} replica(s), speed {}x, seed {} (SIMULATED data)\n",
                c.scenario, c.kubernetes_version, c.replicas, self.shared.speed, c.seed
            )
        };
        for ((target, listener), source) in self.listeners.iter().zip(&self.sources) {
            let Ok(addr) = listener.local_addr() else {
                continue;
            };
            let what = match target {
                Target::Apiserver(i) => format!("kube-apiserver replica {i}"),
                Target::Etcd => "etcd".to_owned(),
            };
            out += &format!("  {what}: http://{addr}/metrics  (names from {source})\n");
        }
        out
    }

    /// Serves until `shutdown` completes, advancing simulated time in the background.
    ///
    /// # Errors
    /// [`SimError::Serve`] when a listener fails, [`SimError::AuditWrite`] when the audit log
    /// cannot be written.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), SimError> {
        let stop = Arc::new(AtomicBool::new(false));
        let driver = {
            let shared = Arc::clone(&self.shared);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || -> Result<(), SimError> {
                while !stop.load(Ordering::Relaxed) {
                    shared.catch_up(30)?;
                    if shared.target_ms()
                        - shared
                            .sim
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .now_unix_ms()
                        < 1000
                    {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                Ok(())
            })
        };
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for (target, listener) in self.listeners {
            let app = Router::new()
                .route("/metrics", get(metrics))
                .route("/", get(index))
                .with_state((Arc::clone(&self.shared), target));
            let mut rx = rx.clone();
            tasks.push(tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.wait_for(|v| *v).await;
                    })
                    .await
            }));
        }
        shutdown.await;
        let _ = tx.send(true);
        let mut result = Ok(());
        for t in tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(SimError::Serve(e)),
                Err(e) => result = Err(SimError::Serve(std::io::Error::other(e.to_string()))),
            }
        }
        stop.store(true, Ordering::Relaxed);
        match driver.join() {
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(SimError::Serve(std::io::Error::other(
                    "simulation driver panicked",
                )));
            }
            Ok(Ok(())) => {}
        }
        result
    }

    /// Serves until `shutdown` completes or, with `limit`, until that much wall-clock time has
    /// passed (`apilens sim --exit-after`).
    ///
    /// # Errors
    /// As [`SimServer::run`].
    pub async fn run_for(
        self,
        limit: Option<Duration>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), SimError> {
        self.run(async move {
            match limit {
                Some(limit) => drop(tokio::time::timeout(limit, shutdown).await),
                None => shutdown.await,
            }
        })
        .await
    }
}

/// Binds and serves until `shutdown` completes.
///
/// # Errors
/// As [`SimServer::bind`] and [`SimServer::run`].
pub async fn serve(
    sim: Simulator,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    SimServer::bind(sim, config).await?.run(shutdown).await
}

async fn metrics(
    State((shared, target)): State<(Arc<Shared>, Target)>,
    headers: HeaderMap,
) -> Response {
    let body = tokio::task::spawn_blocking(move || -> Result<String, SimError> {
        shared.catch_up(120)?;
        let sim = shared.sim.lock().unwrap_or_else(|e| e.into_inner());
        match target {
            Target::Apiserver(i) => sim.render_metrics(i),
            Target::Etcd => Ok(sim.render_etcd_metrics()),
        }
    })
    .await;
    let body = match body {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.trim().split(';').next() == Some("gzip"))
        });
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 8),
            flate2::Compression::fast(),
        );
        if enc.write_all(body.as_bytes()).is_ok()
            && let Ok(bytes) = enc.finish()
        {
            return (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                ],
                bytes,
            )
                .into_response();
        }
    }
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn index(State((shared, target)): State<(Arc<Shared>, Target)>) -> String {
    let what = match target {
        Target::Apiserver(i) => format!("kube-apiserver replica {i}"),
        Target::Etcd => "etcd".to_string(),
    };
    let scenario = shared
        .sim
        .lock()
        .map(|s| s.config().scenario.clone())
        .unwrap_or_default();
    format!(
        "apilens sim: simulated {what}, scenario {scenario} (synthetic data). Metrics at /metrics\n"
    )
}
