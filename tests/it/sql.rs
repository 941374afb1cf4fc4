//! `reach sql` against the real engines: the conformance dataset loaded with PostgreSQL's
//! `\copy` and ClickHouse's `INSERT … FORMAT CSVWithNames` (both from `reach export
//! --all-columns` and from the raw file), every conformance and spec segment, random
//! segments on a random population, and `--select ids` beside reach's own contacts.

use std::path::{Path, PathBuf};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use ::reach::sql::Dialect;

use crate::engines::{ClickHouse, Postgres, count_of};
use crate::{reach, run_at};

const TZ: &str = "+08:00";

fn conformance() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance");
    if dir.join("cases.tsv").exists() {
        Some(dir)
    } else {
        eprintln!("skipped: no ../shared/conformance beside the project");
        None
    }
}

/// (segment, expected count) of every conformance case, then the spec's examples
/// (expected: whatever reach counts).
fn cases(conformance: &Path) -> Vec<(String, Option<u64>)> {
    let tsv = std::fs::read_to_string(conformance.join("cases.tsv")).expect("cases.tsv");
    let mut cases: Vec<(String, Option<u64>)> = tsv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut cells = l.split('\t');
            let (_, segment, count) = (cells.next()?, cells.next()?, cells.next()?);
            Some((segment.to_string(), count.trim().parse().ok()))
        })
        .collect();
    let spec = [
        "channel:line tag:vip -tag:churned checkout:-30d.. is:subscribed",
        "(tag:vip or tag:gold) interaction:2024-01-01..2024-06-30 -is:over_quota",
        "channel:facebook is:fb_sendable tag:\"雙11 會員\"",
        "channel:web has:email -has:member_id joined:>=2024-03-01",
        "store:taipei-101 or salesperson:E042",
        "checkout:never,-30d..",
        "-tag:a,b",
        "interaction:<-90d",
        "marketing:today",
        "is:fb_sendable",
        "-is:fb_sendable",
        "has:tag -has:phone or has:salesperson",
        "team_interaction:-3mo.. or joined:-1y..-30d",
        "is:bound is:app91_bound or is:unsubscribed optout:site_marketing",
        "email:alice.chen@gmail.com or name:\"ALICE CHEN\"",
        "",
    ];
    cases.extend(spec.iter().map(|s| (s.to_string(), None)));
    cases
}

