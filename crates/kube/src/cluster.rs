//! Loading the cluster configuration and building per-replica clients.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::{ApiServer, Endpoint, KubeError, discovery};

/// Which cluster to talk to and as whom.
#[derive(Debug, Clone, Default)]
pub struct ClusterOpts {
    /// A kubeconfig file; `None` means `KUBECONFIG`, then `~/.kube/config`, then the in-cluster
    /// service account.
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig; `None` means its `current-context`.
    pub context: Option<String>,
}

impl ClusterOpts {
    /// Whether a default configuration exists: `KUBECONFIG`, `~/.kube/config`, or an in-cluster
    /// service account (`KUBERNETES_SERVICE_HOST`).
    pub fn default_config_found() -> bool {
        std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
            || std::env::var_os("HOME")
                .is_some_and(|h| PathBuf::from(h).join(".kube/config").is_file())
            || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
    }
}

/// One Kubernetes cluster: its client configuration and a client for its service URL.
///
/// The service URL (the kubeconfig's `server`) usually sits behind a load balancer, so requests
/// through [`Cluster::server`] land on any replica. Use [`Cluster::discover`] and
/// [`Cluster::replica`] to reach each replica on its own.
#[derive(Clone)]
pub struct Cluster {
    config: kube::Config,
    context: String,
    server: ApiServer,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration holds credentials: show only what names the cluster.
        f.debug_struct("Cluster")
            .field("context", &self.context)
            .field("server", &self.server.url())
            .finish()
    }
}

impl Cluster {
    /// Loads the configuration `opts` names and builds a client for the service URL.
    ///
    /// Nothing is sent yet; authentication problems (a refused token, a failing exec plugin)
    /// show on the first request.
    ///
    /// # Errors
    ///
    /// [`KubeError::Kubeconfig`] when the file or context cannot be used,
    /// [`KubeError::NoConfig`] when nothing was found, [`KubeError::Client`] when the CA or client
    /// certificate data is invalid.
    pub async fn connect(opts: &ClusterOpts) -> Result<Self, KubeError> {
        let options = KubeConfigOptions {
            context: opts.context.clone(),
            ..KubeConfigOptions::default()
        };
        let (config, context) = match &opts.kubeconfig {
            Some(path) => {
                let source_name = path.display().to_string();
                let kubeconfig =
                    Kubeconfig::read_from(path).map_err(|source| KubeError::Kubeconfig {
                        source_name: source_name.clone(),
                        source,
                    })?;
                let context = context_name(&kubeconfig, opts.context.as_deref());
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|source| KubeError::Kubeconfig {
                        source_name,
                        source,
                    })?;
                (config, context)
            }
            None if opts.context.is_some() => {
                let source_name = "from KUBECONFIG or ~/.kube/config".to_owned();
                let kubeconfig = Kubeconfig::read().map_err(|source| KubeError::Kubeconfig {
                    source_name: source_name.clone(),
                    source,
                })?;
                let context = context_name(&kubeconfig, opts.context.as_deref());
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|source| KubeError::Kubeconfig {
                        source_name,
                        source,
                    })?;
                (config, context)
            }
            None => match Kubeconfig::read() {
                Ok(kubeconfig) => {
                    let context = context_name(&kubeconfig, None);
                    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                        .await
                        .map_err(|source| KubeError::Kubeconfig {
                            source_name: "from KUBECONFIG or ~/.kube/config".to_owned(),
                            source,
                        })?;
                    (config, context)
                }
                Err(file_err) => match kube::Config::incluster() {
                    Ok(config) => (config, "in-cluster".to_owned()),
                    Err(cluster_err) => {
                        return Err(KubeError::NoConfig {
                            reason: format!(
                                "kubeconfig: {file_err}; in-cluster service account: {cluster_err}"
                            ),
                        });
                    }
                },
            },
        };
        Self::from_config(config, &context)
    }

    /// Wraps an already loaded kube-rs configuration; `context` names it in messages.
    ///
    /// Client-side retries are turned off: a scraper must see HTTP 429 itself to honour
    /// `Retry-After`.
    ///
    /// # Errors
    ///
    /// [`KubeError::Client`] when the CA or client certificate data is invalid.
    pub fn from_config(mut config: kube::Config, context: &str) -> Result<Self, KubeError> {
        config.default_retry = false;
        let url = config.cluster_url.to_string();
        let server = ApiServer::new(config.clone(), url.trim_end_matches('/').to_owned())?;
        Ok(Self {
            config,
            context: context.to_owned(),
            server,
        })
    }

    /// The kubeconfig context (or `in-cluster`).
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The API server behind the configured service URL.
    pub fn server(&self) -> &ApiServer {
        &self.server
    }

    /// Lists the API server replicas of the `kubernetes` service in `default`: first from its
    /// EndpointSlices (`discovery.k8s.io/v1`), then from its Endpoints (`v1`), sorted by address.
    ///
    /// # Errors
    ///
    /// [`KubeError::Discovery`] when both reads fail (for example when RBAC forbids them); the
    /// message carries both reasons.
    pub async fn discover(&self) -> Result<Vec<Endpoint>, KubeError> {
        const SLICES: &str = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes";
        const ENDPOINTS: &str = "/api/v1/namespaces/default/endpoints/kubernetes";
        const LIMIT: usize = 4 << 20;
        let slices_err = match self.server.get_ok(SLICES, LIMIT).await {
            Ok(res) => match discovery::parse_endpoint_slices(&res.body) {
                Ok(found) if !found.is_empty() => return Ok(found),
                Ok(_) => "EndpointSlices: no endpoint listed".to_owned(),
                Err(err) => format!("EndpointSlices: {err}"),
            },
            Err(err) => format!("EndpointSlices: {err}"),
        };
        tracing::debug!(server = self.server.name(), reason = %slices_err, "falling back to Endpoints");
        let endpoints_err = match self.server.get_ok(ENDPOINTS, LIMIT).await {
            Ok(res) => match discovery::parse_endpoints(&res.body) {
                Ok(found) if !found.is_empty() => return Ok(found),
                Ok(_) => "Endpoints: no address listed".to_owned(),
                Err(err) => format!("Endpoints: {err}"),
            },
            Err(err) => format!("Endpoints: {err}"),
        };
        Err(KubeError::Discovery {
            server: self.server.name().to_owned(),
            reason: format!("{slices_err}; {endpoints_err}"),
        })
    }

    /// A client pinned to one replica: it connects to the endpoint's address but verifies the
    /// server certificate against the cluster CA for the name the kubeconfig uses (its
    /// `tls-server-name`, or the host of its `server` URL), exactly as a request through the
    /// service would. Credentials are those of the cluster.
    ///
    /// # Errors
    ///
    /// [`KubeError::Address`] for an unusable address, [`KubeError::Client`] when the client
    /// cannot be built.
    pub fn replica(&self, endpoint: &Endpoint) -> Result<ApiServer, KubeError> {
        let url = endpoint.url();
        let uri: http::Uri =
            url.parse()
                .map_err(|err: http::uri::InvalidUri| KubeError::Address {
                    address: endpoint.instance(),
                    reason: err.to_string(),
                })?;
        let mut config = self.config.clone();
        if config.tls_server_name.is_none() {
            config.tls_server_name = self
                .config
                .cluster_url
                .host()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned());
        }
        config.cluster_url = uri;
        ApiServer::new(config, endpoint.instance())
    }
}

/// The context a kubeconfig load selects, for messages.
fn context_name(kubeconfig: &Kubeconfig, asked: Option<&str>) -> String {
    asked
        .map(str::to_owned)
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_else(|| "(no current-context)".to_owned())
}
