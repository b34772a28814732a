//! Client identity: user agents without version noise.

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
