//! Binary operators: arithmetic, comparison (with `bool`), vector matching (`on`, `ignoring`,
//! `group_left`, `group_right`) and the set operators `and`, `or`, `unless`.
//!
//! Follows Prometheus v3.5.0 `promql/engine.go` (`VectorBinop`, `VectorscalarBinop`,
//! `VectorAnd`, `VectorOr`, `VectorUnless`, `resultMetric`, `vectorElemBinop`, `scalarBinop`).

use crate::error::{Error, Result};
use crate::evaluator::Evaluator;
use crate::step::{StepSeries, Steps, Val, merge_same_labels};
use apilens_model::{Labels, METRIC_NAME};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use std::collections::HashMap;

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "atan2" => Op::Atan2,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            other => return Err(Error::Unsupported(format!("binary operator {other:?}"))),
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    /// Arithmetic drops the metric name; comparisons without `bool` keep it.
    fn drops_metric_name(self) -> bool {
        matches!(
            self,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod | Op::Pow | Op::Atan2
        )
    }
}

/// `vectorElemBinop` for floats: the value and whether the element is kept.
pub(crate) fn elem(op: Op, l: f64, r: f64) -> (f64, bool) {
    match op {
        Op::Add => (l + r, true),
        Op::Sub => (l - r, true),
        Op::Mul => (l * r, true),
        Op::Div => (l / r, true),
        Op::Mod => (l % r, true),
        Op::Pow => (l.powf(r), true),
        Op::Atan2 => (l.atan2(r), true),
        Op::Eq => (l, l == r),
        Op::Ne => (l, l != r),
        Op::Gt => (l, l > r),
        Op::Lt => (l, l < r),
        Op::Ge => (l, l >= r),
        Op::Le => (l, l <= r),
        Op::And | Op::Or | Op::Unless => (f64::NAN, false),
    }
}

/// Evaluates a binary expression over all steps.
pub(crate) fn eval(ev: &mut Evaluator<'_>, bin: &BinaryExpr, steps: Steps) -> Result<Val> {
    let op = Op::parse(&bin.op.to_string())?;
    if let Some(m) = &bin.modifier
        && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
    {
        return Err(Error::Unsupported(
            "fill modifiers of binary operators".into(),
        ));
    }
    let return_bool = bin.return_bool();
    let lhs = ev.eval(&bin.lhs, steps)?;
    let rhs = ev.eval(&bin.rhs, steps)?;
    match (lhs, rhs) {
        (Val::Scalar(a), Val::Scalar(b)) => Ok(Val::Scalar(
            a.iter()
                .zip(&b)
                .map(|(&l, &r)| {
                    let (v, keep) = elem(op, l, r);
                    if op.is_comparison() {
                        if keep { 1.0 } else { 0.0 }
                    } else {
                        v
                    }
                })
                .collect(),
        )),
        (Val::Vector(v), Val::Scalar(s)) => vector_scalar(op, v, &s, false, return_bool),
        (Val::Scalar(s), Val::Vector(v)) => vector_scalar(op, v, &s, true, return_bool),
        (Val::Vector(l), Val::Vector(r)) => {
            let matching = Matching::from_expr(bin);
            match op {
                Op::And | Op::Or | Op::Unless => {
                    Ok(Val::Vector(set_op(op, l, r, &matching, steps)))
                }
                _ => Ok(Val::Vector(vector_binop(
                    op,
                    l,
                    r,
                    &matching,
                    return_bool,
                    steps,
                )?)),
            }
        }
        _ => Err(Error::exec(format!(
            "binary operator {} needs scalar or instant vector operands",
            bin.op
        ))),
    }
}

fn vector_scalar(
    op: Op,
    v: Vec<StepSeries>,
    s: &[f64],
    swap: bool,
    return_bool: bool,
) -> Result<Val> {
    let mut out = Vec::with_capacity(v.len());
    let drop = op.drops_metric_name() || return_bool;
    for series in v {
        let mut points = Vec::with_capacity(series.points.len());
        for (i, x) in series.points {
            let (mut l, mut r) = (x, s[i as usize]);
            if swap {
                std::mem::swap(&mut l, &mut r);
            }
            let (mut value, mut keep) = elem(op, l, r);
            // A scalar on the left of a comparison still keeps the vector element's value.
            if op.is_comparison() && swap {
                value = r;
            }
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            if keep {
                points.push((i, value));
            }
        }
        let labels = if drop {
            series.labels.without_metric_name()
        } else {
            series.labels
        };
        out.push(StepSeries { labels, points });
    }
    Ok(Val::Vector(merge_same_labels(out)?))
}

/// The vector matching of one binary expression.
struct Matching {
    card: Card,
    on: bool,
    labels: Vec<String>,
    include: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
}

