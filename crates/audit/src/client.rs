//! Client identity: user agents without version noise, and the APF flow a request most likely
//! took under the default FlowSchemas.

use crate::request::Request;

/// Strips the version noise from a Kubernetes user agent.
///
/// client-go writes `binary/version (os/arch) kubernetes/<sha>[/suffix]`, where kube-controller-manager
/// and kube-scheduler add the controller name as the suffix. The result keeps the binary and the
/// suffix: `kube-controller-manager/v1.17.3 (linux/amd64) kubernetes/06ad960/tokens-controller`
/// becomes `kube-controller-manager/tokens-controller`. Other agents keep their product token
/// (`Go-http-client/2.0` becomes `Go-http-client`). An empty agent becomes `-`.
///
/// ```
/// use apilens_audit::normalize_user_agent;
///
/// assert_eq!(normalize_user_agent("kubectl/v1.26.1 (darwin/amd64) kubernetes/06ad960"), "kubectl");
/// assert_eq!(
///     normalize_user_agent("kube-controller-manager/v1.17.3 (linux/amd64) kubernetes/06ad960/tokens-controller"),
///     "kube-controller-manager/tokens-controller"
/// );
/// ```
pub fn normalize_user_agent(ua: &str) -> String {
    let mut out = String::new();
    push_normalized_user_agent(ua, &mut out);
    out
}

/// Appends [`normalize_user_agent`] of `ua` to `out` without allocating.
pub fn push_normalized_user_agent(ua: &str, out: &mut String) {
    let ua = ua.trim();
    if ua.is_empty() {
        out.push('-');
        return;
    }
    let product_end = ua.find(['/', ' ', '(']).unwrap_or(ua.len());
    let product = &ua[..product_end];
    out.push_str(if product.is_empty() { ua } else { product });
    if let Some(pos) = ua.find(" kubernetes/") {
        let after = &ua[pos + " kubernetes/".len()..];
        // Skip the commit (`06ad960` or `$Format`), keep what follows its slash.
        if let Some(slash) = after.find('/') {
            let suffix = after[slash + 1..].trim();
            if !suffix.is_empty() {
                out.push('/');
                out.push_str(suffix);
            }
        }
    }
}

/// The client key: the normalised user agent and the user, as `agent (user)`.
pub fn client_key(req: &Request<'_>) -> String {
    let mut out = String::new();
    push_client_key(req, &mut out);
    out
}

/// Appends [`client_key`] of `req` to `out` without allocating.
pub(crate) fn push_client_key(req: &Request<'_>, out: &mut String) {
    push_normalized_user_agent(&req.user_agent, out);
    out.push_str(" (");
    out.push_str(if req.user.is_empty() { "-" } else { &req.user });
    out.push(')');
}

/// The priority level and flow a request most likely used under the default (bootstrap)
/// FlowSchemas, as `priority-level/flow`.
///
/// Audit events never name the FlowSchema (kubernetes#113473), so this re-classifies them by
/// the defaults' rules, evaluated in matching precedence: `system:masters` is exempt, the
/// leader-election leases/endpoints/configmaps of kube-system go to `leader-election`,
/// `system:nodes` to `node-high`, kube-system service accounts to `workload-high`, other service
/// accounts to `workload-low`, authenticated users to `global-default`, the rest to `catch-all`.
/// Clusters with their own FlowSchemas classify differently; the flow distinguisher of the
/// defaults is the user name.
pub fn default_flow(req: &Request<'_>) -> String {
    let user: &str = &req.user;
    let groups = req.groups();
    let has = |g: &str| groups.iter().any(|x| x == g);
    let control_plane = matches!(
        user,
        "system:kube-controller-manager" | "system:kube-scheduler"
    );
    let kube_system_sa = user.starts_with("system:serviceaccount:kube-system:");
    let leader_election = (control_plane || kube_system_sa)
        && matches!(req.verb.as_ref(), "get" | "create" | "update")
        && matches!(
            req.resource_key().as_str(),
            "leases.coordination.k8s.io" | "endpoints" | "configmaps"
        )
        && req.namespace() == "kube-system";
    let level = if has("system:masters") {
        "exempt"
    } else if leader_election {
        "leader-election"
    } else if has("system:nodes") || user.starts_with("system:node:") {
        "node-high"
    } else if control_plane || kube_system_sa {
        "workload-high"
    } else if user.starts_with("system:serviceaccount:") || has("system:serviceaccounts") {
        "workload-low"
    } else if user == "system:anonymous" || has("system:unauthenticated") {
        "catch-all"
    } else {
        "global-default"
    };
    format!("{level}/{}", if user.is_empty() { "-" } else { user })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents() {
        let cases = [
            ("kubectl/v1.26.1", "kubectl"),
            (
                "elastic-agent/v0.0.0 (linux/amd64) kubernetes/$Format",
                "elastic-agent",
            ),
            (
                "hyperkube/v1.14.8 (linux/amd64) kubernetes/ea670c3/system:serviceaccount:kube-system:resourcequota-controller",
                "hyperkube/system:serviceaccount:kube-system:resourcequota-controller",
            ),
            ("Go-http-client/2.0", "Go-http-client"),
            ("gke-master-healthcheck", "gke-master-healthcheck"),
            ("", "-"),
        ];
        for (ua, want) in cases {
            assert_eq!(normalize_user_agent(ua), want, "{ua}");
        }
    }
}
