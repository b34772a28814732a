//! The pattern detectors, one module per pattern. Each reads the [`Analysis`] and proposes
//! candidates; harm ranking and fix writing come after.
//!
//! A client pattern is proposed only when its calls are material: at least
//! [`MATERIAL_SEATS`] seats busy on average, or [`MATERIAL_ETCD_BYTES_PER_S`] read from etcd per
//! second. Cheap clients never become findings, however many requests they send.

mod apf_catch_all;
mod apf_dangling;
mod apf_exempt;
mod apf_starved;
mod etcd_slow;
mod huge_list;
mod level_hog;
mod list_from_etcd;
mod paginated_relist;
mod polling_loop;
mod retry_storm;
mod unbounded_list;
mod version_skew;
mod watch_churn;
mod watch_fanout;
mod webhook_slow;

use crate::analysis::Analysis;
use crate::finding::{Evidence, Fix, Kind, Severity};
use crate::ledger::calls::CallStats;
use crate::ledger::records::Record;

/// Average seats busy (seat-seconds per second) that make a client's calls worth a finding.
pub(crate) const MATERIAL_SEATS: f64 = 0.05;

/// Bytes per second read from etcd that make a client's calls worth a finding.
pub(crate) const MATERIAL_ETCD_BYTES_PER_S: f64 = 1e6;

/// A proposed finding.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) kind: Kind,
    /// The client row, for client findings.
    pub(crate) client: Option<u32>,
    /// The offending calls (rows of the ledger's call table).
    pub(crate) calls: Vec<usize>,
    pub(crate) title: String,
    pub(crate) evidence: Vec<Evidence>,
    pub(crate) advice: Vec<String>,
    /// A severity the detector judged itself (server-side, configuration and fan-out
    /// patterns); client patterns leave it to the harm rules.
    pub(crate) severity: Option<Severity>,
    /// A fix the detector wrote itself (configuration patterns).
    pub(crate) fix: Option<Fix>,
    /// Whether an APF FlowSchema can contain the offending calls.
    pub(crate) apf_fix: bool,
}

impl Candidate {
    pub(crate) fn client(kind: Kind, client: u32, calls: Vec<usize>, title: String) -> Candidate {
        Candidate {
            kind,
            client: Some(client),
            calls,
            title,
            evidence: Vec::new(),
            advice: Vec::new(),
            severity: None,
            fix: None,
            apf_fix: true,
        }
    }

    pub(crate) fn server(kind: Kind, title: String, severity: Severity) -> Candidate {
        Candidate {
            kind,
            client: None,
            calls: Vec::new(),
            title,
            evidence: Vec::new(),
            advice: Vec::new(),
            severity: Some(severity),
            fix: None,
            apf_fix: false,
        }
    }

    pub(crate) fn figure(&mut self, name: &str, value: f64, unit: &str, text: String) {
        self.evidence.push(Evidence::Figure {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            text,
        });
    }

    pub(crate) fn note(&mut self, text: String) {
        self.evidence.push(Evidence::Note { text });
    }
}

/// Every detector, in the order their kinds are preferred when one client matches several.
pub(crate) fn detect(a: &Analysis<'_>, sorted: &SortedRecords<'_>) -> Vec<Candidate> {
    let mut out = Vec::new();
    out.extend(apf_exempt::detect(a));
    out.extend(retry_storm::detect(a, sorted));
    out.extend(unbounded_list::detect(a));
    out.extend(paginated_relist::detect(a, sorted));
    out.extend(list_from_etcd::detect(a));
    out.extend(huge_list::detect(a));
    out.extend(watch_churn::detect(a));
    out.extend(polling_loop::detect(a, sorted));
    out.extend(watch_fanout::detect(a));
    out.extend(apf_catch_all::detect(a));
    out.extend(apf_dangling::detect(a));
    out.extend(apf_starved::detect(a));
    out.extend(etcd_slow::detect(a));
    out.extend(webhook_slow::detect(a));
    out.extend(version_skew::detect(a));
    out.extend(level_hog::detect(a));
    out
}

