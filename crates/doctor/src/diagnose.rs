//! The doctor's pass: choose the version and configuration, scan the audit log into the cost
//! ledger, run the detectors, cost each candidate's harm, judge, write fixes, rank.

use crate::analysis::{Analysis, count};
use crate::dumps::ReplicaDumps;
use crate::error::DoctorError;
use crate::finding::{Culprit, Evidence, Finding, Fix, Harm, Kind, Severity, Window};
use crate::harm::{self, HarmModel, ReplaySetup};
use crate::inputs::{AuditSummary, ClientCost, InputsSummary, LevelShare, Missing};
use crate::ledger::result::ObjectFacts;
use crate::ledger::{Context, Ledger, LedgerResult};
use crate::metrics::MetricsFacts;
use crate::patterns::{self, Candidate, SortedRecords};
use crate::{fix, rank};
use apilens_apf::{
    ApfConfig, ApfError, ConfigNote, FlowSchema, KubeVersion, PriorityLevel, load_objects,
};
use apilens_audit::{Filter, Input, ScanOpts, scan};
use apilens_report::Report;
use serde::Serialize;
use std::collections::BTreeMap;

/// A cluster's APF objects (live, or from `--apf-config` files).
#[derive(Debug, Clone, Default)]
pub struct ApfObjects {
    /// Where they came from (`cluster prod`, `apf.yaml`).
    pub source: String,
    /// The FlowSchemas.
    pub schemas: Vec<FlowSchema>,
    /// The PriorityLevelConfigurations.
    pub levels: Vec<PriorityLevel>,
    /// Notes from reading them (skipped documents).
    pub notes: Vec<ConfigNote>,
    /// True when the objects add to the version's defaults, replacing those of the same name,
    /// as `--apf-config` files do (`apilens apf match` reads them so too); false when they are
    /// the cluster's whole configuration (a live listing).
    pub over_defaults: bool,
}

impl ApfObjects {
    /// A cluster's whole configuration from its `FlowSchemaList` and
    /// `PriorityLevelConfigurationList` bodies, read from `source` (`cluster prod (v1)`). An
    /// empty list is no error: the server re-adds its mandatory objects.
    ///
    /// # Errors
    ///
    /// [`ApfError`] naming `source` and the list when a body is not the list it should be.
    pub fn from_lists(
        source: String,
        flow_schemas: &[u8],
        priority_levels: &[u8],
    ) -> Result<Self, ApfError> {
        let load = |body: &[u8], what: &str| match load_objects(
            &String::from_utf8_lossy(body),
            &format!("{source} {what}"),
        ) {
            Err(ApfError::Empty { .. }) => Ok((Vec::new(), Vec::new(), Vec::new())),
            other => other,
        };
        let (schemas, _, mut notes) = load(flow_schemas, "flowschemas")?;
        let (_, levels, level_notes) = load(priority_levels, "prioritylevelconfigurations")?;
        notes.extend(level_notes);
        Ok(ApfObjects {
            source,
            schemas,
            levels,
            notes,
            over_defaults: false,
        })
    }
}

/// Everything the doctor may be given; any combination works, and an audit log alone is
/// enough.
#[derive(Debug, Clone, Default)]
pub struct DoctorInputs {
    /// Audit logs.
    pub audit: Vec<Input>,
    /// The time window and other filters on the audit log.
    pub filter: Filter,
    /// How to scan the audit log.
    pub scan: ScanOpts,
    /// The troubleshooter report over the same window (from a store or a remote engine).
    pub metrics: Option<Report>,
    /// Why the metrics are missing when they were asked for (an unreachable engine).
    pub metrics_error: Option<String>,
    /// The cluster's APF objects; the version's defaults without them.
    pub apf: Option<ApfObjects>,
    /// The debug dumps of each replica.
    pub dumps: Vec<ReplicaDumps>,
    /// The Kubernetes version, and what said so (`--kubernetes-version`, `/version`).
    pub version: Option<(KubeVersion, String)>,
    /// What could not be read of the inputs (a refused request to the cluster), for the output.
    pub notes: Vec<String>,
}

