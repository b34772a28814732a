//! Which family answers each signal in this scrape, across renames.

use crate::Catalog;
use apilens_model::KubeRange;
use serde::Serialize;

/// How one signal is covered by a scrape.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// Stable identifier of the signal.
    pub id: &'static str,
    /// The question in words.
    pub question: &'static str,
    /// The family that answers it here, if any.
    pub metric: Option<&'static str>,
    /// The releases that expose that family, or what the absence means.
    pub note: String,
    /// Every name the signal has had, preferred first.
    pub alternatives: Vec<&'static str>,
}

/// A range as the coverage table reads it.
fn releases_in_words(range: KubeRange) -> String {
    if range == KubeRange::ANY {
        "all versions".to_owned()
    } else {
        range.to_string()
    }
}

/// Evaluates every signal of `catalog` against the families present.
pub fn evaluate(catalog: &Catalog, has_family: impl Fn(&str) -> bool) -> Vec<Coverage> {
    catalog
        .signals
        .iter()
        .map(|s| {
            let found = s.names.iter().find(|n| has_family(n.family));
            let note = match found {
                Some(n) => {
                    let range = catalog
                        .family(n.family)
                        .map_or(KubeRange::ANY, |f| f.releases);
                    format!("{}{}", releases_in_words(range), n.detail)
                }
                None => s.absent.to_owned(),
            };
            Coverage {
                id: s.id,
                question: s.question,
                metric: found.map(|n| n.family),
                note,
                alternatives: s.families().collect(),
            }
        })
        .collect()
}
