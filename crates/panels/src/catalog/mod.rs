//! The one list of troubleshooter panels, one file per row.

mod apf;
mod etcd;
mod etcd_server;
mod extensions;
mod latency;
mod process;
mod saturation;
mod storage;
mod traffic;
mod watches;

use crate::{
    Alternative, Ceiling, DrillDown, LimitLine, Panel, PanelsError, Query, Row, Severity,
    TableSpec, Threshold, Unit, Visualisation,
};
use serde::Serialize;
use std::sync::LazyLock;

/// Series that appear only after their first event (a rejection, a webhook call, a terminated
/// request): the emergent families of the family catalog. A quiet cluster does not expose them at
/// all, so their absence says nothing about the Kubernetes version and selection by series does
/// not require them.
pub static EMERGENT_METRICS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    apilens_kubemetrics::catalog()
        .emergent_series()
        .into_iter()
        .map(|name| &*name.leak())
        .collect()
});

pub(crate) fn is_emergent(metric: &str) -> bool {
    apilens_kubemetrics::catalog().is_emergent(metric)
}

/// The oldest Kubernetes minor release the catalog supports: the family catalog's oldest.
pub(crate) fn oldest() -> u32 {
    apilens_kubemetrics::catalog().oldest.minor
}

/// Every troubleshooter panel, in display order.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    panels: Vec<Panel>,
}

impl Catalog {
    /// Every panel, grouped by row in [`Row::ALL`] order.
    pub fn panels(&self) -> &[Panel] {
        &self.panels
    }

    /// The panel with this id.
    pub fn panel(&self, id: &str) -> Option<&Panel> {
        self.panels.iter().find(|p| p.id == id)
    }

    /// The panel with this id, or an error naming it.
    ///
    /// # Errors
    ///
    /// [`PanelsError::UnknownPanel`] when no panel has the id.
    pub fn get(&self, id: &str) -> Result<&Panel, PanelsError> {
        self.panel(id)
            .ok_or_else(|| PanelsError::UnknownPanel(id.to_owned()))
    }

    /// The panels of one row.
    pub fn row(&self, row: Row) -> impl Iterator<Item = &Panel> {
        self.panels.iter().filter(move |p| p.row == row)
    }
}

/// The catalog, built once.
pub fn catalog() -> &'static Catalog {
    static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
        let mut panels = Vec::new();
        panels.extend(saturation::panels());
        panels.extend(watches::panels());
        panels.extend(apf::panels());
        panels.extend(latency::panels());
        panels.extend(traffic::panels());
        panels.extend(etcd::panels());
        panels.extend(storage::panels());
        panels.extend(process::panels());
        panels.extend(etcd_server::panels());
        panels.extend(extensions::panels());
        panels.sort_by_key(|p| Row::ALL.iter().position(|r| *r == p.row));
        Catalog { panels }
    });
    &CATALOG
}

/// A small builder that keeps the panel files readable.
pub(crate) struct Builder(Panel);

pub(crate) fn panel(id: &str, row: Row, title: &str, unit: Unit, vis: Visualisation) -> Builder {
    Builder(Panel {
        id: id.to_owned(),
        row,
        title: title.to_owned(),
        question: String::new(),
        description: String::new(),
        unit,
        visualisation: vis,
        thresholds: Vec::new(),
        limits: Vec::new(),
        queries: Vec::new(),
        drilldown: DrillDown::default(),
        table: None,
        ceiling: None,
    })
}

impl Builder {
    pub(crate) fn question(mut self, text: &str) -> Self {
        self.0.question = text.to_owned();
        self
    }
    pub(crate) fn description(mut self, text: &str) -> Self {
        self.0.description = text.to_owned();
        self
    }
    pub(crate) fn warn(mut self, value: f64) -> Self {
        self.0.thresholds.push(Threshold {
            value,
            severity: Severity::Warning,
        });
        self
    }
    pub(crate) fn crit(mut self, value: f64) -> Self {
        self.0.thresholds.push(Threshold {
            value,
            severity: Severity::Critical,
        });
        self
    }
    pub(crate) fn limit(mut self, value: f64, label: &str) -> Self {
        self.0.limits.push(LimitLine {
            value,
            label: label.to_owned(),
        });
        self
    }
    pub(crate) fn query(mut self, id: &str, legend: &str, alternatives: Vec<Alternative>) -> Self {
        self.0.queries.push(Query {
            id: id.to_owned(),
            legend: legend.to_owned(),
            unit: None,
            alternatives,
        });
        self
    }
    pub(crate) fn query_unit(
        mut self,
        id: &str,
        legend: &str,
        unit: Unit,
        alternatives: Vec<Alternative>,
    ) -> Self {
        self.0.queries.push(Query {
            id: id.to_owned(),
            legend: legend.to_owned(),
            unit: Some(unit),
            alternatives,
        });
        self
    }
    pub(crate) fn table(
        mut self,
        keys: &[&str],
        sort_by: &str,
        top: usize,
        keep_above: Option<(&str, f64)>,
    ) -> Self {
        self.0.table = Some(TableSpec {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            sort_by: sort_by.to_owned(),
            top,
            keep_above: keep_above.map(|(q, v)| (q.to_owned(), v)),
        });
        self
    }
    pub(crate) fn drill(mut self, breakdown: &[&str], related: &[&str], hint: &str) -> Self {
        self.0.drilldown = DrillDown {
            breakdown: breakdown.iter().map(|s| (*s).to_owned()).collect(),
            related: related.iter().map(|s| (*s).to_owned()).collect(),
            hint: hint.to_owned(),
        };
        self
    }
    pub(crate) fn ceiling(mut self, value: f64, next_bucket: f64, what: &str) -> Self {
        self.0.ceiling = Some(Ceiling {
            value,
            next_bucket,
            what: what.to_owned(),
        });
        self
    }
    pub(crate) fn build(self) -> Panel {
        self.0
    }
}

/// A template for minor releases `since..=until`.
pub(crate) fn alt(since: u32, until: u32, template: &str) -> Alternative {
    Alternative {
        since,
        until: Some(until),
        template: template.to_owned(),
        labels: Vec::new(),
    }
}

/// A template for `since` and every later release.
pub(crate) fn from(since: u32, template: &str) -> Alternative {
    Alternative {
        since,
        until: None,
        template: template.to_owned(),
        labels: Vec::new(),
    }
}

/// A template for every supported release.
pub(crate) fn always(template: &str) -> Alternative {
    from(oldest(), template)
}

impl Alternative {
    /// Adds a `(metric, label)` the template relies on.
    pub(crate) fn needs_label(mut self, metric: &str, label: &str) -> Self {
        self.labels.push((metric.to_owned(), label.to_owned()));
        self
    }
}

/// Keeps only the series of API servers (`process_*`, `go_*`, `workqueue_*` and `rest_client_*`
/// are exposed by every Kubernetes component and by etcd): those whose job and instance also
/// expose the in-flight gauge, which only kube-apiserver has.
pub(crate) const APISERVERS_ONLY: &str = r#"and on (job, instance) group by (job, instance) (apiserver_current_inflight_requests{${sel}})"#;

/// Requests that stream or hang: excluded from latency views.
pub(crate) const NOT_STREAMING: &str = r#"verb!~"WATCH|WATCHLIST|CONNECT""#;
