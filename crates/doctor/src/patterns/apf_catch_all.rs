//! `apf-jail-in-catch-all`: a FlowSchema of the cluster's own that sends a client to
//! `catch-all`, as many guides suggest for "jailing" a noisy client. catch-all is the shared
//! fallback of every request no schema matches, has few seats (13 of 600 by default) and rejects
//! at once when full: the jailed client starves the unmatched traffic, and is itself rejected
//! without queuing.
//!
//! Severity: critical when catch-all rejected requests (metrics, dumps or the audit log's 429s
//! in catch-all), warning otherwise.

use super::Candidate;
use crate::analysis::{Analysis, count};
use crate::finding::{Evidence, Kind, Severity};
use crate::metrics::panel;

/// The name of the fallback level and schema.
const CATCH_ALL: &str = "catch-all";

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    if !a.config_is_clusters {
        return Vec::new();
    }
    let mut out = Vec::new();
    for schema in a.config.schemas() {
        if schema.priority_level != CATCH_ALL
            || schema.name == CATCH_ALL
            || a.defaults.schema(&schema.name).is_some()
        {
            continue;
        }
        // Traffic that took this schema, from the audit log.
        let mut calls = Vec::new();
        let mut rejected = 0;
        let mut requests = 0;
        if let Some(l) = a.ledger {
            for (i, c) in l.calls.iter().enumerate() {
                if l.schema_name(c) == schema.name {
                    calls.push(i);
                    rejected += c.rejected;
                    requests += c.count;
                }
            }
        }
        let metrics_rejects = a
            .facts
            .and_then(|f| f.rejections.get(CATCH_ALL))
            .is_some_and(|v| v.peak > 0.0);
        let dump_rejects = a.dumps.iter().any(|d| {
            d.level_pressure()
                .iter()
                .any(|(name, _, rejected, _)| name == CATCH_ALL && *rejected > 0)
        });
        let severity = if rejected > 0 || metrics_rejects || dump_rejects {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let client = calls.first().and_then(|&i| {
            let l = a.ledger?;
            let c = l.calls[i].client;
            (c != crate::ledger::clients::OTHER).then_some(c)
        });
        let title = format!(
            "FlowSchema {} jails its clients in catch-all, the shared fallback level with no queues",
            schema.name
        );
        let mut c = match client {
            Some(client) => {
                Candidate::client(Kind::ApfJailInCatchAll, client, calls.clone(), title)
            }
            None => {
                let mut c = Candidate::server(Kind::ApfJailInCatchAll, title, severity);
                c.apf_fix = false;
                c
            }
        };
        c.severity = Some(severity);
        c.figure(
            "catch_all_requests",
            requests as f64,
            "requests",
            format!(
                "{} requests took FlowSchema {} (precedence {}) into catch-all; {} were rejected",
                count(requests as f64),
                schema.name,
                schema.matching_precedence,
                count(rejected as f64)
            ),
        );
        if metrics_rejects {
            c.evidence.push(Evidence::Panels {
                ids: vec![panel::REJECTIONS.to_owned()],
                text: "catch-all rejected requests in the metrics".to_owned(),
            });
        }
        c.advice.push(format!(
            "give the client its own limited level (the YAML below) instead of catch-all, and delete FlowSchema {}: catch-all must stay free for requests nothing else matches",
            schema.name
        ));
        out.push(c);
    }
    out
}
