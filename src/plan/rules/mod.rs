//! Optimizer rules, one per file. Each rewrites one node whose children are already
//! rewritten; [`optimize`] walks the tree bottom-up and repeats until nothing changes;
//! [`optimize_steps`] keeps the plan after each rule that changed it (EXPLAIN VERBOSE).
//! The rules: `flatten` (nested ANDs, ORs), `double_negation`, `de_morgan` (a negated OR
//! becomes negations, which an AND answers as differences), `constants`, `dedupe`,
//! `contradictions`.
//! Ordering AND children by cardinality needs the store, so the executor does it.

mod constants;
mod contradictions;
mod de_morgan;
mod dedupe;
mod double_negation;
mod flatten;

use super::Plan;

/// A local rewrite of one plan node whose children are already rewritten.
type Rule = fn(Plan) -> Plan;

/// Every rule, in the order they are tried, named as its file.
const RULES: [(&str, Rule); 6] = [
    ("flatten", flatten::rewrite),
    ("double_negation", double_negation::rewrite),
    ("de_morgan", de_morgan::rewrite),
    ("constants", constants::rewrite),
    ("dedupe", dedupe::rewrite),
    ("contradictions", contradictions::rewrite),
];

/// Applies every rule until the plan stops changing.
pub fn optimize(plan: Plan) -> Plan {
    let rules: Vec<Rule> = RULES.iter().map(|(_, rule)| *rule).collect();
    let mut plan = plan;
    loop {
        let next = rewrite_tree(plan.clone(), &rules);
        if next == plan {
            return next;
        }
        plan = next;
    }
}

/// The plan after each rule that changed it, one rule at a time over the whole tree,
/// until none does (EXPLAIN VERBOSE); the last plan is what [`optimize`] gives.
pub fn optimize_steps(plan: Plan) -> Vec<(&'static str, Plan)> {
    let mut steps = Vec::new();
    let mut plan = plan;
    loop {
        let before = plan.clone();
        for (name, rule) in RULES {
            let next = rewrite_tree(plan.clone(), &[rule]);
            if next != plan {
                steps.push((name, next.clone()));
                plan = next;
            }
        }
        if plan == before {
            return steps;
        }
    }
}

/// Rewrites bottom-up without recursion on the Rust stack beyond the plan's depth, which
/// the parser bounds.
fn rewrite_tree(plan: Plan, rules: &[Rule]) -> Plan {
    let plan = match plan {
        Plan::Not(inner) => Plan::Not(Box::new(rewrite_tree(*inner, rules))),
        Plan::And(children) => Plan::And(
            children
                .into_iter()
                .map(|c| rewrite_tree(c, rules))
                .collect(),
        ),
        Plan::Or(children) => Plan::Or(
            children
                .into_iter()
                .map(|c| rewrite_tree(c, rules))
                .collect(),
        ),
        leaf => leaf,
    };
    rules.iter().fold(plan, |plan, rule| rule(plan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Flag;
    use crate::plan::Leaf;

    fn flag(f: Flag) -> Plan {
        Plan::Leaf(Leaf::Flag(f))
    }

    #[test]
    fn simplifies_to_a_fixed_point() {
        let a = flag(Flag::Blocked);
        let b = flag(Flag::Bound);
        let plan = Plan::And(vec![
            Plan::And(vec![a.clone(), b.clone().negated().negated()]),
            Plan::All,
            a.clone(),
        ]);
        assert_eq!(optimize(plan), Plan::And(vec![a.clone(), b.clone()]));
        assert_eq!(
            optimize(Plan::And(vec![a.clone(), a.clone().negated()])),
            Plan::Nothing
        );
        assert_eq!(
            optimize(Plan::Or(vec![a.clone(), a.clone().negated()])),
            Plan::All
        );
        assert_eq!(optimize(Plan::Or(vec![Plan::Nothing, b.clone()])), b);
        assert_eq!(
            optimize(Plan::And(vec![Plan::Nothing, b.clone()])),
            Plan::Nothing
        );
        assert_eq!(optimize(Plan::All.negated()), Plan::Nothing);
    }

    #[test]
    fn a_negated_or_becomes_negations_in_the_enclosing_and() {
        let (a, b, c) = (flag(Flag::Blocked), flag(Flag::Bound), flag(Flag::FbOptin));
        let plan = Plan::And(vec![
            Plan::Or(vec![a.clone(), b.clone()]).negated(),
            c.clone(),
        ]);
        assert_eq!(
            optimize(plan),
            Plan::And(vec![a.clone().negated(), b.clone().negated(), c.clone()])
        );
        let either = Plan::Or(vec![a.clone(), a.clone().negated()]);
        assert_eq!(optimize(either.negated()), Plan::Nothing);
        let both = Plan::And(vec![a.clone(), b.clone()]).negated();
        assert_eq!(optimize(both.clone()), both, "NOT (a AND b) stays");
    }
}