/// What the doctor concluded.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// Findings, most harmful first.
    pub findings: Vec<Finding>,
    /// What was read, and what each missing input would have added.
    pub inputs: InputsSummary,
    /// One line: the most harmful finding, or that nothing stands out.
    #[serde(skip)]
    pub verdict: String,
    /// The costliest clients of the audit log, by seat-seconds.
    #[serde(skip)]
    pub clients: Vec<ClientCost>,
}

impl Diagnosis {
    /// The worst severity, if any finding.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Runs the doctor.
///
/// # Errors
///
/// [`DoctorError::Audit`] when an audit input cannot be opened at all; everything else that
/// is wrong with an input is a note in [`Diagnosis::inputs`].
pub fn diagnose(inputs: &DoctorInputs) -> Result<Diagnosis, DoctorError> {
    let setup = Setup::new(inputs);
    let Setup {
        facts,
        version,
        version_from,
        defaults,
        config,
        config_notes,
        config_from,
        replicas,
        replicas_from,
        server_cl,
        capacity,
    } = &setup;
    let (version, replicas, server_cl) = (*version, *replicas, *server_cl);
    let ctx = Context::new(config, version, inputs.scan.threads.max(1));
    let ledger = setup.scan(inputs, &ctx)?;
    let a = Analysis {
        ledger: ledger.as_ref(),
        facts: facts.as_ref(),
        config,
        config_notes,
        config_is_clusters: inputs.apf.is_some(),
        defaults,
        version,
        capacity,
        replicas,
        dumps: &inputs.dumps,
    };
    let sorted = match &ledger {
        Some(l) => SortedRecords::new(&l.records.rows, &l.calls),
        None => SortedRecords::new(&[], &[]),
    };
    let candidates = merge_by_client(patterns::detect(&a, &sorted));
    drop(sorted);
    // Harm: the counterfactual replay of the heaviest candidate clients.
    let model = match &ledger {
        Some(l) => {
            let mut heavy: Vec<(u32, f64)> = candidates
                .iter()
                .filter_map(|c| {
                    let client = c.client?;
                    let own: f64 = c.calls.iter().map(|&i| l.costs[i].own_seat_seconds).sum();
                    Some((client, own))
                })
                .collect();
            heavy.sort_by(|x, y| y.1.total_cmp(&x.1));
            heavy.dedup_by_key(|x| x.0);
            let ids: Vec<u32> = heavy.iter().map(|x| x.0).collect();
            harm::model(
                l,
                &ReplaySetup {
                    config,
                    version,
                    replicas,
                    server_cl,
                },
                &ids,
            )
        }
        None => HarmModel::default(),
    };
    let mut findings: Vec<Finding> = candidates
        .into_iter()
        .map(|c| finding(&a, &model, c))
        .collect();
    rank::sort(&mut findings);
    let clients = ledger
        .as_ref()
        .map(|l| client_costs(l, config))
        .unwrap_or_default();
    let inputs_summary = summarise_inputs(
        inputs,
        &a,
        &model,
        (version, version_from.clone()),
        config_from.clone(),
        (replicas, replicas_from.clone()),
        server_cl,
    );
    let verdict = verdict(&findings);
    Ok(Diagnosis {
        findings,
        inputs: inputs_summary,
        verdict,
        clients,
    })
}

/// What every pass derives from the inputs before reading the audit log.
pub(crate) struct Setup {
    pub(crate) facts: Option<MetricsFacts>,
    pub(crate) version: KubeVersion,
    pub(crate) version_from: String,
    pub(crate) defaults: ApfConfig,
    pub(crate) config: ApfConfig,
    pub(crate) config_notes: Vec<ConfigNote>,
    pub(crate) config_from: String,
    pub(crate) replicas: u32,
    pub(crate) replicas_from: String,
    pub(crate) server_cl: u32,
    pub(crate) capacity: apilens_apf::Capacity,
}

impl Setup {
    /// The version, configuration, replicas and seat pool the inputs call for.
    pub(crate) fn new(inputs: &DoctorInputs) -> Setup {
        let facts = inputs.metrics.as_ref().map(MetricsFacts::from_report);
        let (version, version_from) = choose_version(inputs, facts.as_ref());
        let defaults = ApfConfig::defaults(version);
        let (config, config_notes, config_from) = match &inputs.apf {
            Some(objects) => {
                let (mut schemas, mut levels) = if objects.over_defaults {
                    (defaults.schemas().to_vec(), defaults.levels().to_vec())
                } else {
                    (Vec::new(), Vec::new())
                };
                for schema in &objects.schemas {
                    schemas.retain(|s| s.name != schema.name);
                    schemas.push(schema.clone());
                }
                for level in &objects.levels {
                    levels.retain(|l| l.name != level.name);
                    levels.push(level.clone());
                }
                let (config, mut notes) = ApfConfig::from_objects(version, schemas, levels);
                notes.extend(objects.notes.iter().cloned());
                (config, notes, objects.source.clone())
            }
            None => (
                defaults.clone(),
                Vec::new(),
                format!(
                    "the defaults of Kubernetes {}.{}",
                    version.major, version.minor
                ),
            ),
        };
        let (replicas, replicas_from) =
            match (facts.as_ref().and_then(|f| f.replicas), inputs.dumps.len()) {
                (Some(n), _) => (n, "the metrics".to_owned()),
                (None, n) if n > 0 => (n as u32, "the debug dumps".to_owned()),
                _ => (1, "assumed: no metrics or dumps say how many".to_owned()),
            };
        let server_cl = facts
            .as_ref()
            .and_then(|f| f.seat_pool)
            .and_then(|pool| infer_server_cl(&config, version, pool))
            .unwrap_or(apilens_apf::DEFAULT_SERVER_CONCURRENCY_LIMIT);
        let capacity = config.capacity(version, server_cl);
        Setup {
            facts,
            version,
            version_from,
            defaults,
            config,
            config_notes,
            config_from,
            replicas,
            replicas_from,
            server_cl,
            capacity,
        }
    }

