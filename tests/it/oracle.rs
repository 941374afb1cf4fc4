//! The executor against a plain row-by-row evaluator written from the spec, on random
//! contacts and random segments (all fields, every time form, nesting, negations).
//! The oracle shares only the time-point arithmetic (`resolve_time_filter`) and the model's
//! own `Contact::is_fb_sendable`; everything else (field meanings, set algebra, indexes)
//! is evaluated independently.

use proptest::prelude::*;
use reach::engine::{CONFIRM_WORD, Edit, Target};
use reach::model::time::parse_offset;
use reach::model::{
    Channel, Contact, FbFrequency, Flag, OptOutKind, Seconds, TextField, TimeField, normalize_phone,
};
use reach::plan::{Clock, TimeFilter, resolve_time_filter};
use reach::store::{Change, RowBatch, Store};
use reach::syntax::{Expr, parse};
use reach::{Engine, model::FieldSet};

pub const NOW: Seconds = 1_748_750_400; // 2025-06-01T04:00:00Z
const DAY: Seconds = 86_400;
const TAGS: &[&str] = &["vip", "gold", "churned", "雙11 會員", "ns:vip", "R&D"];
const ACCOUNTS: &[(Channel, &str)] = &[
    (Channel::Line, "line-tw"),
    (Channel::Line, "shared"),
    (Channel::Facebook, "fb-page"),
    (Channel::Whatsapp, "+886223456789"),
    (Channel::Instagram, "@brand"),
    (Channel::Web, "shop"),
    (Channel::Web, "shared"),
];
const NAMES: &[&str] = &["Alice Chen", " alice chen ", "陳怡君", "Bob", ""];
const PHONES: [&str; 2] = ["+886 912-345-678", "+886912000111"];
const STORES: &[&str] = &["taipei-101", "Taipei-101"];

use crate::Rng;

/// Times near the oracle's now.
trait Times {
    fn time(&mut self) -> Option<Seconds>;
}

impl Times for Rng {
    /// A time within ~400 days of NOW, often on interesting edges.
    fn time(&mut self) -> Option<Seconds> {
        if self.chance(25) {
            return None;
        }
        let edges = [
            NOW,
            NOW - 30 * DAY,
            NOW - 90 * DAY,
            NOW - DAY,
            NOW - 7 * DAY,
            NOW + DAY,
            NOW - 16 * 3600,
        ];
        Some(if self.chance(30) {
            *self.pick(&edges) + self.below(3) as Seconds - 1
        } else {
            NOW - self.below(400 * DAY as u64) as Seconds + 30 * DAY
        })
    }
}

pub fn random_contact(rng: &mut Rng, serial: usize) -> Contact {
    let (channel, account) = *rng.pick(ACCOUNTS);
    // A WhatsApp contact's external id is its number (data-model.md).
    let id = match channel {
        Channel::Whatsapp => format!("+8869{serial:08}"),
        _ => format!("id{serial}"),
    };
    let mut c = Contact::new(channel, account, &id);
    c.name = rng.pick(NAMES).to_string();
    c.tags = TAGS
        .iter()
        .filter(|_| rng.chance(30))
        .map(|t| t.to_string())
        .collect();
    c.tags.sort();
    c.flags[Flag::Blocked.index()] = rng.chance(15);
    c.flags[Flag::OverQuota.index()] = rng.chance(15);
    for kind in OptOutKind::ALL {
        if rng.chance(15) {
            c.opt_outs.insert(*kind);
        }
    }
    for field in [
        TimeField::SubscribedAt,
        TimeField::LastCheckoutAt,
        TimeField::CustomerInteractionAt,
        TimeField::TeamInteractionAt,
        TimeField::TeamMarketingAt,
    ] {
        c.times[field.index()] = rng.time();
    }
    if matches!(
        channel,
        Channel::Facebook | Channel::Line | Channel::Whatsapp
    ) {
        c.flags[Flag::Bound.index()] = rng.chance(40);
    }
    match channel {
        Channel::Facebook if rng.chance(70) => {
            c.flags[Flag::FbOptin.index()] = true;
            c.fb_frequency = Some(*rng.pick(FbFrequency::ALL));
            c.times[TimeField::FbLastSentAt.index()] = rng.time();
            c.times[TimeField::FbExpiresAt.index()] = rng.time();
            c.texts[TextField::FbNotificationToken.index()] =
                rng.chance(80).then(|| format!("token{serial}"));
        }
        Channel::Line => c.flags[Flag::App91Bound.index()] = rng.chance(40),
        Channel::Web => {
            c.texts[TextField::Email.index()] = rng
                .chance(60)
                .then(|| rng.pick(&["A@x.com", "a@x.com", "b@y.org"]).to_string());
            c.texts[TextField::MemberId.index()] = rng
                .chance(50)
                .then(|| rng.pick(&["M1", "m1", "M2"]).to_string());
        }
        _ => {}
    }
    if matches!(channel, Channel::Whatsapp | Channel::Web) && rng.chance(60) {
        c.texts[TextField::Phone.index()] = Some(normalize_phone(PHONES[rng.below(2) as usize]));
    }
    if matches!(channel, Channel::Line | Channel::Whatsapp) && rng.chance(50) {
        c.texts[TextField::Store.index()] = Some(rng.pick(STORES).to_string());
        c.texts[TextField::Salesperson.index()] = rng.chance(50).then(|| "E042".to_string());
    }
    c
}

