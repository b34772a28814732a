//! A server's set-up from its options: the checked [`Site`] from a web configuration file and
//! the allow-lists, the address bound for an [`crate::HttpServer`] ([`Listening`]), and the query API's
//! [`QueryLimits`] with the routes of a server over a store.

use crate::{AccessPolicy, ApiState, FindingsSlot, PoolOpts, Site, WebConfig, WebError};
use apilens_model::Queryable;
use apilens_promapi::{LocalEngine, QueryEngine};
use apilens_promql::{Engine, EngineOpts};
use axum::Router;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The limits of a server's query API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Longest a query may run; a request's `timeout` parameter can only shorten it.
    pub timeout: Duration,
    /// Most samples one query may hold in memory at once.
    pub max_samples: usize,
    /// The query threads.
    pub pool: PoolOpts,
}

impl QueryLimits {
    /// The query API's state over `engine`, on query threads within these limits.
    pub fn api_state(&self, engine: Arc<dyn QueryEngine>) -> ApiState {
        ApiState::with_engine(engine, self.pool)
    }

    /// The routes of a server over `store` (see [`crate::app_router`]): the embedded engine
    /// within these limits, the culprit panel from `findings`, and `/api/v1/targets` from
    /// `targets` (see [`crate::targets_router`]).
    pub fn store_router(
        &self,
        store: Arc<dyn Queryable>,
        findings: FindingsSlot,
        targets: impl Fn() -> serde_json::Value + Clone + Send + Sync + 'static,
    ) -> Router {
        let opts = EngineOpts {
            timeout: self.timeout,
            max_samples: self.max_samples,
            ..EngineOpts::default()
        };
        let engine = LocalEngine::shared(Engine::new(opts), store, "store");
        crate::app_router(self.api_state(Arc::new(engine)), findings)
            .merge(crate::targets_router(targets))
    }
}

impl Site {
    /// The set-up of a server that listens on `listen`: TLS and basic auth from the web
    /// configuration file `config` (none: plain HTTP without passwords), browsers allowed from
    /// `hosts` and `origins`; with the warning to show when it listens beyond loopback
    /// unprotected ([`crate::exposure_warning`]).
    ///
    /// # Errors
    ///
    /// [`WebError::Config`] naming the file and field, [`WebError::Allow`] for an unusable
    /// host or origin.
    pub fn load(
        config: Option<&Path>,
        hosts: &[String],
        origins: &[String],
        listen: SocketAddr,
    ) -> Result<(Site, Option<String>), WebError> {
        let config = match config {
            Some(path) => WebConfig::load(path)?,
            None => WebConfig::default(),
        };
        let policy = AccessPolicy::new(&config, hosts, origins)?;
        let warning = crate::exposure_warning(listen, &config);
        Ok((Site::new(config, policy), warning))
    }
}

/// A server's address bound, with its checked set-up, for [`crate::HttpServer::spawn`]: bound
/// before any other work, so that a taken port fails first.
#[derive(Debug)]
pub struct Listening {
    /// The bound socket.
    pub listener: tokio::net::TcpListener,
    /// The address it listens on (the port chosen for port 0).
    pub local: SocketAddr,
    /// TLS, basic auth and the allow-lists.
    pub site: Site,
}

impl Listening {
    /// Binds `listen` for a server under `site`.
    ///
    /// # Errors
    ///
    /// [`WebError::Bind`] when the address cannot be bound.
    pub async fn bind(listen: SocketAddr, site: Site) -> Result<Listening, WebError> {
        let bind = |source| WebError::Bind {
            addr: listen,
            source,
        };
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(bind)?;
        let local = listener.local_addr().map_err(bind)?;
        Ok(Listening {
            listener,
            local,
            site,
        })
    }
}