    /// Scans the audit log (when given) into a ledger under `ctx`'s configuration.
    pub(crate) fn scan<'a>(
        &self,
        inputs: &DoctorInputs,
        ctx: &'a Context<'a>,
    ) -> Result<Option<LedgerResult<'a>>, DoctorError> {
        if inputs.audit.is_empty() {
            return Ok(None);
        }
        let objects = ObjectFacts {
            counts: self
                .facts
                .as_ref()
                .map(|f| f.objects.clone())
                .unwrap_or_default(),
            sizes: BTreeMap::new(),
        };
        let (ledger, summary) = scan(&inputs.audit, &inputs.filter, &inputs.scan, || {
            Ledger::new(ctx)
        })?;
        Ok(Some(LedgerResult::with_objects(ledger, &summary, &objects)))
    }
}

/// The cost ledger alone: every request of the audit log classified and costed in seats, per
/// client (heaviest first), without the pattern detectors or the replay.
///
/// # Errors
///
/// [`DoctorError::Audit`] when an input cannot be opened.
pub fn costs(inputs: &DoctorInputs) -> Result<Vec<ClientCost>, DoctorError> {
    let setup = Setup::new(inputs);
    let ctx = Context::new(&setup.config, setup.version, inputs.scan.threads.max(1));
    Ok(setup
        .scan(inputs, &ctx)?
        .map(|l| client_costs(&l, &setup.config))
        .unwrap_or_default())
}

/// The version: the flag, else the metrics' `kubernetes_build_info` (the newest of a mix),
/// else the newest `apilens-apf` knows.
fn choose_version(inputs: &DoctorInputs, facts: Option<&MetricsFacts>) -> (KubeVersion, String) {
    if let Some((v, from)) = &inputs.version {
        return (*v, from.clone());
    }
    if let Some(v) = facts
        .into_iter()
        .flat_map(|f| &f.versions)
        .filter_map(|v| KubeVersion::parse(v).ok())
        .max()
    {
        return (v, "kubernetes_build_info in the metrics".to_owned());
    }
    (
        apilens_apf::NEWEST,
        format!(
            "assumed: the newest version apilens knows ({}.{}); give --kubernetes-version for another",
            apilens_apf::NEWEST.major,
            apilens_apf::NEWEST.minor
        ),
    )
}

/// The server concurrency limit whose nominal seats add up to the seat pool the metrics show.
fn infer_server_cl(config: &ApfConfig, version: KubeVersion, pool: f64) -> Option<u32> {
    let pool = pool.round() as u32;
    let levels = config.levels().len() as u32;
    (pool.saturating_sub(levels + 1)..=pool).rev().find(|&s| {
        config
            .capacity(version, s)
            .levels
            .iter()
            .map(|l| l.nominal)
            .sum::<u32>()
            == pool
    })
}