impl Matching {
    fn from_expr(bin: &BinaryExpr) -> Self {
        let mut m = Matching {
            card: Card::OneToOne,
            on: false,
            labels: Vec::new(),
            include: Vec::new(),
        };
        if let Some(modifier) = &bin.modifier {
            match &modifier.card {
                VectorMatchCardinality::ManyToOne(l) => {
                    m.card = Card::ManyToOne;
                    m.include = l.labels.clone();
                }
                VectorMatchCardinality::OneToMany(l) => {
                    m.card = Card::OneToMany;
                    m.include = l.labels.clone();
                }
                VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany => {}
            }
            match &modifier.matching {
                Some(LabelModifier::Include(l)) => {
                    m.on = true;
                    m.labels = l.labels.clone();
                }
                Some(LabelModifier::Exclude(l)) => m.labels = l.labels.clone(),
                None => {}
            }
        }
        m
    }

    /// The match signature of a series: the `on` labels, or every label but the `ignoring` ones
    /// and the metric name.
    fn signature(&self, l: &Labels) -> Labels {
        if self.on {
            l.keep(&self.labels)
        } else {
            let mut s = l.drop_names(&self.labels);
            s.remove(METRIC_NAME);
            s
        }
    }
}

/// Interns the signatures of both sides so the step loop compares integers.
fn signatures(m: &Matching, l: &[StepSeries], r: &[StepSeries]) -> (Vec<u32>, Vec<u32>, usize) {
    let mut ids: HashMap<Labels, u32> = HashMap::new();
    let mut id_of = |labels: &Labels| {
        let sig = m.signature(labels);
        let n = ids.len() as u32;
        *ids.entry(sig).or_insert(n)
    };
    let ls = l.iter().map(|s| id_of(&s.labels)).collect();
    let rs = r.iter().map(|s| id_of(&s.labels)).collect();
    (ls, rs, ids.len())
}

/// Lists, for every step, the `(series index, value)` pairs present at that step.
pub(crate) fn by_step(series: &[StepSeries], n_steps: usize) -> Vec<Vec<(u32, f64)>> {
    // Counted first: each step's list allocated once, at its size.
    let mut counts = vec![0usize; n_steps];
    for s in series {
        for &(i, _) in &s.points {
            counts[i as usize] += 1;
        }
    }
    let mut out: Vec<Vec<(u32, f64)>> = counts.into_iter().map(Vec::with_capacity).collect();
    for (si, s) in series.iter().enumerate() {
        for &(i, v) in &s.points {
            out[i as usize].push((si as u32, v));
        }
    }
    out
}

fn set_op(
    op: Op,
    l: Vec<StepSeries>,
    r: Vec<StepSeries>,
    m: &Matching,
    steps: Steps,
) -> Vec<StepSeries> {
    let n = steps.len();
    let (lsig, rsig, n_sigs) = signatures(m, &l, &r);
    let lsteps = by_step(&l, n);
    let rsteps = by_step(&r, n);
    let mut seen = vec![u32::MAX; n_sigs];
    let mut lout: Vec<Vec<(u32, f64)>> = vec![Vec::new(); l.len()];
    let mut rout: Vec<Vec<(u32, f64)>> = vec![Vec::new(); r.len()];
    for i in 0..n {
        let (lv, rv) = (&lsteps[i], &rsteps[i]);
        let stamp = i as u32;
        match op {
            Op::And => {
                if lv.is_empty() || rv.is_empty() {
                    continue;
                }
                for &(si, _) in rv {
                    seen[rsig[si as usize] as usize] = stamp;
                }
                for &(si, v) in lv {
                    if seen[lsig[si as usize] as usize] == stamp {
                        lout[si as usize].push((stamp, v));
                    }
                }
            }
            Op::Unless => {
                for &(si, _) in rv {
                    seen[rsig[si as usize] as usize] = stamp;
                }
                for &(si, v) in lv {
                    if rv.is_empty() || seen[lsig[si as usize] as usize] != stamp {
                        lout[si as usize].push((stamp, v));
                    }
                }
            }
            _ => {
                for &(si, v) in lv {
                    seen[lsig[si as usize] as usize] = stamp;
                    lout[si as usize].push((stamp, v));
                }
                for &(si, v) in rv {
                    if lv.is_empty() || seen[rsig[si as usize] as usize] != stamp {
                        rout[si as usize].push((stamp, v));
                    }
                }
            }
        }
    }
    let mut out: Vec<StepSeries> = Vec::new();
    for (s, points) in l.into_iter().zip(lout) {
        out.push(StepSeries {
            labels: s.labels,
            points,
        });
    }
    if op == Op::Or {
        // A series on both sides (same labels) is one series of the result: merge its points.
        let mut index: HashMap<Labels, usize> = out
            .iter()
            .enumerate()
            .map(|(i, s)| (s.labels.clone(), i))
            .collect();
        for (s, points) in r.into_iter().zip(rout) {
            if points.is_empty() {
                continue;
            }
            match index.get(&s.labels) {
                Some(&i) => {
                    out[i].points.extend(points);
                    out[i].points.sort_by_key(|p| p.0);
                    out[i].points.dedup_by_key(|p| p.0);
                }
                None => {
                    index.insert(s.labels.clone(), out.len());
                    out.push(StepSeries {
                        labels: s.labels,
                        points,
                    });
                }
            }
        }
    }
    out.retain(|s| !s.points.is_empty());
    out
}

