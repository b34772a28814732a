//! Scrape targets for the API server replicas of a cluster.

use apilens_kube::Cluster;

use crate::Target;

/// One target per API server replica of `cluster`, found through the `kubernetes`
/// EndpointSlices or Endpoints. When discovery fails (for example RBAC forbids reading
/// endpoints) the service URL becomes the only target and the reason is returned beside it.
///
/// # Errors
///
/// Never fails as a whole; a replica whose client cannot be built is skipped with its reason
/// in the returned warnings.
pub async fn api_server_targets(cluster: &Cluster, job: &str) -> (Vec<Target>, Vec<String>) {
    let mut warnings = Vec::new();
    match cluster.discover().await {
        Ok(endpoints) => {
            let mut targets = Vec::new();
            for endpoint in &endpoints {
                match cluster.replica(endpoint) {
                    Ok(server) => targets.push(Target::api_server(job, server)),
                    Err(err) => warnings.push(err.to_string()),
                }
            }
            if !targets.is_empty() {
                return (targets, warnings);
            }
            warnings.push(format!(
                "no usable API server replica found; scraping the service URL {} instead",
                cluster.server().url()
            ));
        }
        // A server that cannot be reached at all fails its scrapes too, and its scrape loop says
        // so once with the address and the reason: a second line here would say it twice.
        Err(err) if is_unreachable(&err.to_string()) => {
            tracing::debug!("{err}; scraping the service URL instead");
        }
        Err(err) => warnings.push(format!(
            "{err}; scraping the service URL {} instead, so replicas are not told apart",
            cluster.server().url()
        )),
    }
    (
        vec![Target::api_server(job, cluster.server().clone())],
        warnings,
    )
}

/// Whether a discovery error says the server could not be reached (no connection, no name, no
/// answer in time) rather than refused the request.
fn is_unreachable(message: &str) -> bool {
    const MARKERS: [&str; 6] = [
        "(Connect)",
        "tcp connect error",
        "Connection refused",
        "dns error",
        "timed out",
        "No route to host",
    ];
    MARKERS.iter().any(|m| message.contains(m))
}

#[cfg(test)]
mod tests {
    use super::is_unreachable;

    #[test]
    fn unreachable_servers_are_told_from_refusals() {
        assert!(is_unreachable(
            "GET /api/v1/namespaces/default/endpoints/kubernetes from https://127.0.0.1:1 failed: ServiceError: client error (Connect)"
        ));
        assert!(!is_unreachable(
            "GET /api/v1/namespaces/default/endpoints/kubernetes from https://10.0.0.1:6443: HTTP 403: forbidden"
        ));
    }
}
