//! `Constants`: folds `All` and `Nothing` (`a AND Nothing` → `Nothing`, `a OR All` → `All`,
//! `NOT All` → `Nothing`, empty groups).

use crate::plan::Plan;

/// Rewrites one node whose children are already rewritten.
pub fn rewrite(plan: Plan) -> Plan {
    match plan {
        Plan::Not(inner) => match *inner {
            Plan::All => Plan::Nothing,
            Plan::Nothing => Plan::All,
            other => Plan::Not(Box::new(other)),
        },
        Plan::And(children) => fold(children, Plan::All, Plan::Nothing, Plan::And),
        Plan::Or(children) => fold(children, Plan::Nothing, Plan::All, Plan::Or),
        other => other,
    }
}

/// Drops `identity` children; `absorbing` wins outright.
fn fold(
    children: Vec<Plan>,
    identity: Plan,
    absorbing: Plan,
    group: fn(Vec<Plan>) -> Plan,
) -> Plan {
    if children.contains(&absorbing) {
        return absorbing;
    }
    let mut kept: Vec<Plan> = children.into_iter().filter(|c| *c != identity).collect();
    match kept.len() {
        0 => identity,
        1 => kept.remove(0),
        _ => group(kept),
    }
}
