//! A fake kube-apiserver for tests: HTTPS with a self-signed CA, bearer-token auth, the real
//! `/metrics` fixtures, `/version`, the APF dumps and the `kubernetes` EndpointSlices/Endpoints.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The token every fake replica accepts.
pub const TOKEN: &str = "apilens-test-token-5f1c9e";

/// The real apiserver scrape of `version` from the shared fixtures.
pub fn fixture(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../../../shared/fixtures/real/metrics-apiserver/newrelic-nri-kubernetes-apiserver-{version}-minikube.txt"
    ))
}

/// A CA and a server certificate for the DNS name `localhost` only (no IP SAN), so a client
/// that connects to an IP must verify against the name from its kubeconfig.
pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "apilens test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// One fake replica.
pub struct Replica {
    pub addr: SocketAddr,
    pub metrics_requests: Arc<AtomicUsize>,
    /// Every request received, as `METHOD /path?query`, in order.
    pub requests: Arc<std::sync::Mutex<Vec<String>>>,
}

/// Starts a replica on `ip` (a free port) serving `metrics` as `/metrics`; `endpoints` is what
/// the `kubernetes` EndpointSlice lists (filled in after all replicas are up through the
/// returned setter).
pub async fn start_replica(
    ip: &str,
    pki: &Pki,
    metrics: Bytes,
    endpoints: Arc<std::sync::Mutex<Vec<SocketAddr>>>,
) -> Replica {
    start(ip, pki, metrics, endpoints, Apf::None).await
}

/// Like [`start_replica`], and also serving the real APF debug dumps of the shared fixtures
/// (`dump_priority_levels`, `dump_queues`, `dump_requests?includeRequestDetails=1`, 2023) and
/// the `flowcontrol.apiserver.k8s.io/v1` lists: [`FLOW_SCHEMAS`] and no priority level.
pub async fn start_replica_with_apf(
    ip: &str,
    pki: &Pki,
    metrics: Bytes,
    endpoints: Arc<std::sync::Mutex<Vec<SocketAddr>>>,
) -> Replica {
    start(ip, pki, metrics, endpoints, Apf::Fixtures).await
}

/// Like [`start_replica`], but every APF debug dump and `flowcontrol.apiserver.k8s.io` list is
/// refused with HTTP 403, as RBAC refuses them to a user allowed only `/metrics`.
pub async fn start_replica_forbidding_apf(
    ip: &str,
    pki: &Pki,
    metrics: Bytes,
    endpoints: Arc<std::sync::Mutex<Vec<SocketAddr>>>,
) -> Replica {
    start(ip, pki, metrics, endpoints, Apf::Forbidden).await
}

/// What a replica answers on the APF routes.
#[derive(Clone, Copy, PartialEq)]
enum Apf {
    /// Only a one-line `dump_priority_levels`; everything else 404.
    None,
    /// The real dumps of the shared fixtures and [`FLOW_SCHEMAS`].
    Fixtures,
    /// HTTP 403 on every dump and flowcontrol list.
    Forbidden,
}

/// Two replicas with the APF routes, on 127.0.0.1 and 127.0.0.2, serving `metrics` and listed
/// by the `kubernetes` EndpointSlices, and a kubeconfig for them written in `dir`.
pub async fn two_replicas_with_apf(metrics: Bytes, dir: &Path) -> (Vec<Replica>, PathBuf) {
    let pki = pki();
    let endpoints = Arc::new(std::sync::Mutex::new(Vec::new()));
    let a =
        start_replica_with_apf("127.0.0.1", &pki, metrics.clone(), Arc::clone(&endpoints)).await;
    let b = start_replica_with_apf("127.0.0.2", &pki, metrics, Arc::clone(&endpoints)).await;
    *endpoints.lock().unwrap() = vec![a.addr, b.addr];
    let server = format!("https://localhost:{}", a.addr.port());
    let kubeconfig = kubeconfig(dir, &server, &pki.ca_pem, TOKEN);
    (vec![a, b], kubeconfig)
}

/// The cluster's own FlowSchemas served by [`start_replica_with_apf`]: one that jails a
/// service account in catch-all.
pub const FLOW_SCHEMAS: &str = r#"{"kind":"FlowSchemaList","apiVersion":"flowcontrol.apiserver.k8s.io/v1","metadata":{},"items":[{"metadata":{"name":"jail-noisy"},"spec":{"priorityLevelConfiguration":{"name":"catch-all"},"matchingPrecedence":500,"distinguisherMethod":{"type":"ByUser"},"rules":[{"subjects":[{"kind":"ServiceAccount","serviceAccount":{"namespace":"x","name":"noisy"}}],"resourceRules":[{"verbs":["*"],"apiGroups":["*"],"resources":["*"],"clusterScope":true,"namespaces":["*"]}]}]}}]}"#;

/// A real APF dump of the shared fixtures.
fn apf_fixture(name: &str) -> Bytes {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../../../shared/fixtures/real/apf/k8s-website-apf-debug-{name}-2023.csv"
    ));
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

