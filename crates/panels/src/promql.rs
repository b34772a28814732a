//! What a PromQL string reads, found by walking its promql-parser AST.

use promql_parser::parser::{self, Expr};
use std::collections::BTreeSet;

/// What one PromQL expression reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExprFacts {
    /// Metric names of every vector selector, sorted, without duplicates.
    pub metrics: Vec<String>,
    /// `(metric, label)` for every label matcher on a named selector, sorted.
    pub matcher_labels: Vec<(String, String)>,
    /// Function names called, sorted.
    pub functions: Vec<String>,
}

/// Parses `promql` with promql-parser and lists what it reads.
///
/// # Errors
///
/// The parser's message when the expression does not parse.
pub fn expr_facts(promql: &str) -> Result<ExprFacts, String> {
    let expr = parser::parse(promql)?;
    let mut metrics = BTreeSet::new();
    let mut matcher_labels = BTreeSet::new();
    let mut functions = BTreeSet::new();
    walk(&expr, &mut |node| match node {
        Expr::VectorSelector(vs) => note_selector(vs, &mut metrics, &mut matcher_labels),
        Expr::MatrixSelector(ms) => note_selector(&ms.vs, &mut metrics, &mut matcher_labels),
        Expr::Call(call) => {
            functions.insert(call.func.name.to_string());
        }
        _ => {}
    });
    Ok(ExprFacts {
        metrics: metrics.into_iter().collect(),
        matcher_labels: matcher_labels.into_iter().collect(),
        functions: functions.into_iter().collect(),
    })
}

fn note_selector(
    vs: &parser::VectorSelector,
    metrics: &mut BTreeSet<String>,
    labels: &mut BTreeSet<(String, String)>,
) {
    let Some(name) = &vs.name else { return };
    metrics.insert(name.clone());
    for m in &vs.matchers.matchers {
        if m.name != "__name__" {
            labels.insert((name.clone(), m.name.clone()));
        }
    }
}

fn walk(expr: &Expr, visit: &mut dyn FnMut(&Expr)) {
    visit(expr);
    match expr {
        Expr::Aggregate(agg) => {
            walk(&agg.expr, visit);
            if let Some(param) = &agg.param {
                walk(param, visit);
            }
        }
        Expr::Unary(u) => walk(&u.expr, visit),
        Expr::Binary(b) => {
            walk(&b.lhs, visit);
            walk(&b.rhs, visit);
        }
        Expr::Paren(p) => walk(&p.expr, visit),
        Expr::Subquery(s) => walk(&s.expr, visit),
        Expr::Call(call) => {
            for arg in &call.args.args {
                walk(arg, visit);
            }
        }
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_metrics_labels_and_functions() {
        let facts = expr_facts(
            r#"sum by (le) (rate(a_bucket{verb="LIST"}[5m])) / on() group_left sum(b{job="x"})"#,
        )
        .unwrap();
        assert_eq!(facts.metrics, ["a_bucket", "b"]);
        assert_eq!(
            facts.matcher_labels,
            [
                ("a_bucket".to_owned(), "verb".to_owned()),
                ("b".to_owned(), "job".to_owned())
            ]
        );
        assert_eq!(facts.functions, ["rate"]);
        assert!(expr_facts("sum(").is_err());
    }
}
