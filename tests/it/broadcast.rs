//! Broadcasts: eligibility against a plain per-contact evaluation of the spec's table;
//! quotas refused and cut exactly; placeholders; CSV audiences; exactly once through
//! kills and a failing sink; the channel adapters against local servers whose request
//! bodies are checked against the platforms' OpenAPI descriptions.

mod adapters;
mod bounded;
mod exactly_once;
mod in_flight;
mod refusals;
mod speed;
pub mod tools;

use proptest::prelude::*;
use reach::broadcast::{AudienceSource, Rules, judge};
use reach::model::time::parse_offset;
use reach::model::{Channel, Contact, Flag, MessageKind, OptOutKind, Seconds, TextField};
use reach::{Edit, Engine};

pub const NOW: Seconds = 1_748_750_400; // 2025-06-01T04:00:00Z

/// The spec's reason table, contact by contact (broadcast.md, "Who receives it"),
/// written out without the model's helpers.
fn reason(c: &Contact, kind: MessageKind, reply_window: bool) -> Option<&'static str> {
    if c.flags[Flag::Blocked.index()] {
        return Some("blocked");
    }
    let opt_out = match kind {
        MessageKind::Broadcast => Some(OptOutKind::Broadcast),
        MessageKind::SiteMarketing => Some(OptOutKind::SiteMarketing),
        MessageKind::Cart => Some(OptOutKind::Cart),
        MessageKind::Welcome | MessageKind::Bot => None,
    };
    if opt_out.is_some_and(|k| c.opt_outs.contains(k)) {
        return Some("opted_out");
    }
    let quota_kind = matches!(kind, MessageKind::Broadcast | MessageKind::SiteMarketing);
    if quota_kind && c.flags[Flag::OverQuota.index()] {
        return Some("over_quota");
    }
    let marketing = matches!(
        kind,
        MessageKind::Broadcast | MessageKind::SiteMarketing | MessageKind::Cart
    );
    let utc = parse_offset("Z").expect("utc");
    let token = c.text(TextField::FbNotificationToken).is_some();
    if c.channel == Channel::Facebook
        && marketing
        && !reply_window
        && !(c.is_fb_sendable(NOW, utc) && token)
    {
        return Some("not_fb_sendable");
    }
    let in_window = c
        .time(reach::model::TimeField::CustomerInteractionAt)
        .is_some_and(|t| t >= NOW - 24 * 3600);
    let window_bound = (c.channel == Channel::Instagram && marketing)
        || (c.channel == Channel::Facebook && reply_window);
    if window_bound && !in_window {
        return Some("outside_window");
    }
    if c.channel == Channel::Web && c.text(TextField::Email).is_none() {
        return Some("no_email");
    }
    None
}

