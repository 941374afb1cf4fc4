//! A caller's [`Scope`] against the row-by-row oracle: for random scopes (accounts, a
//! segment) and random segments, counts and rows are the oracle's restricted to the
//! scope's contacts; changes never touch another contact; a contact outside the scope
//! is refused the same way whether it exists or not; and no answer changes when only
//! contacts outside the scope change.

use std::collections::BTreeSet;

use proptest::prelude::*;
use reach::model::{Contact, OptOuts};
use reach::plan::Clock;
use reach::syntax::parse;
use reach::{Edit, Engine, Identity, Scope, Target};

use crate::oracle::{NOW, eval, population, segment};

const ACCOUNTS: &[&str] = &[
    "line-tw",
    "shared",
    "fb-page",
    "+886223456789",
    "@brand",
    "shop",
];

pub fn scope() -> impl Strategy<Value = Scope> {
    let accounts = prop::sample::subsequence(ACCOUNTS.to_vec(), 1..4);
    let confined = prop_oneof![Just(None), segment().prop_map(Some)];
    (prop::bool::ANY, accounts, confined).prop_map(|(all, accounts, segment)| {
        let accounts: Vec<String> = accounts.into_iter().map(String::from).collect();
        let accounts = (!all || segment.is_none()).then_some(accounts);
        Scope::everything().narrowed(accounts.as_deref(), segment.as_deref())
    })
}

fn matches(text: &str, c: &Contact) -> bool {
    let expr = parse(text).expect("generated segments parse");
    let clock = Clock {
        now: NOW,
        tz: reach::model::time::parse_offset("+00:00").expect("utc"),
    };
    expr.as_ref().is_none_or(|e| eval(e, c, clock))
}

pub fn reached(scope: &Scope, c: &Contact) -> bool {
    scope.reaches_account(&c.account) && scope.segments.iter().all(|s| matches(s, c))
}

fn live(engine: &Engine) -> Vec<Contact> {
    let view = engine.read();
    view.store().contacts(view.store().live())
}

fn identity(c: &Contact) -> Identity {
    Identity::new(c.channel, &c.account, &c.external_id)
}

fn ids(contacts: &[Contact]) -> BTreeSet<Identity> {
    contacts.iter().map(identity).collect()
}

fn check(seed: u64, scope: &Scope, text: &str) -> Result<(), TestCaseError> {
    let (store, _) = population(seed, 150);
    let engine = Engine::in_memory_with(store);
    let before = live(&engine);
    let want: Vec<&Contact> = (before.iter())
        .filter(|c| reached(scope, c) && matches(text, c))
        .collect();
    let compiled = engine
        .read()
        .compile_in(text, NOW, scope)
        .expect("compiles");
    prop_assert_eq!(engine.count(&compiled), want.len() as u64);
    let got = ids(&engine.read().store().contacts(&engine.rows(&compiled)));
    prop_assert_eq!(
        got,
        want.iter().map(|c| identity(c)).collect::<BTreeSet<_>>()
    );

    // A segment-wide change touches only reached contacts.
    let target = Target::Segment(engine.compile(text, NOW).expect("compiles"));
    let tag = Edit::AddTags {
        tags: vec!["scoped".into()],
        target,
    };
    engine.commit_in(tag, NOW, scope).expect("tags");
    for (c, was) in live(&engine).iter().zip(&before) {
        let tagged = c.tags.iter().any(|t| t == "scoped");
        let meant = reached(scope, was) && matches(text, was);
        prop_assert_eq!(tagged, meant, "{}", identity(c));
    }

    // A contact outside is refused alike whether it exists or not, and nothing changes.
    let outside = before.iter().find(|c| !reached(scope, c));
    if let Some(c) = outside {
        let ghost = Identity::new(c.channel, &c.account, "no-such-contact");
        let refuse = |who: Identity| {
            let edit = Edit::Unsubscribe {
                target: Target::Contact(who),
                kinds: OptOuts::ALL,
            };
            engine
                .commit_in(edit, NOW, scope)
                .expect_err("outside the scope")
        };
        let (a, b) = (refuse(identity(c)), refuse(ghost));
        prop_assert_eq!(a.kind().as_str(), "forbidden");
        prop_assert_eq!(b.kind().as_str(), "forbidden");
        if scope.reaches_account(&c.account) {
            prop_assert_eq!(
                a.to_string().replace(&c.external_id, "?"),
                b.to_string().replace("no-such-contact", "?")
            );
        }
        // Changing contacts outside the scope changes no answer the scope gives.
        let count = engine.count(
            &engine
                .read()
                .compile_in(text, NOW, scope)
                .expect("compiles"),
        );
        let others = Edit::AddTags {
            tags: vec!["vip".into(), "gold".into()],
            target: Target::Contact(identity(c)),
        };
        engine.commit(others, NOW).expect("the master changes it");
        let after = live(&engine);
        let moved = after.iter().find(|d| identity(d) == identity(c));
        let again = engine
            .read()
            .compile_in(text, NOW, scope)
            .expect("compiles");
        if moved.is_some_and(|d| !reached(scope, d)) {
            prop_assert_eq!(count, engine.count(&again));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn a_scope_reaches_exactly_its_contacts(seed in any::<u64>(), scope in scope(), text in segment()) {
        check(seed, &scope, &text)?;
    }
}

#[test]
fn a_scope_creates_contacts_only_of_its_accounts_and_never_with_a_segment() {
    let engine = Engine::in_memory();
    let mut contact = Contact::new(reach::model::Channel::Line, "line-tw", "u1");
    let upsert = |c: &Contact| Edit::Upsert {
        contacts: vec![c.clone()],
        fields: reach::model::FieldSet::all(),
    };
    let shop = Scope::everything().narrowed(Some(&["shop".to_string()]), None);
    let err = engine
        .commit_in(upsert(&contact), NOW, &shop)
        .expect_err("another account");
    assert_eq!(err.kind().as_str(), "forbidden");
    let line = Scope::everything().narrowed(Some(&["line-tw".to_string()]), None);
    engine
        .commit_in(upsert(&contact), NOW, &line)
        .expect("its account");
    let confined = line.narrowed(None, Some("tag:vip"));
    contact.external_id = "another".into();
    let err = engine
        .commit_in(upsert(&contact), NOW, &confined)
        .expect_err("a new contact");
    assert_eq!(err.kind().as_str(), "forbidden");
    assert_eq!(engine.read().store().len(), 1);
}

#[test]
fn deleting_a_tag_in_a_scope_takes_it_off_its_contacts_only() {
    let (store, _) = population(11, 200);
    let engine = Engine::in_memory_with(store);
    let line = Scope::everything().narrowed(Some(&["line-tw".to_string()]), None);
    let delete = Edit::DeleteTags {
        tags: vec!["vip".into()],
    };
    engine.commit_in(delete, NOW, &line).expect("deletes");
    let carriers: Vec<Contact> = live(&engine)
        .into_iter()
        .filter(|c| c.tags.iter().any(|t| t == "vip"))
        .collect();
    assert!(!carriers.is_empty(), "others keep the tag");
    assert!(carriers.iter().all(|c| c.account != "line-tw"));
}
