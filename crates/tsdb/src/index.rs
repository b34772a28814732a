//! Matchers resolved through postings lists, shared by the head and the blocks.

use crate::Error;
use apilens_model::{MatchOp, Matcher};

/// The inverted index of a head or a block: sorted series ids per label pair.
pub(crate) trait IndexReader {
    /// Sorted ids of the series that have `name="value"`.
    fn postings(&self, name: &str, value: &str) -> Result<Vec<u64>, Error>;
    /// Every value `name` takes, sorted.
    fn label_values(&self, name: &str) -> Result<Vec<String>, Error>;
    /// Sorted ids of every series.
    fn all_postings(&self) -> Result<Vec<u64>, Error>;
}

/// The sorted ids of the series that satisfy every matcher, as Prometheus's
/// `tsdb/querier.go` `PostingsForMatchers` computes them: intersect the postings of matchers that
/// need the label, then subtract the postings of values that matchers accepting the empty value
/// reject.
pub(crate) fn postings_for_matchers(
    ix: &impl IndexReader,
    matchers: &[Matcher],
) -> Result<Vec<u64>, Error> {
    let mut result: Option<Vec<u64>> = None;
    let mut subtract: Vec<Vec<u64>> = Vec::new();
    for m in matchers {
        if m.matches_empty() {
            // Series without the label match; remove those whose value does not.
            let mut rejected = Vec::new();
            if m.op == MatchOp::NotEqual {
                rejected.push(ix.postings(&m.name, &m.value)?);
            } else {
                for value in ix.label_values(&m.name)? {
                    if !m.matches(&value) {
                        rejected.push(ix.postings(&m.name, &value)?);
                    }
                }
            }
            subtract.push(merge(rejected));
        } else {
            let list = if m.op == MatchOp::Equal {
                ix.postings(&m.name, &m.value)?
            } else {
                let mut lists = Vec::new();
                for value in ix.label_values(&m.name)? {
                    if m.matches(&value) {
                        lists.push(ix.postings(&m.name, &value)?);
                    }
                }
                merge(lists)
            };
            result = Some(match result {
                None => list,
                Some(acc) => intersect(&acc, &list),
            });
            if result.as_ref().is_some_and(Vec::is_empty) {
                return Ok(Vec::new());
            }
        }
    }
    let mut acc = match result {
        Some(acc) => acc,
        None => ix.all_postings()?,
    };
    for s in subtract {
        acc = difference(&acc, &s);
    }
    Ok(acc)
}

fn merge(lists: Vec<Vec<u64>>) -> Vec<u64> {
    let mut all: Vec<u64> = lists.into_iter().flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn difference(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut j = 0;
    let mut out = Vec::with_capacity(a.len());
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Fixed(BTreeMap<(String, String), Vec<u64>>, Vec<u64>);

    impl IndexReader for Fixed {
        fn postings(&self, name: &str, value: &str) -> Result<Vec<u64>, Error> {
            Ok(self
                .0
                .get(&(name.into(), value.into()))
                .cloned()
                .unwrap_or_default())
        }
        fn label_values(&self, name: &str) -> Result<Vec<String>, Error> {
            Ok(self
                .0
                .keys()
                .filter(|k| k.0 == name)
                .map(|k| k.1.clone())
                .collect())
        }
        fn all_postings(&self) -> Result<Vec<u64>, Error> {
            Ok(self.1.clone())
        }
    }

    fn check(matchers: &[Matcher], expected: &[u64]) {
        // Series 1: verb=LIST resource=pods; 2: verb=GET resource=pods; 3: verb=LIST; 4: none.
        let mut m = BTreeMap::new();
        m.insert(("verb".into(), "LIST".into()), vec![1, 3]);
        m.insert(("verb".into(), "GET".into()), vec![2]);
        m.insert(("resource".into(), "pods".into()), vec![1, 2]);
        let ix = Fixed(m, vec![1, 2, 3, 4]);
        assert_eq!(
            postings_for_matchers(&ix, matchers).unwrap(),
            expected,
            "{matchers:?}"
        );
    }

    #[test]
    fn all_four_operators() {
        let re = |op, n, v| Matcher::new(op, n, v).unwrap();
        check(&[Matcher::equal("verb", "LIST")], &[1, 3]);
        check(&[re(MatchOp::NotEqual, "verb", "LIST")], &[2, 4]);
        check(&[re(MatchOp::RegexMatch, "verb", "L.*|G.*")], &[1, 2, 3]);
        check(&[re(MatchOp::RegexNoMatch, "verb", "GET")], &[1, 3, 4]);
        check(&[Matcher::equal("resource", "")], &[3, 4]);
        check(&[re(MatchOp::RegexMatch, "resource", ".+")], &[1, 2]);
        check(
            &[
                Matcher::equal("verb", "LIST"),
                Matcher::equal("resource", "pods"),
            ],
            &[1],
        );
        check(&[Matcher::equal("verb", "WATCH")], &[]);
        check(&[], &[1, 2, 3, 4]);
    }
}
