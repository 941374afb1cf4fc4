//! [`Segment`]: a segment compiled against the engine's tags and saved segments — parsed,
//! lowered at one clock, optimized — and the [`Compiler`] that makes it.

use crate::error::Error;
use crate::plan::{self, Clock, Leaf, ParsedSegments, Plan, SavedSegments};
use crate::store::Store;
use crate::syntax;

/// A compiled segment: its optimized plan, fixed to one `now`.
#[derive(Clone, Debug)]
pub struct Segment {
    pub text: String,
    pub plan: Plan,
    pub warnings: Vec<String>,
    pub clock: Clock,
}

/// Compiles segments against a store's tags and a set of saved segments.
pub(super) struct Compiler<'a> {
    pub(super) store: &'a Store,
    pub(super) saved: &'a SavedSegments,
    pub(super) parsed: &'a ParsedSegments,
}

impl Compiler<'_> {
    pub(super) fn lower(&self, text: &str, clock: Clock) -> Result<plan::Lowering, Error> {
        let expr = syntax::parse(text)?;
        plan::lower(expr.as_ref(), text, clock, self.saved, self.parsed).map_err(Error::from)
    }

    pub(super) fn compile(&self, text: &str, clock: Clock) -> Result<Segment, Error> {
        let lowering = self.lower(text, clock)?;
        let mut warnings = lowering.warnings;
        self.note_unknown_tags(&lowering.plan, &mut warnings);
        Ok(Segment {
            text: text.to_string(),
            plan: plan::rules::optimize(lowering.plan),
            warnings,
            clock,
        })
    }

    fn note_unknown_tags(&self, plan: &Plan, warnings: &mut Vec<String>) {
        match plan {
            Plan::Leaf(Leaf::Tag(tag)) if self.store.tag(tag).is_none() => {
                warnings.push(format!(
                    "no contact carries the tag {tag:?}: it matches nothing"
                ));
            }
            Plan::Not(inner) => self.note_unknown_tags(inner, warnings),
            Plan::And(children) | Plan::Or(children) => {
                children
                    .iter()
                    .for_each(|c| self.note_unknown_tags(c, warnings));
            }
            _ => {}
        }
    }
}