/// One candidate per client: the preferred kind leads, the others' evidence and advice join.
fn merge_by_client(candidates: Vec<Candidate>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut by_client: BTreeMap<u32, usize> = BTreeMap::new();
    for c in candidates {
        let Some(client) = c.client else {
            out.push(c);
            continue;
        };
        match by_client.get(&client) {
            None => {
                by_client.insert(client, out.len());
                out.push(c);
            }
            Some(&i) => {
                let lead = &mut out[i];
                let (keep, other) =
                    if patterns::preference(c.kind) < patterns::preference(lead.kind) {
                        let old = std::mem::replace(lead, c);
                        (lead, old)
                    } else {
                        (lead, c)
                    };
                keep.note(format!("also {}: {}", other.kind.slug(), other.title));
                for call in other.calls {
                    if !keep.calls.contains(&call) {
                        keep.calls.push(call);
                    }
                }
                for e in other.evidence {
                    if !matches!(e, Evidence::Examples { .. }) && !keep.evidence.contains(&e) {
                        keep.evidence.push(e);
                    }
                }
                for adv in other.advice {
                    if !keep.advice.contains(&adv) {
                        keep.advice.push(adv);
                    }
                }
                keep.severity = keep.severity.max(other.severity);
                keep.apf_fix &= other.apf_fix || keep.apf_fix;
            }
        }
    }
    out
}

