//! `Contradictions`: `a AND NOT a` → `Nothing`; `a OR NOT a` → `All`.

use super::Rule;
use crate::plan::Plan;

pub struct Contradictions;

impl Rule for Contradictions {
    fn name(&self) -> &'static str {
        "contradictions"
    }

    fn rewrite(&self, plan: Plan) -> Plan {
        match plan {
            Plan::And(children) if has_complement(&children) => Plan::Nothing,
            Plan::Or(children) if has_complement(&children) => Plan::All,
            other => other,
        }
    }
}

fn has_complement(children: &[Plan]) -> bool {
    children.iter().any(|c| match c {
        Plan::Not(inner) => children.contains(inner),
        _ => false,
    })
}
