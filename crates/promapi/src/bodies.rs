//! The success bodies of `/api/v1/series` and the label APIs, as Prometheus writes them.

use apilens_model::Labels;
use std::collections::BTreeSet;

/// `{"status":"success","data":[{label: value, …}, …]}`.
pub(crate) fn series_body(set: &BTreeSet<Labels>) -> String {
    let items: Vec<serde_json::Value> = set
        .iter()
        .map(|l| {
            serde_json::Value::Object(
                l.iter()
                    .map(|x| (x.name.clone(), x.value.clone().into()))
                    .collect(),
            )
        })
        .collect();
    format!(
        r#"{{"status":"success","data":{}}}"#,
        serde_json::Value::Array(items)
    )
}

/// The sorted label names of `set`.
pub(crate) fn label_names_body(set: &BTreeSet<Labels>) -> String {
    let names: BTreeSet<&str> = set
        .iter()
        .flat_map(|l| l.iter().map(|x| x.name.as_str()))
        .collect();
    string_list(names.into_iter())
}

/// The sorted values of label `name` across `set`.
pub(crate) fn label_values_body(set: &BTreeSet<Labels>, name: &str) -> String {
    let values: BTreeSet<&str> = set.iter().filter_map(|l| l.get(name)).collect();
    string_list(values.into_iter())
}

fn string_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = items.collect();
    format!(
        r#"{{"status":"success","data":{}}}"#,
        serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
    )
}