/// A random predicate, as text.
fn predicate() -> impl Strategy<Value = String> {
    let time_fields = prop::sample::select(vec![
        "checkout",
        "last_checkout",
        "interaction",
        "team_interaction",
        "marketing",
        "joined",
        "Subscribed_At",
    ]);
    let time_values = prop::sample::select(vec![
        "-30d..",
        "<-90d",
        ">=-7d",
        ">-1d",
        "<=-2w",
        "never",
        "today",
        "-3mo..",
        "-1y..-30d",
        "2025-05",
        "2025-05-20T12:00",
        "2025-05-31T16:00:00Z",
        "..2025-01-01",
        "2024-06-01..2025-06-01",
        "\"-12h..\"",
        "-15min..",
        "-90s..now",
        "now..",
        ">2025-05-31",
        "-1d..-30d",
        "NEVER",
    ]);
    prop_oneof![
        prop::sample::select(vec![
            "facebook",
            "LINE",
            "wa",
            "ig",
            "website",
            "line,whatsapp"
        ])
        .prop_map(|v| format!("channel:{v}")),
        prop::sample::select(vec!["line-tw", "shared", "@brand", "+886223456789", "nope"])
            .prop_map(|v| format!("account:{v}")),
        prop::sample::select(vec![
            "id:id3",
            "external_id:id17",
            "ID:id0",
            "id:nope",
            "id:\"id5\""
        ])
        .prop_map(String::from),
        prop::sample::select(vec![
            "vip",
            "gold",
            "churned",
            "\"雙11 會員\"",
            "ns:vip",
            "\"R&D\"",
            "vip,gold",
            "unknown"
        ])
        .prop_map(|v| format!("tag:{v}")),
        (time_fields, time_values).prop_map(|(f, v)| format!("{f}:{v}")),
        prop::sample::select(vec![
            "\"alice chen\"",
            "ALICE\\ CHEN",
            "陳怡君",
            "bob",
            "BOB",
            "\"ALICE Chen\"",
            "\"\""
        ])
        .prop_map(|v| format!("name:{v}")),
        prop::sample::select(vec![
            "email:a@X.com",
            "phone:\"+886 912 345 678\"",
            "phone:+886912000111",
            "member_id:M1",
            "store:taipei-101",
            "salesperson:E042"
        ])
        .prop_map(String::from),
        prop::sample::select(vec!["broadcast", "site_marketing", "CART"])
            .prop_map(|v| format!("optout:{v}")),
        prop::sample::select(reach::plan::STATES.to_vec()).prop_map(|v| format!("is:{v}")),
        prop::sample::select(reach::plan::PRESENCE.to_vec()).prop_map(|v| format!("has:{v}")),
    ]
    .prop_filter("valid escapes only", |p| !p.contains("\\ "))
}

