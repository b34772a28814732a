//! `paginated-relist`: `limit` + `continue` chains that etcd serves, repeated by the same copy
//! of a client. Paging keeps each response small, but every chain still reads the whole
//! collection from etcd; doing it again and again instead of watching is a relist loop.

use super::{Candidate, SortedRecords, client_name, examples, material};
use crate::analysis::{Analysis, count, rate, significant};
use crate::finding::{Evidence, Kind};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) fn detect(a: &Analysis<'_>, sorted: &SortedRecords<'_>) -> Vec<Candidate> {
    let Some(l) = a.ledger else { return Vec::new() };
    /// The calls of one chain: (first-page calls, continue calls).
    type Pages = (Vec<usize>, Vec<usize>);
    // (client, resource, limit) -> its pages
    let mut chains: BTreeMap<(u32, String, u64), Pages> = BTreeMap::new();
    for (i, c) in l.calls.iter().enumerate() {
        let (Some(limit), true) = (c.limit, c.verb == "list") else {
            continue;
        };
        if c.client == crate::ledger::clients::OTHER {
            continue;
        }
        let e = chains
            .entry((c.client, c.resource_key(), limit))
            .or_default();
        if c.continue_token {
            if !c.from_cache {
                e.1.push(i);
            }
        } else {
            e.0.push(i);
        }
    }
    // First pages per connection, to tell a relist (again and again) from one initial LIST.
    let mut first_by_conn: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for run in sorted.runs() {
        first_by_conn
            .entry(run[0].call as usize)
            .or_default()
            .push(run.len());
    }
    let span = a.span_s();
    let mut per_client: BTreeMap<u32, Candidate> = BTreeMap::new();
    for ((client, resource, limit), (first, next)) in chains {
        if next.is_empty() {
            continue;
        }
        let n_first: u64 = first.iter().map(|&i| l.calls[i].count).sum();
        let n_next: u64 = next.iter().map(|&i| l.calls[i].count).sum();
        if n_first == 0 {
            continue;
        }
        let runs: Vec<usize> = first
            .iter()
            .flat_map(|i| first_by_conn.get(i).cloned().unwrap_or_default())
            .collect();
        let sources = runs.len().max(1);
        let repeated = runs.iter().filter(|&&n| n >= 2).count();
        if repeated == 0 {
            continue;
        }
        let calls: Vec<usize> = first.iter().chain(&next).copied().collect();
        if !material(a, &calls) {
            continue;
        }
        let pages = 1.0 + n_next as f64 / n_first as f64;
        let c = per_client.entry(client).or_insert_with(|| {
            Candidate::client(
                Kind::PaginatedRelist,
                client,
                Vec::new(),
                format!(
                    "{} relists {resource} from etcd in pages of {limit}, {} chains ({})",
                    client_name(a, client),
                    count(n_first as f64),
                    rate(n_first as f64, span)
                ),
            )
        });
        c.calls.extend(&calls);
        c.figure(
            "chains",
            n_first as f64,
            "requests",
            format!(
                "{} LIST chains of {resource} of {} pages each (limit={limit}, continue from etcd); {} of {} sources listed more than once",
                count(n_first as f64),
                significant(pages),
                count(repeated as f64),
                count(sources as f64)
            ),
        );
        let unique: BTreeSet<usize> = calls.iter().copied().collect();
        c.evidence.push(Evidence::Examples {
            uris: examples(a, &unique.into_iter().collect::<Vec<_>>()),
        });
    }
    per_client
        .into_values()
        .map(|mut c| {
            c.advice.push(
                "after the first paginated LIST, WATCH from its resourceVersion (a client-go informer does this) instead of listing again".to_owned(),
            );
            c.advice.push(
                "when a full read is needed again, ask for resourceVersion=0 so the watch cache serves it (from 1.31 the cache also honours limit)".to_owned(),
            );
            c
        })
        .collect()
}
