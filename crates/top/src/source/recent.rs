//! The last audit events of chosen users, kept in bounded memory while the audit log is
//! scanned: at most [`Recent::per_user`] events per user, each URI and user agent cut to
//! [`EVENT_FIELD_BYTES`].

use crate::frame::{EVENT_FIELD_BYTES, EventRow};
use apilens_audit::{Report, Request, Summary, View};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The newest events of each of a set of users.
pub(super) struct Recent {
    users: Arc<HashSet<String>>,
    per_user: usize,
    events: HashMap<String, Vec<EventRow>>,
}

impl Recent {
    /// Keeps the newest `per_user` events of each of `users`.
    pub(super) fn new(users: Arc<HashSet<String>>, per_user: usize) -> Recent {
        Recent {
            users,
            per_user,
            events: HashMap::new(),
        }
    }

    /// Folds in one request when its user is one of those kept.
    pub(super) fn add(&mut self, req: &Request<'_>) {
        if self.per_user == 0 || !self.users.contains(req.user.as_ref()) {
            return;
        }
        let row = EventRow {
            time_us: req.stage_us.or(req.received_us).unwrap_or(0),
            verb: cut(&req.verb),
            uri: cut(&req.request_uri),
            code: req.code,
            latency_ms: req.latency_us().map(|us| us as f64 / 1000.0),
            user_agent: cut(&req.user_agent),
        };
        let rows = self.events.entry(req.user.to_string()).or_default();
        rows.push(row);
        // Trimmed in batches: amortised O(log n) a request, never more than twice the cap held.
        if rows.len() >= self.per_user * 2 {
            newest_first(rows, self.per_user);
        }
    }

    /// Folds in the events another scan thread kept.
    pub(super) fn merge(&mut self, other: Recent) {
        for (user, rows) in other.events {
            let mine = self.events.entry(user).or_default();
            mine.extend(rows);
            newest_first(mine, self.per_user);
        }
    }

    /// Each user's newest events, the newest first.
    pub(super) fn finish(mut self) -> HashMap<String, Vec<EventRow>> {
        for rows in self.events.values_mut() {
            newest_first(rows, self.per_user);
        }
        self.events
    }
}

/// Sorts `rows` newest first and keeps the first `n`.
fn newest_first(rows: &mut Vec<EventRow>, n: usize) {
    rows.sort_by_key(|r| std::cmp::Reverse(r.time_us));
    rows.truncate(n);
}

/// `text` cut to [`EVENT_FIELD_BYTES`] on a character boundary, `…` marking the cut.
fn cut(text: &str) -> String {
    if text.len() <= EVENT_FIELD_BYTES {
        return text.to_owned();
    }
    let mut end = EVENT_FIELD_BYTES - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A view of the audit scan and the recent events of chosen users, read in the same pass.
pub(super) struct WithRecent<V> {
    /// The view the scan computes.
    pub(super) view: V,
    /// The users' recent events.
    pub(super) recent: Recent,
}

impl<V: View> View for WithRecent<V> {
    fn add(&mut self, req: &Request<'_>) {
        self.view.add(req);
        self.recent.add(req);
    }

    fn merge(&mut self, other: Self) {
        self.view.merge(other.view);
        self.recent.merge(other.recent);
    }

    fn finish(self, summary: &Summary) -> Report {
        self.view.finish(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apilens_audit::decode_record;

    fn line(user: &str, ts: &str, uri: &str) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{ts}","stage":"ResponseComplete","requestURI":"{uri}","verb":"list","user":{{"username":"{user}"}},"userAgent":"agent/1.0","responseStatus":{{"code":200}},"requestReceivedTimestamp":"2024-05-01T10:00:{ts}.000000Z","stageTimestamp":"2024-05-01T10:00:{ts}.250000Z"}}"#
        )
    }

    fn add_line(recent: &mut Recent, text: &str) {
        let mut seen = 0;
        decode_record(text, &mut |req| {
            seen += 1;
            recent.add(&req);
        })
        .expect(text);
        assert_eq!(seen, 1, "{text}");
    }

    fn users(names: &[&str]) -> Arc<HashSet<String>> {
        Arc::new(names.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn keeps_the_newest_n_of_each_chosen_user_newest_first() {
        let mut recent = Recent::new(users(&["agent"]), 3);
        // Out of order, as two scan threads or two files may hand them.
        for ts in ["05", "01", "09", "03", "07", "02", "08"] {
            add_line(&mut recent, &line("agent", ts, "/api/v1/pods"));
            add_line(&mut recent, &line("someone-else", ts, "/api/v1/pods"));
        }
        let mut other = Recent::new(users(&["agent"]), 3);
        add_line(&mut other, &line("agent", "06", "/api/v1/nodes"));
        add_line(&mut other, &line("agent", "10", "/api/v1/nodes"));
        recent.merge(other);
        let events = recent.finish();
        assert_eq!(events.len(), 1, "only the chosen users are kept");
        let rows = &events["agent"];
        let seconds: Vec<i64> = rows.iter().map(|r| r.time_us / 1_000_000 % 60).collect();
        assert_eq!(seconds, vec![10, 9, 8]);
        assert_eq!(rows[0].uri, "/api/v1/nodes");
        assert_eq!(rows[0].verb, "list");
        assert_eq!(rows[0].code, Some(200));
        assert_eq!(rows[0].latency_ms, Some(250.0));
        assert_eq!(rows[0].user_agent, "agent/1.0");
    }

    #[test]
    fn a_huge_uri_is_cut_on_a_character_boundary() {
        let mut recent = Recent::new(users(&["agent"]), 20);
        let huge = format!("/api/v1/pods?labelSelector={}", "é".repeat(10_000));
        add_line(&mut recent, &line("agent", "01", &huge));
        let rows = &recent.finish()["agent"];
        assert!(
            rows[0].uri.len() <= EVENT_FIELD_BYTES,
            "{}",
            rows[0].uri.len()
        );
        assert!(rows[0].uri.len() > EVENT_FIELD_BYTES - 8);
        assert!(rows[0].uri.starts_with("/api/v1/pods?labelSelector=é"));
        assert!(rows[0].uri.ends_with('…'));
    }
}
