//! EXPLAIN ANALYZE: the plan run as the executor runs it, one line per step it took, in
//! the order it took them (an AND's children in cost order), each with its strategy,
//! estimated rows and cost, actual rows and the time the step took (its children
//! included). (Plain EXPLAIN is the plan's `Display`, without running it; EXPLAIN VERBOSE
//! is `plan::rules::optimize_steps`.)

use std::time::Instant;

use super::{Costs, Run, Step, Strategy, Trace};
use crate::plan::Plan;
use crate::store::Store;

/// One explained step.
#[derive(Clone, Debug)]
pub struct ExplainNode {
    pub label: String,
    pub strategy: Strategy,
    /// Whether the step's rows were only counted, not built.
    pub counted: bool,
    pub estimate: u64,
    /// The cost model's figure, in weighted bytes touched.
    pub cost: f64,
    pub actual: u64,
    pub micros: f64,
    pub children: Vec<ExplainNode>,
}

/// Builds the tree of steps from the executor's reports.
#[derive(Default)]
struct Recorder {
    open: Vec<(ExplainNode, Instant)>,
    done: Option<ExplainNode>,
}

impl Recorder {
    fn push_node(&mut self, label: String, step: Step, estimate: f64, cost: f64) {
        let node = ExplainNode {
            label,
            strategy: step.how,
            counted: step.counted,
            estimate: estimate as u64,
            cost,
            actual: 0,
            micros: 0.0,
            children: Vec::new(),
        };
        self.open.push((node, Instant::now()));
    }
}

impl Trace for Recorder {
    fn enter(&mut self, plan: &Plan, step: Step, costs: &Costs<'_>) {
        let cost = match step.within {
            None => costs.eval(plan),
            Some(n) => costs.restrict(plan, n as f64),
        };
        let label = match (step.how, plan) {
            (Strategy::FusedStep, _) | (Strategy::Fused, Plan::Or(_)) => one_line(plan),
            _ => plan.label(),
        };
        self.push_node(label, step, costs.estimate(plan), cost);
    }

    fn enter_and(&mut self, children: &[&Plan], step: Step, costs: &Costs<'_>) {
        let estimate = children.iter().map(|c| costs.estimate(c));
        self.push_node("AND".into(), step, estimate.fold(f64::MAX, f64::min), 0.0);
    }

    fn leave(&mut self, rows: u64) {
        let Some((mut node, started)) = self.open.pop() else {
            return;
        };
        node.micros = started.elapsed().as_secs_f64() * 1e6;
        node.actual = rows;
        match self.open.last_mut() {
            Some((parent, _)) => parent.children.push(node),
            None => self.done = Some(node),
        }
    }
}

impl ExplainNode {
    /// Counts `plan` over `store` as `count` does, recording every step.
    pub fn new(plan: &Plan, store: &Store) -> ExplainNode {
        let mut run = Run::new(store, Recorder::default());
        run.count(plan);
        let fallback = || ExplainNode {
            label: plan.label(),
            strategy: super::cost::count_strategy(plan),
            counted: true,
            estimate: 0,
            cost: 0.0,
            actual: 0,
            micros: 0.0,
            children: Vec::new(),
        };
        run.into_trace().done.unwrap_or_else(fallback)
    }

    fn render(&self, prefix: &str, last: bool, root: bool, out: &mut String) {
        let branch = match (root, last) {
            (true, _) => "",
            (false, true) => "└─ ",
            (false, false) => "├─ ",
        };
        out.push_str(&format!(
            "{prefix}{branch}{}  [{}{}]  (est {}, cost {}; actual {}, {:.3} ms)\n",
            self.label,
            self.strategy,
            if self.counted { ", counted" } else { "" },
            self.estimate,
            megabytes(self.cost),
            self.actual,
            self.micros / 1000.0
        ));
        let child_prefix = if root {
            String::new()
        } else {
            format!("{prefix}{}", if last { "   " } else { "│  " })
        };
        for (i, child) in self.children.iter().enumerate() {
            child.render(&child_prefix, i + 1 == self.children.len(), false, out);
        }
    }
}

/// A plan on one line: a fused AND's steps are its children whole, and a fused OR is
/// one step, with no steps of their own.
fn one_line(plan: &Plan) -> String {
    let join = |children: &[Plan], op: &str| {
        let parts: Vec<String> = children.iter().map(one_line).collect();
        format!("({})", parts.join(op))
    };
    match plan {
        Plan::Not(inner) => format!("NOT {}", one_line(inner)),
        Plan::And(children) => join(children, " AND "),
        Plan::Or(children) => join(children, " OR "),
        other => other.label(),
    }
}

fn megabytes(bytes: f64) -> String {
    if bytes < 1e6 {
        format!("{:.0} kB", bytes / 1e3)
    } else {
        format!("{:.1} MB", bytes / 1e6)
    }
}

/// The explanation text: warnings, then the tree.
pub fn explain_text(node: &ExplainNode, warnings: &[String]) -> String {
    let mut out = String::new();
    for w in warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    node.render("", true, true, &mut out);
    out
}