/// A random segment with every operator spelling, parentheses and negations.
pub fn segment() -> impl Strategy<Value = String> {
    predicate().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![" ", " and ", " AND ", " & ", "&&", " && "]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a}{op}{b}")),
            (
                inner.clone(),
                prop::sample::select(vec![" or ", " OR ", "|", " || "]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a}{op}{b}")),
            (
                prop::sample::select(vec!["-", "!", "not ", "NOT "]),
                inner.clone()
            )
                .prop_map(|(op, a)| format!("{op}({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

/// The row-by-row meaning of a segment.
pub fn eval(expr: &Expr, c: &Contact, clock: Clock) -> bool {
    match expr {
        Expr::Or(terms, _) => terms.iter().any(|t| eval(t, c, clock)),
        Expr::And(terms, _) => terms.iter().all(|t| eval(t, c, clock)),
        Expr::Not(inner, _) => !eval(inner, c, clock),
        Expr::Saved(..) => unreachable!("no saved segments in these tests"),
        Expr::Predicate(p) => p
            .values
            .iter()
            .any(|v| matches(&p.field.to_lowercase(), &v.text, c, clock)),
    }
}

fn time_matches(t: Option<Seconds>, filter: &str, clock: Clock) -> bool {
    match resolve_time_filter(filter, clock).expect("generated filters are valid") {
        TimeFilter::Never => t.is_none(),
        TimeFilter::Range { lo, hi } => t.is_some_and(|t| lo <= t && t < hi),
    }
}

fn matches(field: &str, value: &str, c: &Contact, clock: Clock) -> bool {
    let lower = value.to_lowercase();
    let text = |f: TextField| c.text(f);
    let time = |f: TimeField| time_matches(c.time(f), value, clock);
    match field {
        "channel" => Channel::parse(value) == Some(c.channel),
        "account" => c.account == value,
        "tag" => c.tags.iter().any(|t| t == value),
        "name" => c.name.trim().to_lowercase() == value.trim().to_lowercase(),
        "email" => text(TextField::Email)
            .is_some_and(|e| e.trim().to_lowercase() == value.trim().to_lowercase()),
        "phone" => {
            text(TextField::Phone).is_some_and(|p| normalize_phone(p) == normalize_phone(value))
        }
        "member_id" => text(TextField::MemberId) == Some(value),
        "external_id" | "id" => c.external_id == value,
        "store" => text(TextField::Store) == Some(value),
        "salesperson" => text(TextField::Salesperson) == Some(value),
        "checkout" | "last_checkout" => time(TimeField::LastCheckoutAt),
        "interaction" | "customer_interaction" => time(TimeField::CustomerInteractionAt),
        "team_interaction" => time(TimeField::TeamInteractionAt),
        "marketing" | "team_marketing" => time(TimeField::TeamMarketingAt),
        "joined" | "subscribed_at" => time(TimeField::SubscribedAt),
        "optout" => OptOutKind::parse(value).is_some_and(|k| c.opt_outs.contains(k)),
        "is" => match lower.as_str() {
            "subscribed" => c.is_subscribed(),
            "unsubscribed" => !c.is_subscribed(),
            "fb_sendable" => c.is_fb_sendable(clock.now, clock.tz),
            flag => c.flag(Flag::parse(flag).expect("generated states are valid")),
        },
        "has" => match lower.as_str() {
            "tag" => !c.tags.is_empty(),
            "checkout" => c.time(TimeField::LastCheckoutAt).is_some(),
            "interaction" => c.time(TimeField::CustomerInteractionAt).is_some(),
            "team_interaction" => c.time(TimeField::TeamInteractionAt).is_some(),
            "marketing" => c.time(TimeField::TeamMarketingAt).is_some(),
            other => c
                .text(TextField::parse(other).expect("generated presence is valid"))
                .is_some(),
        },
        other => panic!("the generator made an unknown field {other}"),
    }
}

/// A store of random contacts, with some deleted and some re-tagged after loading, and
/// the oracle's view of the same contacts.
pub fn population(seed: u64, size: usize) -> (Store, Vec<Contact>) {
    let mut rng = Rng(seed);
    let contacts: Vec<Contact> = (0..size).map(|i| random_contact(&mut rng, i)).collect();
    load(contacts, &mut rng)
}

/// A store of `contacts`, some deleted and some re-tagged after loading, and the oracle's
/// view of the live ones.
fn load(mut contacts: Vec<Contact>, rng: &mut Rng) -> (Store, Vec<Contact>) {
    let size = contacts.len();
    // Both ways in: bulk appends (what import uses) for the first contacts, upserts
    // (what edits use) for the rest.
    let mut store = Store::new();
    let appended = size * 3 / 5;
    for part in [&contacts[..appended / 2], &contacts[appended / 2..appended]] {
        let mut batch = RowBatch::new();
        for c in part {
            batch.push(c).expect("valid contact");
        }
        let batch = Box::new(batch);
        store
            .apply(&Change::Append { batch }, NOW)
            .expect("new identities");
    }
    store
        .apply(
            &Change::Upsert {
                contacts: contacts[appended..].to_vec(),
                fields: FieldSet::all(),
            },
            NOW,
        )
        .expect("valid contacts");
    let doomed: roaring::RoaringBitmap = (0..size as u32).filter(|_| rng.chance(10)).collect();
    store
        .apply(
            &Change::Delete {
                rows: doomed.clone(),
            },
            NOW,
        )
        .expect("delete");
    let tagged: roaring::RoaringBitmap = (0..size as u32).filter(|_| rng.chance(20)).collect();
    store
        .apply(
            &Change::AddTag {
                tag: "gold".into(),
                rows: tagged.clone(),
            },
            NOW,
        )
        .expect("tag");
    for row in &tagged {
        let c = &mut contacts[row as usize];
        if !c.tags.iter().any(|t| t == "gold") {
            c.tags.push("gold".into());
            c.tags.sort();
        }
    }
    let alive = contacts
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !doomed.contains(*i as u32))
        .map(|(_, c)| c)
        .collect();
    (store, alive)
}

fn check(seed: u64, segment: &str, tz: &str) -> Result<(), TestCaseError> {
    check_sized(seed, segment, tz, 300)
}

fn check_sized(seed: u64, segment: &str, tz: &str, size: usize) -> Result<(), TestCaseError> {
    let (store, contacts) = population(seed, size);
    let mut engine = Engine::in_memory_with(store);
    let tz = parse_offset(tz).expect("tz");
    engine.set_time_zone(tz);
    check_on(&engine, &contacts, segment)
}

/// `segment` on `engine` lists, counts and explains the contacts the oracle picks.
fn check_on(engine: &Engine, contacts: &[Contact], segment: &str) -> Result<(), TestCaseError> {
    let tz = engine.time_zone();
    let compiled = engine
        .compile(segment, NOW)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let got: Vec<String> = engine
        .read()
        .store()
        .contacts(&engine.rows(&compiled))
        .into_iter()
        .map(|c| c.external_id)
        .collect();
    let expr = parse(segment).expect("parses");
    let clock = Clock { now: NOW, tz };
    let mut want: Vec<String> = contacts
        .iter()
        .filter(|c| expr.as_ref().is_none_or(|e| eval(e, c, clock)))
        .map(|c| c.external_id.clone())
        .collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    want.sort();
    prop_assert_eq!(&got_sorted, &want, "segment {}", segment);
    prop_assert_eq!(engine.count(&compiled), want.len() as u64);
    let explained = engine.explain(&compiled);
    let root = explained.lines().find(|l| !l.starts_with("warning:"));
    let actual = root.and_then(|l| l.split("actual ").nth(1)?.split(',').next());
    let counted = want.len().to_string();
    prop_assert_eq!(actual, Some(counted.as_str()), "{}", explained);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn executor_equals_row_by_row_oracle(seed in any::<u64>(), segment in segment(), tz in prop::sample::select(vec!["Z", "+08:00", "-05:00"])) {
        check(seed, &segment, tz)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Larger populations, so that AND results get small enough for row-wise filtering.
    #[test]
    fn executor_equals_oracle_on_larger_populations(seed in any::<u64>(), segment in segment()) {
        check_sized(seed, &segment, "+08:00", 3_000)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Populations over three 65,536-row chunks, so that time filters within many
    /// running rows scan whole chunks (and gather in others), and an OR's time ranges
    /// within dense running rows take the one-pass path.
    #[test]
    fn executor_equals_oracle_across_chunks(seed in any::<u64>(), segment in segment()) {
        check_sized(seed, &segment, "+08:00", 140_000)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// The slow-path hunter's segments (`reach gen --segments`: every field, alias, value
    /// and time form, nested) on a synthetic audience (`reach gen`) whose values they
    /// draw from, with deleted and re-tagged contacts: each equals the oracle.
    #[test]
    fn hunter_segments_equal_the_oracle(
        seed in any::<u64>(),
        size in 200u64..4_000,
        tz in prop::sample::select(vec!["Z", "+08:00", "-05:00"]),
    ) {
        let mut rng = Rng(seed);
        let (store, contacts) = load(reach::synth::contacts(size, seed, NOW), &mut rng);
        let mut engine = Engine::in_memory_with(store);
        engine.set_time_zone(parse_offset(tz).expect("tz"));
        let mut segments = reach::synth::SegmentGenerator::new(seed, size, NOW);
        for _ in 0..25 {
            check_on(&engine, &contacts, &segments.segment())?;
        }
    }
}

/// The shapes whose counts and rows take the paths built for many rows: time ranges
/// counted as scanned, filtered within many running rows, negated, and ORs of ranges in
/// one pass, alone and within running rows; narrow ranges read from bucket orders; ANDs
/// of negations only, counted as the live rows less a union.
#[test]
fn many_row_paths_equal_the_oracle() {
    for segment in [
        "checkout:-30d..",
        "-interaction:<-90d",
        "checkout:-3mo.. or interaction:-30d..",
        "(checkout:-3mo.. or interaction:<-90d or tag:vip) -tag:churned",
        "channel:line (checkout:-3mo.. or marketing:<=-2w)",
        "channel:line -(checkout:-3mo.. or marketing:<=-2w)",
        "channel:line interaction:<-90d -joined:-30d..",
        "marketing:-1d..",
        "checkout:-7d.. channel:line",
        "name:\"alice chen\" interaction:-7d..",
        "-checkout:-7d.. -interaction:-30d..",
        "-tag:vip -checkout:-7d.. -channel:line",
        "-(checkout:-7d.. or tag:gold)",
        // Fused ANDs: bitmaps, time ranges, negations, ORs and is:fb_sendable.
        "is:subscribed (tag:vip or tag:gold) -tag:churned checkout:-90d.. interaction:-30d.. joined:<-1y",
        "checkout:-30d.. interaction:-30d.. marketing:-30d.. -tag:vip",
        "channel:web has:email -has:member_id joined:>=2024-03-01",
        "channel:facebook -is:fb_sendable tag:gold",
        "channel:facebook is:fb_sendable (tag:vip or -interaction:-30d..)",
        "interaction:-2d.. -is:fb_sendable channel:facebook",
        "tag:vip (channel:line or -(checkout:-30d.. tag:gold)) -is:blocked",
        // Fused ORs: word views, negations (cut to the live rows), ranges, ANDs and
        // is:fb_sendable.
        "is:subscribed or is:fb_sendable",
        "-tag:vip or checkout:-30d..",
        "(tag:vip checkout:-30d..) or -channel:line",
        "tag:vip or tag:gold or channel:web",
        "tag:vip or (tag:gold -channel:line) or -is:subscribed",
        "is:fb_sendable or tag:vip or checkout:-7d..",
        "tag:gold (tag:vip or -channel:line or interaction:<-90d)",
        // Fused ORs with lookups of a few rows, moved row by row.
        "tag:vip or external_id:id17 or id:id23 or is:fb_sendable",
        "(tag:gold or id:id5 or checkout:-30d..) -channel:web",
        // is:fb_sendable more than once in a fused pass: each chunk tested once, shared.
        "is:fb_sendable or (tag:vip is:fb_sendable) or (-is:fb_sendable channel:line)",
        "(is:fb_sendable or tag:gold) (is:fb_sendable or checkout:-30d..) -channel:web",
        "-(is:fb_sendable tag:vip) or (is:fb_sendable -tag:gold) or is:subscribed",
        "(id:id5 is:fb_sendable) or (tag:gold is:fb_sendable) or -channel:line",
        // Fused ORs: several word views read as one, children with no row in a chunk
        // skipped (lookups in ANDs), the others largest first.
        "tag:vip or tag:gold or channel:web or checkout:-30d.. or (id:id5 tag:vip) or is:subscribed",
        "channel:line (tag:vip or -tag:gold or (id:id7 checkout:-30d..) or -(id:id9 -tag:vip))",
        // Nested past six levels, still fused.
        "tag:vip or (channel:line (tag:gold or (checkout:-30d.. (is:subscribed or (tag:vip -(has:email (channel:web or -is:fb_sendable)))))))",
        // Sparse ORs: counted as |a| + |b| - |a AND b|, or into the others' union.
        "checkout:-1d.. or (name:\"alice chen\" tag:vip)",
        "name:\"alice chen\" or checkout:-1d.. or salesperson:E042",
    ] {
        check_sized(3, segment, "+08:00", 140_000).expect(segment);
    }
}

/// ORs of channels only, or of accounts only, are counted as the sum of their
/// children's counts (a contact has one of each): with deleted contacts, the same
/// channel twice, an account id held in two channels, negated and within an AND.
#[test]
fn disjoint_ors_equal_the_oracle() {
    for segment in [
        "channel:line,whatsapp",
        "channel:fb or channel:wa or channel:web or channel:ig or channel:line",
        "channel:line or channel:LINE or channel:web",
        "account:shared or account:line-tw",
        "account:shared or account:@brand or account:nope",
        "account:shared or account:shared",
        "-(channel:fb or channel:wa)",
        "tag:vip (channel:line or channel:web)",
        "account:shared or channel:web",
    ] {
        check_sized(5, segment, "Z", 3_000).expect(segment);
    }
    let (store, _) = population(5, 3_000);
    let engine = Engine::in_memory_with(store);
    for (segment, summed) in [
        ("channel:line,whatsapp", true),
        ("account:shared or account:line-tw", true),
        ("account:shared or channel:web", false),
    ] {
        let compiled = engine.compile(segment, NOW).expect("compiles");
        let explained = engine.explain(&compiled);
        let root = explained.lines().find(|l| !l.starts_with("warning:"));
        let root = root.unwrap_or_default();
        assert_eq!(
            root.contains("sum of disjoint counts"),
            summed,
            "{explained}"
        );
    }
}

/// An AND holding `is:fb_sendable` leaves out `channel:facebook` and `is:fb_optin`,
/// which it implies: fused and not, with other channels, negations and on its own.
#[test]
fn ands_with_fb_sendable_leave_out_what_it_implies() {
    let segments = [
        "channel:facebook is:fb_sendable tag:vip",
        "is:fb_optin channel:facebook is:fb_sendable",
        "channel:facebook is:fb_sendable",
        "channel:fb is:fb_sendable (tag:gold or -is:subscribed)",
        "channel:line is:fb_sendable",
        "-channel:facebook is:fb_sendable",
        "channel:facebook -is:fb_sendable is:fb_optin",
        "channel:facebook is:fb_sendable name:\"alice chen\"",
    ];
    for segment in segments {
        check_sized(9, segment, "+08:00", 70_000).expect(segment);
    }
    let (store, _) = population(9, 3_000);
    let engine = Engine::in_memory_with(store);
    for (segment, read) in [
        ("channel:facebook is:fb_sendable tag:vip", false),
        ("channel:facebook -is:fb_sendable tag:vip", true),
    ] {
        let compiled = engine.compile(segment, NOW).expect("compiles");
        let explained = engine.explain(&compiled);
        assert_eq!(
            explained.contains("channel = facebook"),
            read,
            "{explained}"
        );
    }
}

#[test]
fn empty_segment_is_every_live_contact() {
    check(7, "", "Z").expect("empty segment");
    check(7, "   ", "+08:00").expect("blank segment");
}

/// `is:fb_sendable` and `is:unsubscribed` are answered from values the store caches;
/// after every kind of change they equal the same tests spelled out as other terms.
#[test]
fn derived_states_follow_every_change() {
    use reach::model::SendableAt;
    let (mut store, contacts) = population(11, 2_000);
    let mut rng = Rng(5);
    for round in 0..12 {
        for now in [NOW, NOW - 40 * DAY, NOW + 3 * DAY] {
            let at = SendableAt {
                now,
                latest_send: [now - DAY, now - 7 * DAY, now - 30 * DAY],
            };
            let terms = reach::exec::execute(&reach::plan::fb_sendable_terms(at), &store);
            assert_eq!(store.fb_sendable(at), terms, "round {round}, now {now}");
            assert_eq!(
                store.fb_sendable_count(at),
                terms.len(),
                "round {round}, now {now}"
            );
            for percent in [1, 50] {
                let candidates: roaring::RoaringBitmap = (0..store.len() as u32 + 5)
                    .filter(|_| rng.chance(percent))
                    .collect();
                let among = store.fb_sendable_among(at, &candidates);
                assert_eq!(among, &terms & &candidates, "round {round}, {percent}%");
            }
        }
        let unsubscribed = reach::exec::execute(&reach::plan::unsubscribed_terms(), &store);
        assert_eq!(*store.unsubscribed(), unsubscribed, "round {round}");
        let rows: roaring::RoaringBitmap =
            (0..store.len() as u32).filter(|_| rng.chance(3)).collect();
        let change = match round % 3 {
            0 => Change::Delete { rows },
            1 => Change::Upsert {
                contacts: (contacts.iter().step_by(7 + round))
                    .map(|c| {
                        let mut c = c.clone();
                        if c.channel == Channel::Facebook {
                            c.flags[Flag::FbOptin.index()] = rng.chance(60);
                            let optin = c.flag(Flag::FbOptin);
                            c.fb_frequency = optin.then_some(FbFrequency::Weekly);
                            c.times[TimeField::FbLastSentAt.index()] = rng.time();
                        }
                        c
                    })
                    .collect(),
                fields: FieldSet::all(),
            },
            _ => Change::Unsubscribe {
                kinds: reach::model::OptOuts::ALL,
                rows,
            },
        };
        store.apply(&change, NOW).expect("a valid change");
    }
}

/// The plans no segment lowers to, at the public API: an AND of nothing is every live
/// contact, an OR of nothing is no one, counted and built.
#[test]
fn empty_ands_and_ors_are_everyone_and_no_one() {
    use reach::plan::Plan;
    let (store, _) = population(13, 3_000);
    assert_eq!(reach::exec::count(&Plan::And(vec![]), &store), store.len());
    assert_eq!(
        reach::exec::execute(&Plan::And(vec![]), &store).len(),
        store.len()
    );
    assert_eq!(reach::exec::count(&Plan::Or(vec![]), &store), 0);
    assert_eq!(reach::exec::execute(&Plan::Or(vec![]), &store).len(), 0);
}

/// A segment nested as alternating AND/OR, 60 levels deep (each level's AND a negation,
/// a tag, or a different time range), counts and lists as the oracle says. Its cost was
/// once computed exponentially often in the depth (each subtree's cost recomputed for
/// every order tried at every level above it): the check runs in a thread with a
/// generous deadline, so that such a regression fails instead of hanging.
#[test]
fn deeply_nested_alternation_equals_the_oracle() {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let depth = 60;
        let levels: [&dyn Fn(usize) -> String; 3] = [
            &|_| "-tag:gold".to_string(),
            &|_| "tag:gold".to_string(),
            &|i| format!("interaction:-{}d.. -tag:churned", 7 * i + 1),
        ];
        for level in levels {
            let open: String = (0..depth)
                .map(|i| format!("(tag:vip or ({} ", level(i)))
                .collect();
            let segment = format!("{open}checkout:-3mo..{}", "))".repeat(depth));
            let checked = check_sized(5, &segment, "Z", 400).map_err(|e| format!("{e}"));
            sender.send(checked).expect("the test waits");
        }
    });
    for _ in 0..3 {
        let checked = receiver
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("a 60-level nested segment is checked within 60 s");
        checked.expect("the nested segment equals the oracle");
    }
}

/// Counts `text` on `engine` (whose word views were kept through its changes) and on a
/// copy of its store (which starts without any), and says whether they differ.
fn kept_views_answer_as_fresh_ones(engine: &Engine, text: &str) -> Result<(), TestCaseError> {
    let fresh = Engine::in_memory_with(engine.read().store().clone());
    let kept = engine
        .compile(text, NOW)
        .expect("generated segments compile");
    let built = fresh
        .compile(text, NOW)
        .expect("generated segments compile");
    prop_assert_eq!(engine.rows(&kept), fresh.rows(&built), "segment {}", text);
    prop_assert_eq!(engine.count(&kept), fresh.count(&built), "segment {}", text);
    Ok(())
}

/// One change of any kind, to the contacts `target` matches (or new and changed ones).
fn change_of(kind: u8, engine: &Engine, target: &str, rng: &mut Rng, serial: usize) -> Edit {
    let target = || Target::Segment(engine.compile(target, NOW).expect("compiles"));
    let tags = || vec![rng_tag(serial).to_string()];
    match kind {
        0 => Edit::AddTags {
            tags: tags(),
            target: target(),
        },
        1 => Edit::RemoveTags {
            tags: tags(),
            target: target(),
        },
        2 => Edit::Unsubscribe {
            target: target(),
            kinds: reach::model::OptOuts::ALL,
        },
        3 => Edit::Resubscribe { target: target() },
        4 => Edit::Delete {
            target: target(),
            confirm: CONFIRM_WORD.into(),
        },
        5 => Edit::DeleteTags { tags: tags() },
        _ => Edit::Upsert {
            // New contacts and new values for old ones (times, flags, opt-outs).
            contacts: (0..40)
                .map(|i| random_contact(rng, serial + i % 60))
                .collect(),
            fields: FieldSet::all(),
        },
    }
}

fn rng_tag(serial: usize) -> &'static str {
    TAGS[serial % TAGS.len()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Word views outlive changes (the changes' journal brings them up to date): every
    /// count after any sequence of changes equals the count on views built afresh.
    #[test]
    fn kept_word_views_follow_every_change(
        seed in any::<u64>(),
        segments in prop::collection::vec(segment(), 5),
        steps in prop::collection::vec((0u8..7, segment()), 1..10),
    ) {
        let (store, _) = population(seed, 1_500);
        let engine = Engine::in_memory_with(store);
        let mut rng = Rng(seed);
        for (i, (kind, target)) in steps.iter().enumerate() {
            for text in &segments {
                kept_views_answer_as_fresh_ones(&engine, text)?;
            }
            let edit = change_of(*kind, &engine, target, &mut rng, 1_400 + i * 20);
            engine.commit(edit, NOW).expect("a valid change");
        }
        for text in &segments {
            kept_views_answer_as_fresh_ones(&engine, text)?;
        }
    }
}

type Identity = (Channel, String, String);

fn identity_of(c: &Contact) -> Identity {
    (c.channel, c.account.clone(), c.external_id.clone())
}

/// The engine's live contacts equal the oracle's.
fn holds_the_oracles_contacts(
    engine: &Engine,
    oracle: &std::collections::BTreeMap<Identity, Contact>,
    when: &str,
) -> Result<(), TestCaseError> {
    let view = engine.read();
    let store = view.store();
    let stored: std::collections::BTreeMap<Identity, Contact> = (store.contacts(store.live()))
        .into_iter()
        .map(|c| (identity_of(&c), c))
        .collect();
    prop_assert_eq!(stored.len(), oracle.len(), "{}", when);
    for (id, want) in oracle {
        prop_assert_eq!(stored.get(id), Some(want), "{}: {:?}", when, id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// An upsert reads and writes only the fields it sets, and an upsert of stored
    /// contacts is logged with their rows: upserts of random subsets of the fields give
    /// the oracle's whole-contact merge (a merge the oracle finds invalid is refused
    /// whole), live and again after the log is replayed on opening.
    #[test]
    fn upserts_of_some_fields_equal_whole_contact_merges_live_and_replayed(
        seed in any::<u64>(),
        rounds in 1usize..8,
    ) {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("d");
        let mut rng = Rng(seed);
        let mut oracle = std::collections::BTreeMap::new();
        {
            let engine = Engine::open(&data).expect("opens");
            for round in 0..=rounds {
                let fields: FieldSet = match round {
                    0 => FieldSet::all(),
                    _ => (reach::model::Field::ALL.iter().copied())
                        .filter(|_| rng.chance(20))
                        .collect(),
                };
                let mut batch = std::collections::BTreeMap::new();
                for i in 0..40 {
                    let c = random_contact(&mut rng, (round * 37 + i * 7) % 120);
                    batch.insert(identity_of(&c), c);
                }
                let contacts: Vec<Contact> = batch.into_values().collect();
                let merged: Option<Vec<Contact>> = (contacts.iter())
                    .map(|c| {
                        let mut next = oracle.get(&identity_of(c)).cloned().unwrap_or(c.clone());
                        next.overlay(c, fields);
                        next.validate().ok().map(|()| next)
                    })
                    .collect();
                let committed = engine.commit(Edit::Upsert { contacts, fields }, NOW);
                prop_assert_eq!(committed.is_ok(), merged.is_some(), "round {}: {:?}", round, committed.err());
                for c in merged.unwrap_or_default() {
                    oracle.insert(identity_of(&c), c);
                }
                holds_the_oracles_contacts(&engine, &oracle, &format!("round {round}"))?;
            }
        }
        let reopened = Engine::open_read_only(&data).expect("reopens");
        holds_the_oracles_contacts(&reopened, &oracle, "replayed")?;
    }
}

/// A random change for a replay to keep for later or apply: an event (times, `blocked`),
/// an upsert of a few fields of stored contacts (names and times among them), or one of
/// `change_of`'s.
fn replayed_change(kind: u8, engine: &Engine, target: &str, rng: &mut Rng, serial: usize) -> Edit {
    use reach::model::{Event, EventKind, Field};
    let stored = |rng: &mut Rng| random_contact(rng, serial % 60);
    match kind {
        7 | 8 => {
            let c = stored(rng);
            let kind = EventKind::ALL[rng.below(EventKind::ALL.len() as u64) as usize];
            let at = NOW - rng.below(90) as Seconds * DAY;
            let contact = reach::engine::Identity::new(c.channel, &c.account, &c.external_id);
            Edit::Event {
                contact,
                event: Event { kind, at },
            }
        }
        9 => Edit::Upsert {
            contacts: (0..8).map(|_| stored(rng)).collect(),
            fields: [
                Field::Name,
                Field::CustomerInteractionAt,
                Field::LastCheckoutAt,
            ]
            .into_iter()
            .filter(|_| rng.chance(60))
            .collect(),
        },
        _ => change_of(kind, engine, target, rng, serial),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Opening replays the log onto a mapped snapshot: writes to columns not read yet
    /// wait until they are read, and rows that lost a tag are looked at once, at the end.
    /// After random changes of every kind, a reopened engine counts every segment as the
    /// live one (the counts read some columns, leaving the others' writes waiting), then
    /// holds the same contacts.
    #[test]
    fn a_replay_onto_a_mapped_snapshot_answers_as_the_live_engine(
        seed in any::<u64>(),
        segments in prop::collection::vec(segment(), 6),
        steps in prop::collection::vec((0u8..10, segment()), 1..24),
    ) {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("d");
        let engine = Engine::open(&data).expect("opens");
        let (_, contacts) = population(seed, 300);
        let mut rng = Rng(seed);
        let fields = FieldSet::all();
        engine.commit(Edit::Upsert { contacts, fields }, NOW).expect("valid contacts");
        engine.compact().expect("a snapshot");
        for (i, (kind, target)) in steps.iter().enumerate() {
            let edit = replayed_change(*kind, &engine, target, &mut rng, 300 + i * 7);
            let _ = engine.commit(edit, NOW);
        }
        let reopened = Engine::open_read_only(&data).expect("reopens");
        for text in segments.iter().map(String::as_str).chain(["", "has:tag", "-has:tag"]) {
            let live = engine.count(&engine.compile(text, NOW).expect("compiles"));
            let replayed = reopened.count(&reopened.compile(text, NOW).expect("compiles"));
            prop_assert_eq!(live, replayed, "{}", text);
        }
        let all = |e: &Engine| {
            let view = e.read();
            view.store().contacts(view.store().live())
        };
        prop_assert_eq!(all(&engine), all(&reopened));
    }
}