fn kinds() -> impl Strategy<Value = MessageKind> {
    prop::sample::select(MessageKind::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn eligibility_equals_the_reason_table(seed in any::<u64>(), kind in kinds(), reply_window in any::<bool>(), partial in any::<bool>(), quota in 0u64..40) {
        let (store, contacts) = crate::oracle::population(seed, 400);
        let engine = Engine::in_memory_with(store);
        // One LINE account gets a quota; the others stay unlimited.
        let edit = Edit::SetQuota { account: "line-tw".into(), plan: Some(quota + 1), purchased: None, used: Some(1) };
        engine.commit(edit, NOW).expect("quota");
        let view = engine.read();
        let all = view.store().live().clone();
        let rules = Rules { kind, reply_window, partial, now: NOW };
        let judged = judge(&view, &all, 0, rules).expect("judges");
        let mut expected: std::collections::BTreeMap<&str, u64> = Default::default();
        let mut eligible: Vec<&Contact> = Vec::new();
        for c in &contacts {
            match reason(c, kind, reply_window) {
                Some(r) => *expected.entry(r).or_default() += 1,
                None => eligible.push(c),
            }
        }
        // LINE quota: the first in identity order, exactly up to what is left.
        let mut tw: Vec<&Contact> = eligible.iter().copied().filter(|c| c.channel == Channel::Line && c.account == "line-tw").collect();
        tw.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        let short = tw.len() as u64 > quota;
        prop_assert_eq!(judged.short.len(), usize::from(short));
        if short && partial {
            let cut: Vec<&str> = tw[quota as usize..].iter().map(|c| c.external_id.as_str()).collect();
            eligible.retain(|c| !(c.channel == Channel::Line && c.account == "line-tw" && cut.contains(&c.external_id.as_str())));
            expected.insert("line_quota", cut.len() as u64);
        }
        for (name, n) in judged.excluded.by_reason() {
            prop_assert_eq!(n, expected.get(name).copied().unwrap_or(0), "reason {}", name);
        }
        let mut got: Vec<String> = view.store().contacts(&judged.eligible).into_iter().map(|c| format!("{}/{}/{}", c.channel, c.account, c.external_id)).collect();
        let mut want: Vec<String> = eligible.iter().map(|c| format!("{}/{}/{}", c.channel, c.account, c.external_id)).collect();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want);
        prop_assert_eq!(judged.audience, contacts.len() as u64);
    }
}

pub use crate::{reach, run_at};

/// A data directory of `contacts` generated contacts (seed 5).
pub fn loaded(contacts: u64) -> tempfile::TempDir {
    let mut csv = Vec::new();
    reach::synth::write_csv(contacts, 5, NOW, &mut csv, &|_| {}).expect("generate");
    crate::loaded_with(&csv)
}

