//! Membership events (serve.md, "Membership events"): who entered and who left a saved
//! segment, at each commit once it is durable, and as time moves contacts across a
//! relative bound ([`super::Engine::tick`]).
//!
//! The [`Hub`] keeps, for each watched saved segment, its plan at the hub's clock and its
//! members. A commit looks only at the rows it created, changed or erased
//! (`Applied::rows`, `Applied::erased_rows`): their membership is evaluated again
//! (`exec::execute_within`) and compared with the members kept. A tick looks only at the
//! contacts whose time lies between a relative bound's old and new place (the leaves
//! whose values moved, [`moved_rows`]). A saved segment redefined is compared whole; a
//! store replaced whole (an import into an empty store) gives a `resync` event.
//!
//! Events are numbered in the order they are made (`seq`, starting from the first
//! subscriber's clock × 10⁶, so numbers keep rising across restarts) and held until the
//! commit they follow is durable, then delivered in order to every subscriber of their
//! segment, and kept in a bounded history for subscribers that come back
//! (`Last-Event-ID`): one that asks for events the history no longer holds gets a
//! `resync` event first.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

use roaring::RoaringBitmap;

use super::identity::Identity;
use super::scope::{Reach, Scope};
use super::state::State;
use crate::error::Error;
use crate::model::Seconds;
use crate::plan::{self, Clock, Leaf, Plan};
use crate::store::{Applied, Store};

/// Events kept for subscribers that come back.
const HISTORY_EVENTS: usize = 65_536;
/// Identities kept in the history, across its events.
const HISTORY_IDENTITIES: usize = 2_000_000;

/// Who entered and who left a saved segment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MembershipEvent {
    /// The saved segment's name.
    pub segment: String,
    /// Contacts that now match and did not.
    pub entered: Vec<Identity>,
    /// Contacts that matched and no longer do (erased ones too).
    pub left: Vec<Identity>,
    /// The clock the members were evaluated at.
    pub at: Seconds,
    /// Rises with every event.
    pub seq: u64,
    /// The subscriber should read the segment's members again: events it asked for are
    /// no longer held, or the store was replaced whole.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resync: bool,
}

/// Receives a subscription's events in order; returns `false` to end the subscription.
pub type Deliver = Box<dyn FnMut(&MembershipEvent) -> bool + Send>;

/// A subscription made with [`super::Engine::subscribe`]: its events arrive on
/// [`Subscription::events`]; dropping it ends it.
pub struct Subscription {
    /// The events, in order.
    pub events: mpsc::Receiver<MembershipEvent>,
    id: u64,
    hub: Arc<Mutex<Hub>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        lock(&self.hub).unsubscribe(self.id);
    }
}

/// A watched saved segment, as one scope sees it.
struct Tracked {
    /// The saved segment's name.
    segment: String,
    scope: Scope,
    /// Its plan at the hub's clock (`None`: no such saved segment now).
    plan: Option<Plan>,
    members: RoaringBitmap,
    subscribers: usize,
}

struct Subscriber {
    /// Tracked keys ([`key`]).
    segments: BTreeSet<String>,
    deliver: Deliver,
}

/// The membership tracker of one engine.
#[derive(Default)]
pub(super) struct Hub {
    now: Seconds,
    tz: Option<chrono::FixedOffset>,
    tracked: BTreeMap<String, Tracked>,
    subscribers: BTreeMap<u64, Subscriber>,
    next_subscriber: u64,
    next_seq: u64,
    /// Events made, not yet durable: (the commit they follow, the tracked key, the event).
    pending: VecDeque<(u64, String, Arc<MembershipEvent>)>,
    /// The last commit known durable.
    durable: u64,
    history: VecDeque<(String, Arc<MembershipEvent>)>,
    history_identities: usize,
    /// The lowest `seq` a subscriber may resume after without missing anything.
    history_floor: u64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("now", &self.now)
            .field("tracked", &self.tracked.keys().collect::<Vec<_>>())
            .field("subscribers", &self.subscribers.len())
            .finish()
    }
}