/// Turns a candidate into a finding: harm figures, severity, culprit, evidence, fix.
fn finding(a: &Analysis<'_>, model: &HarmModel, mut c: Candidate) -> Finding {
    let span = a.span_s();
    let mut harm = Harm::default();
    let mut culprit = None;
    let mut victim_growth = 0.0;
    if let (Some(l), Some(client)) = (a.ledger, c.client) {
        // The level the offending calls land in (most seat-seconds).
        let mut by_level: BTreeMap<u16, f64> = BTreeMap::new();
        for &i in &c.calls {
            *by_level.entry(l.calls[i].level).or_default() += l.costs[i].seat_seconds + 1e-9;
        }
        let level_idx = by_level
            .iter()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .map_or(0, |(k, _)| *k);
        let level = &l.levels[level_idx as usize];
        let client_level_seat_s: f64 = l
            .calls
            .iter()
            .zip(&l.costs)
            .filter(|(k, _)| k.client == client && k.level == level_idx)
            .map(|(_, cost)| cost.seat_seconds)
            .sum();
        harm.seat_seconds = c.calls.iter().map(|&i| l.costs[i].own_seat_seconds).sum();
        harm.level_share = if level.seat_seconds > 0.0 && !level.exempt {
            client_level_seat_s / level.seat_seconds
        } else {
            0.0
        };
        harm.etcd_ms = c.calls.iter().map(|&i| l.calls[i].etcd_ms).sum();
        harm.etcd_bytes = c.calls.iter().map(|&i| l.costs[i].etcd_bytes).sum();
        harm.watch_events_per_s = c
            .evidence
            .iter()
            .find_map(|e| match e {
                Evidence::Figure { name, value, .. } if name == "events_per_s" => Some(*value),
                _ => None,
            })
            .unwrap_or(0.0);
        let metrics_saturated = a.facts.is_some_and(|f| f.level_saturated(&level.name, 1.0));
        harm.level_saturated = metrics_saturated || harm::replay_saturated(model, &level.name);
        if let Some(h) = model.per_client.get(&client) {
            harm.others_429 = h.others_429;
            harm.others_wait_s = h.others_wait_s;
            if let Some((v, _, _, before, after)) = h.victim {
                victim_growth = before - after;
                let _ = v;
            }
        }
        culprit = Some(culprit_of(l, client, &c.calls));
        // Evidence: the cost.
        c.evidence.insert(
            0,
            Evidence::Figure {
                name: "seat_seconds".to_owned(),
                value: harm.seat_seconds,
                unit: "seat-s".to_owned(),
                text: format!(
                    "{} seat-seconds ({} seats busy on average), {:.0}% of {}'s seat-seconds{}",
                    count(harm.seat_seconds),
                    crate::analysis::significant(harm.seat_seconds / span),
                    100.0 * harm.level_share,
                    level.name,
                    if level.exempt {
                        " (exempt: never limited)"
                    } else {
                        ""
                    }
                ),
            },
        );
        if harm.etcd_ms > 0.0 {
            c.figure(
                "etcd_ms",
                harm.etcd_ms,
                "ms",
                format!(
                    "{} spent in etcd by requests slow enough to be annotated (over 500 ms)",
                    crate::render::seconds(harm.etcd_ms / 1e3)
                ),
            );
        }
        let rejected: u64 = c.calls.iter().map(|&i| l.calls[i].rejected).sum();
        let wait: f64 = c.calls.iter().map(|&i| l.calls[i].wait_s).sum();
        if rejected > 0 || wait > 0.0 {
            c.figure(
                "received_429",
                rejected as f64,
                "requests",
                format!(
                    "it received {} 429s itself and waited {} in APF queues (annotated requests)",
                    count(rejected as f64),
                    crate::render::seconds(wait)
                ),
            );
        }
        // Evidence: the counterfactual.
        if let (Some(h), Some(w)) = (model.per_client.get(&client), model.window) {
            let mut text = format!(
                "replaying {} requests of {} to {} through APF without this client: others get {} fewer 429s and wait {} less",
                count(w.requests as f64),
                format_us(w.start_us),
                format_us(w.end_us),
                count(h.others_429),
                crate::render::seconds(h.others_wait_s)
            );
            if let Some((v, r0, r1, p0, p1)) = h.victim {
                text.push_str(&format!(
                    "; {} most of all (429s {} -> {}, p99 wait {} -> {})",
                    patterns::client_name(a, v),
                    r0,
                    r1,
                    crate::render::seconds(p0),
                    crate::render::seconds(p1)
                ));
            }
            c.evidence.push(Evidence::Figure {
                name: "others_429_caused".to_owned(),
                value: h.others_429,
                unit: "requests".to_owned(),
                text,
            });
        }
        if let Some(f) = a.facts
            && let Some((text, ids)) = f.level_sentence(&level.name)
        {
            c.evidence.push(Evidence::Panels {
                ids,
                text: format!(
                    "the metrics {} the level was saturated: {text}",
                    if metrics_saturated {
                        "confirm"
                    } else {
                        "do not show"
                    }
                ),
            });
        }
        // Evidence: the window.
        let first = c
            .calls
            .iter()
            .map(|&i| l.calls[i].first_us)
            .min()
            .unwrap_or(0);
        let last = c
            .calls
            .iter()
            .map(|&i| l.calls[i].last_us)
            .max()
            .unwrap_or(0);
        c.evidence.push(Evidence::Window {
            window: Window {
                start: format_us(first),
                end: format_us(last + 1),
            },
            text: "first and last offending request".to_owned(),
        });
    }
    let mut f = Finding {
        severity: Severity::Info,
        kind: c.kind,
        title: c.title.clone(),
        culprit,
        evidence: c.evidence.clone(),
        fix: Fix::default(),
        harm,
    };
    let by_harm = if c.client.is_some() {
        rank::harm_severity(&f, span, victim_growth)
    } else {
        Severity::Info
    };
    f.severity = by_harm.max(c.severity.unwrap_or(Severity::Info));
    f.fix = match c.fix.take() {
        Some(fix) => fix,
        None if c.client.is_some() => fix::write(a, &c, c.advice.clone()),
        None => Fix {
            advice: c.advice.clone(),
            ..Fix::default()
        },
    };
    f
}