pub fn json(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("")).unwrap_or_else(|_| {
        panic!(
            "a JSON report: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_short_line_quota_refuses_or_cuts_exactly() {
    let dir = loaded(3_000);
    let data = dir.path().join("d");
    let run = |args: &[&str]| run_at(&data, args);
    let preview = json(&run(&[
        "broadcast",
        "channel:line account:line-tw",
        "--kind",
        "broadcast",
        "--text",
        "hi",
        "--dry-run",
        "--json",
    ]));
    let eligible = preview["eligible"].as_u64().expect("eligible");
    assert!(eligible > 20);
    let left = eligible - 7;
    assert!(
        run(&[
            "quota",
            "line-tw",
            "--plan",
            &left.to_string(),
            "--used",
            "0"
        ])
        .status
        .success()
    );
    let outbox = dir.path().join("out.jsonl");
    let sink = format!("jsonl:{}", outbox.display());
    let refused = run(&[
        "broadcast",
        "channel:line account:line-tw",
        "--kind",
        "broadcast",
        "--text",
        "hi",
        "--sink",
        &sink,
        "--yes",
        "--json",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains(&format!(
            "line-tw has {left} messages left and this broadcast needs {eligible}"
        )),
        "{err}"
    );
    assert!(!outbox.exists(), "nothing was sent");
    let first: Vec<String> = {
        let engine = Engine::open_read_only(&data).expect("opens");
        let view = engine.read();
        let segment = view
            .compile("channel:line account:line-tw", NOW)
            .expect("compiles");
        let rules = Rules {
            kind: MessageKind::Broadcast,
            reply_window: false,
            partial: false,
            now: NOW,
        };
        let judged = judge(&view, &view.rows(&segment), 0, rules).expect("judges");
        let mut ids: Vec<String> = view
            .store()
            .contacts(&judged.eligible)
            .into_iter()
            .map(|c| c.external_id)
            .collect();
        ids.sort();
        ids.truncate(left as usize);
        ids
    };
    let partial = run(&[
        "broadcast",
        "channel:line account:line-tw",
        "--kind",
        "broadcast",
        "--text",
        "hi",
        "--sink",
        &sink,
        "--partial",
        "--id",
        "cut",
        "--yes",
        "--json",
    ]);
    let report = json(&partial);
    assert_eq!(partial.status.code(), Some(0));
    assert_eq!(report["sent"], left);
    assert_eq!(report["excluded"]["line_quota"], 7);
    let mut sent: Vec<String> = std::fs::read_to_string(&outbox)
        .expect("outbox")
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["external_id"]
                .as_str()
                .expect("id")
                .to_string()
        })
        .collect();
    sent.sort();
    assert_eq!(
        sent, first,
        "the first eligible contacts in identity order were sent"
    );
    let quota = String::from_utf8_lossy(&run(&["quota"]).stdout).to_string();
    assert!(
        quota.contains(&format!("{left}/{left}")),
        "the quota is spent exactly: {quota}"
    );
}

#[test]
fn placeholders_fill_in_and_unknown_ones_are_refused_before_sending() {
    let dir = loaded(500);
    let data = dir.path().join("d");
    let outbox = dir.path().join("o.jsonl");
    let sink = format!("jsonl:{}", outbox.display());
    let run = |args: &[&str]| run_at(&data, args);
    let bad = run(&[
        "broadcast",
        "channel:web",
        "--kind",
        "welcome",
        "--text",
        "Hi {{nmae}}",
        "--sink",
        &sink,
        "--yes",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("did you mean {{name}}"));
    assert!(!outbox.exists());
    let ok = run(&[
        "broadcast",
        "channel:web",
        "--kind",
        "welcome",
        "--text",
        "Hi {{name|friend}} <{{email|none}}> at {{account}}",
        "--sink",
        &sink,
        "--yes",
        "--json",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let engine = Engine::open_read_only(&data).expect("opens");
    let view = engine.read();
    for line in std::fs::read_to_string(&outbox).expect("outbox").lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let row = view
            .store()
            .find(
                Channel::Web,
                v["account"].as_str().expect("a"),
                v["external_id"].as_str().expect("id"),
            )
            .expect("known");
        let c = view.store().contact(row).expect("contact");
        let name = if c.name.trim().is_empty() {
            "friend".to_string()
        } else {
            c.name.trim().to_string()
        };
        let email = c.text(TextField::Email).unwrap_or("none");
        assert_eq!(v["text"], format!("Hi {name} <{email}> at {}", c.account));
        assert_eq!(v["kind"], "welcome");
    }
}

#[test]
fn a_csv_audience_counts_unknown_identities_and_refuses_repeated_ones() {
    let dir = loaded(300);
    let data = dir.path().join("d");
    let engine = Engine::open_read_only(&data).expect("opens");
    let some: Vec<Contact> = {
        let view = engine.read();
        let rows: roaring::RoaringBitmap = view.store().live().iter().take(5).collect();
        view.store().contacts(&rows)
    };
    drop(engine);
    let mut csv = String::from("channel,account,external_id,coupon\n");
    for (i, c) in some.iter().enumerate() {
        csv.push_str(&format!(
            "{},{},{},C{i}\n",
            c.channel, c.account, c.external_id
        ));
    }
    csv.push_str("line,line-tw,Unobody1,X\nline,line-tw,Unobody2,Y\n");
    let file = dir.path().join("aud.csv");
    std::fs::write(&file, &csv).expect("csv");
    let outbox = dir.path().join("o.jsonl");
    let sink = format!("jsonl:{}", outbox.display());
    let run = |args: &[&str]| run_at(&data, args);
    let out = run(&[
        "broadcast",
        "--csv",
        file.to_str().expect("utf-8"),
        "--kind",
        "bot",
        "--text",
        "code {{coupon}}",
        "--sink",
        &sink,
        "--yes",
        "--json",
    ]);
    let report = json(&out);
    assert_eq!(report["audience"], 7);
    assert_eq!(report["excluded"]["unknown"], 2);
    let lines = std::fs::read_to_string(&outbox).expect("outbox");
    for (i, c) in some.iter().enumerate() {
        let blocked = c.flags[Flag::Blocked.index()];
        let line = lines
            .lines()
            .find(|l| l.contains(&format!("\"external_id\":\"{}\"", c.external_id)));
        assert_eq!(line.is_some(), !blocked);
        if let Some(line) = line {
            assert!(line.contains(&format!("code C{i}")), "{line}");
        }
    }
    csv.push_str(&format!(
        "{},{},{},again\n",
        some[1].channel, some[1].account, some[1].external_id
    ));
    std::fs::write(&file, &csv).expect("csv");
    let repeated = run(&[
        "broadcast",
        "--csv",
        file.to_str().expect("utf-8"),
        "--kind",
        "bot",
        "--text",
        "x",
        "--sink",
        &sink,
        "--yes",
        "--id",
        "twice",
    ]);
    assert_eq!(repeated.status.code(), Some(2));
    let err = String::from_utf8_lossy(&repeated.stderr);
    assert!(err.contains("lines 3 and 9 name the same contact"), "{err}");
}

#[test]
fn a_job_id_is_used_once_and_a_done_job_never_sends_again() {
    let dir = loaded(300);
    let data = dir.path().join("d");
    let sink = format!("jsonl:{}", dir.path().join("o.jsonl").display());
    let run = |args: &[&str]| run_at(&data, args);
    let once = [
        "broadcast",
        "",
        "--kind",
        "bot",
        "--text",
        "x",
        "--sink",
        &sink,
        "--id",
        "once",
        "--yes",
    ];
    let first = run(&once);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let again = run(&once);
    // A job id used before is a conflict with the state, not a malformed command.
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("used once"));
    let resume = run(&["broadcast", "resume", "once"]);
    assert_eq!(resume.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&resume.stderr).contains("never sends again"));
    let shown = json(&run(&["broadcast", "show", "once", "--json"]));
    assert_eq!(shown["state"], "done");
    let reasons: Vec<&String> = shown["excluded"]
        .as_object()
        .expect("object")
        .keys()
        .collect();
    assert_eq!(
        reasons,
        [
            "unknown",
            "blocked",
            "opted_out",
            "over_quota",
            "not_fb_sendable",
            "outside_window",
            "no_email",
            "line_quota",
            "deleted"
        ]
    );
}

#[test]
fn the_books_are_kept_with_each_batch() {
    let dir = loaded(2_000);
    let data = dir.path().join("d");
    let sink = format!("jsonl:{}", dir.path().join("o.jsonl").display());
    let run = |args: &[&str]| run_at(&data, args);
    let fb_before = json(&run(&[
        "broadcast",
        "channel:facebook",
        "--kind",
        "broadcast",
        "--text",
        "x",
        "--dry-run",
        "--json",
    ]));
    let out = run(&[
        "broadcast",
        "channel:facebook,line",
        "--kind",
        "broadcast",
        "--text",
        "x",
        "--sink",
        &sink,
        "--yes",
        "--json",
    ]);
    let report = json(&out);
    let sent = report["sent"].as_u64().expect("sent");
    assert!(sent > 0 && fb_before["eligible"].as_u64().expect("n") > 0);
    let count = |segment: &str| {
        String::from_utf8_lossy(&run(&["count", segment]).stdout)
            .trim()
            .parse::<u64>()
            .expect("count")
    };
    assert_eq!(
        count("marketing:2025-06-01T04:00:00Z channel:facebook,line"),
        sent,
        "team_marketing_at is the send time"
    );
    // A recurring notification sets fb_last_sent_at: the same contacts are not sendable now.
    let fb_after = json(&run(&[
        "broadcast",
        "channel:facebook",
        "--kind",
        "broadcast",
        "--text",
        "x",
        "--dry-run",
        "--json",
    ]));
    assert_eq!(fb_after["eligible"], 0);
    let _ = AudienceSource::Csv(Vec::new());
}
