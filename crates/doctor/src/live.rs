//! A cluster's live APF state as the doctor reads it: what kube's `Cluster::read_apf_state`
//! fetched raw (the release, the FlowSchema and PriorityLevelConfiguration lists, every
//! replica's three debug dumps), parsed into [`ApfObjects`] and [`ReplicaDumps`], every refusal
//! or parse failure kept as a note naming the server, path or document.

use crate::diagnose::{ApfObjects, DoctorInputs};
use crate::dumps::ReplicaDumps;
use crate::gather::LiveInputs;
use apilens_apf::{DumpKind, KubeVersion};
use apilens_kube::{ApfDump, ApfState, Cluster};
use std::time::Duration;

/// How long one request to the cluster may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// What a cluster told of its APF state, parsed.
#[derive(Debug, Clone)]
pub struct LiveApf {
    /// The kubeconfig context.
    pub context: String,
    /// The release `/version` gave, when it answered with one apilens reads.
    pub version: Option<KubeVersion>,
    /// The cluster's whole APF configuration, when it could be listed and read.
    pub objects: Option<ApfObjects>,
    /// The dumps of every replica, each failure kept in its `errors`.
    pub dumps: Vec<ReplicaDumps>,
    /// What could not be read, each naming the server and path.
    pub notes: Vec<String>,
}

impl From<LiveApf> for LiveInputs {
    fn from(live: LiveApf) -> Self {
        LiveInputs {
            context: live.context,
            version: live.version,
            objects: live.objects,
            dumps: live.dumps,
            notes: live.notes,
        }
    }
}

/// Reads the live APF state of `cluster`, each request within 20 s; whatever it refuses or
/// does not answer in time is a note.
pub async fn read_live_apf(cluster: &Cluster) -> LiveApf {
    LiveApf::parse(cluster.read_apf_state(TIMEOUT).await)
}

impl LiveApf {
    /// Parses what kube read; a list or dump that does not parse is a note or a replica's
    /// error naming it.
    pub fn parse(state: ApfState) -> LiveApf {
        let mut notes = state.notes;
        let objects = state.objects.and_then(|raw| {
            let source = format!("cluster {} ({})", state.context, raw.api_version);
            ApfObjects::from_lists(source, &raw.flow_schemas, &raw.priority_levels)
                .map_err(|e| notes.push(e.to_string()))
                .ok()
        });
        let dumps = state
            .replicas
            .into_iter()
            .map(|replica| {
                let mut out = ReplicaDumps {
                    replica: replica.replica,
                    ..ReplicaDumps::default()
                };
                for (kind, text) in replica.dumps {
                    match text {
                        Ok(text) => {
                            let source = format!("{} {}", out.replica, kind.path());
                            out.add(dump_kind(kind), &text, &source);
                        }
                        Err(e) => out.errors.push(e),
                    }
                }
                out
            })
            .collect();
        LiveApf {
            context: state.context,
            version: state.git_version.and_then(|v| KubeVersion::parse(&v).ok()),
            objects,
            dumps,
            notes,
        }
    }

    /// The doctor's inputs of this state alone: the release (from `/version`), the objects,
    /// the dumps and the notes.
    pub fn into_inputs(self) -> DoctorInputs {
        DoctorInputs {
            version: self
                .version
                .map(|v| (v, format!("/version of {}", self.context))),
            apf: self.objects,
            dumps: self.dumps,
            notes: self.notes,
            ..DoctorInputs::default()
        }
    }
}

/// apf's name of a dump of kube's.
fn dump_kind(dump: ApfDump) -> DumpKind {
    match dump {
        ApfDump::PriorityLevels => DumpKind::PriorityLevels,
        ApfDump::Queues => DumpKind::Queues,
        ApfDump::Requests => DumpKind::Requests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apilens_kube::ReplicaApfDumps;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../../shared/fixtures/real/apf/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A state with the real dumps of one replica, one refused dump of another, and lists.
    fn state(flow_schemas: &str) -> ApfState {
        ApfState {
            context: "prod".to_owned(),
            git_version: Some("v1.29.5-eks-1109419".to_owned()),
            objects: Some(apilens_kube::ApfObjects {
                api_version: "v1".to_owned(),
                flow_schemas: flow_schemas.as_bytes().to_vec().into(),
                priority_levels: b"{\"kind\":\"PriorityLevelConfigurationList\",\"apiVersion\":\"flowcontrol.apiserver.k8s.io/v1\",\"items\":[]}".to_vec().into(),
            }),
            replicas: vec![
                ReplicaApfDumps {
                    replica: "10.0.0.1:6443".to_owned(),
                    dumps: vec![
                        (
                            ApfDump::PriorityLevels,
                            Ok(fixture("k8s-website-apf-debug-dump_priority_levels-2023.csv")),
                        ),
                        (
                            ApfDump::Queues,
                            Ok(fixture("k8s-website-apf-debug-dump_queues-2023.csv")),
                        ),
                    ],
                },
                ReplicaApfDumps {
                    replica: "10.0.0.2:6443".to_owned(),
                    dumps: vec![(ApfDump::Requests, Err("GET /debug/api_priority_and_fairness/dump_requests from 10.0.0.2:6443: HTTP 403".to_owned()))],
                },
            ],
            notes: vec!["a note from kube".to_owned()],
        }
    }

    #[test]
    fn real_dumps_and_a_flow_schema_parse_and_refusals_stay_notes() {
        let live = LiveApf::parse(state(&fixture(
            "openshift-cluster-authentication-operator-flowschema.yaml",
        )));
        assert_eq!(live.version.unwrap().minor, 29);
        let objects = live.objects.as_ref().unwrap();
        let names: Vec<&str> = objects.schemas.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(
            names.contains(&"openshift-oauth-apiserver-sar"),
            "{names:?}"
        );
        assert!(
            objects.source.contains("cluster prod"),
            "{}",
            objects.source
        );
        let first = &live.dumps[0];
        assert!(first.errors.is_empty(), "{:?}", first.errors);
        assert!(first.priority_levels.is_some() && first.queues.is_some());
        assert!(live.dumps[1].errors[0].contains("HTTP 403"));
        let inputs = live.into_inputs();
        assert_eq!(inputs.version.unwrap().1, "/version of prod");
        assert_eq!(inputs.notes, ["a note from kube"]);
        assert_eq!(inputs.dumps.len(), 2);
    }

    #[test]
    fn a_list_that_does_not_parse_is_a_note_naming_the_cluster() {
        let live = LiveApf::parse(state("{not json"));
        assert!(live.objects.is_none());
        assert!(
            live.notes.iter().any(|n| n.contains("cluster prod")),
            "{:?}",
            live.notes
        );
    }
}
