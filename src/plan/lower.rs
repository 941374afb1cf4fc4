//! Lowering: resolve each predicate of the syntax tree to index lookups. Unknown fields
//! and values are errors with a suggestion; saved segments are expanded in place.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::model::time::add_months;
use crate::model::{
    Channel, Flag, OptOutKind, Seconds, SendableAt, TextField, TimeField, normalize_phone,
};
use crate::suggest::closest;
use crate::syntax::{Diagnostic, DiagnosticKind, Expr, MAX_DEPTH, Predicate, Span, Value, ValueOf};

use super::time_filter::{Clock, TimeFilter, resolve};
use super::{Leaf, Plan};

/// Saved segments by name, as text.
pub type SavedSegments = BTreeMap<String, String>;

/// Saved segments' texts, parsed once each however often they are used. Keyed by the
/// text itself, so a segment saved again under its name is simply a new entry.
#[derive(Debug, Default)]
pub struct ParsedSegments(Mutex<HashMap<String, Parsed>>);

type Parsed = Arc<Result<Option<Expr>, Diagnostic>>;

impl ParsedSegments {
    fn get(&self, text: &str) -> Parsed {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(parsed) = held.get(text) {
            return Arc::clone(parsed);
        }
        let parsed = Arc::new(crate::syntax::parse(text));
        held.insert(text.to_string(), Arc::clone(&parsed));
        parsed
    }
}

/// The result of lowering: the plan and any warnings (empty ranges, unknown tags…).
#[derive(Clone, Debug)]
pub struct Lowering {
    pub plan: Plan,
    pub warnings: Vec<String>,
}

/// Every field name a predicate may use (aliases included).
pub const FIELDS: &[&str] = &[
    "channel",
    "account",
    "external_id",
    "id",
    "name",
    "tag",
    "checkout",
    "last_checkout",
    "interaction",
    "customer_interaction",
    "team_interaction",
    "marketing",
    "team_marketing",
    "joined",
    "subscribed_at",
    "email",
    "phone",
    "member_id",
    "store",
    "salesperson",
    "optout",
    "is",
    "has",
];
/// Every value of `is:`.
pub const STATES: &[&str] = &[
    "subscribed",
    "unsubscribed",
    "blocked",
    "bound",
    "over_quota",
    "fb_optin",
    "fb_sendable",
    "app91_bound",
];
/// Every value of `has:`.
pub const PRESENCE: &[&str] = &[
    "email",
    "phone",
    "member_id",
    "store",
    "salesperson",
    "tag",
    "checkout",
    "interaction",
    "team_interaction",
    "marketing",
];

struct Lowerer<'a> {
    clock: Clock,
    saved: &'a SavedSegments,
    parsed: &'a ParsedSegments,
    /// Saved segments being expanded (for cycle detection).
    stack: Vec<String>,
    /// How deep the expression being lowered is, saved segments expanded.
    depth: usize,
    warnings: Vec<String>,
}

/// Lowers a parsed segment (`None`: the empty segment) at `clock`.
pub fn lower(
    expr: Option<&Expr>,
    input: &str,
    clock: Clock,
    saved: &SavedSegments,
    parsed: &ParsedSegments,
) -> Result<Lowering, Diagnostic> {
    let mut lowerer = Lowerer {
        clock,
        saved,
        parsed,
        stack: Vec::new(),
        depth: 0,
        warnings: Vec::new(),
    };
    let plan = match expr {
        Some(expr) => lowerer.expr(expr, input)?,
        None => Plan::All,
    };
    Ok(Lowering {
        plan,
        warnings: lowerer.warnings,
    })
}

/// What an unknown word should have been.
#[derive(Clone, Copy)]
enum Unknown {
    /// A field (`presence`: as the value of `has:`).
    Field {
        presence: bool,
    },
    Value(ValueOf),
    Segment,
}

/// An unknown word, with the closest known one as a suggestion and the known ones as help.
fn unknown(what: Unknown, word: &str, span: Span, input: &str, known: &[&str]) -> Diagnostic {
    let suggestion = closest(word, known).map(str::to_string);
    let word = word.to_string();
    let kind = match what {
        Unknown::Field { presence } => DiagnosticKind::UnknownField {
            word,
            presence,
            suggestion,
        },
        Unknown::Value(of) => DiagnosticKind::UnknownValue {
            of,
            word,
            suggestion,
        },
        Unknown::Segment => DiagnosticKind::UnknownSegment {
            name: word,
            suggestion,
        },
    };
    Diagnostic::new(kind, span, input)
        .with_help(Some(format!("expected one of: {}", known.join(", "))))
}

fn time_field(field: &str) -> Option<TimeField> {
    Some(match field {
        "checkout" | "last_checkout" => TimeField::LastCheckoutAt,
        "interaction" | "customer_interaction" => TimeField::CustomerInteractionAt,
        "team_interaction" => TimeField::TeamInteractionAt,
        "marketing" | "team_marketing" => TimeField::TeamMarketingAt,
        "joined" | "subscribed_at" => TimeField::SubscribedAt,
        _ => return None,
    })
}

