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
