//! The configuration a server runs with: its FlowSchemas in matching order and its priority
//! levels, digested as kube-apiserver digests the API objects.
//!
//! Follows `lockAndDigestConfigObjects` in `k8s.io/apiserver/pkg/util/flowcontrol/apf_controller.go`
//! (the same at `kubernetes-1.20.0` … `kubernetes-1.35.0` in what is modelled here):
//! 1. priority levels whose spec is broken are ignored (the exempt level must be of type
//!    Exempt and every other level Limited; `queueSetCompleterForPL`);
//! 2. a FlowSchema whose level is not among those objects is dangling: it never matches (a
//!    missing *mandatory* level is imagined only afterwards, so a schema pointing at a
//!    `catch-all` level that has no object dangles too);
//! 3. the remaining schemas are sorted by `matchingPrecedence`, then name
//!    (`FlowSchemaSequence`);
//! 4. a missing mandatory `exempt` schema is put first and a missing `catch-all` last;
//! 5. missing mandatory `exempt` and `catch-all` levels are imagined from the bootstrap objects.

use crate::KubeVersion;
use crate::defaults::{self, CATCH_ALL, EXEMPT};
use crate::objects::{FlowSchema, LevelSpec, PriorityLevel};
use serde::Serialize;
use std::collections::BTreeMap;

/// A server's APF configuration: schemas in matching order, levels by name.
#[derive(Debug, Clone)]
pub struct ApfConfig {
    pub(crate) version: KubeVersion,
    /// Every schema given (dangling ones included) plus re-added mandatory ones, in matching
    /// order.
    pub(crate) schemas: Vec<FlowSchema>,
    /// For each schema, the index of its level in `levels`, or `None` when it dangles.
    pub(crate) schema_level: Vec<Option<usize>>,
    /// The levels in use, sorted by name.
    pub(crate) levels: Vec<PriorityLevel>,
    /// The index of the catch-all schema (the fallback when nothing matches).
    pub(crate) catch_all: usize,
}

/// Something said about one object while digesting a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigNote {
    /// `FlowSchema/<name>` or `PriorityLevelConfiguration/<name>` (or the source for
    /// documents that are not objects).
    pub object: String,
    /// What happened, in one sentence.
    pub message: String,
}

impl ConfigNote {
    pub(crate) fn schema(name: &str, message: String) -> ConfigNote {
        ConfigNote {
            object: format!("FlowSchema/{name}"),
            message,
        }
    }

    pub(crate) fn level(name: &str, message: String) -> ConfigNote {
        ConfigNote {
            object: format!("PriorityLevelConfiguration/{name}"),
            message,
        }
    }
}

impl ApfConfig {
    /// The mandatory and suggested objects kube-apiserver of `version` creates
    /// (`bootstrap/default.go` at that tag). Versions outside [`crate::OLDEST`]…[`crate::NEWEST`]
    /// take the nearest known defaults.
    ///
    /// ```
    /// use apilens_apf::{ApfConfig, KubeVersion};
    /// let config = ApfConfig::defaults(KubeVersion::minor(1, 33));
    /// assert!(config.schema("workload-leader-election").is_some());
    /// let config = ApfConfig::defaults(KubeVersion::minor(1, 34));
    /// assert!(config.schema("workload-leader-election").is_none());
    /// ```
    pub fn defaults(version: KubeVersion) -> ApfConfig {
        let mut schemas = defaults::mandatory_schemas();
        schemas.extend(defaults::suggested_schemas(version));
        let mut levels = defaults::mandatory_levels(version);
        levels.extend(defaults::suggested_levels(version));
        ApfConfig::from_objects(version, schemas, levels).0
    }

