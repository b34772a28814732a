//! `--what-if FIX.yaml`: the audit window replayed through the APF model twice, under today's
//! configuration and with the fix applied (`ApfConfig::with_objects`), and what changes for the
//! clients the fix moves and for everyone else.
//!
//! Each request is classified under both configurations and its seats estimated for the level
//! it lands in under each (a level's per-request seat cap depends on its size). The clients
//! "moved" are those with any request whose FlowSchema changes.

use crate::analysis::count;
use crate::diagnose::{DoctorInputs, Setup, format_us};
use crate::error::DoctorError;
use crate::harm;
use crate::ledger::records::Record;
use crate::ledger::{Context, LedgerResult};
use apilens_apf::{ReplayOpts, ReplayRequest, TagOutcome, load_objects, replay};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Figures of one group of clients in one replay.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outcome {
    /// Requests replayed.
    pub requests: u64,
    /// Predicted 429s.
    pub rejected: u64,
    /// Predicted queue wait, p99, seconds.
    pub wait_p99_s: f64,
    /// Predicted queue wait, total, seconds.
    pub wait_total_s: f64,
    /// Seat-seconds used.
    pub seat_seconds: f64,
}

impl From<&TagOutcome> for Outcome {
    fn from(t: &TagOutcome) -> Outcome {
        Outcome {
            requests: t.requests,
            rejected: t.rejected,
            wait_p99_s: t.wait_s_p99,
            wait_total_s: t.wait_s_sum,
            seat_seconds: t.seat_seconds,
        }
    }
}

/// The what-if comparison.
#[derive(Debug, Clone, Serialize)]
pub struct WhatIf {
    /// The fix file.
    pub fix: String,
    /// Objects it adds or replaces.
    pub objects: Vec<String>,
    /// Clients with requests that change FlowSchema under the fix (user agent and user).
    pub moved_clients: Vec<String>,
    /// Requests that change FlowSchema.
    pub moved_requests: u64,
    /// The replayed window, RFC 3339.
    pub window: (String, String),
    /// The moved clients today and with the fix.
    pub culprit_before: Outcome,
    /// The moved clients with the fix.
    pub culprit_after: Outcome,
    /// Everyone else today.
    pub others_before: Outcome,
    /// Everyone else with the fix.
    pub others_after: Outcome,
    /// Notes (objects skipped in the file, approximations).
    pub notes: Vec<String>,
}

/// Tag of the moved clients in the replay.
const MOVED: u32 = 1;
/// Tag of everyone else.
const OTHERS: u32 = 0;

/// Replays the audit window with and without the objects of `fix_text` (YAML or JSON APF
/// objects, read from `fix_source`).
///
/// # Errors
///
/// [`DoctorError::Apf`] when the file holds no APF object, [`DoctorError::WhatIfWithoutAudit`]
/// without an audit log, [`DoctorError::Audit`] when the audit log cannot be read.
pub fn what_if(
    inputs: &DoctorInputs,
    fix_text: &str,
    fix_source: &str,
) -> Result<WhatIf, DoctorError> {
    if inputs.audit.is_empty() {
        return Err(DoctorError::WhatIfWithoutAudit);
    }
    let (schemas, levels, loaded_notes) = load_objects(fix_text, fix_source)?;
    let setup = Setup::new(inputs);
    let fixed = setup.config.with_objects(&schemas, &levels);
    let workers = inputs.scan.threads.max(1);
    let ctx_today = Context::new(&setup.config, setup.version, workers);
    let ctx_fixed = Context::new(&fixed, setup.version, workers);
    let today = setup
        .scan(inputs, &ctx_today)?
        .expect("an audit log was given");
    let with_fix = setup
        .scan(inputs, &ctx_fixed)?
        .expect("an audit log was given");
    // Which clients move: those with requests whose schema name differs. Requests are matched
    // by client key, call key and time (the two scans read the same requests).
    let moved = moved_clients(&today, &with_fix);
    let mut sorted_today: Vec<&Record> = today.records.rows.iter().collect();
    today.sort_for_replay(&mut sorted_today);
    let mut sorted_fixed: Vec<&Record> = with_fix.records.rows.iter().collect();
    with_fix.sort_for_replay(&mut sorted_fixed);
    let window = harm::pick_window(&today, &sorted_today).ok_or(DoctorError::WhatIfWithoutAudit)?;
    let replay_opts = ReplayOpts {
        replicas: setup.replicas.max(1),
        server_concurrency_limit: setup.server_cl,
        queue_wait_limit_s: apilens_apf::queue_wait_limit_for(
            setup.version,
            apilens_apf::DEFAULT_REQUEST_TIMEOUT_S,
        ),
    };
    let group = |l: &LedgerResult<'_>, reqs: Vec<ReplayRequest>| -> Vec<ReplayRequest> {
        reqs.into_iter()
            .map(|mut r| {
                r.tag = if moved.1.contains(&l.clients[r.tag as usize].key) {
                    MOVED
                } else {
                    OTHERS
                };
                r
            })
            .collect()
    };
    let before = replay(
        &setup.config,
        setup.version,
        &group(
            &today,
            harm::requests(
                &today,
                &sorted_today,
                window,
                setup.replicas,
                &harm::all_levels(&today),
                None,
            ),
        ),
        &replay_opts,
    );
    let after = replay(
        &fixed,
        setup.version,
        &group(
            &with_fix,
            harm::requests(
                &with_fix,
                &sorted_fixed,
                window,
                setup.replicas,
                &harm::all_levels(&with_fix),
                None,
            ),
        ),
        &replay_opts,
    );
    let pick = |o: &apilens_apf::ReplayOutcome, tag: u32| {
        o.tags.get(&tag).map(Outcome::from).unwrap_or_default()
    };
    let mut notes: Vec<String> = loaded_notes
        .iter()
        .map(|n| format!("{}: {}", n.object, n.message))
        .collect();
    if moved.0 == 0 {
        notes.push("no request of the window changes FlowSchema with this fix: check its subjects and rules".to_owned());
    }
    Ok(WhatIf {
        fix: fix_source.to_owned(),
        objects: levels
            .iter()
            .map(|l| format!("PriorityLevelConfiguration {}", l.name))
            .chain(schemas.iter().map(|s| {
                format!(
                    "FlowSchema {} (precedence {})",
                    s.name, s.matching_precedence
                )
            }))
            .collect(),
        moved_clients: moved
            .1
            .iter()
            .map(|k| k.replace(crate::identity::KEY_SEP, " | "))
            .collect(),
        moved_requests: moved.0,
        window: (format_us(window.start_us), format_us(window.end_us)),
        culprit_before: pick(&before, MOVED),
        culprit_after: pick(&after, MOVED),
        others_before: pick(&before, OTHERS),
        others_after: pick(&after, OTHERS),
        notes,
    })
}