/// How deep a plan may nest once saved segments are expanded: twice what one segment's
/// text may (so a segment of the limit still fits inside another), and far below what the
/// recursive walks over a plan (optimizer, executor, explain, SQL) can take on a stack.
pub const MAX_PLAN_DEPTH: usize = 2 * MAX_DEPTH;

impl Lowerer<'_> {
    fn expr(&mut self, expr: &Expr, input: &str) -> Result<Plan, Diagnostic> {
        self.depth += 1;
        let plan = if self.depth > MAX_PLAN_DEPTH {
            let chain = self
                .stack
                .iter()
                .map(|n| format!("@{n}"))
                .collect::<Vec<_>>();
            Err(Diagnostic::new(
                DiagnosticKind::PlanTooDeep {
                    max: MAX_PLAN_DEPTH,
                    chain: chain.join(" -> "),
                },
                expr.span(),
                input,
            ))
        } else {
            self.expr_within_depth(expr, input)
        };
        self.depth -= 1;
        plan
    }

    fn expr_within_depth(&mut self, expr: &Expr, input: &str) -> Result<Plan, Diagnostic> {
        Ok(match expr {
            Expr::Or(terms, _) => Plan::Or(
                terms
                    .iter()
                    .map(|t| self.expr(t, input))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::And(terms, _) => Plan::And(
                terms
                    .iter()
                    .map(|t| self.expr(t, input))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(inner, _) => self.expr(inner, input)?.negated(),
            Expr::Saved(name, span) => self.saved(name, *span, input)?,
            Expr::Predicate(p) => self.predicate(p, input)?,
        })
    }

    fn saved(&mut self, name: &str, span: Span, input: &str) -> Result<Plan, Diagnostic> {
        let Some(text) = self.saved.get(name) else {
            let names: Vec<&str> = self.saved.keys().map(String::as_str).collect();
            return Err(unknown(Unknown::Segment, name, span, input, &names));
        };
        if self.stack.iter().any(|n| n == name) {
            let chain = format!("{} -> {name}", self.stack.join(" -> "));
            return Err(Diagnostic::new(
                DiagnosticKind::Recursion {
                    name: name.to_string(),
                    chain,
                },
                span,
                input,
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::new(DiagnosticKind::SavedTooDeep, span, input));
        }
        let parsed = self.parsed.get(text);
        let inner = parsed.as_ref().as_ref().map_err(|e| {
            Diagnostic::new(
                DiagnosticKind::SavedUnparsable {
                    name: name.to_string(),
                    cause: Box::new(e.kind.clone()),
                },
                span,
                input,
            )
        })?;
        self.stack.push(name.to_string());
        let plan = match inner {
            Some(expr) => self.expr(expr, text).map_err(|e| {
                Diagnostic::new(
                    DiagnosticKind::InSavedSegment {
                        name: name.to_string(),
                        cause: Box::new(e.kind),
                    },
                    span,
                    input,
                )
                .with_help(e.help)
            }),
            None => Ok(Plan::All),
        };
        self.stack.pop();
        plan
    }

    fn predicate(&mut self, p: &Predicate, input: &str) -> Result<Plan, Diagnostic> {
        let field = p.field.to_ascii_lowercase();
        if !FIELDS.contains(&field.as_str()) {
            return Err(unknown(
                Unknown::Field { presence: false },
                &p.field,
                p.field_span,
                input,
                FIELDS,
            ));
        }
        let mut terms = Vec::with_capacity(p.values.len());
        for value in &p.values {
            terms.push(self.value(&field, value, input)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Plan::Or(terms)
        })
    }

    fn value(&mut self, field: &str, value: &Value, input: &str) -> Result<Plan, Diagnostic> {
        let text = value.text.as_str();
        let leaf = |leaf: Leaf| Ok(Plan::Leaf(leaf));
        if let Some(time) = time_field(field) {
            return self.time(time, value, input);
        }
        match field {
            "channel" => match Channel::parse(text) {
                Some(c) => leaf(Leaf::Channel(c)),
                None => {
                    let names: Vec<&str> = Channel::ALL
                        .iter()
                        .flat_map(|c| c.spellings())
                        .copied()
                        .collect();
                    Err(unknown(
                        Unknown::Value(ValueOf::Channel),
                        text,
                        value.span,
                        input,
                        &names,
                    ))
                }
            },
            "account" => leaf(Leaf::Account(text.to_string())),
            "external_id" | "id" => leaf(Leaf::ExternalId(text.to_string())),
            "name" => leaf(Leaf::Name(text.to_string())),
            "tag" => leaf(Leaf::Tag(text.to_string())),
            "email" => leaf(Leaf::Text(TextField::Email, text.to_string())),
            "phone" => leaf(Leaf::Text(TextField::Phone, normalize_phone(text))),
            "member_id" => leaf(Leaf::Text(TextField::MemberId, text.to_string())),
            "store" => leaf(Leaf::Text(TextField::Store, text.to_string())),
            "salesperson" => leaf(Leaf::Text(TextField::Salesperson, text.to_string())),
            "optout" => match OptOutKind::parse(text) {
                Some(k) => leaf(Leaf::OptOut(k)),
                None => {
                    let kinds: Vec<&str> = OptOutKind::ALL.iter().map(|k| k.name()).collect();
                    Err(unknown(
                        Unknown::Value(ValueOf::OptOutKind),
                        text,
                        value.span,
                        input,
                        &kinds,
                    ))
                }
            },
            "is" => self.state(text, value.span, input),
            _ => self.presence(text, value.span, input),
        }
    }

    fn time(&mut self, field: TimeField, value: &Value, input: &str) -> Result<Plan, Diagnostic> {
        match resolve(&value.text, self.clock) {
            Ok(TimeFilter::Never) => Ok(Plan::Leaf(Leaf::TimePresent(field)).negated()),
            Ok(TimeFilter::Range { lo, hi }) => {
                if lo >= hi {
                    self.warnings.push(format!(
                        "'{}' is an empty range (its start is not before its end): it matches nothing",
                        value.text
                    ));
                    return Ok(Plan::Nothing);
                }
                Ok(Plan::Leaf(Leaf::TimeRange { field, lo, hi }))
            }
            Err(why) => Err(Diagnostic::new(DiagnosticKind::BadTime { why }, value.span, input)
                .with_help(Some("examples: -30d.. (last 30 days), <-90d, 2024-01-01..2024-06-30, >=2024-03, today, never".into()))),
        }
    }

    fn state(&mut self, text: &str, span: Span, input: &str) -> Result<Plan, Diagnostic> {
        let unsubscribed = || Plan::Leaf(Leaf::Unsubscribed);
        let lower = text.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "subscribed" => unsubscribed().negated(),
            "unsubscribed" => unsubscribed(),
            "fb_sendable" => fb_sendable(self.clock),
            other => match Flag::parse(other) {
                Some(flag) => Plan::Leaf(Leaf::Flag(flag)),
                None => {
                    return Err(unknown(
                        Unknown::Value(ValueOf::State),
                        text,
                        span,
                        input,
                        STATES,
                    ));
                }
            },
        })
    }

    fn presence(&mut self, text: &str, span: Span, input: &str) -> Result<Plan, Diagnostic> {
        let lower = text.to_ascii_lowercase();
        if let Some(time) = time_field(&lower) {
            return Ok(Plan::Leaf(Leaf::TimePresent(time)));
        }
        Ok(Plan::Leaf(match lower.as_str() {
            "tag" => Leaf::Tagged,
            other => match TextField::parse(other) {
                Some(field) => Leaf::TextPresent(field),
                None => {
                    return Err(unknown(
                        Unknown::Field { presence: true },
                        text,
                        span,
                        input,
                        PRESENCE,
                    ));
                }
            },
        }))
    }
}

