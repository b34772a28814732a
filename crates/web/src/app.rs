//! One server's whole router and its running: the routes every apilens server answers, the
//! checked web set-up ([`Site`]), a server running in the background ([`HttpServer`]) and the
//! signals that stop it.

use crate::{AccessPolicy, ApiState, FindingsSlot, WebConfig};
use axum::Router;
use axum::routing::get;
use std::sync::Arc;

/// The routes of an apilens server over `state`: Prometheus-style health and readiness, the
/// Prometheus-compatible query API (on the state's query threads), the dashboard, its verdict
/// banner through the same engine, and its culprit panel from `findings`.
pub fn app_router(state: ApiState, findings: FindingsSlot) -> Router {
    Router::new()
        .merge(crate::verdict_router(Arc::clone(&state.engine)))
        .merge(crate::api_router(state))
        .merge(crate::dashboard_router())
        .merge(crate::findings_router(findings))
        .route("/-/healthy", get(|| async { "apilens is Healthy.\n" }))
        .route("/-/ready", get(|| async { "apilens is Ready.\n" }))
}

/// `/api/v1/targets`: `{"status":"success","data":{"activeTargets": …}}` with what `targets`
/// returns at each request (the scrape targets' health).
pub fn targets_router(
    targets: impl Fn() -> serde_json::Value + Clone + Send + Sync + 'static,
) -> Router {
    Router::new().route(
        "/api/v1/targets",
        get(move || {
            let targets = targets.clone();
            async move {
                axum::Json(serde_json::json!({
                    "status": "success",
                    "data": { "activeTargets": targets() }
                }))
            }
        }),
    )
}

/// The checked web set-up of one server: its TLS and basic auth, and who may reach it.
#[derive(Debug, Clone)]
pub struct Site {
    config: WebConfig,
    policy: AccessPolicy,
}

impl Site {
    /// A server under `config` and `policy`.
    pub fn new(config: WebConfig, policy: AccessPolicy) -> Self {
        Self { config, policy }
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.config.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serves `app` under these rules until `stop` completes.
    ///
    /// # Errors
    ///
    /// The listener's error.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        app: Router,
        stop: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let app = self.policy.clone().apply(app);
        crate::serve(listener, app, self.config.tls.clone(), stop).await
    }
}

/// An HTTP server running on the runtime until [`HttpServer::stop`].
#[derive(Debug)]
pub struct HttpServer {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl HttpServer {
    /// Serves `app` on `listener` in the background, under the rules of `site`.
    pub fn spawn(listener: tokio::net::TcpListener, app: Router, site: Site) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            site.serve(listener, app, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
        });
        Self { stop, task }
    }

    /// Finishes the requests in flight and stops; failures are logged.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "HTTP server stopped with an error"),
            Err(err) => tracing::warn!(error = %err, "HTTP server task failed"),
        }
    }
}

/// Waits for SIGINT or SIGTERM (Ctrl-C elsewhere) and names it.
///
/// # Errors
///
/// When the signal handlers cannot be installed.
pub async fn shutdown_signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            _ = int.recv() => Ok("SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok("Ctrl-C")
    }
}
