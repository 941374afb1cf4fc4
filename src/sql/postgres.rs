//! PostgreSQL: generated columns for the keys, a GIN index on tags, `lower` under the ICU
//! root collation (`und-x-icu`), which folds as Rust's `to_lowercase` does (full mapping,
//! final sigma); the database's own collation may be `C`, whose `lower` leaves non-ASCII
//! letters alone.

use super::{Dialect, KeyExpressions, csv_columns, key_columns, keys, text_key};
use crate::model::{FieldKind, Flag, Seconds, TextField, TimeField, WHITE_SPACE};

/// The PostgreSQL dialect.
pub struct Postgres;

impl Dialect for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn schema(&self, table: &str, cluster: Option<&str>) -> Result<Vec<String>, String> {
        if cluster.is_some() {
            return Err("--cluster is for ClickHouse; a PostgreSQL table lives on one server (partition or shard it with the tools you use)".into());
        }
        let mut columns: Vec<String> = csv_columns()
            .map(|(name, kind)| format!("    {name} {}", column_type(kind)))
            .collect();
        columns.extend(key_columns(self).into_iter().map(|(name, ty, expr)| {
            format!("    {name} {ty} GENERATED ALWAYS AS ({expr}) STORED")
        }));
        let mut statements = vec![format!(
            "CREATE TABLE {table} (\n{}\n);",
            columns.join(",\n")
        )];
        let base = table.rsplit('.').next().unwrap_or(table);
        let mut index = |suffix: &str, how: &str| {
            statements.push(format!("CREATE INDEX {base}_{suffix} ON {table} {how};"));
        };
        index(
            "account",
            &format!("({}, {})", keys::CHANNEL, keys::ACCOUNT),
        );
        index("external_id", &format!("({})", keys::EXTERNAL_ID));
        index("tags", &format!("USING gin ({})", keys::TAGS));
        index("name", &format!("({})", keys::NAME));
        for field in [TextField::Email, TextField::Phone] {
            index(field.name(), &format!("({})", text_key(field)));
        }
        for field in FILTERED_TIMES {
            index(field.name(), &format!("({})", field.name()));
        }
        Ok(statements)
    }

    fn string(&self, text: &str) -> String {
        string(text)
    }

    fn time_compare(&self, column: &str, op: &str, at: Seconds) -> String {
        let at = crate::model::time::format_rfc3339(at);
        format!("{column} {op} TIMESTAMPTZ '{at}'")
    }

    fn time_present(&self, column: &str) -> String {
        format!("{column} IS NOT NULL")
    }

    fn time_column(&self, field: TimeField) -> String {
        field.name().to_string()
    }

    fn flag(&self, flag: Flag) -> String {
        format!("coalesce({}, false)", flag.name())
    }

    fn array_has(&self, column: &str, value: &str) -> String {
        format!("{column} @> ARRAY[{}]::text[]", string(value))
    }

    fn array_not_empty(&self, column: &str) -> String {
        format!("cardinality({column}) > 0")
    }

    fn not_null(&self, condition: &str) -> String {
        format!("coalesce({condition}, false)")
    }

    fn byte_order(&self, column: &str) -> String {
        format!("{column} COLLATE \"C\"")
    }
}

/// The time fields segments filter on (the two Facebook times only inside `fb_sendable`,
/// which the Facebook rows bound).
const FILTERED_TIMES: [TimeField; 5] = [
    TimeField::SubscribedAt,
    TimeField::LastCheckoutAt,
    TimeField::CustomerInteractionAt,
    TimeField::TeamInteractionAt,
    TimeField::TeamMarketingAt,
];

fn column_type(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Identity => "text NOT NULL",
        FieldKind::Flag(_) => "boolean",
        FieldKind::Time(_) => "timestamptz",
        _ => "text",
    }
}

impl KeyExpressions for Postgres {
    fn text(&self, column: &str) -> String {
        format!("coalesce({column}, '')")
    }

    fn trim(&self, expr: &str) -> String {
        format!("btrim({expr}, {})", string(&white_space()))
    }

    fn lower(&self, expr: &str) -> String {
        format!("lower({expr})")
    }

    fn lower_unicode(&self, expr: &str) -> String {
        format!("lower({expr} COLLATE \"und-x-icu\")")
    }

    fn pieces(&self, expr: &str) -> String {
        let ws = white_space();
        let around_bar = string(&format!("[{ws}]*[|][{ws}]*"));
        format!(
            "array_remove(string_to_array(regexp_replace({}, {around_bar}, '|', 'g'), '|'), '')",
            self.trim(expr)
        )
    }

    fn phone(&self, expr: &str) -> String {
        let class = string(&format!("[-().{}]", white_space()));
        format!("regexp_replace({expr}, {class}, '', 'g')")
    }

    fn mapped(&self, expr: &str, pairs: &[(&str, &str)]) -> String {
        let arms: String = (pairs.iter())
            .map(|(from, to)| format!(" WHEN {} THEN {}", string(from), string(to)))
            .collect();
        format!("CASE {expr}{arms} ELSE {expr} END")
    }

    fn key_type(&self, array: bool) -> &'static str {
        if array { "text[]" } else { "text" }
    }
}

fn white_space() -> String {
    WHITE_SPACE.iter().collect()
}

/// A string literal: plain when every character prints, else a Unicode escape string
/// (`U&'…' UESCAPE '!'`), so that statements stay on their lines and no backslash rule
/// of the server's settings applies.
fn string(text: &str) -> String {
    let plain = |c: char| !c.is_control() && !WHITE_SPACE.contains(&c) || c == ' ';
    if text.chars().all(plain) {
        return format!("'{}'", text.replace('\'', "''"));
    }
    let mut out = String::from("U&'");
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '!' => out.push_str("!!"),
            c if plain(c) => out.push(c),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("!{:04X}", c as u32)),
            c => out.push_str(&format!("!+{:06X}", c as u32)),
        }
    }
    out.push_str("' UESCAPE '!'");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_invisible_characters() {
        assert_eq!(string("O'Neil"), "'O''Neil'");
        assert_eq!(string("a\tb!"), "U&'a!0009b!!' UESCAPE '!'");
        assert_eq!(string("會員"), "'會員'");
    }

    #[test]
    fn clusters_are_refused() {
        assert!(Postgres.schema("contacts", Some("c")).is_err());
    }
}