pub(super) fn lock(hub: &Mutex<Hub>) -> MutexGuard<'_, Hub> {
    hub.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    /// Sets the time zone dates without an offset are read at.
    pub(super) fn set_tz(&mut self, tz: chrono::FixedOffset) {
        self.tz = Some(tz);
    }

    fn tz(&self) -> chrono::FixedOffset {
        self.tz.unwrap_or_else(super::state::utc)
    }

    /// Whether any segment is watched (if not, commits skip the hub).
    pub(super) fn is_idle(&self) -> bool {
        self.tracked.is_empty() && self.pending.is_empty()
    }

    /// Adds a subscriber of `segments` (saved segment names) at clock `now`, first
    /// given the held events after `after` (or a `resync` event when they are gone).
    pub(super) fn subscribe(
        &mut self,
        state: &State,
        segments: &[String],
        after: Option<u64>,
        now: Seconds,
        scope: &Scope,
        mut deliver: Deliver,
    ) -> Result<u64, Error> {
        for name in segments {
            if !state.saved.contains_key(name) {
                return Err(Error::NotFound(format!(
                    "there is no saved segment @{name}"
                )));
            }
        }
        if self.tracked.is_empty() {
            self.now = self.now.max(now);
        }
        if self.next_seq == 0 {
            self.durable = state.seq;
            self.next_seq = (now.max(0) as u64).saturating_mul(1_000_000).max(1);
            self.history_floor = self.next_seq - 1;
        }
        let mut keys = BTreeSet::new();
        for name in segments {
            let key = key(name, scope);
            if !self.tracked.contains_key(&key) {
                let tracked = self.track(state, name, scope);
                self.tracked.insert(key.clone(), tracked);
            }
            if let Some(t) = self.tracked.get_mut(&key) {
                t.subscribers += 1;
            }
            keys.insert(key);
        }
        if let Some(after) = after {
            self.replay(&keys, after, &mut deliver);
        }
        let names = keys;
        let id = self.next_subscriber;
        self.next_subscriber += 1;
        let subscriber = Subscriber {
            segments: names,
            deliver,
        };
        self.subscribers.insert(id, subscriber);
        Ok(id)
    }

    /// The events after `after` for `names`, or a resync for each when some are gone.
    fn replay(&self, keys: &BTreeSet<String>, after: u64, deliver: &mut Deliver) {
        if after < self.history_floor {
            for key in keys {
                let Some(tracked) = self.tracked.get(key) else {
                    continue;
                };
                let resync = MembershipEvent {
                    segment: tracked.segment.clone(),
                    entered: Vec::new(),
                    left: Vec::new(),
                    at: self.now,
                    seq: self.history_floor,
                    resync: true,
                };
                deliver(&resync);
            }
            return;
        }
        let missed = self.history.iter().filter(|(_, e)| e.seq > after);
        for (_, event) in missed.filter(|(key, _)| keys.contains(key)) {
            deliver(event);
        }
    }

    pub(super) fn unsubscribe(&mut self, id: u64) {
        let Some(subscriber) = self.subscribers.remove(&id) else {
            return;
        };
        for name in &subscriber.segments {
            if let Some(t) = self.tracked.get_mut(name) {
                t.subscribers -= 1;
                if t.subscribers == 0 {
                    self.tracked.remove(name);
                }
            }
        }
    }

    /// A saved segment's plan and members now, within `scope`.
    fn track(&self, state: &State, name: &str, scope: &Scope) -> Tracked {
        let plan = self.plan_of(state, name, scope);
        let members = match &plan {
            Some(plan) => crate::exec::execute(plan, &state.store),
            None => RoaringBitmap::new(),
        };
        Tracked {
            segment: name.to_string(),
            scope: scope.clone(),
            plan,
            members,
            subscribers: 0,
        }
    }

    fn plan_of(&self, state: &State, name: &str, scope: &Scope) -> Option<Plan> {
        let lowered = self.lowered(state, name, scope, self.now)?;
        Some(plan::rules::optimize(lowered))
    }

    /// A saved segment lowered at `now`, ANDed with `scope`'s plan (unoptimized, so
    /// that two clocks give plans of one shape).
    fn lowered(&self, state: &State, name: &str, scope: &Scope, now: Seconds) -> Option<Plan> {
        let text = state.saved.get(name)?;
        let clock = Clock { now, tz: self.tz() };
        let compiler = state.compiler();
        let lowered = compiler.lower(text, clock).ok()?.plan;
        let reach = Reach::new(scope, &compiler, clock).ok()?;
        Some(match reach.plan() {
            Some(reach) => Plan::And(vec![reach.clone(), lowered]),
            None => lowered,
        })
    }

    /// After commit `seq` applied a store change: the events of the rows it touched.
    pub(super) fn after_change(&mut self, state: &State, applied: &Applied, seq: u64) {
        if self.tracked.is_empty() || (applied.rows.is_empty() && applied.erased_rows.is_empty()) {
            return;
        }
        let keys: Vec<String> = self.tracked.keys().cloned().collect();
        for key in keys {
            let Some(tracked) = self.tracked.get_mut(&key) else {
                continue;
            };
            let Some(plan) = &tracked.plan else {
                continue;
            };
            let now_in = crate::exec::execute_within(plan, &state.store, &applied.rows);
            let was_in = &tracked.members & &applied.rows;
            let entered = &now_in - &was_in;
            let left = &was_in - &now_in;
            let erased = &tracked.members & &applied.erased_rows;
            tracked.members -= &left;
            tracked.members -= &erased;
            tracked.members |= &entered;
            let mut gone = identities(&state.store, &left);
            gone.extend(erased_identities(applied, &erased));
            let arrived = identities(&state.store, &entered);
            self.emit(&key, arrived, gone, seq, false);
        }
    }

    /// After a saved segment was saved or forgotten: every watched segment (it may use
    /// the changed one) compared whole with its members.
    pub(super) fn after_definition(&mut self, state: &State, seq: u64) {
        let keys: Vec<String> = self.tracked.keys().cloned().collect();
        for key in keys {
            let Some(fresh) = self.retrack(state, &key) else {
                continue;
            };
            let Some(tracked) = self.tracked.get_mut(&key) else {
                continue;
            };
            let entered = &fresh.members - &tracked.members;
            let left = &tracked.members - &fresh.members;
            tracked.plan = fresh.plan;
            tracked.members = fresh.members;
            let arrived = identities(&state.store, &entered);
            let gone = identities(&state.store, &left);
            self.emit(&key, arrived, gone, seq, false);
        }
    }

    /// A tracked segment computed again now.
    fn retrack(&self, state: &State, key: &str) -> Option<Tracked> {
        let tracked = self.tracked.get(key)?;
        Some(self.track(state, &tracked.segment, &tracked.scope))
    }

    /// After the store's rows were renumbered (a checkpoint's compaction) or replaced
    /// whole (`replaced`: subscribers are told to read the members again).
    pub(super) fn after_renumbering(&mut self, state: &State, replaced: bool) {
        for key in self.read_members_again(state) {
            if replaced {
                self.emit(&key, Vec::new(), Vec::new(), state.seq, true);
            }
        }
    }

    /// Reads every watched segment's plan and members again from `state`; answers the
    /// segments read.
    fn read_members_again(&mut self, state: &State) -> Vec<String> {
        let keys: Vec<String> = self.tracked.keys().cloned().collect();
        let mut read = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(fresh) = self.retrack(state, &key) else {
                continue;
            };
            if let Some(tracked) = self.tracked.get_mut(&key) {
                tracked.plan = fresh.plan;
                tracked.members = fresh.members;
            }
            read.push(key);
        }
        read
    }

    /// Moves the hub's clock to `now`: contacts crossing a relative bound enter or leave.
    pub(super) fn tick(&mut self, state: &State, now: Seconds) {
        if now <= self.now {
            return;
        }
        let before = self.now;
        self.now = now;
        let keys: Vec<String> = self.tracked.keys().cloned().collect();
        for key in keys {
            let Some(tracked) = self.tracked.get(&key) else {
                continue;
            };
            let (name, scope) = (tracked.segment.clone(), tracked.scope.clone());
            let old = self.lowered(state, &name, &scope, before);
            let new = self.lowered(state, &name, &scope, now);
            let (Some(old), Some(new)) = (old, new) else {
                continue;
            };
            if old == new {
                continue;
            }
            let candidates = moved_rows(&old, &new, &state.store);
            let plan = plan::rules::optimize(new);
            let Some(tracked) = self.tracked.get_mut(&key) else {
                continue;
            };
            let now_in = crate::exec::execute_within(&plan, &state.store, &candidates);
            let was_in = &tracked.members & &candidates;
            let entered = &now_in - &was_in;
            let left = &was_in - &now_in;
            tracked.members -= &left;
            tracked.members |= &entered;
            tracked.plan = Some(plan);
            let arrived = identities(&state.store, &entered);
            let gone = identities(&state.store, &left);
            self.emit(&key, arrived, gone, state.seq, false);
        }
    }

    /// Makes an event of tracked segment `key` (if anything changed) following commit
    /// `commit`.
    fn emit(
        &mut self,
        key: &str,
        entered: Vec<Identity>,
        left: Vec<Identity>,
        commit: u64,
        resync: bool,
    ) {
        if entered.is_empty() && left.is_empty() && !resync {
            return;
        }
        let Some(segment) = self.tracked.get(key).map(|t| t.segment.clone()) else {
            return;
        };
        let event = MembershipEvent {
            segment,
            entered,
            left,
            at: self.now,
            seq: self.next_seq,
            resync,
        };
        self.next_seq += 1;
        self.pending
            .push_back((commit, key.to_string(), Arc::new(event)));
        if commit <= self.durable {
            self.release(self.durable);
        }
    }

    /// The commits after `state` were undone (their records could not be written): their
    /// events are dropped and every watched segment's members are read from `state`.
    pub(super) fn roll_back(&mut self, state: &State) {
        self.pending.retain(|(commit, _, _)| *commit <= state.seq);
        self.read_members_again(state);
    }

    /// Commit `seq` and every one before it are durable: their events go out, in order.
    pub(super) fn release(&mut self, seq: u64) {
        self.durable = self.durable.max(seq);
        while self
            .pending
            .front()
            .is_some_and(|(c, _, _)| *c <= self.durable)
        {
            let Some((_, key, event)) = self.pending.pop_front() else {
                break;
            };
            self.deliver(&key, &event);
            self.keep(key, event);
        }
    }

    fn deliver(&mut self, key: &str, event: &MembershipEvent) {
        let mut ended = Vec::new();
        for (id, subscriber) in &mut self.subscribers {
            if subscriber.segments.contains(key) && !(subscriber.deliver)(event) {
                ended.push(*id);
            }
        }
        for id in ended {
            self.unsubscribe(id);
        }
    }

    fn keep(&mut self, key: String, event: Arc<MembershipEvent>) {
        self.history_identities += event.entered.len() + event.left.len();
        self.history.push_back((key, event));
        while self.history.len() > HISTORY_EVENTS || self.history_identities > HISTORY_IDENTITIES {
            let Some((_, old)) = self.history.pop_front() else {
                break;
            };
            self.history_identities -= old.entered.len() + old.left.len();
            self.history_floor = old.seq;
        }
    }
}

