//! `DeMorgan`: `NOT (a OR b)` → `NOT a AND NOT b`. The executor answers an AND's
//! negations as differences from the rows so far, each narrowing the next (a negated
//! time range then filters fewer rows), where a negated OR first builds the union.
//! (`NOT (a AND b)` is left alone: an OR of negations would build complements.)

use crate::plan::Plan;

/// Rewrites one node whose children are already rewritten.
pub fn rewrite(plan: Plan) -> Plan {
    match plan {
        Plan::Not(inner) => match *inner {
            Plan::Or(children) => Plan::And(
                children
                    .into_iter()
                    .map(|c| Plan::Not(Box::new(c)))
                    .collect(),
            ),
            other => Plan::Not(Box::new(other)),
        },
        other => other,
    }
}
