//! [`Segment`]: a segment compiled against the engine's tags and saved segments — parsed,
//! lowered at one clock, optimized — and the [`Compiler`] that makes it.

use crate::error::Error;
use crate::plan::{self, Clock, Leaf, ParsedSegments, Plan, SavedSegments};
use crate::store::{Part, Store};
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
        let plan = plan::rules::optimize(lowering.plan);
        self.load_parts(&plan)?;
        Ok(Segment {
            text: text.to_string(),
            plan,
            warnings,
            clock,
        })
    }

    /// Reads ahead the parts of the data file that running `plan` reads, so that a
    /// damaged part is an error here rather than an empty set later.
    fn load_parts(&self, plan: &Plan) -> Result<(), Error> {
        let mut parts = Vec::new();
        parts_of(plan, &mut parts);
        for part in parts {
            self.store
                .load(part)
                .map_err(|e| Error::data_from(e.to_string(), e))?;
        }
        Ok(())
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

/// The parts of a mapped store that `plan`'s leaves read.
fn parts_of<'p>(plan: &'p Plan, out: &mut Vec<Part<'p>>) {
    match plan {
        Plan::Leaf(leaf) => match leaf {
            Leaf::Tag(tag) => out.push(Part::Tag(tag)),
            Leaf::Tagged => out.push(Part::Tagged),
            Leaf::TimePresent(field) => out.push(Part::TimePresent(*field)),
            Leaf::TimeRange { field, .. } => {
                out.extend([Part::Time(*field), Part::TimePresent(*field)]);
            }
            Leaf::TextPresent(field) | Leaf::Text(field, _) => {
                out.push(Part::TextInPlace(*field));
            }
            Leaf::ExternalId(_) => out.push(Part::Identities),
            Leaf::Name(_) => out.push(Part::NamesInPlace),
            Leaf::FbSendable(_) => out.push(Part::FbSendable),
            _ => {}
        },
        Plan::Not(inner) => parts_of(inner, out),
        Plan::And(children) | Plan::Or(children) => {
            children.iter().for_each(|c| parts_of(c, out));
        }
        Plan::All | Plan::Nothing => {}
    }
}