/// Requests that change schema, and the keys of their clients.
fn moved_clients(today: &LedgerResult<'_>, fixed: &LedgerResult<'_>) -> (u64, BTreeSet<String>) {
    // Per (client key, call key without classification), requests per schema name.
    let per = |l: &LedgerResult<'_>| -> BTreeMap<(String, String), BTreeMap<String, u64>> {
        let mut m: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
        for c in &l.calls {
            let shape = c
                .key
                .rsplitn(3, crate::identity::KEY_SEP)
                .nth(2)
                .unwrap_or(&c.key)
                .to_owned();
            let client = l.clients[c.client as usize].key.clone();
            *m.entry((client, shape))
                .or_default()
                .entry(l.schema_name(c).to_owned())
                .or_default() += c.count;
        }
        m
    };
    let a = per(today);
    let b = per(fixed);
    let mut moved = 0;
    let mut clients = BTreeSet::new();
    for (key, schemas_after) in &b {
        let before = a.get(key);
        for (schema, n) in schemas_after {
            let had = before.and_then(|m| m.get(schema)).copied().unwrap_or(0);
            if *n > had {
                moved += n - had;
                clients.insert(key.0.clone());
            }
        }
    }
    (moved, clients)
}

/// The what-if comparison as text.
pub fn render_what_if(w: &WhatIf) -> String {
    let mut out = format!(
        "apilens doctor --what-if {}: {}\nreplayed {} to {}; {} requests of {} change FlowSchema\n\n",
        w.fix,
        w.objects.join(", "),
        w.window.0,
        w.window.1,
        count(w.moved_requests as f64),
        if w.moved_clients.is_empty() {
            "no client".to_owned()
        } else {
            w.moved_clients.join(", ")
        }
    );
    out.push_str(&format!(
        "{:<22} {:>12} {:>12} {:>14} {:>14} {:>14}\n",
        "", "requests", "429s", "wait p99", "wait total", "seat-s"
    ));
    let row = |name: &str, o: &Outcome| {
        format!(
            "{:<22} {:>12} {:>12} {:>14} {:>14} {:>14}\n",
            name,
            count(o.requests as f64),
            count(o.rejected as f64),
            crate::render::seconds(o.wait_p99_s),
            crate::render::seconds(o.wait_total_s),
            count(o.seat_seconds)
        )
    };
    out.push_str(&row("moved, today", &w.culprit_before));
    out.push_str(&row("moved, with the fix", &w.culprit_after));
    out.push_str(&row("others, today", &w.others_before));
    out.push_str(&row("others, with the fix", &w.others_after));
    for n in &w.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}
