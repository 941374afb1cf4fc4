//! `DoubleNegation`: `NOT NOT a` → `a`.

use crate::plan::Plan;

/// Rewrites one node whose children are already rewritten.
pub fn rewrite(plan: Plan) -> Plan {
    match plan {
        Plan::Not(inner) => match *inner {
            Plan::Not(x) => *x,
            other => Plan::Not(Box::new(other)),
        },
        other => other,
    }
}
