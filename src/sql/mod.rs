//! Segments as SQL (sql.md): an optimized [`Plan`] becomes one `SELECT` for ClickHouse or
//! PostgreSQL, and `--schema` the table that loads the canonical CSV with the engine's own
//! loader. Depends on `plan` and `model` only.
//!
//! The table keeps the CSV's 25 columns as loaded and derives, with the engine's own
//! means (generated or materialized columns), the keys segments compare: the canonical
//! channel, tag and opt-out arrays, names and emails folded as reach folds them, phones
//! normalized, text trimmed, times typed. Every predicate is written to be true or false,
//! never NULL, so that `NOT` means what it means in reach; time bounds are clamped to what
//! a store can hold. The walk is here; [`Dialect`] is what differs, and `postgres.rs` and
//! `clickhouse.rs` write each engine's literals, predicates and schema.

mod clickhouse;
mod postgres;

pub use clickhouse::ClickHouse;
pub use postgres::Postgres;

use crate::model::time::{MAX_STORED, MIN_STORED};
use crate::model::{Channel, Field, FieldKind, Flag, Seconds, TextField, TimeField, fold};
use crate::plan::{Leaf, Plan};

/// What one engine's SQL looks like; the walk over the plan is shared.
pub trait Dialect {
    /// The name `--dialect` takes.
    fn name(&self) -> &'static str;
    /// The statements creating `table` (and, on a cluster, its shards).
    fn schema(&self, table: &str, cluster: Option<&str>) -> Result<Vec<String>, String>;
    /// A string literal holding exactly `text`.
    fn string(&self, text: &str) -> String;
    /// `column` compared with the instant `at` (`op` is `>=` or `<`).
    fn time_compare(&self, column: &str, op: &str, at: Seconds) -> String;
    /// True when the time column holds a value.
    fn time_present(&self, column: &str) -> String;
    /// The column of a time field as the engine's time type.
    fn time_column(&self, field: TimeField) -> String;
    /// A flag column, false when empty.
    fn flag(&self, flag: Flag) -> String;
    /// True when the array column holds `value`.
    fn array_has(&self, column: &str, value: &str) -> String;
    /// True when the array column is not empty.
    fn array_not_empty(&self, column: &str) -> String;
    /// Makes a condition that may be NULL (a comparison with a missing time) false there.
    fn not_null(&self, condition: &str) -> String;
    /// The ordering of identity columns by bytes, as reach exports.
    fn byte_order(&self, column: &str) -> String;
}

/// How an engine derives the key columns from the CSV's text (`schema` uses it).
pub trait KeyExpressions {
    /// A text column, empty when the cell was.
    fn text(&self, column: &str) -> String;
    /// Without surrounding white space (Unicode's, as reach trims).
    fn trim(&self, expr: &str) -> String;
    /// ASCII lower case (channel names, kinds, frequencies).
    fn lower(&self, expr: &str) -> String;
    /// Unicode lower case as Rust's `to_lowercase` (names, emails).
    fn lower_unicode(&self, expr: &str) -> String;
    /// The `|`-separated pieces, each trimmed, empty ones dropped.
    fn pieces(&self, expr: &str) -> String;
    /// Spaces, dashes, dots, parentheses and white space removed.
    fn phone(&self, expr: &str) -> String;
    /// Each (alias, name) pair mapped, anything else as it is.
    fn mapped(&self, expr: &str, pairs: &[(&str, &str)]) -> String;
    /// The engine's type of a key: `array` for lists of text.
    fn key_type(&self, array: bool) -> &'static str;
}

