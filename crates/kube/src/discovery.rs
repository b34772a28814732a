//! API server replicas from the `kubernetes` EndpointSlices or Endpoints.

use std::net::IpAddr;

use serde::Deserialize;

/// One API server replica as the `kubernetes` service lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// The IP address (or, in rare EndpointSlices of type FQDN, a host name).
    pub address: String,
    /// The HTTPS port.
    pub port: u16,
    /// Whether the endpoint is ready (absent conditions count as ready, as in Kubernetes).
    pub ready: bool,
}

impl Endpoint {
    /// `address:port`, with IPv6 addresses in brackets: the Prometheus `instance` label.
    pub fn instance(&self) -> String {
        match self.address.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]:{}", self.address, self.port),
            _ => format!("{}:{}", self.address, self.port),
        }
    }

    /// `https://address:port`.
    pub fn url(&self) -> String {
        format!("https://{}", self.instance())
    }
}

#[derive(Deserialize)]
struct SliceList {
    #[serde(default)]
    items: Vec<Slice>,
}

#[derive(Deserialize)]
struct Slice {
    #[serde(default)]
    endpoints: Vec<SliceEndpoint>,
    #[serde(default)]
    ports: Option<Vec<Port>>,
}

#[derive(Deserialize)]
struct SliceEndpoint {
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    conditions: Option<Conditions>,
}

#[derive(Deserialize)]
struct Conditions {
    ready: Option<bool>,
}

#[derive(Deserialize)]
struct Port {
    name: Option<String>,
    port: Option<u16>,
}

#[derive(Deserialize)]
struct EndpointsObject {
    #[serde(default)]
    subsets: Option<Vec<Subset>>,
}

#[derive(Deserialize)]
struct Subset {
    #[serde(default)]
    addresses: Option<Vec<Address>>,
    #[serde(default, rename = "notReadyAddresses")]
    not_ready_addresses: Option<Vec<Address>>,
    #[serde(default)]
    ports: Option<Vec<Port>>,
}

#[derive(Deserialize)]
struct Address {
    ip: String,
}

/// The port named `https`, else the only or first port, else 443.
fn pick_port(ports: Option<&[Port]>) -> u16 {
    let ports = ports.unwrap_or(&[]);
    ports
        .iter()
        .find(|p| p.name.as_deref() == Some("https"))
        .or_else(|| ports.first())
        .and_then(|p| p.port)
        .unwrap_or(443)
}

/// Reads the endpoints of an EndpointSliceList (`discovery.k8s.io/v1`), sorted and without
/// duplicates.
///
/// # Errors
///
/// When the JSON is not an EndpointSliceList.
pub fn parse_endpoint_slices(json: &[u8]) -> Result<Vec<Endpoint>, serde_json::Error> {
    let list: SliceList = serde_json::from_slice(json)?;
    let mut found = Vec::new();
    for slice in list.items {
        let port = pick_port(slice.ports.as_deref());
        for ep in slice.endpoints {
            let ready = ep.conditions.and_then(|c| c.ready).unwrap_or(true);
            for address in ep.addresses {
                found.push(Endpoint {
                    address,
                    port,
                    ready,
                });
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// Reads the addresses of an Endpoints object (`v1`), sorted and without duplicates.
///
/// # Errors
///
/// When the JSON is not an Endpoints object.
pub fn parse_endpoints(json: &[u8]) -> Result<Vec<Endpoint>, serde_json::Error> {
    let object: EndpointsObject = serde_json::from_slice(json)?;
    let mut found = Vec::new();
    for subset in object.subsets.unwrap_or_default() {
        let port = pick_port(subset.ports.as_deref());
        for (addresses, ready) in [
            (subset.addresses, true),
            (subset.not_ready_addresses, false),
        ] {
            for a in addresses.unwrap_or_default() {
                found.push(Endpoint {
                    address: a.ip,
                    port,
                    ready,
                });
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_pick_the_https_port_and_keep_readiness() {
        let json = br#"{"kind":"EndpointSliceList","items":[{"addressType":"IPv4",
            "endpoints":[{"addresses":["10.0.0.2"],"conditions":{"ready":true}},
                         {"addresses":["10.0.0.1"]},
                         {"addresses":["10.0.0.3"],"conditions":{"ready":false}}],
            "ports":[{"name":"https","port":6443,"protocol":"TCP"}]}]}"#;
        let found = parse_endpoint_slices(json).unwrap();
        let shown: Vec<_> = found.iter().map(|e| (e.instance(), e.ready)).collect();
        assert_eq!(
            shown,
            [
                ("10.0.0.1:6443".to_owned(), true),
                ("10.0.0.2:6443".to_owned(), true),
                ("10.0.0.3:6443".to_owned(), false)
            ]
        );
    }

    #[test]
    fn endpoints_and_ipv6_instances() {
        let json = br#"{"kind":"Endpoints","subsets":[{"addresses":[{"ip":"fd00::1"},{"ip":"192.168.49.2"}],
            "ports":[{"name":"https","port":8443}]}]}"#;
        let found = parse_endpoints(json).unwrap();
        let urls: Vec<_> = found.iter().map(Endpoint::url).collect();
        assert_eq!(
            urls,
            ["https://192.168.49.2:8443", "https://[fd00::1]:8443"]
        );
    }

    #[test]
    fn empty_and_wrong_shapes() {
        assert!(
            parse_endpoints(br#"{"kind":"Endpoints"}"#)
                .unwrap()
                .is_empty()
        );
        assert!(parse_endpoint_slices(b"[1,2]").is_err());
    }
}
