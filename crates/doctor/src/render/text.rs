//! The terminal form: the verdict first, then each finding (who, cost, evidence, fix) in
//! 100 columns, then what was read.

use super::{evidence_line, wrap};
use crate::analysis::count;
use crate::diagnose::Diagnosis;
use crate::finding::{Evidence, Finding, Severity};

/// The width the text reads at.
const WIDTH: usize = 100;

/// Renders the diagnosis for a terminal. With `yaml`, each fix's YAML follows its finding.
/// Control characters in names from the log are shown escaped.
pub fn render_text(d: &Diagnosis, yaml: bool) -> String {
    super::escape_controls(&render_text_raw(d, yaml), true)
}

fn render_text_raw(d: &Diagnosis, yaml: bool) -> String {
    let mut out = String::new();
    out.push_str(&wrap(
        &format!("apilens doctor: {}", d.verdict),
        WIDTH,
        "",
        "  ",
    ));
    out.push_str(&wrap(&header(d), WIDTH, "", "  "));
    if d.findings.is_empty() {
        out.push_str(
            "\nno findings: no client costs enough to matter and no server-side cause shows\n",
        );
    }
    for (i, f) in d.findings.iter().enumerate() {
        out.push('\n');
        finding(&mut out, i + 1, f, yaml);
    }
    inputs(&mut out, d);
    out
}

fn header(d: &Diagnosis) -> String {
    let i = &d.inputs;
    let mut parts = Vec::new();
    if let Some(a) = &i.audit {
        parts.push(format!(
            "{} requests {} to {}",
            count(a.requests as f64),
            a.start.as_deref().unwrap_or("?"),
            a.end.as_deref().unwrap_or("?")
        ));
    }
    parts.push(format!("Kubernetes {}", i.kubernetes_version));
    parts.push(format!("APF: {}", i.apf_config));
    parts.push(format!(
        "{} API server{}",
        i.replicas,
        if i.replicas == 1 { "" } else { "s" }
    ));
    let counts = [Severity::Critical, Severity::Warning, Severity::Info]
        .iter()
        .map(|s| {
            let n = d.findings.iter().filter(|f| f.severity == *s).count();
            format!("{n} {}", s.label().to_lowercase())
        })
        .collect::<Vec<_>>()
        .join(", ");
    parts.push(counts);
    parts.join(" · ")
}

fn finding(out: &mut String, n: usize, f: &Finding, yaml: bool) {
    let mark = match f.severity {
        Severity::Critical => "!!",
        Severity::Warning => "! ",
        Severity::Info => "  ",
    };
    out.push_str(&wrap(
        &format!("{} [{}] {}", f.severity.label(), f.kind.slug(), f.title),
        WIDTH,
        &format!("{mark}{n}. "),
        "      ",
    ));
    if let Some(c) = &f.culprit {
        let mut who = format!("{} · {}", c.user, c.user_agent);
        who.push_str(&format!(
            " · {}{} source IP{}",
            if c.counts_estimated { "~" } else { "" },
            count(c.source_ips as f64),
            if c.source_ips == 1 { "" } else { "s" }
        ));
        if let Some(p) = c.pods {
            who.push_str(&format!(", {} pods", count(p as f64)));
        }
        if let Some(nodes) = c.nodes {
            who.push_str(&format!(", {} nodes", count(nodes as f64)));
        }
        out.push_str(&wrap(&who, WIDTH, "    who:  ", "          "));
        out.push_str(&wrap(
            &format!(
                "{} {} · FlowSchema {} -> priority level {}",
                c.verb, c.resource, c.flow_schema, c.priority_level
            ),
            WIDTH,
            "          ",
            "          ",
        ));
    }
    let mut first = true;
    for e in &f.evidence {
        if matches!(e, Evidence::Examples { .. }) {
            continue;
        }
        let label = if first {
            "    why:  - "
        } else {
            "          - "
        };
        first = false;
        out.push_str(&wrap(&evidence_line(e), WIDTH, label, "            "));
    }
    for e in &f.evidence {
        if let Evidence::Examples { uris } = e {
            for (i, u) in uris.iter().enumerate() {
                let label = if i == 0 { "    e.g.  " } else { "          " };
                out.push_str(&format!("{label}{}\n", cut(u, WIDTH - label.len())));
            }
        }
    }
    for (i, a) in f.fix.advice.iter().enumerate() {
        let label = if i == 0 {
            "    fix:  - "
        } else {
            "          - "
        };
        out.push_str(&wrap(a, WIDTH, label, "            "));
    }
    if !f.fix.yaml.is_empty() {
        if yaml {
            out.push_str("    ---8<--- FlowSchema + PriorityLevelConfiguration\n");
            for line in f.fix.yaml.lines() {
                out.push_str("    ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str("    --->8---\n");
        } else {
            out.push_str(
                "          (the FlowSchema and PriorityLevelConfiguration: --format markdown or json)\n",
            );
        }
    }
}

fn inputs(out: &mut String, d: &Diagnosis) {
    let i = &d.inputs;
    out.push_str("\ninputs:\n");
    if let Some(a) = &i.audit {
        out.push_str(&wrap(
            &format!(
                "audit log: {} ({} requests{})",
                a.files.join(", "),
                count(a.requests as f64),
                if a.malformed > 0 {
                    format!(", {} malformed lines", count(a.malformed as f64))
                } else {
                    String::new()
                }
            ),
            WIDTH,
            "  ",
            "    ",
        ));
        for m in &a.malformed_examples {
            out.push_str(&wrap(m, WIDTH, "    ", "      "));
        }
        for e in &a.read_errors {
            out.push_str(&wrap(e, WIDTH, "    read error: ", "      "));
        }
        for x in &a.approximations {
            out.push_str(&wrap(x, WIDTH, "    ~ ", "      "));
        }
    }
    if let Some(m) = &i.metrics {
        out.push_str(&wrap(&format!("metrics: {m}"), WIDTH, "  ", "    "));
    }
    out.push_str(&wrap(
        &format!(
            "Kubernetes {} ({}); APF configuration: {}; {} replica(s) ({}), {} seats each",
            i.kubernetes_version,
            i.version_from,
            i.apf_config,
            i.replicas,
            i.replicas_from,
            i.server_concurrency_limit
        ),
        WIDTH,
        "  ",
        "    ",
    ));
    for n in &i.notes {
        out.push_str(&wrap(n, WIDTH, "  note: ", "    "));
    }
    for m in &i.missing {
        out.push_str(&wrap(
            &format!("{} would add {}", m.input, m.would_add),
            WIDTH,
            "  missing: ",
            "    ",
        ));
    }
}

fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
