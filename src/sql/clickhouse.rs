//! ClickHouse: the CSV's columns as loaded (times as text, parsed into
//! `Nullable(DateTime('UTC'))` materialized columns, since the server's default
//! `date_time_input_format` does not read RFC 3339 offsets; an empty cell, or text that
//! is no time, is none there — reach refuses the latter on import), keys materialized, rows
//! ordered by identity; on a cluster, a `Distributed` table sharded by account.
//! `lowerUTF8` folds as Rust does on current servers (ICU, final sigma included).

use super::{Dialect, KeyExpressions, csv_columns, key_columns, keys};
use crate::model::{FieldKind, Flag, Seconds, TimeField, WHITE_SPACE};

/// The ClickHouse dialect.
pub struct ClickHouse;

impl Dialect for ClickHouse {
    fn name(&self) -> &'static str {
        "clickhouse"
    }

    fn schema(&self, table: &str, cluster: Option<&str>) -> Result<Vec<String>, String> {
        let mut columns: Vec<String> = csv_columns()
            .map(|(name, kind)| format!("    {name} {}", column_type(kind)))
            .collect();
        columns.extend(
            (key_columns(self).into_iter())
                .chain(time_columns(self))
                .map(|(name, ty, expr)| format!("    {name} {ty} MATERIALIZED {expr}")),
        );
        let order = format!(
            "ORDER BY ({}, {}, {})",
            keys::CHANNEL,
            keys::ACCOUNT,
            keys::EXTERNAL_ID
        );
        let body = columns.join(",\n");
        Ok(match cluster {
            None => vec![format!(
                "CREATE TABLE {table} (\n{body}\n)\nENGINE = MergeTree\n{order};"
            )],
            Some(cluster) => {
                let local = format!("{table}_local");
                vec![
                    format!(
                        "CREATE TABLE {local} ON CLUSTER {cluster} (\n{body}\n)\nENGINE = MergeTree\n{order};"
                    ),
                    format!(
                        "CREATE TABLE {table} ON CLUSTER {cluster} AS {local}\nENGINE = Distributed({cluster}, currentDatabase(), {local}, cityHash64(account));"
                    ),
                ]
            }
        })
    }

    fn string(&self, text: &str) -> String {
        string(text)
    }

    fn time_compare(&self, column: &str, op: &str, at: Seconds) -> String {
        format!("{column} {op} toDateTime({at}, 'UTC')")
    }

    fn time_present(&self, column: &str) -> String {
        format!("isNotNull({column})")
    }

    fn time_column(&self, field: TimeField) -> String {
        format!("{}_time", field.name())
    }

    fn flag(&self, flag: Flag) -> String {
        flag.name().to_string()
    }

    fn array_has(&self, column: &str, value: &str) -> String {
        format!("has({column}, {})", string(value))
    }

    fn array_not_empty(&self, column: &str) -> String {
        format!("notEmpty({column})")
    }

    fn not_null(&self, condition: &str) -> String {
        format!("ifNull({condition}, false)")
    }

    fn byte_order(&self, column: &str) -> String {
        column.to_string()
    }
}

fn column_type(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Flag(_) => "Bool",
        _ => "String",
    }
}

impl KeyExpressions for ClickHouse {
    fn text(&self, column: &str) -> String {
        column.to_string()
    }

    fn trim(&self, expr: &str) -> String {
        let ws = class();
        let ends = string(&format!("^[{ws}]+|[{ws}]+$"));
        format!("replaceRegexpAll({expr}, {ends}, '')")
    }

    fn lower(&self, expr: &str) -> String {
        format!("lower({expr})")
    }

    fn lower_unicode(&self, expr: &str) -> String {
        format!("lowerUTF8({expr})")
    }

    fn pieces(&self, expr: &str) -> String {
        format!(
            "arrayDistinct(arrayFilter(p -> p != '', arrayMap(p -> {}, splitByChar('|', {expr}))))",
            self.trim("p")
        )
    }

    fn phone(&self, expr: &str) -> String {
        let class = string(&format!("[{}().\\-]", class()));
        format!("replaceRegexpAll({expr}, {class}, '')")
    }

    fn mapped(&self, expr: &str, pairs: &[(&str, &str)]) -> String {
        let (from, to): (Vec<String>, Vec<String>) =
            pairs.iter().map(|(f, t)| (string(f), string(t))).unzip();
        format!(
            "transform({expr}, [{}], [{}], {expr})",
            from.join(", "),
            to.join(", ")
        )
    }

    fn key_type(&self, array: bool) -> &'static str {
        if array { "Array(String)" } else { "String" }
    }
}

/// The seven times parsed from their text (`Nullable(DateTime('UTC'))`).
fn time_columns(d: &ClickHouse) -> Vec<(String, &'static str, String)> {
    (TimeField::ALL.iter())
        .map(|field| {
            let text = d.trim(field.name());
            (
                d.time_column(*field),
                "Nullable(DateTime('UTC'))",
                format!("parseDateTimeBestEffortOrNull({text}, 'UTC')"),
            )
        })
        .collect()
}

/// Unicode white space as the body of an RE2 character class.
fn class() -> String {
    WHITE_SPACE
        .iter()
        .map(|c| format!("\\x{{{:x}}}", *c as u32))
        .collect()
}

/// A string literal: backslash and quote escaped, control characters as `\xHH`.
fn string(text: &str) -> String {
    let mut out = String::from("'");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_backslashes_quotes_and_controls() {
        assert_eq!(string(r"a\b'c"), r"'a\\b\'c'");
        assert_eq!(string("a\nb"), r"'a\x0Ab'");
    }

    #[test]
    fn a_cluster_gets_a_distributed_table_by_account() {
        let statements = ClickHouse
            .schema("contacts", Some("brands"))
            .unwrap_or_default();
        assert_eq!(statements.len(), 2);
        assert!(statements[0].starts_with("CREATE TABLE contacts_local ON CLUSTER brands"));
        assert!(statements[1].contains(
            "Distributed(brands, currentDatabase(), contacts_local, cityHash64(account))"
        ));
    }
}
