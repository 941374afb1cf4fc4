//! Membership events against the row-by-row oracle: over random change streams and clock
//! moves, the events of a saved segment, applied in order to its first members, give
//! exactly the members the oracle finds after each step; a subscriber coming back with
//! the last `seq` it saw misses nothing.

use std::collections::BTreeSet;

use proptest::prelude::*;
use reach::model::{Contact, Event, EventKind, OptOuts, Seconds};
use reach::plan::Clock;
use reach::syntax::parse;
use reach::{Edit, Engine, Identity, MembershipEvent, Scope, Target};

use crate::Rng;
use crate::oracle::{NOW, eval, population, random_contact, segment};

type Members = BTreeSet<Identity>;

/// The members of `text` by the oracle: every live contact evaluated row by row, within
/// `scope`.
fn oracle_members(engine: &Engine, text: &str, now: Seconds, scope: &Scope) -> Members {
    let expr = parse(text).expect("generated segments parse");
    let clock = Clock {
        now,
        tz: engine.time_zone(),
    };
    let view = engine.read();
    let store = view.store();
    (store.contacts(store.live()).into_iter())
        .filter(|c| expr.as_ref().is_none_or(|e| eval(e, c, clock)))
        .filter(|c| reached_at(scope, c, clock))
        .map(|c| Identity::new(c.channel, &c.account, &c.external_id))
        .collect()
}

/// Whether `scope` reaches `c` at `clock` (its accounts, and its segments row by row).
fn reached_at(scope: &Scope, c: &Contact, clock: Clock) -> bool {
    let matches = |text: &String| {
        let expr = parse(text).expect("generated segments parse");
        expr.as_ref().is_none_or(|e| eval(e, c, clock))
    };
    scope.reaches_account(&c.account) && scope.segments.iter().all(matches)
}

fn live_identity(engine: &Engine, rng: &mut Rng) -> Option<Identity> {
    let view = engine.read();
    let store = view.store();
    let rows: Vec<u32> = store.live().iter().collect();
    let row = *rng.pick(&rows);
    let c: Contact = store.contacts(&[row].into_iter().collect()).pop()?;
    Some(Identity::new(c.channel, &c.account, &c.external_id))
}

/// One random change (or a clock move): returns the new clock.
fn step(engine: &Engine, rng: &mut Rng, now: Seconds, serial: &mut usize) -> Seconds {
    let Some(who) = live_identity(engine, rng) else {
        return now;
    };
    let tags = vec![rng.pick(&["vip", "gold", "churned", "new"]).to_string()];
    let edit = match rng.below(9) {
        0 => Edit::AddTags {
            tags,
            target: Target::Contact(who),
        },
        1 => Edit::RemoveTags {
            tags,
            target: Target::Contact(who),
        },
        2 => Edit::Event {
            contact: who,
            event: Event {
                kind: *rng.pick(&[
                    EventKind::Checkout,
                    EventKind::CustomerInteraction,
                    EventKind::Block,
                    EventKind::Subscribe,
                ]),
                at: now - rng.below(40 * 86_400) as Seconds,
            },
        },
        3 => Edit::Delete {
            target: Target::Contact(who),
            confirm: "DELETE".into(),
        },
        4 => {
            *serial += 1;
            Edit::Upsert {
                contacts: vec![random_contact(rng, 100_000 + *serial)],
                fields: reach::model::FieldSet::all(),
            }
        }
        5 => Edit::Unsubscribe {
            target: Target::Segment(engine.compile("tag:vip", now).expect("compiles")),
            kinds: OptOuts::ALL,
        },
        6 => Edit::Resubscribe {
            target: Target::Segment(engine.compile("-tag:gold", now).expect("compiles")),
        },
        7 => Edit::AddTags {
            tags,
            target: Target::Segment(engine.compile("channel:line", now).expect("compiles")),
        },
        _ => {
            let later = now + rng.below(3 * 86_400) as Seconds;
            engine.tick(later);
            return later;
        }
    };
    engine.commit(edit, now).expect("the change applies");
    now
}