/// `is:fb_sendable` at the clock's now (data-model.md): the latest last send each
/// frequency allows — one day, seven days, one calendar month on the time zone's
/// calendar before now.
fn fb_sendable(clock: Clock) -> Plan {
    let now = clock.now;
    Plan::Leaf(Leaf::FbSendable(SendableAt {
        now,
        latest_send: [now - 86_400, now - 7 * 86_400, latest_monthly_send(clock)],
    }))
}

/// The latest last-send time t with t + 1 calendar month ≤ now. Adding a month is
/// monotonic, so a binary search over seconds finds it exactly.
fn latest_monthly_send(clock: Clock) -> Seconds {
    let fits = |t: Seconds| add_months(t, 1, clock.tz).is_some_and(|next| next <= clock.now);
    let (mut lo, mut hi) = (clock.now - 32 * 86_400, clock.now);
    if !fits(lo) {
        return Seconds::MIN;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) { lo = mid } else { hi = mid }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_texts_are_parsed_once_and_a_new_text_anew() {
        let parsed = ParsedSegments::default();
        let first = parsed.get("tag:vip -tag:churned");
        assert!(Arc::ptr_eq(&first, &parsed.get("tag:vip -tag:churned")));
        assert!(!Arc::ptr_eq(&first, &parsed.get("tag:gold")));
        assert!(
            parsed.get("tg:vip").is_ok(),
            "unknown fields are found when lowering"
        );
        assert!(parsed.get("(tag:vip").is_err());
    }

    #[test]
    fn lowering_a_saved_segment_uses_its_current_text() {
        let parsed = ParsedSegments::default();
        let clock = Clock {
            now: 0,
            tz: chrono::FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()),
        };
        let expr = crate::syntax::parse("@s").ok().flatten();
        let mut saved = SavedSegments::new();
        for tag in ["a", "b"] {
            saved.insert("s".into(), format!("tag:{tag}"));
            let plan = lower(expr.as_ref(), "@s", clock, &saved, &parsed).map(|l| l.plan);
            assert_eq!(plan.ok(), Some(Plan::Leaf(Leaf::Tag(tag.into()))));
        }
    }
}
