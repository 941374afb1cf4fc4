//! `DoubleNegation`: `NOT NOT a` → `a`.

use super::Rule;
use crate::plan::Plan;

pub struct DoubleNegation;

impl Rule for DoubleNegation {
    fn name(&self) -> &'static str {
        "double_negation"
    }

    fn rewrite(&self, plan: Plan) -> Plan {
        match plan {
            Plan::Not(inner) => match *inner {
                Plan::Not(x) => *x,
                other => Plan::Not(Box::new(other)),
            },
            other => other,
        }
    }
}
