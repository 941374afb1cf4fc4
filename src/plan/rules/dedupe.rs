//! `Dedupe`: removes repeated children of AND and OR (`a a` → `a`), keeping first order.

use crate::plan::Plan;

/// Rewrites one node whose children are already rewritten.
pub fn rewrite(plan: Plan) -> Plan {
    match plan {
        Plan::And(children) => Plan::And(unique(children)),
        Plan::Or(children) => Plan::Or(unique(children)),
        other => other,
    }
}

fn unique(children: Vec<Plan>) -> Vec<Plan> {
    let mut seen = std::collections::HashSet::new();
    children
        .into_iter()
        .filter(|c| seen.insert(c.clone()))
        .collect()
}
