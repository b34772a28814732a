//! The Markdown form, for a ticket: every finding with its evidence, advice and YAML.

use super::evidence_line;
use crate::analysis::count;
use crate::diagnose::Diagnosis;
use crate::finding::Evidence;

/// Renders the diagnosis as Markdown.
/// Control characters in names from the log are shown escaped.
pub fn render_markdown(d: &Diagnosis) -> String {
    super::escape_controls(&render_markdown_raw(d), true)
}

fn render_markdown_raw(d: &Diagnosis) -> String {
    let mut out = format!("# apilens doctor\n\n**{}**\n\n", d.verdict);
    let i = &d.inputs;
    if let Some(a) = &i.audit {
        out.push_str(&format!(
            "Audit log: {} requests, {} to {} ({}).  \n",
            count(a.requests as f64),
            a.start.as_deref().unwrap_or("?"),
            a.end.as_deref().unwrap_or("?"),
            a.files.join(", ")
        ));
    }
    out.push_str(&format!(
        "Kubernetes {} ({}), APF configuration: {}, {} API server(s).\n\n",
        i.kubernetes_version, i.version_from, i.apf_config, i.replicas
    ));
    if d.findings.is_empty() {
        out.push_str("No findings.\n\n");
    }
    for (n, f) in d.findings.iter().enumerate() {
        out.push_str(&format!(
            "## {}. {} `{}`: {}\n\n",
            n + 1,
            f.severity.label(),
            f.kind.slug(),
            f.title
        ));
        if let Some(c) = &f.culprit {
            out.push_str("| | |\n|---|---|\n");
            let mut rows = vec![
                ("user", c.user.clone()),
                ("user agent", c.user_agent.clone()),
                ("verbs", c.verb.clone()),
                ("resources", c.resource.clone()),
                ("source IPs", count(c.source_ips as f64)),
            ];
            if let Some(p) = c.pods {
                rows.push(("pods", count(p as f64)));
            }
            if let Some(nodes) = c.nodes {
                rows.push(("nodes", count(nodes as f64)));
            }
            rows.push(("FlowSchema today", c.flow_schema.clone()));
            rows.push(("priority level today", c.priority_level.clone()));
            for (k, v) in rows {
                out.push_str(&format!("| {k} | `{}` |\n", v.replace('|', "\\|")));
            }
            out.push('\n');
        }
        out.push_str("**Evidence**\n\n");
        for e in &f.evidence {
            match e {
                Evidence::Examples { uris } => {
                    for u in uris {
                        out.push_str(&format!("- `{u}`\n"));
                    }
                }
                other => out.push_str(&format!("- {}\n", evidence_line(other))),
            }
        }
        out.push_str("\n**Fix**\n\n");
        for a in &f.fix.advice {
            out.push_str(&format!("- {a}\n"));
        }
        if !f.fix.yaml.is_empty() {
            out.push_str("\n```yaml\n");
            out.push_str(&f.fix.yaml);
            if !f.fix.yaml.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("```\n");
        }
        out.push('\n');
    }
    out.push_str("## Inputs\n\n");
    if let Some(a) = &i.audit {
        for x in &a.approximations {
            out.push_str(&format!("- {x}\n"));
        }
    }
    for n in &i.notes {
        out.push_str(&format!("- note: {n}\n"));
    }
    for m in &i.missing {
        out.push_str(&format!(
            "- missing `{}`: would add {}\n",
            m.input, m.would_add
        ));
    }
    out
}