async fn start(
    ip: &str,
    pki: &Pki,
    metrics: Bytes,
    endpoints: Arc<std::sync::Mutex<Vec<SocketAddr>>>,
    apf: Apf,
) -> Replica {
    let certs: Vec<_> = rustls_pemfile_certs(&pki.cert_pem);
    use rustls::pki_types::pem::PemObject;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics_requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&metrics_requests);
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let metrics = metrics.clone();
            let endpoints = Arc::clone(&endpoints);
            let counter = Arc::clone(&counter);
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |req: Request<Incoming>| {
                    let metrics = metrics.clone();
                    let endpoints = Arc::clone(&endpoints);
                    let counter = Arc::clone(&counter);
                    log.lock().unwrap().push(format!(
                        "{} {}",
                        req.method(),
                        req.uri().path_and_query().map_or("", |p| p.as_str())
                    ));
                    async move {
                        let answered = match apf {
                            Apf::None => None,
                            Apf::Fixtures => answer_apf(&req),
                            Apf::Forbidden => forbid_apf(&req),
                        };
                        if let Some(res) = answered {
                            return Ok::<_, Infallible>(res);
                        }
                        Ok::<_, Infallible>(answer(req, &metrics, &endpoints, &counter))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Replica {
        addr,
        metrics_requests,
        requests,
    }
}

fn rustls_pemfile_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(Result::unwrap)
        .collect()
}

fn answer(
    req: Request<Incoming>,
    metrics: &Bytes,
    endpoints: &std::sync::Mutex<Vec<SocketAddr>>,
    counter: &AtomicUsize,
) -> Response<Full<Bytes>> {
    if !authorized(&req) {
        return json(
            StatusCode::UNAUTHORIZED,
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#.to_owned(),
        );
    }
    let path = req.uri().path();
    match path {
        "/metrics" => {
            counter.fetch_add(1, Ordering::SeqCst);
            Response::builder()
                .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                .body(Full::new(metrics.clone()))
                .unwrap()
        }
        "/version" => json(
            StatusCode::OK,
            r#"{"major":"1","minor":"34","gitVersion":"v1.34.0","platform":"linux/arm64"}"#.to_owned(),
        ),
        "/debug/api_priority_and_fairness/dump_priority_levels" => Response::builder()
            .body(Full::new(Bytes::from_static(
                b"PriorityLevelName, ActiveQueues, IsIdle, IsQuiescing, WaitingRequests, ExecutingRequests, DispatchedRequests, RejectedRequests, TimedoutRequests, CancelledRequests\nexempt,0,true,false,0,0,12,0,0,0\n",
            )))
            .unwrap(),
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices" => {
            let eps = endpoints.lock().unwrap().clone();
            let items: Vec<String> = eps
                .iter()
                .map(|a| format!(r#"{{"addresses":["{}"],"conditions":{{"ready":true}}}}"#, a.ip()))
                .collect();
            // Every replica listens on its own port in tests; real replicas share one, so each
            // endpoint gets its own slice here.
            let slices: Vec<String> = eps
                .iter()
                .zip(&items)
                .map(|(a, item)| {
                    format!(
                        r#"{{"addressType":"IPv4","endpoints":[{item}],"ports":[{{"name":"https","port":{},"protocol":"TCP"}}]}}"#,
                        a.port()
                    )
                })
                .collect();
            json(
                StatusCode::OK,
                format!(
                    r#"{{"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1","items":[{}]}}"#,
                    slices.join(",")
                ),
            )
        }
        _ => json(
            StatusCode::NOT_FOUND,
            r#"{"kind":"Status","status":"Failure","message":"the server could not find the requested resource","code":404}"#.to_owned(),
        ),
    }
}

/// Whether `req` carries [`TOKEN`].
fn authorized(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"))
}

/// The APF routes of [`start_replica_with_apf`], for an authorised request.
fn answer_apf(req: &Request<Incoming>) -> Option<Response<Full<Bytes>>> {
    if !authorized(req) {
        return None;
    }
    let text = |body: Bytes| Response::builder().body(Full::new(body)).unwrap();
    Some(match req.uri().path() {
        "/debug/api_priority_and_fairness/dump_priority_levels" => text(apf_fixture("dump_priority_levels")),
        "/debug/api_priority_and_fairness/dump_queues" => text(apf_fixture("dump_queues")),
        "/debug/api_priority_and_fairness/dump_requests" => text(apf_fixture("dump_requests-includeRequestDetails")),
        "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas" => json(StatusCode::OK, FLOW_SCHEMAS.to_owned()),
        "/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations" => json(
            StatusCode::OK,
            r#"{"kind":"PriorityLevelConfigurationList","apiVersion":"flowcontrol.apiserver.k8s.io/v1","metadata":{},"items":[]}"#.to_owned(),
        ),
        _ => return None,
    })
}

/// HTTP 403 with the API server's own Status body for the APF routes of an authorised request.
fn forbid_apf(req: &Request<Incoming>) -> Option<Response<Full<Bytes>>> {
    let path = req.uri().path();
    if !authorized(req)
        || !(path.starts_with("/debug/api_priority_and_fairness/")
            || path.starts_with("/apis/flowcontrol.apiserver.k8s.io/"))
    {
        return None;
    }
    Some(json(
        StatusCode::FORBIDDEN,
        format!(
            r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"forbidden: User \"system:serviceaccount:monitoring:apilens\" cannot get path \"{path}\"","reason":"Forbidden","details":{{}},"code":403}}"#
        ),
    ))
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// Writes a kubeconfig for `server` (a URL) trusting the CA, with `token`.
pub fn kubeconfig(dir: &Path, server: &str, ca_pem: &str, token: &str) -> PathBuf {
    use std::io::Write;
    let ca_path = dir.join("ca.crt");
    std::fs::write(&ca_path, ca_pem).unwrap();
    let path = dir.join("kubeconfig");
    let mut f = std::fs::File::create(&path).unwrap();
    write!(
        f,
        "apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test
  cluster:
    server: {server}
    certificate-authority: {ca}
contexts:
- name: test
  context:
    cluster: test
    user: tester
users:
- name: tester
  user:
    token: {token}
",
        ca = ca_path.display()
    )
    .unwrap();
    path
}
