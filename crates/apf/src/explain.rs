//! What a person or a program reads of a configuration: where one request goes and why
//! ([`explain_match`]), the seats of every level ([`CapacityView`]), and a configuration built
//! from the defaults with a cluster's objects on top ([`Overlay`]). Callers read the files;
//! everything here takes their text.

use crate::capacity::{DEFAULT_SERVER_CONCURRENCY_LIMIT, queue_wait_limit_for};
use crate::{
    ApfConfig, ApfError, Capacity, Classification, ConfigNote, FlowSchema, KubeVersion,
    LevelCapacity, PriorityLevel, RequestDigest, ResourceAttributes, load_objects,
};
use apilens_textout::Table;
use serde::Serialize;

/// The defaults of a version with a cluster's objects on top: an object replaces the default of
/// the same name and adds to the others, as a cluster's objects do.
#[derive(Debug)]
pub struct Overlay {
    version: KubeVersion,
    defaults: ApfConfig,
    objects: Option<(Vec<FlowSchema>, Vec<PriorityLevel>)>,
    notes: Vec<ConfigNote>,
}

impl Overlay {
    /// The defaults of `version`, nothing on top yet.
    pub fn new(version: KubeVersion) -> Self {
        Self {
            version,
            defaults: ApfConfig::defaults(version),
            objects: None,
            notes: Vec::new(),
        }
    }

    /// Puts the objects of one document set (YAML or JSON, read from `source`) on top.
    pub fn add(&mut self, text: &str, source: &str) -> Result<(), ApfError> {
        let (schemas, levels, notes) = load_objects(text, source)?;
        let (all_schemas, all_levels) = self.objects.get_or_insert_with(|| {
            (
                self.defaults.schemas().to_vec(),
                self.defaults.levels().to_vec(),
            )
        });
        for schema in schemas {
            all_schemas.retain(|x| x.name != schema.name);
            all_schemas.push(schema);
        }
        for level in levels {
            all_levels.retain(|x| x.name != level.name);
            all_levels.push(level);
        }
        self.notes.extend(notes);
        Ok(())
    }

    /// The configuration the server would run, and what was noted on the way. Without any
    /// object added, the defaults as they are.
    pub fn finish(self) -> (ApfConfig, Vec<ConfigNote>) {
        let Some((schemas, levels)) = self.objects else {
            return (self.defaults, Vec::new());
        };
        let mut notes = self.notes;
        let (config, more) = ApfConfig::from_objects(self.version, schemas, levels);
        notes.extend(more);
        (config, notes)
    }
}

/// The notes of a configuration, one `note:` line each.
pub fn render_notes(notes: &[ConfigNote]) -> String {
    notes
        .iter()
        .map(|n| format!("note: {}: {}\n", n.object, n.message))
        .collect()
}

/// The path a resource request would have (`/api/v1/namespaces/ns/pods/name/status`); a request
/// on a namespace object itself has no namespace segment.
pub fn resource_path(
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
    sub: &str,
) -> String {
    let mut p = if group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group}/v1")
    };
    let namespace_object = resource == "namespaces" && name == namespace;
    if !namespace.is_empty() && !namespace_object {
        p.push_str(&format!("/namespaces/{namespace}"));
    }
    p.push('/');
    p.push_str(resource);
    for part in [name, sub] {
        if !part.is_empty() {
            p.push('/');
            p.push_str(part);
        }
    }
    p
}

/// The path of a request: `path` when given, else the path of the `resource` request.
///
/// # Errors
///
/// [`ApfError::Request`] when neither is given, or when the path of a non-resource request
/// does not start with `/`.
pub fn request_path(
    resource: Option<&ResourceAttributes<'_>>,
    path: Option<&str>,
) -> Result<String, ApfError> {
    match (path, resource) {
        (Some(p), None) if !p.starts_with('/') => {
            Err(ApfError::Request(format!("--path {p:?} must start with /")))
        }
        (Some(p), _) => Ok(p.to_owned()),
        (None, Some(r)) => Ok(resource_path(
            r.api_group,
            r.resource,
            r.namespace,
            r.name,
            r.subresource,
        )),
        (None, None) => Err(ApfError::Request(
            "give --resource for a resource request or --path for a non-resource one".to_owned(),
        )),
    }
}

/// Where one request goes under a configuration, with the seats of its level at the default
/// server limit.
#[derive(Debug, Clone)]
pub struct MatchExplanation {
    version: KubeVersion,
    classification: Classification,
    distinguisher_method: Option<&'static str>,
    level: Option<LevelCapacity>,
    queue_wait_limit_s: f64,
}

#[derive(Serialize)]
struct MatchJson<'a> {
    kubernetes_version: String,
    classification: &'a Classification,
    distinguisher_method: Option<&'static str>,
    server_concurrency_limit: u32,
    level: Option<&'a LevelCapacity>,
    queue_wait_limit_s: f64,
    notes: &'a [ConfigNote],
}

