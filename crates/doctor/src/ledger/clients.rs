//! The per-client table: exact for the [`CLIENT_CAP`] heaviest clients; lighter ones are folded
//! into one "other clients" row when the table grows past twice the cap, so totals stay exact
//! and only attribution is lost (the output says so).

use crate::distinct::Distinct;
use crate::identity::KEY_SEP;
use apilens_audit::FxMap;

/// Clients itemised exactly.
pub(crate) const CLIENT_CAP: usize = 20_000;

/// Index of the row that holds folded clients.
pub(crate) const OTHER: u32 = 0;

/// What one client did, apart from its per-call figures.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientStats {
    /// `user` + [`KEY_SEP`] + normalised user agent.
    pub(crate) key: String,
    pub(crate) requests: u64,
    /// Execution milliseconds, the weight that decides who is folded.
    pub(crate) exec_ms: f64,
    pub(crate) source_ips: Distinct,
    pub(crate) pods: Distinct,
    pub(crate) nodes: Distinct,
    /// Raw user agents seen (the first few), to quote versions.
    pub(crate) raw_agent: String,
    /// A raw `user.groups` JSON of the client (the first seen).
    pub(crate) groups: String,
    /// Requests of this client counted before it was itemised again after a fold (an upper
    /// bound of what it may be missing).
    pub(crate) missed_up_to: u64,
}

impl ClientStats {
    /// The user part of the key.
    pub(crate) fn user(&self) -> &str {
        self.key.split(KEY_SEP).next().unwrap_or("")
    }

    /// The user-agent part of the key.
    pub(crate) fn user_agent(&self) -> &str {
        self.key.split(KEY_SEP).nth(1).unwrap_or("")
    }

    fn weight(&self) -> f64 {
        self.exec_ms + self.requests as f64
    }

    pub(crate) fn merge(&mut self, other: ClientStats) {
        self.requests += other.requests;
        self.exec_ms += other.exec_ms;
        self.source_ips.merge(other.source_ips);
        self.pods.merge(other.pods);
        self.nodes.merge(other.nodes);
        if self.raw_agent.is_empty() {
            self.raw_agent = other.raw_agent;
        }
        if self.groups.is_empty() {
            self.groups = other.groups;
        }
        self.missed_up_to += other.missed_up_to;
    }
}

/// The client table.
#[derive(Debug, Clone)]
pub(crate) struct Clients {
    map: FxMap<String, u32>,
    pub(crate) rows: Vec<ClientStats>,
    /// Requests folded into [`OTHER`] per purge, the most any re-admitted client can miss.
    pub(crate) floor: u64,
    /// Clients folded so far.
    pub(crate) folded: u64,
}

impl Default for Clients {
    fn default() -> Self {
        Clients {
            map: FxMap::default(),
            rows: vec![ClientStats {
                key: format!("(other clients){KEY_SEP}"),
                ..ClientStats::default()
            }],
            floor: 0,
            folded: 0,
        }
    }
}

impl Clients {
    /// The index of `key`, inserted when new. A purge may run first: the caller must then
    /// remap indices it holds through the returned map (`Some(remap)`).
    pub(crate) fn index(&mut self, key: &str) -> (u32, Option<Vec<u32>>) {
        if let Some(&i) = self.map.get(key) {
            return (i, None);
        }
        let remap = (self.rows.len() > 2 * CLIENT_CAP).then(|| self.purge());
        let i = self.rows.len() as u32;
        self.rows.push(ClientStats {
            key: key.to_owned(),
            missed_up_to: self.floor,
            ..ClientStats::default()
        });
        self.map.insert(key.to_owned(), i);
        (i, remap)
    }

    /// Keeps the [`CLIENT_CAP`] heaviest clients, folds the rest into [`OTHER`] and returns
    /// the old-to-new index map.
    pub(crate) fn purge(&mut self) -> Vec<u32> {
        let mut order: Vec<usize> = (1..self.rows.len()).collect();
        order.sort_by(|&a, &b| {
            self.rows[b]
                .weight()
                .total_cmp(&self.rows[a].weight())
                .then_with(|| self.rows[a].key.cmp(&self.rows[b].key))
        });
        let keep: std::collections::HashSet<usize> =
            order.iter().take(CLIENT_CAP).copied().collect();
        let mut remap = vec![OTHER; self.rows.len()];
        let old = std::mem::take(&mut self.rows);
        let mut rows = Vec::with_capacity(CLIENT_CAP + 1);
        let mut other = ClientStats::default();
        self.map.clear();
        for (i, row) in old.into_iter().enumerate() {
            if i == OTHER as usize {
                other = row;
            } else if keep.contains(&i) {
                remap[i] = rows.len() as u32 + 1;
                self.map.insert(row.key.clone(), remap[i]);
                rows.push(row);
            } else {
                self.floor = self.floor.max(row.requests);
                self.folded += 1;
                let key = std::mem::take(&mut other.key);
                other.merge(row);
                other.key = key;
            }
        }
        rows.insert(0, other);
        self.rows = rows;
        remap
    }

    /// Merges another table; returns the map from `other`'s indices to this table's.
    pub(crate) fn merge(&mut self, other: Clients) -> Vec<u32> {
        self.floor += other.floor;
        self.folded += other.folded;
        let mut remap = Vec::with_capacity(other.rows.len());
        for (i, row) in other.rows.into_iter().enumerate() {
            if i == OTHER as usize {
                let key = std::mem::take(&mut self.rows[0].key);
                self.rows[0].merge(row);
                self.rows[0].key = key;
                remap.push(OTHER);
                continue;
            }
            match self.map.get(&row.key) {
                Some(&j) => {
                    self.rows[j as usize].merge(row);
                    remap.push(j);
                }
                None => {
                    let j = self.rows.len() as u32;
                    self.map.insert(row.key.clone(), j);
                    self.rows.push(row);
                    remap.push(j);
                }
            }
        }
        remap
    }
}
