//! `Contradictions`: `a AND NOT a` → `Nothing`; `a OR NOT a` → `All`.

use crate::plan::Plan;

/// Rewrites one node whose children are already rewritten.
pub fn rewrite(plan: Plan) -> Plan {
    match plan {
        Plan::And(children) if has_complement(&children) => Plan::Nothing,
        Plan::Or(children) if has_complement(&children) => Plan::All,
        other => other,
    }
}

fn has_complement(children: &[Plan]) -> bool {
    children.iter().any(|c| match c {
        Plan::Not(inner) => children.contains(inner),
        _ => false,
    })
}
