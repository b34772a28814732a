//! `apf-dangling-flowschema`: a FlowSchema whose priority level does not exist. The server skips
//! it, so the requests it was written for fall through to later schemas (often to
//! `global-default`, `workload-low` or `catch-all`): whatever it meant to do, it does nothing.
//!
//! Severity: info. The schema costs nothing itself; what it failed to contain shows in the other
//! findings.

use super::Candidate;
use crate::analysis::Analysis;
use crate::finding::{Kind, Severity};

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let mut out = Vec::new();
    for schema in a.config.schemas() {
        if !a.config.is_dangling(&schema.name) {
            continue;
        }
        let note = a
            .config_notes
            .iter()
            .find(|n| n.object.contains(&schema.name))
            .map(|n| n.message.clone());
        let mut c = Candidate::server(
            Kind::ApfDanglingFlowschema,
            format!(
                "FlowSchema {} points at priority level {}, which does not exist: the server ignores it",
                schema.name, schema.priority_level
            ),
            Severity::Info,
        );
        c.note(note.unwrap_or_else(|| {
            format!(
                "no PriorityLevelConfiguration named {} in the configuration",
                schema.priority_level
            )
        }));
        c.advice.push(format!(
            "create PriorityLevelConfiguration {} or point the schema at an existing level; until then its requests take the next matching schema",
            schema.priority_level
        ));
        c.advice.push(format!(
            "or delete FlowSchema {} if nothing needs it",
            schema.name
        ));
        out.push(c);
    }
    out
}