/// Classifies `digest` under `config` (the configuration of `version`) and reads its level's
/// seats at the default server concurrency limit and request timeout.
pub fn explain_match(
    config: &ApfConfig,
    version: KubeVersion,
    digest: &RequestDigest<'_>,
) -> MatchExplanation {
    let classification = config.classify(digest);
    let capacity = config.capacity(version, DEFAULT_SERVER_CONCURRENCY_LIMIT);
    let level = capacity.level(&classification.priority_level).cloned();
    let distinguisher_method = config
        .schema(&classification.flow_schema)
        .and_then(|s| s.distinguisher)
        .map(|d| d.as_str());
    MatchExplanation {
        version,
        classification,
        distinguisher_method,
        level,
        queue_wait_limit_s: queue_wait_limit_for(version, crate::DEFAULT_REQUEST_TIMEOUT_S),
    }
}

impl MatchExplanation {
    /// The explanation as pretty-printed JSON, with the configuration's notes.
    pub fn json(&self, notes: &[ConfigNote]) -> Result<String, ApfError> {
        let json = MatchJson {
            kubernetes_version: self.version.to_string(),
            classification: &self.classification,
            distinguisher_method: self.distinguisher_method,
            server_concurrency_limit: DEFAULT_SERVER_CONCURRENCY_LIMIT,
            level: self.level.as_ref(),
            queue_wait_limit_s: self.queue_wait_limit_s,
            notes,
        };
        pretty_json(&json, "the match")
    }

    /// The explanation as aligned lines for a person; `with_objects` says the configuration
    /// holds objects given on top of the defaults.
    pub fn text(&self, with_objects: bool, notes: &[ConfigNote]) -> String {
        let c = &self.classification;
        let flow = match (c.distinguisher.as_str(), self.distinguisher_method) {
            ("", Some(m)) => {
                format!("one flow for the schema ({m} is used only by levels with queues)")
            }
            ("", None) => "one flow for the schema (no distinguisher)".to_string(),
            (d, Some(m)) => format!("{d} ({m})"),
            (d, None) => d.to_string(),
        };
        let mut out = String::new();
        out.push_str(&format!(
            "Kubernetes version  {} (default FlowSchemas{})\n",
            self.version,
            if with_objects {
                " and --apf-config"
            } else {
                ""
            }
        ));
        out.push_str(&format!(
            "FlowSchema          {} (matching precedence {})\n",
            c.flow_schema, c.matching_precedence
        ));
        out.push_str(&format!(
            "Priority level      {}{}\n",
            c.priority_level,
            if c.exempt {
                " (exempt: never limited)"
            } else {
                ""
            }
        ));
        out.push_str(&format!("Flow                {flow}\n"));
        out.push_str(&format!("Why                 {}\n", c.why));
        if let Some(l) = &self.level {
            out.push_str(&format!(
                "Capacity            {}\n",
                capacity_line(l, self.queue_wait_limit_s)
            ));
        }
        out.push_str(&render_notes(notes));
        out
    }
}

/// One line about a level's seats at the default server limit.
fn capacity_line(l: &LevelCapacity, wait: f64) -> String {
    if l.exempt {
        return format!(
            "exempt: never queued nor rejected ({} nominal seats at a server limit of {DEFAULT_SERVER_CONCURRENCY_LIMIT}, per replica)",
            l.nominal
        );
    }
    let range = if l.min_limit == l.max_limit {
        "fixed".to_string()
    } else {
        format!("{}-{} with lending and borrowing", l.min_limit, l.max_limit)
    };
    let mut s = format!(
        "{} nominal seats per replica at a server limit of {DEFAULT_SERVER_CONCURRENCY_LIMIT} ({range}), at most {} per request",
        l.nominal, l.max_seats_per_request
    );
    if l.reject {
        s.push_str("; no queues: beyond the limit requests get 429 at once");
    } else {
        s.push_str(&format!(
            "; {} queues of {}, a flow uses {} of them, queue wait limit {wait} s",
            l.queues, l.queue_length_limit, l.hand_size
        ));
    }
    s
}

/// The nominal seats a replica reports (`apiserver_flowcontrol_nominal_limit_seats` of a scrape
/// named `source`), to compare with the computed ones.
#[derive(Debug, Clone, Copy)]
pub struct ObservedSeats<'a> {
    /// The scrape's name.
    pub source: &'a str,
    /// Each level's reported nominal seats.
    pub nominal: &'a [(String, f64)],
}

