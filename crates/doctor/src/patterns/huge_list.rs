//! `huge-list-response`: LISTs whose single response holds hundreds of megabytes. The server
//! builds the whole response in memory before sending it (the classic API server OOM), however
//! it is served.
//!
//! The size is objects per LIST × average object size (the metrics' size estimate, else a
//! typical size for the resource, said so), or the metrics' LIST response size when larger.

use super::{Candidate, by_client, client_name, examples};
use crate::analysis::{Analysis, bytes, count};
use crate::finding::{Evidence, Kind};
use crate::metrics::panel;

/// Bytes of one response that make a LIST huge.
pub(crate) const HUGE_BYTES: f64 = 100e6;

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let Some(l) = a.ledger else { return Vec::new() };
    let mut out = Vec::new();
    for (client, calls) in by_client(a, |c| c.verb == "list" && c.ran > 0) {
        let mut huge = Vec::new();
        let mut biggest = 0.0f64;
        for i in calls {
            let c = &l.calls[i];
            let Some(objects) = l.costs[i].objects else {
                continue;
            };
            let size = objects * crate::ledger::result::object_bytes(&l.sizes, c);
            if size >= HUGE_BYTES {
                biggest = biggest.max(size);
                huge.push(i);
            }
        }
        if huge.is_empty() {
            continue;
        }
        let lists: u64 = huge.iter().map(|&i| l.calls[i].ran).sum();
        let resource = l.calls[huge[0]].resource_key();
        let mut c = Candidate::client(
            Kind::HugeListResponse,
            client,
            huge.clone(),
            format!(
                "{} receives LIST responses of ~{} ({resource})",
                client_name(a, client),
                bytes(biggest)
            ),
        );
        c.figure(
            "response_bytes",
            biggest,
            "bytes",
            format!(
                "each response holds ~{} (objects per LIST x average object size{}); {} such LISTs",
                bytes(biggest),
                if l.sizes.contains_key(&resource) {
                    ", size from the metrics"
                } else {
                    ", size typical for the resource"
                },
                count(lists as f64)
            ),
        );
        if let Some(f) = a.facts
            && f.versions.iter().any(|_| true)
        {
            c.evidence.push(Evidence::Panels {
                ids: vec![
                    panel::LIST_SIZES.to_owned(),
                    panel::OBJECT_COUNTS.to_owned(),
                ],
                text: "LIST response sizes and object counts by resource".to_owned(),
            });
        }
        c.evidence.push(Evidence::Examples {
            uris: examples(a, &huge),
        });
        c.advice.push(
            "page the LIST (limit=500 and continue) so no response holds the collection".to_owned(),
        );
        c.advice.push(
            "ask only for what is used: a fieldSelector or labelSelector, or metadata only (Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1)".to_owned(),
        );
        out.push(c);
    }
    out
}