/// The preference of a kind when one client matches several patterns (lower first).
pub(crate) fn preference(kind: Kind) -> usize {
    [
        Kind::ApfExemptApplication,
        // A client whose unbounded LISTs fill its level and who also retries at once is named
        // for the LISTs, the cost; the retries only add to it.
        Kind::UnboundedList,
        Kind::RetryStorm429,
        Kind::PaginatedRelist,
        Kind::PollingLoop,
        Kind::WatchChurn,
        Kind::ListFromEtcd,
        Kind::HugeListResponse,
        Kind::WatchFanout,
        Kind::ApfJailInCatchAll,
        Kind::LevelHog,
    ]
    .iter()
    .position(|k| *k == kind)
    .unwrap_or(usize::MAX)
}

/// The ledger's records sorted by call, connection and time: the order the time-resolved
/// detectors (polling, relists, retries) walk.
pub(crate) struct SortedRecords<'r> {
    pub(crate) rows: Vec<&'r Record>,
}

impl<'r> SortedRecords<'r> {
    /// The records the time-resolved detectors read: reads (polls, relists) and calls with
    /// 429s (retries).
    pub(crate) fn new(records: &'r [Record], calls: &[CallStats]) -> SortedRecords<'r> {
        let wanted: Vec<bool> = calls
            .iter()
            .map(|c| matches!(c.verb.as_str(), "get" | "list") || c.rejected > 0)
            .collect();
        let mut rows: Vec<&Record> = records.iter().filter(|r| wanted[r.call as usize]).collect();
        rows.sort_unstable_by_key(|r| (r.call, r.conn, r.t_us));
        SortedRecords { rows }
    }

    /// Runs of records of one call and one connection, in time order.
    pub(crate) fn runs(&self) -> impl Iterator<Item = &[&'r Record]> {
        self.rows
            .chunk_by(|a, b| a.call == b.call && a.conn == b.conn)
    }
}

/// Seat-seconds per second and etcd bytes per second of some calls.
pub(crate) fn cost_rate(a: &Analysis<'_>, calls: &[usize]) -> (f64, f64) {
    let Some(l) = a.ledger else { return (0.0, 0.0) };
    let span = a.span_s();
    let seats: f64 = calls.iter().map(|&i| l.costs[i].own_seat_seconds).sum();
    let bytes: f64 = calls.iter().map(|&i| l.costs[i].etcd_bytes).sum();
    (seats / span, bytes / span)
}

/// True when the calls cost enough to be worth a finding.
pub(crate) fn material(a: &Analysis<'_>, calls: &[usize]) -> bool {
    let (seats, bytes) = cost_rate(a, calls);
    seats >= MATERIAL_SEATS || bytes >= MATERIAL_ETCD_BYTES_PER_S
}

/// Groups call indices by client.
pub(crate) fn by_client(
    a: &Analysis<'_>,
    keep: impl Fn(&crate::ledger::calls::CallStats) -> bool,
) -> std::collections::BTreeMap<u32, Vec<usize>> {
    let mut out: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, c) in a.calls().iter().enumerate() {
        if c.client != crate::ledger::clients::OTHER && keep(c) {
            out.entry(c.client).or_default().push(i);
        }
    }
    out
}

/// The example URIs of some calls (at most three).
pub(crate) fn examples(a: &Analysis<'_>, calls: &[usize]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for &i in calls {
        for u in &a.calls()[i].examples {
            if out.len() < 3 && !out.contains(u) {
                out.push(u.clone());
            }
        }
    }
    out
}

/// The short name of a client: its user agent, else its user.
pub(crate) fn client_name(a: &Analysis<'_>, client: u32) -> String {
    let Some(l) = a.ledger else {
        return String::new();
    };
    let c = &l.clients[client as usize];
    let ua = c.user_agent();
    if ua.is_empty() || ua == "-" {
        c.user().to_owned()
    } else {
        format!("{ua} ({})", c.user())
    }
}