/// The tracked key of a saved segment as `scope` sees it.
fn key(name: &str, scope: &Scope) -> String {
    match scope.is_everything() {
        true => name.to_string(),
        false => format!("{name}\u{1f}{scope:?}"),
    }
}

/// A subscription's deliveries into a channel (ended when its receiver is dropped).
pub(super) fn channel() -> (Deliver, mpsc::Receiver<MembershipEvent>) {
    let (sender, receiver) = mpsc::channel();
    let deliver: Deliver = Box::new(move |event| sender.send(event.clone()).is_ok());
    (deliver, receiver)
}

impl Subscription {
    pub(super) fn new(
        events: mpsc::Receiver<MembershipEvent>,
        id: u64,
        hub: Arc<Mutex<Hub>>,
    ) -> Self {
        Subscription { events, id, hub }
    }
}

/// The rows whose membership may differ between two lowerings of one segment at two
/// clocks: for each leaf that moved, the rows between a time range's old and new
/// bounds, or (any other leaf) the rows of either but not both. Two lowerings of
/// different shape give every row.
fn moved_rows(old: &Plan, new: &Plan, store: &Store) -> RoaringBitmap {
    let mut rows = RoaringBitmap::new();
    if !moved_into(old, new, store, &mut rows) {
        return store.live().clone();
    }
    rows
}