/// The culprit of a client finding.
fn culprit_of(l: &LedgerResult<'_>, client: u32, calls: &[usize]) -> Culprit {
    let stats = &l.clients[client as usize];
    let mut verbs: Vec<String> = calls.iter().map(|&i| l.calls[i].verb.clone()).collect();
    verbs.sort();
    verbs.dedup();
    let mut resources: Vec<(String, String)> = calls
        .iter()
        .map(|&i| (l.calls[i].rule_resource(), l.calls[i].group.clone()))
        .collect();
    resources.sort();
    resources.dedup();
    let mut groups: Vec<String> = resources.iter().map(|r| r.1.clone()).collect();
    groups.sort();
    groups.dedup();
    // Today's classification: the calls' schema and level with most seat-seconds.
    let lead = calls
        .iter()
        .copied()
        .max_by(|&x, &y| l.costs[x].seat_seconds.total_cmp(&l.costs[y].seat_seconds))
        .unwrap_or(0);
    let nodes = stats.nodes.count();
    let pods = stats.pods.count();
    Culprit {
        user: stats.user().to_owned(),
        user_agent: stats.user_agent().to_owned(),
        verb: verbs.join(","),
        resource: resources
            .iter()
            .map(|r| r.0.clone())
            .collect::<Vec<_>>()
            .join(","),
        api_group: groups.join(","),
        source_ips: stats.source_ips.count(),
        nodes: (nodes > 0).then_some(nodes),
        pods: (pods > 0).then_some(pods),
        counts_estimated: stats.source_ips.is_estimate()
            || stats.nodes.is_estimate()
            || stats.pods.is_estimate(),
        flow_schema: l.schema_name(&l.calls[lead]).to_owned(),
        priority_level: l.level_name(&l.calls[lead]).to_owned(),
    }
}