fn reach_sql(data: &Path, args: &[&str]) -> String {
    let out = run_at(data, &[&["--tz", TZ, "sql"], args].concat());
    assert!(
        out.status.success(),
        "reach sql {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn reach_count(data: &Path, segment: &str) -> u64 {
    let out = run_at(data, &["--tz", TZ, "count", "--", segment]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a count")
}

/// The conformance file imported into reach and exported with every column.
struct Loaded {
    dir: tempfile::TempDir,
    raw: PathBuf,
    exported: PathBuf,
}

impl Loaded {
    fn new(conformance: &Path) -> Loaded {
        let dir = tempfile::tempdir().expect("tmp");
        let raw = conformance.join("contacts.csv");
        let data = dir.path().join("d");
        let out = run_at(&data, &["import", &raw.display().to_string()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let exported = dir.path().join("all.csv");
        let out = run_at(
            &data,
            &[
                "export",
                "",
                "--all-columns",
                "-o",
                &exported.display().to_string(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Loaded { dir, raw, exported }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("d")
    }

    fn schema(&self, dialect: &str, table: &str) -> String {
        reach_sql(
            &self.data(),
            &["--schema", "--dialect", dialect, "--table", table],
        )
    }
}

#[test]
fn conformance_and_spec_segments_count_as_reach_on_postgres() {
    let Some(conformance) = conformance() else {
        return;
    };
    let Some(pg) = Postgres::start() else { return };
    let loaded = Loaded::new(&conformance);
    pg.load(
        &loaded.schema("postgres", "contacts"),
        "contacts",
        &loaded.exported,
    )
    .expect("load the export");
    pg.load(&loaded.schema("postgres", "raw"), "raw", &loaded.raw)
        .expect("load the raw file");
    let cases = cases(&conformance);
    let mut queries = String::new();
    for (segment, _) in &cases {
        for table in ["contacts", "raw"] {
            queries += &reach_sql(
                &loaded.data(),
                &["--dialect", "postgres", "--table", table, "--", segment],
            );
        }
    }
    let answers = pg.psql(&queries).expect("every query runs");
    let counts: Vec<u64> = answers
        .lines()
        .map(|l| l.parse().expect("a count"))
        .collect();
    assert_eq!(counts.len(), cases.len() * 2);
    for ((segment, expected), pair) in cases.iter().zip(counts.chunks(2)) {
        let reach = reach_count(&loaded.data(), segment);
        if let Some(expected) = expected {
            assert_eq!(reach, *expected, "reach on {segment:?}");
        }
        assert_eq!(
            pair,
            [reach, reach],
            "PostgreSQL (export, raw file) on {segment:?}"
        );
    }
}

#[test]
fn conformance_and_spec_segments_count_as_reach_on_clickhouse() {
    let Some(conformance) = conformance() else {
        return;
    };
    let Some(ch) = ClickHouse::start() else {
        return;
    };
    let loaded = Loaded::new(&conformance);
    let statements = vec![
        loaded.schema("clickhouse", "contacts"),
        loaded.schema("clickhouse", "raw"),
    ];
    let cases = cases(&conformance);
    let mut queries = Vec::new();
    for (segment, _) in &cases {
        for table in ["contacts", "raw"] {
            let sql = reach_sql(
                &loaded.data(),
                &["--dialect", "clickhouse", "--table", table, "--", segment],
            );
            queries.push(sql);
        }
    }
    let loads = [
        ("contacts", loaded.exported.as_path()),
        ("raw", loaded.raw.as_path()),
    ];
    let answers = ch.run(&statements, &loads, &queries).expect("chdb runs");
    assert_eq!(answers.len(), queries.len());
    for (((segment, _), pair), sql) in cases
        .iter()
        .zip(answers.chunks(2))
        .zip(queries.iter().step_by(2))
    {
        let reach = reach_count(&loaded.data(), segment);
        let got: Vec<Option<u64>> = pair
            .iter()
            .map(|a| count_of(a.as_ref().unwrap_or_else(|e| panic!("{sql}\n{e}"))))
            .collect();
        assert_eq!(
            got,
            [Some(reach), Some(reach)],
            "ClickHouse (export, raw file) on {segment:?}\n{sql}"
        );
    }
}

/// Random segments (the oracle test's generator) on a random population, at three time
/// zones: every engine counts what reach counts.
#[test]
fn random_segments_count_as_reach_on_both_engines() {
    let (pg, ch) = (Postgres::start(), ClickHouse::start());
    if pg.is_none() && ch.is_none() {
        return;
    }
    let (store, _) = crate::oracle::population(7, 600);
    let dir = tempfile::tempdir().expect("tmp");
    let csv = dir.path().join("population.csv");
    let file = std::fs::File::create(&csv).expect("csv");
    ::reach::csv::export(
        &store,
        store.live(),
        ::reach::csv::ColumnChoice::All,
        file,
        &|_| {},
    )
    .expect("export");
    let mut engine = ::reach::Engine::in_memory_with(store);
    let mut runner = TestRunner::deterministic();
    let mut cases = Vec::new();
    for tz in ["Z", "+08:00", "-05:00"] {
        engine.set_time_zone(::reach::model::time::parse_offset(tz).expect("tz"));
        for _ in 0..120 {
            let text = crate::oracle::segment()
                .new_tree(&mut runner)
                .expect("a segment")
                .current();
            let segment = engine.compile(&text, crate::oracle::NOW).expect("compiles");
            cases.push((text, engine.count(&segment), segment.plan));
        }
    }
    let sql = |dialect: &dyn ::reach::sql::Dialect| -> Vec<String> {
        (cases.iter())
            .map(|(_, _, plan)| {
                format!(
                    "{};",
                    ::reach::sql::select(plan, dialect, "contacts", ::reach::sql::Select::Count)
                )
            })
            .collect()
    };
    if let Some(pg) = &pg {
        let schema = ::reach::sql::Postgres
            .schema("contacts", None)
            .expect("schema")
            .join("\n");
        pg.load(&schema, "contacts", &csv).expect("load");
        let queries = sql(&::reach::sql::Postgres);
        let answers = pg.psql(&queries.join("\n")).expect("queries run");
        assert_eq!(answers.lines().count(), cases.len());
        for (((text, want, _), got), query) in cases.iter().zip(answers.lines()).zip(&queries) {
            assert_eq!(got, want.to_string(), "PostgreSQL on {text:?}\n{query}");
        }
    }
    if let Some(ch) = &ch {
        let schema = ::reach::sql::ClickHouse
            .schema("contacts", None)
            .expect("schema");
        let queries = sql(&::reach::sql::ClickHouse);
        let answers = ch
            .run(&schema, &[("contacts", &csv)], &queries)
            .expect("chdb runs");
        assert_eq!(answers.len(), cases.len());
        for (((text, want, _), got), query) in cases.iter().zip(&answers).zip(&queries) {
            let got = got.as_ref().map(|rows| count_of(rows));
            assert_eq!(got, Ok(Some(*want)), "ClickHouse on {text:?}\n{query}");
        }
    }
}

/// `--select ids` gives exactly reach's contacts, in reach's export order.
#[test]
fn selected_ids_are_reachs_contacts_in_order() {
    let Some(conformance) = conformance() else {
        return;
    };
    let (pg, ch) = (Postgres::start(), ClickHouse::start());
    let loaded = Loaded::new(&conformance);
    let segments = [
        "name:\"Alice CHEN\"",
        "phone:\"+886 912-345-678\"",
        "channel:fb,wa is:subscribed tag:vip",
        "is:fb_sendable",
        "store:taipei-101 or salesperson:E042",
        "email:ALICE.CHEN@gmail.com",
    ];
    let want = |segment: &str| -> Vec<String> {
        let out = run_at(&loaded.data(), &["--tz", TZ, "export", "--", segment]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        (reader.records())
            .map(|r| {
                let r = r.expect("record");
                format!("{}|{}|{}", &r[0], &r[1], &r[2])
            })
            .collect()
    };
    let ids_sql = |dialect: &str, segment: &str| {
        reach_sql(
            &loaded.data(),
            &["--dialect", dialect, "--select", "ids", "--", segment],
        )
    };
    if let Some(pg) = &pg {
        pg.load(
            &loaded.schema("postgres", "contacts"),
            "contacts",
            &loaded.exported,
        )
        .expect("load");
        for segment in segments {
            let got = pg.psql(&ids_sql("postgres", segment)).expect("query");
            let got: Vec<String> = got.lines().map(String::from).collect();
            assert_eq!(got, want(segment), "PostgreSQL ids of {segment:?}");
            assert!(!got.is_empty(), "{segment:?} should find someone");
        }
    }
    if let Some(ch) = &ch {
        let queries: Vec<String> = segments.iter().map(|s| ids_sql("clickhouse", s)).collect();
        let schema = vec![loaded.schema("clickhouse", "contacts")];
        let answers = ch
            .run(&schema, &[("contacts", &loaded.exported)], &queries)
            .expect("chdb runs");
        assert_eq!(answers.len(), segments.len());
        for (segment, answer) in segments.iter().zip(answers) {
            let rows = answer.expect("query");
            let got: Vec<String> = (rows.iter())
                .map(|r| {
                    r.iter()
                        .map(|v| v.as_str().unwrap_or("?"))
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect();
            assert_eq!(got, want(segment), "ClickHouse ids of {segment:?}");
        }
    }
}

#[test]
fn bad_input_gets_the_usual_diagnostic() {
    let out = reach()
        .args(["sql", "--dialect", "postgres", "tg:vip"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean 'tag'?"), "{err}");
    assert!(out.stdout.is_empty());
    for args in [
        &["sql", "--dialect", "mysql", "tag:vip"][..],
        &["sql", "--schema", "--dialect", "postgres", "--cluster", "c"],
        &[
            "sql",
            "--schema",
            "--dialect",
            "clickhouse",
            "--table",
            "x; DROP TABLE y",
        ],
        &["sql", "--schema", "--dialect", "clickhouse", "tag:vip"],
    ] {
        let out = reach().args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn now_and_saved_segments_are_written_into_the_statement() {
    let dir = crate::loaded_with(b"channel,account,external_id,tags\nline,a,U1,vip\n");
    let data = dir.path().join("d");
    assert!(run_at(&data, &["save", "vips", "tag:vip"]).status.success());
    let sql = reach_sql(&data, &["--dialect", "postgres", "@vips checkout:-30d.."]);
    assert_eq!(
        sql.trim(),
        "SELECT count(*) AS contacts FROM contacts WHERE (tag_list @> ARRAY['vip']::text[] AND coalesce(last_checkout_at >= TIMESTAMPTZ '2025-05-02T04:00:00Z', false));"
    );
}

/// A chain of saved segments, each near the nesting limit, is refused with a clear error
/// once the expanded plan would pass twice the limit; one level less works everywhere the
/// plan is walked (count, explain, SQL).
#[test]
fn chains_of_saved_segments_are_bounded() {
    let dir = crate::loaded_with(b"channel,account,external_id,tags\nline,a,U1,vip\n");
    let data = dir.path().join("d");
    // Each level is an OR node: `(tag:vip or (tag:vip or … inner))` means tag:vip or inner.
    let nest = |inner: &str| format!("{}{inner}{}", "(tag:vip or ".repeat(250), ")".repeat(250));
    for (name, inner) in [("s0", "tag:vip"), ("s1", "@s0")] {
        let out = run_at(&data, &["save", name, &nest(inner)]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for args in [
        &["count", "@s1"][..],
        &["explain", "@s1"],
        &["sql", "--dialect", "postgres", "@s1"],
    ] {
        let out = run_at(&data, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        String::from_utf8_lossy(&run_at(&data, &["count", "@s1"]).stdout).trim(),
        "1"
    );
    let too_deep = nest("@s1");
    for args in [
        &["save", "s2", &too_deep][..],
        &["count", &too_deep],
        &["sql", "--dialect", "clickhouse", &too_deep],
    ] {
        let out = run_at(&data, args);
        assert_eq!(out.status.code(), Some(2), "{:?}", &args[..1]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("more than 512 levels deep") && err.contains("(@s1 -> @s0)"),
            "{err}"
        );
    }
    assert!(!String::from_utf8_lossy(&run_at(&data, &["segments"]).stdout).contains("s2"));
}

/// The REPL (and scripts) take `sql` as typed, the segment unquoted.
#[test]
fn the_repl_prints_the_same_sql() {
    let dir = crate::loaded_with(b"channel,account,external_id,tags\nline,a,U1,vip\n");
    let data = dir.path().join("d");
    let segment = "tag:\"雙11 會員\" -tag:churned";
    let cli = reach_sql(&data, &["--dialect", "postgres", segment]);
    let line = format!("sql --dialect postgres {segment}");
    let out = run_at(&data, &["--tz", TZ, "-c", &line]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), cli);
}
