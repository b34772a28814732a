//! Who a request comes from, the way an operator can act on it: the effective user (the
//! impersonated one when impersonating) and the user agent without version noise, with the
//! kubelets of every node folded into one client.

use apilens_audit::Request;

/// Prefix of a kubelet's user name (`system:node:<node>`).
pub(crate) const NODE_USER_PREFIX: &str = "system:node:";

/// The user name every kubelet is folded into.
pub(crate) const FOLDED_NODES: &str = "system:node:*";

/// `user.extra` key of the pod a service account token was bound to.
pub(crate) const EXTRA_POD_NAME: &str = "authentication.kubernetes.io/pod-name";

/// `user.extra` key of the node a service account token's pod runs on (1.30+).
pub(crate) const EXTRA_NODE_NAME: &str = "authentication.kubernetes.io/node-name";

/// The user the API server authorises and classifies: the impersonated user when the request
/// impersonates, else the authenticated one.
pub(crate) fn effective_user<'r>(req: &'r Request<'_>) -> &'r str {
    match req.impersonated_user.as_deref() {
        Some(u) if !u.is_empty() => u,
        _ => &req.user,
    }
}

/// Writes the client key of `req` into `out`: the effective user with every kubelet folded
/// into [`FOLDED_NODES`], a unit separator, and the normalised user agent.
///
/// Returns the node name when the user is a kubelet, so the caller can count nodes.
pub(crate) fn write_client_key<'r>(req: &'r Request<'_>, out: &mut String) -> Option<&'r str> {
    out.clear();
    let user = effective_user(req);
    let node = user.strip_prefix(NODE_USER_PREFIX);
    match node {
        Some(_) => out.push_str(FOLDED_NODES),
        None if user.is_empty() => out.push('-'),
        None => out.push_str(user),
    }
    out.push(KEY_SEP);
    apilens_audit::push_normalized_user_agent(&req.user_agent, out);
    node
}

/// Separator inside composite keys (never in audit text).
pub(crate) const KEY_SEP: char = '\u{1f}';

/// The service account a user name names, as (namespace, name).
///
/// ```text
/// system:serviceaccount:logging:log-agent -> ("logging", "log-agent")
/// ```
pub(crate) fn service_account(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty()).then_some((ns, name))
}

/// True for the API server's own control-plane users and system components whose traffic the
/// default configuration deliberately exempts or favours.
pub(crate) fn is_control_plane(user: &str) -> bool {
    matches!(
        user,
        "system:apiserver"
            | "system:kube-controller-manager"
            | "system:kube-scheduler"
            | "system:kube-proxy"
    ) || user.starts_with(NODE_USER_PREFIX)
        || user == FOLDED_NODES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(user: &'a str, imp: Option<&'a str>, ua: &'a str) -> Request<'a> {
        let mut line = format!(
            r#"{{"auditID":"a","verb":"get","requestURI":"/api/v1/nodes/n","user":{{"username":"{user}"}},"userAgent":"{ua}""#
        );
        if let Some(imp) = imp {
            line.push_str(&format!(r#","impersonatedUser":{{"username":"{imp}"}}"#));
        }
        line.push('}');
        let mut out = None;
        apilens_audit::decode_record(&line, &mut |r| out = Some(r.into_owned())).unwrap();
        let owned = Box::leak(Box::new(out.unwrap()));
        owned.as_request()
    }

    #[test]
    fn kubelets_fold_into_one_client() {
        let mut key = String::new();
        let r = request(
            "system:node:ip-10-0-1-2",
            None,
            "kubelet/v1.34.1 (linux/amd64) kubernetes/abc",
        );
        assert_eq!(write_client_key(&r, &mut key), Some("ip-10-0-1-2"));
        assert_eq!(key, format!("system:node:*{KEY_SEP}kubelet"));
    }

    #[test]
    fn impersonation_names_the_impersonated_user() {
        let mut key = String::new();
        let r = request("system:admin", Some("bob"), "kubectl/v1.30.0");
        assert_eq!(write_client_key(&r, &mut key), None);
        assert_eq!(key, format!("bob{KEY_SEP}kubectl"));
    }

    #[test]
    fn service_accounts_split() {
        assert_eq!(
            service_account("system:serviceaccount:logging:log-agent"),
            Some(("logging", "log-agent"))
        );
        assert_eq!(service_account("system:serviceaccounts:logging"), None);
        assert_eq!(service_account("alice"), None);
    }
}