/// RFC 3339 of microseconds since the epoch.
pub(crate) fn format_us(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The costliest clients, for the report's WHO section.
fn client_costs(l: &LedgerResult<'_>, config: &ApfConfig) -> Vec<ClientCost> {
    let mut per: BTreeMap<u32, ClientCost> = BTreeMap::new();
    for (c, cost) in l.calls.iter().zip(&l.costs) {
        let stats = &l.clients[c.client as usize];
        let e = per.entry(c.client).or_insert_with(|| ClientCost {
            user: stats.user().to_owned(),
            user_agent: stats.user_agent().to_owned(),
            requests: stats.requests,
            source_ips: stats.source_ips.count(),
            ..ClientCost::default()
        });
        e.seat_seconds += cost.seat_seconds;
        e.rejected_429 += c.rejected;
        e.wait_s += c.wait_s;
        e.etcd_bytes += cost.etcd_bytes;
        let level = &config.levels()[c.level as usize].name;
        match e.levels.iter_mut().find(|x| &x.level == level) {
            Some(x) => x.seat_seconds += cost.seat_seconds,
            None => e.levels.push(LevelShare {
                level: level.clone(),
                seat_seconds: cost.seat_seconds,
                share: 0.0,
            }),
        }
    }
    let totals: BTreeMap<&str, f64> = l
        .levels
        .iter()
        .map(|x| (x.name.as_str(), x.seat_seconds))
        .collect();
    let mut out: Vec<ClientCost> = per.into_values().collect();
    for c in &mut out {
        for x in &mut c.levels {
            let t = totals.get(x.level.as_str()).copied().unwrap_or(0.0);
            x.share = if t > 0.0 { x.seat_seconds / t } else { 0.0 };
        }
        c.levels
            .sort_by(|a, b| b.seat_seconds.total_cmp(&a.seat_seconds));
    }
    out.sort_by(|a, b| b.seat_seconds.total_cmp(&a.seat_seconds));
    out.truncate(20);
    out
}

fn summarise_inputs(
    inputs: &DoctorInputs,
    a: &Analysis<'_>,
    model: &HarmModel,
    (version, version_from): (KubeVersion, String),
    config_from: String,
    (replicas, replicas_from): (u32, String),
    server_cl: u32,
) -> InputsSummary {
    let mut missing = Vec::new();
    let mut notes: Vec<String> = a
        .config_notes
        .iter()
        .map(|n| format!("{}: {}", n.object, n.message))
        .collect();
    for d in &inputs.dumps {
        notes.extend(d.notes());
    }
    notes.extend(inputs.notes.iter().cloned());
    if inputs.audit.is_empty() {
        missing.push(Missing {
            input: "--audit-log".to_owned(),
            would_add: "who: the clients behind the load, their cost in seats, the harm they cause others, and a fix written for them".to_owned(),
        });
    }
    if inputs.metrics.is_none() {
        missing.push(Missing {
            input: "--data-dir or --prometheus".to_owned(),
            would_add: match &inputs.metrics_error {
                Some(e) => format!("confirmation that the levels really saturated, object counts for exact seat estimates, the webhook's name and etcd latency ({e})"),
                None => "confirmation that the levels really saturated, object counts for exact seat estimates, the webhook's name, etcd latency, and the replica count".to_owned(),
            },
        });
    }
    if inputs.apf.is_none() {
        missing.push(Missing {
            input: "--kubeconfig or --apf-config".to_owned(),
            would_add: "the cluster's own FlowSchemas and priority levels (classification here uses the defaults), and the misconfiguration checks".to_owned(),
        });
    }
    if inputs.dumps.is_empty() {
        missing.push(Missing {
            input: "--kubeconfig (debug dumps)".to_owned(),
            would_add: "what each replica's queues hold right now, and starved-level checks from the live state".to_owned(),
        });
    }
    let audit = a.ledger.map(|l| {
        let mut approximations = Vec::new();
        if l.folded_clients > 0 {
            approximations.push(format!(
                "{} clients too light to itemise were folded into '(other clients)'; figures of clients seen after a fold are lower bounds",
                count(l.folded_clients as f64)
            ));
        }
        if l.records.is_partial() {
            approximations.push(
                "the per-request records kept for the replay and the time patterns cover the busiest 5-minute windows only (memory bound)".to_owned(),
            );
        }
        if l.unclassified > 0 {
            approximations.push(format!(
                "{} requests could not be classified and were left out",
                count(l.unclassified as f64)
            ));
        }
        if l.costs.iter().any(|c| c.count_source == crate::ledger::result::CountSource::WorstCase)
            && a.facts.is_none()
        {
            approximations.push(
                "object counts unknown for some resources: their LIST seats are the estimator's worst case".to_owned(),
            );
        }
        if let Some(w) = model.window {
            approximations.push(format!(
                "harm to others comes from replaying {} requests ({} to {}) through the APF model",
                count(w.requests as f64),
                format_us(w.start_us),
                format_us(w.end_us)
            ));
        }
        AuditSummary {
            files: inputs.audit.iter().map(Input::name).collect(),
            requests: l.summary.events,
            malformed: l.summary.malformed.count,
            malformed_examples: l.summary.malformed.examples.clone(),
            read_errors: l.summary.read_errors.clone(),
            start: l.summary.first_us.map(format_us),
            end: l.summary.last_us.map(format_us),
            approximations,
        }
    });
    InputsSummary {
        kubernetes_version: format!("{}.{}", version.major, version.minor),
        version_from,
        audit,
        metrics: inputs.metrics.as_ref().map(|r| r.source.clone()),
        metrics_error: inputs.metrics_error.clone(),
        apf_config: config_from,
        dumps: inputs.dumps.iter().map(|d| d.replica.clone()).collect(),
        replicas,
        replicas_from,
        server_concurrency_limit: server_cl,
        missing,
        notes,
    }
}

/// The verdict line.
fn verdict(findings: &[Finding]) -> String {
    match findings.first() {
        None => "OK: no client or server-side cause stands out".to_owned(),
        Some(f) if f.severity == Severity::Info => {
            format!(
                "OK: nothing harmful now; {} pattern(s) worth fixing",
                findings.len()
            )
        }
        Some(f) => {
            let who = match (&f.culprit, f.kind) {
                (Some(c), _) => format!("{} ({})", c.user_agent, c.user),
                (None, Kind::EtcdSlow) => "etcd".to_owned(),
                (None, _) => "the server".to_owned(),
            };
            format!("{}: {} - {}", f.severity.label(), who, f.kind.slug())
        }
    }
}

/// The first and last request times of the audit log (µs since the epoch), from one quick
/// pass: the window the metrics are read over when none is given.
///
/// # Errors
///
/// [`DoctorError::Audit`] when an input cannot be opened.
pub fn audit_span(
    inputs: &[Input],
    filter: &Filter,
    opts: &ScanOpts,
) -> Result<Option<(i64, i64)>, DoctorError> {
    struct Span;
    impl apilens_audit::View for Span {
        fn add(&mut self, _: &apilens_audit::Request<'_>) {}
        fn merge(&mut self, _: Span) {}
        fn finish(self, _: &apilens_audit::Summary) -> apilens_audit::Report {
            apilens_audit::Report {
                view: "span".to_owned(),
                key_name: String::new(),
                columns: Vec::new(),
                rows: Vec::new(),
                notes: Vec::new(),
                approximate: false,
            }
        }
    }
    let (_, summary) = scan(inputs, filter, opts, || Span)?;
    Ok(summary.first_us.zip(summary.last_us))
}