fn apply(members: &mut Members, event: &MembershipEvent) {
    for id in &event.left {
        assert!(members.remove(id), "{id} left without being a member");
    }
    for id in &event.entered {
        assert!(members.insert(id.clone()), "{id} entered twice");
    }
}

fn check(seed: u64, text: &str) -> Result<(), TestCaseError> {
    check_in(seed, text, &Scope::everything())
}

fn check_in(seed: u64, text: &str, scope: &Scope) -> Result<(), TestCaseError> {
    let (store, _) = population(seed, 150);
    let engine = Engine::in_memory_with(store);
    let save = Edit::SaveSegment {
        name: "watched".into(),
        text: text.to_string(),
    };
    engine.commit(save, NOW).expect("saves");
    let watched = vec!["watched".to_string()];
    let (deliver, events) = channel();
    engine
        .subscribe_in(&watched, None, NOW, scope, deliver)
        .expect("subscribes");
    let mut members = oracle_members(&engine, text, NOW, scope);
    let (mut rng, mut now, mut serial) = (Rng(seed), NOW, 0);
    let mut seen: Vec<MembershipEvent> = Vec::new();
    for _ in 0..25 {
        now = step(&engine, &mut rng, now, &mut serial);
        for event in events.try_iter() {
            prop_assert!(seen.last().is_none_or(|e| e.seq < event.seq), "seq rises");
            apply(&mut members, &event);
            seen.push(event);
        }
        let want = oracle_members(&engine, text, now, scope);
        prop_assert_eq!(&members, &want, "segment {} in {:?}", text, scope);
    }
    if let Some(middle) = seen.get(seen.len() / 2) {
        let (deliver, again) = channel();
        let resumed = engine.subscribe_in(&watched, Some(middle.seq), now, scope, deliver);
        resumed.expect("resumes");
        let replayed: Vec<MembershipEvent> = again.try_iter().collect();
        let missed: Vec<MembershipEvent> = seen
            .iter()
            .filter(|e| e.seq > middle.seq)
            .cloned()
            .collect();
        prop_assert_eq!(replayed, missed);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn events_follow_the_oracle_through_changes_and_clock_moves(seed in any::<u64>(), text in segment()) {
        check(seed, &text)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 60, ..ProptestConfig::default() })]

    #[test]
    fn a_scoped_subscriber_sees_the_members_within_its_scope(
        seed in any::<u64>(), text in segment(), scope in crate::scope::scope()
    ) {
        check_in(seed, &text, &scope)?;
    }
}

/// Deliveries into a channel (what `Engine::subscribe` does, with a scope).
fn channel() -> (
    reach::engine::Deliver,
    std::sync::mpsc::Receiver<MembershipEvent>,
) {
    let (sender, receiver) = std::sync::mpsc::channel();
    let deliver: reach::engine::Deliver =
        Box::new(move |e: &MembershipEvent| sender.send(e.clone()).is_ok());
    (deliver, receiver)
}

#[test]
fn relative_bounds_move_members_at_a_tick() {
    for text in [
        "checkout:-30d..",
        "interaction:..-7d",
        "joined:-1d.. or tag:vip",
        "-checkout:-2h..",
    ] {
        for seed in 0..6 {
            check(seed, text).expect("events follow the oracle");
        }
    }
}

#[test]
fn a_subscriber_asking_for_what_is_no_longer_held_is_told_to_resync() {
    let (store, _) = population(7, 50);
    let engine = Engine::in_memory_with(store);
    let save = Edit::SaveSegment {
        name: "everyone".into(),
        text: String::new(),
    };
    engine.commit(save, NOW).expect("saves");
    let names = vec!["everyone".to_string()];
    let first = engine.subscribe(&names, None, NOW).expect("subscribes");
    let again = engine.subscribe(&names, Some(1), NOW).expect("subscribes");
    let event = again.events.try_recv().expect("a resync event");
    assert!(event.resync && event.entered.is_empty() && event.left.is_empty());
    drop(first);
    let unknown = engine.subscribe(&["nope".to_string()], None, NOW);
    assert_eq!(unknown.err().map(|e| e.kind().as_str()), Some("not_found"));
}