fn moved_into(old: &Plan, new: &Plan, store: &Store, rows: &mut RoaringBitmap) -> bool {
    match (old, new) {
        _ if old == new => true,
        (Plan::Leaf(a), Plan::Leaf(b)) => {
            *rows |= leaf_moved(a, b, store);
            true
        }
        (Plan::Not(a), Plan::Not(b)) => moved_into(a, b, store, rows),
        (Plan::And(a), Plan::And(b)) | (Plan::Or(a), Plan::Or(b)) if a.len() == b.len() => {
            a.iter().zip(b).all(|(a, b)| moved_into(a, b, store, rows))
        }
        _ => false,
    }
}

fn leaf_moved(old: &Leaf, new: &Leaf, store: &Store) -> RoaringBitmap {
    let range = |field, lo: Seconds, hi: Seconds| {
        let leaf = Leaf::TimeRange {
            field,
            lo: lo.min(hi),
            hi: lo.max(hi),
        };
        crate::exec::execute(&Plan::Leaf(leaf), store)
    };
    match (old, new) {
        (
            Leaf::TimeRange { field, lo, hi },
            Leaf::TimeRange {
                field: same,
                lo: lo2,
                hi: hi2,
            },
        ) if field == same => range(*field, *lo, *lo2) | range(*field, *hi, *hi2),
        _ => {
            let a = crate::exec::execute(&Plan::Leaf(old.clone()), store);
            let b = crate::exec::execute(&Plan::Leaf(new.clone()), store);
            a ^ b
        }
    }
}

