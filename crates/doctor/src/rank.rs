//! Severity and order: the rules that turn harm into `critical`, `warning` or `info`, and the
//! order findings are printed in (most harmful first, never by request count).

use crate::finding::{Finding, Severity};

/// Others' 429s caused that make a finding critical.
pub(crate) const CRITICAL_OTHERS_429: f64 = 10.0;
/// Seconds of others' queue wait caused that make a finding critical, together with a victim
/// whose p99 wait grew by [`CRITICAL_VICTIM_P99_S`].
pub(crate) const CRITICAL_OTHERS_WAIT_S: f64 = 30.0;
/// Growth of the worst victim's p99 queue wait that makes a finding critical.
pub(crate) const CRITICAL_VICTIM_P99_S: f64 = 1.0;
/// Share of a saturated level's seat-seconds that makes a finding critical.
pub(crate) const CRITICAL_LEVEL_SHARE: f64 = 0.5;
/// Share of its level's seat-seconds worth a warning (with at least one seat busy on average).
pub(crate) const WARNING_LEVEL_SHARE: f64 = 0.2;
/// Share of its level's seat-seconds below which a client's part in others' 429s and waits is
/// not counted: in a full level every client pushes the others out a little, and a light one
/// (often itself a victim) is not the cause.
pub(crate) const MIN_CONTRIBUTION: f64 = 0.1;
/// etcd bytes per second worth a warning.
pub(crate) const WARNING_ETCD_BYTES_PER_S: f64 = 10e6;

/// The severity the harm figures call for (a detector's own judgement may raise it).
///
/// Others' 429s and waits count only for a client that holds at least [`MIN_CONTRIBUTION`] of
/// its level's seat-seconds.
///
/// - critical: it causes at least [`CRITICAL_OTHERS_429`] 429s of others; or at least
///   [`CRITICAL_OTHERS_WAIT_S`] seconds of others' queue wait while its worst victim's p99 wait
///   grows by [`CRITICAL_VICTIM_P99_S`]; or it holds at least [`CRITICAL_LEVEL_SHARE`] of a
///   level's seat-seconds while that level is saturated (the metrics or the replay show it at
///   its limit, queuing a second or more at p99, or rejecting);
/// - warning: it causes any 429s of others, or 5 s or more of their wait; or it holds at least
///   [`WARNING_LEVEL_SHARE`] of its level with one seat or more busy on average; or its LISTs
///   read [`WARNING_ETCD_BYTES_PER_S`] or more from etcd;
/// - info: otherwise (a pattern worth fixing with no measurable harm now).
pub(crate) fn harm_severity(f: &Finding, span_s: f64, victim_p99_growth_s: f64) -> Severity {
    let h = &f.harm;
    let counts = h.level_share >= MIN_CONTRIBUTION;
    if (counts && h.others_429 >= CRITICAL_OTHERS_429)
        || (counts
            && h.others_wait_s >= CRITICAL_OTHERS_WAIT_S
            && victim_p99_growth_s >= CRITICAL_VICTIM_P99_S)
        || (h.level_share >= CRITICAL_LEVEL_SHARE && h.level_saturated)
    {
        Severity::Critical
    } else if (counts && (h.others_429 >= 1.0 || h.others_wait_s >= 5.0))
        || (h.level_share >= WARNING_LEVEL_SHARE && h.seat_seconds / span_s.max(1.0) >= 1.0)
        || h.etcd_bytes / span_s.max(1.0) >= WARNING_ETCD_BYTES_PER_S
    {
        Severity::Warning
    } else {
        Severity::Info
    }
}

/// True when the finding's client measurably hurts others (the counterfactual replay) and holds
/// enough of its level to be a cause.
fn hurts_others(f: &Finding) -> bool {
    f.harm.level_share >= MIN_CONTRIBUTION
        && (f.harm.others_429 >= 1.0 || f.harm.others_wait_s >= 1.0)
}

/// Sorts findings most harmful first:
///
/// 1. by severity;
/// 2. a client that measurably hurts others (its counterfactual removes others' 429s or wait)
///    comes before a server-side cause, which comes before clients that hurt nobody
///    measurably: when etcd or a webhook is slow and no client stands out, the server-side
///    cause is first;
/// 3. then by others' 429s caused, others' wait caused, share of the level's seat-seconds,
///    etcd bytes, etcd time, watch events sent, and seat-seconds; never by request count.
pub(crate) fn sort(findings: &mut [Finding]) {
    let class = |f: &Finding| -> u8 {
        if f.culprit.is_some() && hurts_others(f) {
            2
        } else if f.kind.is_server_side() {
            1
        } else {
            0
        }
    };
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| class(b).cmp(&class(a)))
            .then_with(|| b.harm.others_429.total_cmp(&a.harm.others_429))
            .then_with(|| b.harm.others_wait_s.total_cmp(&a.harm.others_wait_s))
            .then_with(|| b.harm.level_share.total_cmp(&a.harm.level_share))
            .then_with(|| b.harm.etcd_bytes.total_cmp(&a.harm.etcd_bytes))
            .then_with(|| b.harm.etcd_ms.total_cmp(&a.harm.etcd_ms))
            .then_with(|| {
                b.harm
                    .watch_events_per_s
                    .total_cmp(&a.harm.watch_events_per_s)
            })
            .then_with(|| b.harm.seat_seconds.total_cmp(&a.harm.seat_seconds))
            .then_with(|| a.title.cmp(&b.title))
    });
}