/// The seats of every level of a configuration, per replica and for the cluster.
#[derive(Debug, Clone, Copy)]
pub struct CapacityView<'a> {
    /// The configuration.
    pub config: &'a ApfConfig,
    /// Its Kubernetes version.
    pub version: KubeVersion,
    /// The seats of one replica (`config.capacity(version, limit)`).
    pub capacity: &'a Capacity,
    /// Where the server concurrency limit came from, in words.
    pub limit_source: &'a str,
    /// API server replicas.
    pub replicas: u32,
    /// The queue wait limit in seconds.
    pub queue_wait_limit_s: f64,
    /// What a replica reports, when a scrape was read.
    pub observed: Option<ObservedSeats<'a>>,
    /// What was noted while building the configuration.
    pub notes: &'a [ConfigNote],
}

#[derive(Serialize)]
struct CapacityJson<'a> {
    kubernetes_version: String,
    server_concurrency_limit: u32,
    server_concurrency_limit_source: &'a str,
    replicas: u32,
    queue_wait_limit_s: f64,
    levels: &'a [LevelCapacity],
    notes: &'a [ConfigNote],
}

impl CapacityView<'_> {
    /// The view as pretty-printed JSON.
    pub fn json(&self) -> Result<String, ApfError> {
        let json = CapacityJson {
            kubernetes_version: self.version.to_string(),
            server_concurrency_limit: self.capacity.server_concurrency_limit,
            server_concurrency_limit_source: self.limit_source,
            replicas: self.replicas,
            queue_wait_limit_s: self.queue_wait_limit_s,
            levels: &self.capacity.levels,
            notes: self.notes,
        };
        pretty_json(&json, "the capacity")
    }

    /// The view as a headline, a table of levels, the comparison with the observed seats and
    /// the notes.
    pub fn text(&self) -> String {
        let mut out = format!(
            "Kubernetes {}: server concurrency limit {} per replica ({}), {} replica(s), queue wait limit {} s\n\n",
            self.version,
            self.capacity.server_concurrency_limit,
            self.limit_source,
            self.replicas,
            self.queue_wait_limit_s
        );
        out.push_str(&self.table().render(""));
        if let Some(observed) = &self.observed {
            out.push_str(&self.compare(observed));
        }
        out.push_str(&render_notes(self.notes));
        out
    }

    fn table(&self) -> Table {
        let mut header = vec![
            "LEVEL",
            "TYPE",
            "SHARES",
            "NOMINAL",
            "LENDABLE",
            "BORROW",
            "MIN",
            "MAX",
            "SEATS/REQ",
            "QUEUES",
            "HAND",
            "QLEN",
        ];
        if self.replicas > 1 {
            header.push("CLUSTER_NOMINAL");
        }
        let mut table = Table::new(&header);
        for l in &self.capacity.levels {
            let shares = self
                .config
                .level(&l.name)
                .map_or(0, |p| p.spec.nominal_concurrency_shares());
            let kind = if l.exempt {
                "exempt"
            } else if l.reject {
                "reject"
            } else {
                "queue"
            };
            let dash = |n: u32, show: bool| if show { n.to_string() } else { "-".to_string() };
            let queued = !l.exempt && !l.reject;
            let mut row = vec![
                l.name.clone(),
                kind.to_string(),
                shares.to_string(),
                l.nominal.to_string(),
                l.lendable.to_string(),
                l.borrowing_limit.to_string(),
                l.min_limit.to_string(),
                l.max_limit.to_string(),
                dash(l.max_seats_per_request, !l.exempt),
                dash(l.queues, queued),
                dash(l.hand_size, queued),
                dash(l.queue_length_limit, queued),
            ];
            if self.replicas > 1 {
                row.push((u64::from(l.nominal) * u64::from(self.replicas)).to_string());
            }
            table.row(row);
        }
        table
    }

    /// Whether the observed nominal seats agree with the computed ones, in one line.
    fn compare(&self, observed: &ObservedSeats<'_>) -> String {
        let mismatched: Vec<String> = observed
            .nominal
            .iter()
            .filter_map(|(level, seats)| {
                let ours = self.capacity.level(level).map(|l| f64::from(l.nominal));
                (ours != Some(*seats)).then(|| {
                    format!(
                        "{level} {seats} (computed {})",
                        ours.map_or("-".to_string(), |o| o.to_string())
                    )
                })
            })
            .collect();
        if mismatched.is_empty() {
            format!(
                "\nThe nominal seats of {} agree with every level above.\n",
                observed.source
            )
        } else {
            format!(
                "\nnote: {} reports different nominal seats: {}\n",
                observed.source,
                mismatched.join(", ")
            )
        }
    }
}

/// `value` as pretty-printed JSON and a newline.
pub(crate) fn pretty_json<T: Serialize>(value: &T, what: &'static str) -> Result<String, ApfError> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| ApfError::Json {
            what,
            why: e.to_string(),
        })
}
