//! EXPLAIN ANALYZE: the plan as a tree, one node per line, with each node's estimated and
//! actual cardinality and the time its own evaluation took. (Plain EXPLAIN is the plan's
//! `Display`, without running it; EXPLAIN VERBOSE is `plan::rules::optimize_steps`.)

use std::time::Instant;

use super::{estimate, execute};
use crate::plan::Plan;
use crate::store::Store;

/// One explained node.
#[derive(Clone, Debug)]
pub struct ExplainNode {
    pub label: String,
    pub estimate: u64,
    pub actual: u64,
    pub micros: f64,
    pub children: Vec<ExplainNode>,
}

impl ExplainNode {
    /// Explains `plan` over `store`, evaluating every node on its own.
    pub fn new(plan: &Plan, store: &Store) -> ExplainNode {
        let started = Instant::now();
        let actual = execute(plan, store).len();
        let micros = started.elapsed().as_secs_f64() * 1e6;
        let children = match plan {
            Plan::Not(inner) => vec![ExplainNode::new(inner, store)],
            Plan::And(children) | Plan::Or(children) => children
                .iter()
                .map(|c| ExplainNode::new(c, store))
                .collect(),
            _ => Vec::new(),
        };
        let label = plan.label();
        ExplainNode {
            label,
            estimate: estimate(plan, store),
            actual,
            micros,
            children,
        }
    }

    fn render(&self, prefix: &str, last: bool, root: bool, out: &mut String) {
        let branch = if root {
            ""
        } else if last {
            "└─ "
        } else {
            "├─ "
        };
        out.push_str(&format!(
            "{prefix}{branch}{}  (est {}, actual {}, {:.3} ms)\n",
            self.label,
            self.estimate,
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

/// The explanation text: warnings, then the tree.
pub fn explain_text(node: &ExplainNode, warnings: &[String]) -> String {
    let mut out = String::new();
    for w in warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    node.render("", true, true, &mut out);
    out
}