fn vector_binop(
    op: Op,
    l: Vec<StepSeries>,
    r: Vec<StepSeries>,
    m: &Matching,
    return_bool: bool,
    steps: Steps,
) -> Result<Vec<StepSeries>> {
    let n = steps.len();
    // For one-to-many matching the sides are swapped so the right side is always the "one".
    let swapped = m.card == Card::OneToMany;
    let (l, r) = if swapped { (r, l) } else { (l, r) };
    let (lsig, rsig, n_sigs) = signatures(m, &l, &r);
    let lsteps = by_step(&l, n);
    let rsteps = by_step(&r, n);
    let mut right: Vec<(u32, u32, f64)> = vec![(u32::MAX, 0, 0.0); n_sigs];
    let mut matched: Vec<u32> = vec![u32::MAX; n_sigs];
    // Result label set per (left, right) pair, and output series per result label set.
    let mut result_of: HashMap<(u32, u32), usize> = HashMap::new();
    let mut out_index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<StepSeries> = Vec::new();
    let mut last_step: Vec<u32> = Vec::new();
    // Many-to-one: the result label sets already produced per match group at this step.
    let mut inserted: HashMap<u32, Vec<usize>> = HashMap::new();
    for i in 0..n {
        let stamp = i as u32;
        let (lv, rv) = (&lsteps[i], &rsteps[i]);
        if lv.is_empty() || rv.is_empty() {
            continue;
        }
        for &(si, rval) in rv {
            let sig = rsig[si as usize] as usize;
            if right[sig].0 == stamp {
                let other = &r[right[sig].1 as usize].labels;
                let this = &r[si as usize].labels;
                let side = if swapped { "left" } else { "right" };
                let group = if m.on {
                    this.keep(&m.labels)
                } else {
                    this.drop_names(&m.labels)
                };
                return Err(Error::exec(format!(
                    "found duplicate series for the match group {group} on the {side} hand-side of the operation: [{this}, {other}];many-to-many matching not allowed: matching labels must be unique on one side"
                )));
            }
            right[sig] = (stamp, si, rval);
        }
        inserted.clear();
        for &(si, lval) in lv {
            let sig = lsig[si as usize] as usize;
            if right[sig].0 != stamp {
                continue;
            }
            let (_, ri, rval) = right[sig];
            let (fl, fr) = if swapped { (rval, lval) } else { (lval, rval) };
            let (mut value, keep) = elem(op, fl, fr);
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            let oi = match result_of.get(&(si, ri)) {
                Some(&oi) => oi,
                None => {
                    let mut labels =
                        result_metric(&l[si as usize].labels, &r[ri as usize].labels, op, m);
                    if return_bool {
                        labels.remove(METRIC_NAME);
                    }
                    let oi = *out_index.entry(labels.clone()).or_insert_with(|| {
                        out.push(StepSeries {
                            labels,
                            points: Vec::new(),
                        });
                        last_step.push(u32::MAX);
                        out.len() - 1
                    });
                    result_of.insert((si, ri), oi);
                    oi
                }
            };
            if m.card == Card::OneToOne {
                if matched[sig] == stamp {
                    return Err(Error::exec(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                matched[sig] = stamp;
            } else {
                let set = inserted.entry(sig as u32).or_default();
                if set.contains(&oi) {
                    return Err(Error::exec(
                        "multiple matches for labels: grouping labels must ensure unique matches",
                    ));
                }
                set.push(oi);
            }
            if last_step[oi] == stamp {
                return Err(crate::step::same_labelset());
            }
            last_step[oi] = stamp;
            out[oi].points.push((stamp, value));
        }
    }
    out.retain(|s| !s.points.is_empty());
    Ok(out)
}

/// The label set of a vector-vector result element (`resultMetric` in engine.go).
fn result_metric(lhs: &Labels, rhs: &Labels, op: Op, m: &Matching) -> Labels {
    let mut out = lhs.clone();
    if op.drops_metric_name() {
        out.remove(METRIC_NAME);
    }
    if m.card == Card::OneToOne {
        out = if m.on {
            out.keep(&m.labels)
        } else {
            out.drop_names(&m.labels)
        };
    }
    for name in &m.include {
        match rhs.get(name) {
            Some(v) => out.set(name, v),
            None => out.remove(name),
        }
    }
    out
}