    /// A cluster's objects (e.g. from `kubectl get flowschemas,prioritylevelconfigurations -o
    /// yaml`), digested as the server does: missing mandatory objects are re-added, dangling
    /// schemas are kept but never match, broken levels are ignored; each of these is noted.
    /// A later object with the same name replaces an earlier one (noted).
    pub fn from_objects(
        version: KubeVersion,
        schemas: Vec<FlowSchema>,
        levels: Vec<PriorityLevel>,
    ) -> (ApfConfig, Vec<ConfigNote>) {
        let mut notes = Vec::new();
        let mut by_name: BTreeMap<String, PriorityLevel> = BTreeMap::new();
        for level in levels {
            if let Some(why) = broken_level(&level) {
                notes.push(ConfigNote::level(
                    &level.name,
                    format!("ignored, as the server ignores it: {why}"),
                ));
                continue;
            }
            if by_name.contains_key(&level.name) {
                notes.push(ConfigNote::level(
                    &level.name,
                    "given twice; the later object is used".to_string(),
                ));
            }
            by_name.insert(level.name.clone(), level);
        }
        let mut seen: BTreeMap<String, FlowSchema> = BTreeMap::new();
        for schema in schemas {
            if seen.contains_key(&schema.name) {
                notes.push(ConfigNote::schema(
                    &schema.name,
                    "given twice; the later object is used".to_string(),
                ));
            }
            seen.insert(schema.name.clone(), schema);
        }
        // (schema, dangles): judged against the given levels only; the mandatory levels
        // imagined below do not revive a dangling schema.
        let mut schemas: Vec<(FlowSchema, bool)> = seen
            .into_values()
            .map(|s| {
                let dangles = !by_name.contains_key(&s.priority_level);
                (s, dangles)
            })
            .collect();
        schemas.sort_by(|(a, _), (b, _)| {
            (a.matching_precedence, &a.name).cmp(&(b.matching_precedence, &b.name))
        });
        for (s, _) in schemas.iter().filter(|(_, dangles)| *dangles) {
            notes.push(ConfigNote::schema(
                &s.name,
                format!(
                    "dangling: its priority level {:?} does not exist, so it never matches",
                    s.priority_level
                ),
            ));
        }
        let has_live = |name: &str, schemas: &[(FlowSchema, bool)]| {
            schemas
                .iter()
                .any(|(s, dangles)| s.name == name && !dangles)
        };
        if !has_live(EXEMPT, &schemas) {
            schemas.retain(|(s, _)| s.name != EXEMPT);
            if let Some(s) = defaults::mandatory_schema(EXEMPT) {
                schemas.insert(0, (s, false));
            }
            notes.push(ConfigNote::schema(
                EXEMPT,
                "missing; the server uses its mandatory exempt schema, matched first".to_string(),
            ));
        }
        if !has_live(CATCH_ALL, &schemas) {
            schemas.retain(|(s, _)| s.name != CATCH_ALL);
            if let Some(s) = defaults::mandatory_schema(CATCH_ALL) {
                schemas.push((s, false));
            }
            notes.push(ConfigNote::schema(
                CATCH_ALL,
                "missing; the server uses its mandatory catch-all schema, matched last".to_string(),
            ));
        }
        for level in defaults::mandatory_levels(version) {
            if !by_name.contains_key(&level.name) {
                notes.push(ConfigNote::level(
                    &level.name,
                    "missing; the server imagines its mandatory object".to_string(),
                ));
                by_name.insert(level.name.clone(), level);
            }
        }
        let levels: Vec<PriorityLevel> = by_name.into_values().collect();
        let schema_level = schemas
            .iter()
            .map(|(s, dangles)| {
                if *dangles {
                    None
                } else {
                    levels.iter().position(|l| l.name == s.priority_level)
                }
            })
            .collect();
        let schemas: Vec<FlowSchema> = schemas.into_iter().map(|(s, _)| s).collect();
        let catch_all = schemas
            .iter()
            .rposition(|s| s.name == CATCH_ALL)
            .unwrap_or(schemas.len().saturating_sub(1));
        (
            ApfConfig {
                version,
                schemas,
                schema_level,
                levels,
                catch_all,
            },
            notes,
        )
    }

    /// This configuration with objects added or replaced by name (to apply a fix).
    pub fn with_objects(&self, schemas: &[FlowSchema], levels: &[PriorityLevel]) -> ApfConfig {
        let mut all_schemas = self.schemas.clone();
        for s in schemas {
            all_schemas.retain(|x| x.name != s.name);
            all_schemas.push(s.clone());
        }
        let mut all_levels = self.levels.clone();
        for l in levels {
            all_levels.retain(|x| x.name != l.name);
            all_levels.push(l.clone());
        }
        ApfConfig::from_objects(self.version, all_schemas, all_levels).0
    }

    /// The version whose rules this configuration follows.
    pub fn version(&self) -> KubeVersion {
        self.version
    }

    /// The schemas in matching order (precedence, then name), dangling ones included.
    pub fn schemas(&self) -> &[FlowSchema] {
        &self.schemas
    }

    /// The levels in use, by name (imagined mandatory ones included).
    pub fn levels(&self) -> &[PriorityLevel] {
        &self.levels
    }

    /// A schema by name.
    pub fn schema(&self, name: &str) -> Option<&FlowSchema> {
        self.schemas.iter().find(|s| s.name == name)
    }

    /// A level by name.
    pub fn level(&self, name: &str) -> Option<&PriorityLevel> {
        self.levels.iter().find(|l| l.name == name)
    }

    /// True when the named schema exists but never matches because its level is missing.
    pub fn is_dangling(&self, schema: &str) -> bool {
        self.schemas
            .iter()
            .zip(&self.schema_level)
            .any(|(s, l)| s.name == schema && l.is_none())
    }
}

/// Why the server would ignore this level, if it would (`queueSetCompleterForPL`).
fn broken_level(level: &PriorityLevel) -> Option<&'static str> {
    let exempt_name = level.name == EXEMPT;
    match level.spec {
        LevelSpec::Exempt { .. } if !exempt_name => {
            Some("only the level named exempt may be of type Exempt")
        }
        LevelSpec::Limited { .. } if exempt_name => Some("the exempt level must be of type Exempt"),
        _ => None,
    }
}
