//! `Flatten`: `a AND (b AND c)` → `AND(a, b, c)`, likewise for OR; one-child groups unwrap.

use super::Rule;
use crate::plan::Plan;

pub struct Flatten;

impl Rule for Flatten {
    fn name(&self) -> &'static str {
        "flatten"
    }

    fn rewrite(&self, plan: Plan) -> Plan {
        match plan {
            Plan::And(children) => {
                let mut out = Vec::with_capacity(children.len());
                for child in children {
                    match child {
                        Plan::And(grand) => out.extend(grand),
                        other => out.push(other),
                    }
                }
                single(out, Plan::And)
            }
            Plan::Or(children) => {
                let mut out = Vec::with_capacity(children.len());
                for child in children {
                    match child {
                        Plan::Or(grand) => out.extend(grand),
                        other => out.push(other),
                    }
                }
                single(out, Plan::Or)
            }
            other => other,
        }
    }
}

fn single(mut children: Vec<Plan>, group: fn(Vec<Plan>) -> Plan) -> Plan {
    if children.len() == 1 {
        children.remove(0)
    } else {
        group(children)
    }
}
