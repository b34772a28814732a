//! The flags and set-up shared by every command that serves the query API (`serve`,
//! `dashboard`, `demo`): the address, the web configuration, the browser allow-lists and the
//! query limits.

use anyhow::Context as _;
use apilens_model::parse_duration;
use apilens_web::{Listening, PoolOpts, QueryLimits, Site};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where a server listens, who may reach it and what its queries may cost.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// Address of the HTTP server: the dashboard, the query API (a Grafana data source), health
    /// and readiness.
    #[arg(long, default_value = "127.0.0.1:9797")]
    listen: SocketAddr,
    #[command(flatten)]
    web: WebArgs,
    #[command(flatten)]
    limits: QueryLimitArgs,
}

impl ServerArgs {
    /// The query API's limits these flags give.
    pub(crate) fn limits(&self) -> QueryLimits {
        self.limits.limits()
    }

    /// Reads the web configuration and binds `--listen`, so that a bad file or a taken port
    /// fails before any other work.
    pub(crate) async fn bind(&self) -> anyhow::Result<Listening> {
        let site = self.web.load(self.listen)?;
        (Listening::bind(self.listen, site).await)
            .context("--listen (127.0.0.1:0 takes any free port)")
    }
}

/// Who may reach the server and how.
#[derive(Debug, Clone, clap::Args)]
struct WebArgs {
    /// TLS and basic auth, in the Prometheus exporter-toolkit web configuration format
    /// (`tls_server_config`, `basic_auth_users` with bcrypt hashes, `http_server_config`);
    /// checked at start-up.
    #[arg(long = "web.config.file", value_name = "PATH")]
    web_config_file: Option<PathBuf>,
    /// An origin whose pages may call the API from a browser, such as
    /// `https://grafana.example.com` (`*` for any). Repeat for more. Pages of other origins
    /// are refused.
    #[arg(long = "web.allowed-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// A host name browsers may use to reach this server, besides IP addresses and
    /// `localhost` (`*` for any). Repeat for more. Other names are refused as DNS rebinding.
    #[arg(long = "web.allowed-host", value_name = "NAME")]
    allowed_hosts: Vec<String>,
}

/// Limits of the query API.
#[derive(Debug, Clone, clap::Args)]
struct QueryLimitArgs {
    /// Longest a query may run; a request's `timeout` parameter can only shorten it.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    query_timeout: Duration,
    /// Most samples one query may hold in memory at once (about 16 to 24 bytes each).
    #[arg(long, default_value_t = 10_000_000, value_name = "N")]
    query_max_samples: usize,
    /// Heavy queries evaluated at once; cheap ones have their own threads.
    #[arg(long, default_value_t = 4, value_name = "N")]
    query_max_concurrency: usize,
    /// Heavy queries that may wait for a thread; more are answered 503.
    #[arg(long, default_value_t = 64, value_name = "N")]
    query_max_queue: usize,
    /// Longest a query may wait for a thread before it is answered 503.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    query_queue_timeout: Duration,
}

impl QueryLimitArgs {
    /// The limits these flags give.
    fn limits(&self) -> QueryLimits {
        QueryLimits {
            timeout: self.query_timeout,
            max_samples: self.query_max_samples,
            pool: PoolOpts {
                max_concurrency: self.query_max_concurrency,
                max_queue: self.query_max_queue,
                queue_timeout: self.query_queue_timeout,
            },
        }
    }
}

impl WebArgs {
    /// Reads the web configuration and builds the access rules; prints the warning of a
    /// server that listens beyond loopback unprotected.
    fn load(&self, listen: SocketAddr) -> anyhow::Result<Site> {
        let config = self.web_config_file.as_deref();
        let (site, warning) =
            Site::load(config, &self.allowed_hosts, &self.allowed_origins, listen)?;
        if let Some(warning) = warning {
            eprintln!("{warning}");
        }
        Ok(site)
    }
}
