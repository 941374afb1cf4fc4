//! `Flatten`: `a AND (b AND c)` → `AND(a, b, c)`, likewise for OR; one-child groups unwrap.

use crate::plan::Plan;

/// Rewrites one node whose children are already rewritten.
pub fn rewrite(plan: Plan) -> Plan {
    match plan {
        Plan::And(children) => single(
            splice(children, |c| match c {
                Plan::And(grand) => Ok(grand),
                other => Err(other),
            }),
            Plan::And,
        ),
        Plan::Or(children) => single(
            splice(children, |c| match c {
                Plan::Or(grand) => Ok(grand),
                other => Err(other),
            }),
            Plan::Or,
        ),
        other => other,
    }
}

/// Replaces each child that `same_kind` unwraps by its own children.
fn splice(children: Vec<Plan>, same_kind: fn(Plan) -> Result<Vec<Plan>, Plan>) -> Vec<Plan> {
    let mut out = Vec::with_capacity(children.len());
    for child in children {
        match same_kind(child) {
            Ok(grand) => out.extend(grand),
            Err(other) => out.push(other),
        }
    }
    out
}

fn single(mut children: Vec<Plan>, group: fn(Vec<Plan>) -> Plan) -> Plan {
    if children.len() == 1 {
        children.remove(0)
    } else {
        group(children)
    }
}