/// (name, type, expression) of every key column, the same keys on every engine.
pub fn key_columns(d: &dyn KeyExpressions) -> Vec<(String, &'static str, String)> {
    let trimmed = |column: &str| d.trim(&d.text(column));
    let folded = |column: &str| d.lower_unicode(&trimmed(column));
    let lowered = |column: &str| d.lower(&trimmed(column));
    let mut out = vec![
        (
            keys::CHANNEL,
            false,
            d.mapped(&lowered("channel"), &channel_aliases()),
        ),
        (keys::ACCOUNT, false, trimmed("account")),
        (keys::EXTERNAL_ID, false, trimmed("external_id")),
        (keys::NAME, false, folded("name")),
        (keys::TAGS, true, d.pieces(&d.text("tags"))),
        (
            keys::OPT_OUTS,
            true,
            d.pieces(&d.lower(&d.text("opt_outs"))),
        ),
        (keys::FREQUENCY, false, lowered("fb_frequency")),
    ]
    .into_iter()
    .map(|(name, array, expr)| (name.to_string(), d.key_type(array), expr))
    .collect::<Vec<_>>();
    for field in TextField::ALL {
        let column = field.name();
        let expr = match field {
            TextField::Email => folded(column),
            TextField::Phone => d.phone(&d.text(column)),
            _ => trimmed(column),
        };
        out.push((text_key(*field), d.key_type(false), expr));
    }
    out
}

/// What a `SELECT` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    /// `SELECT count(*)`.
    Count,
    /// The identity columns of the matching contacts, in reach's export order.
    Ids,
}

/// The dialect named `name`.
pub fn dialect(name: &str) -> Option<Box<dyn Dialect>> {
    match name.to_ascii_lowercase().as_str() {
        "clickhouse" | "ch" => Some(Box::new(ClickHouse)),
        "postgres" | "postgresql" | "pg" => Some(Box::new(Postgres)),
        _ => None,
    }
}

/// The derived key columns, by what they hold (one name for both engines).
pub mod keys {
    pub const CHANNEL: &str = "channel_key";
    pub const ACCOUNT: &str = "account_key";
    pub const EXTERNAL_ID: &str = "external_id_key";
    pub const NAME: &str = "name_key";
    pub const TAGS: &str = "tag_list";
    pub const OPT_OUTS: &str = "opt_out_list";
    pub const FREQUENCY: &str = "fb_frequency_key";
}

/// The key column of a text field (`email_key`, `phone_key`, …).
pub fn text_key(field: TextField) -> String {
    format!("{}_key", field.name())
}

/// The one `SELECT` of a plan over `table`.
pub fn select(plan: &Plan, dialect: &dyn Dialect, table: &str, what: Select) -> String {
    let filter = condition(plan, dialect);
    let filter = if filter == "TRUE" {
        String::new()
    } else {
        format!(" WHERE {filter}")
    };
    match what {
        Select::Count => format!("SELECT count(*) AS contacts FROM {table}{filter}"),
        Select::Ids => format!(
            "SELECT {c} AS channel, {a} AS account, {e} AS external_id FROM {table}{filter} ORDER BY {}, {}, {}",
            dialect.byte_order(keys::CHANNEL),
            dialect.byte_order(keys::ACCOUNT),
            dialect.byte_order(keys::EXTERNAL_ID),
            c = keys::CHANNEL,
            a = keys::ACCOUNT,
            e = keys::EXTERNAL_ID,
        ),
    }
}

/// A boolean SQL expression that is true exactly for the contacts of `plan`. Recursion
/// is bounded by the plan's depth, which lowering bounds.
pub fn condition(plan: &Plan, dialect: &dyn Dialect) -> String {
    let join = |children: &[Plan], op: &str| {
        let parts: Vec<String> = children.iter().map(|c| condition(c, dialect)).collect();
        format!("({})", parts.join(op))
    };
    match plan {
        Plan::All => "TRUE".into(),
        Plan::Nothing => "FALSE".into(),
        Plan::Leaf(leaf) => self::leaf(leaf, dialect),
        Plan::Not(inner) if matches!(**inner, Plan::And(_) | Plan::Or(_)) => {
            format!("NOT {}", condition(inner, dialect))
        }
        Plan::Not(inner) => format!("NOT ({})", condition(inner, dialect)),
        Plan::And(children) if children.is_empty() => "TRUE".into(),
        Plan::Or(children) if children.is_empty() => "FALSE".into(),
        Plan::And(children) => join(children, " AND "),
        Plan::Or(children) => join(children, " OR "),
    }
}