fn identities(store: &Store, rows: &RoaringBitmap) -> Vec<Identity> {
    (store.contacts_with(rows, false).into_iter())
        .map(|c| Identity {
            channel: c.channel,
            account: c.account,
            external_id: c.external_id,
        })
        .collect()
}

/// The identities of erased rows among `rows` (from what the change reported).
fn erased_identities(applied: &Applied, rows: &RoaringBitmap) -> Vec<Identity> {
    (applied.erased_rows.iter().zip(&applied.erased))
        .filter(|(row, _)| rows.contains(*row))
        .map(|(_, (channel, account, external_id))| Identity::new(*channel, account, external_id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Edit, Engine, Target};
    use crate::model::{Channel, Contact, FieldSet};

    const NOW: Seconds = 1_750_000_000;

    /// An engine holding contacts `a` and `b` and the saved segment `v` (`tag:vip`),
    /// with `a` tagged vip when `tagged`; what that last commit did.
    fn engine(tagged: bool) -> (Engine, Option<Applied>) {
        let engine = Engine::in_memory();
        let contacts = ["a", "b"]
            .map(|id| Contact::new(Channel::Web, "shop", id))
            .to_vec();
        let fields = FieldSet::all();
        engine
            .commit(Edit::Upsert { contacts, fields }, NOW)
            .expect("upsert");
        let save = Edit::SaveSegment {
            name: "v".into(),
            text: "tag:vip".into(),
        };
        engine.commit(save, NOW).expect("save");
        let applied = tagged.then(|| {
            let target = Target::Contact(Identity::new(Channel::Web, "shop", "a"));
            let tag = Edit::AddTags {
                tags: vec!["vip".into()],
                target,
            };
            engine.commit(tag, NOW).expect("tag").applied
        });
        (engine, applied)
    }

    /// A round whose records could not be written is undone: its events never go out,
    /// and the watched members are those of the state gone back to.
    #[test]
    fn a_rolled_back_commit_sends_no_event_and_leaves_no_member() {
        let (before, _) = engine(false);
        let (after, applied) = engine(true);
        let (sent, events) = mpsc::channel();
        let deliver: Deliver = Box::new(move |e: &MembershipEvent| sent.send(e.clone()).is_ok());
        let mut hub = Hub::default();
        let everything = Scope::everything();
        let state = before.state_read();
        (hub.subscribe(&state, &["v".into()], None, NOW, &everything, deliver))
            .expect("subscribed");
        let after_state = after.state_read();
        let applied = applied.expect("tagged");
        hub.after_change(&after_state, &applied, after_state.seq);
        assert_eq!(
            hub.pending.len(),
            1,
            "the event waits for its commit to be durable"
        );
        hub.roll_back(&state);
        hub.release(u64::MAX);
        assert!(events.try_recv().is_err(), "no event of an undone commit");
        let members: Vec<RoaringBitmap> = hub.tracked.values().map(|t| t.members.clone()).collect();
        assert_eq!(members, [RoaringBitmap::new()]);
    }
}