fn leaf(leaf: &Leaf, d: &dyn Dialect) -> String {
    let equals = |column: &str, value: &str| format!("{column} = {}", d.string(value));
    match leaf {
        Leaf::Channel(c) => equals(keys::CHANNEL, c.name()),
        Leaf::Account(a) => equals(keys::ACCOUNT, a),
        Leaf::ExternalId(id) => equals(keys::EXTERNAL_ID, id),
        Leaf::Tag(t) => d.array_has(keys::TAGS, t),
        Leaf::Tagged => d.array_not_empty(keys::TAGS),
        Leaf::Flag(flag) => d.flag(*flag),
        Leaf::OptOut(kind) => d.array_has(keys::OPT_OUTS, kind.name()),
        Leaf::Frequency(f) => equals(keys::FREQUENCY, f.name()),
        Leaf::TimePresent(t) => d.time_present(&d.time_column(*t)),
        Leaf::TimeRange { field, lo, hi } => time_range(d, *field, *lo, *hi),
        Leaf::Name(name) => equals(keys::NAME, &fold(name)),
        Leaf::FbSendable(at) => condition(&crate::plan::fb_sendable_terms(*at), d),
        Leaf::Unsubscribed => condition(&crate::plan::unsubscribed_terms(), d),
        Leaf::TextPresent(field) => format!("{} <> ''", text_key(*field)),
        Leaf::Text(field, value) => {
            let key = field.match_rule().key(value);
            if key.is_empty() {
                // A text field holds no empty value: `store:""` matches nobody.
                "FALSE".into()
            } else {
                equals(&text_key(*field), &key)
            }
        }
    }
}

/// `lo <= t < hi`, bounds clamped to the times a store can hold (so `-∞` and `+∞` drop
/// out), a missing time never matching.
fn time_range(d: &dyn Dialect, field: TimeField, lo: Seconds, hi: Seconds) -> String {
    let column = d.time_column(field);
    let (lo, hi) = (lo.max(MIN_STORED), hi.min(MAX_STORED + 1));
    if lo >= hi {
        return "FALSE".into();
    }
    let mut parts = Vec::new();
    if lo > MIN_STORED {
        parts.push(d.time_compare(&column, ">=", lo));
    }
    if hi <= MAX_STORED {
        parts.push(d.time_compare(&column, "<", hi));
    }
    match parts.len() {
        0 => d.time_present(&column),
        _ => d.not_null(&parts.join(" AND ")),
    }
}

/// The canonical channel name of a lower-cased spelling, as `CASE … END` arms:
/// (spelling, canonical name) for every alias.
pub fn channel_aliases() -> Vec<(&'static str, &'static str)> {
    Channel::ALL
        .iter()
        .flat_map(|c| c.spellings().iter().skip(1).map(move |s| (*s, c.name())))
        .collect()
}

/// The CSV's columns in the canonical order `reach export --all-columns` writes, with
/// what each holds.
pub fn csv_columns() -> impl Iterator<Item = (&'static str, FieldKind)> {
    Field::ALL.iter().map(|f| (f.name(), f.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OptOutKind;

    #[test]
    fn every_condition_is_parenthesized_and_never_null() {
        let plan = Plan::And(vec![
            Plan::Leaf(Leaf::Channel(Channel::Line)),
            Plan::Or(vec![
                Plan::Leaf(Leaf::Tag("vip".into())),
                Plan::Leaf(Leaf::OptOut(OptOutKind::Cart)).negated(),
            ]),
        ]);
        let sql = select(&plan, &Postgres, "contacts", Select::Count);
        assert_eq!(
            sql,
            "SELECT count(*) AS contacts FROM contacts WHERE (channel_key = 'line' AND (tag_list @> ARRAY['vip']::text[] OR NOT (opt_out_list @> ARRAY['cart']::text[])))"
        );
    }

    #[test]
    fn open_ended_ranges_drop_their_infinite_bound() {
        let range = |lo, hi| time_range(&ClickHouse, TimeField::LastCheckoutAt, lo, hi);
        assert_eq!(
            range(Seconds::MIN, Seconds::MAX),
            "isNotNull(last_checkout_at_time)"
        );
        assert_eq!(
            range(100, Seconds::MAX),
            "ifNull(last_checkout_at_time >= toDateTime(100, 'UTC'), false)"
        );
        assert_eq!(range(Seconds::MIN, 0), "FALSE");
    }

    #[test]
    fn empty_text_values_match_nobody() {
        let plan = Plan::Leaf(Leaf::Text(TextField::Store, String::new()));
        assert_eq!(condition(&plan, &Postgres), "FALSE");
    }
}
