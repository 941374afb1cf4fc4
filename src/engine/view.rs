//! [`View`]: a consistent read of the engine's state: the contacts, saved segments,
//! quotas and jobs as of one commit, and segments compiled and run against them.

use std::collections::BTreeMap;
use std::sync::RwLockReadGuard;

use chrono::FixedOffset;
use roaring::RoaringBitmap;

use super::compile::Segment;
use super::job::Job;
use super::quota::Quota;
use super::scope::{Reach, Scope};
use super::state::State;
use crate::error::Error;
use crate::exec::{ExplainNode, explain_text};
use crate::model::{Channel, Seconds};
use crate::plan::{self, Clock, Plan, SavedSegments};
use crate::store::Store;

/// A consistent read of the engine's state: every call on one view sees the same state,
/// and changes wait until the view is dropped (keep views short).
pub struct View<'a> {
    pub(super) state: RwLockReadGuard<'a, State>,
    pub(super) tz: FixedOffset,
}

impl View<'_> {
    /// This view with dates without an offset read at `tz`.
    pub fn in_zone(mut self, tz: FixedOffset) -> Self {
        self.tz = tz;
        self
    }

    /// The contacts.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Saved segments by name.
    pub fn saved_segments(&self) -> &SavedSegments {
        &self.state.saved
    }

    /// LINE quotas by account id.
    pub fn quotas(&self) -> &BTreeMap<String, Quota> {
        &self.state.quotas
    }

    /// The sequence number of the last change this state holds.
    pub fn seq(&self) -> u64 {
        self.state.seq
    }

    /// Broadcast jobs by id.
    pub fn jobs(&self) -> &BTreeMap<String, Job> {
        &self.state.jobs
    }

    /// The identities (channel, account, external id) of the live rows among `rows`.
    pub fn identities(&self, rows: &RoaringBitmap) -> Vec<(Channel, String, String)> {
        self.state.identities(rows)
    }

    /// Parses, plans and optimizes a segment at `now`.
    pub fn compile(&self, text: &str, now: Seconds) -> Result<Segment, Error> {
        self.state
            .compiler()
            .compile(text, Clock { now, tz: self.tz })
    }

    /// Compiles a segment for a caller confined to `scope`: its plan is `scope AND
    /// segment`, so whatever runs it (a count, a list, an export, a broadcast, a
    /// segment-wide change) reaches only the scope's contacts.
    pub fn compile_in(&self, text: &str, now: Seconds, scope: &Scope) -> Result<Segment, Error> {
        let compiler = self.state.compiler();
        let clock = Clock { now, tz: self.tz };
        let mut segment = compiler.compile(text, clock)?;
        if let Some(reach) = Reach::new(scope, &compiler, clock)?.plan() {
            let both = Plan::And(vec![reach.clone(), segment.plan]);
            segment.plan = plan::rules::optimize(both);
        }
        Ok(segment)
    }

    /// Whether `scope` reaches `row` (looking at that row only).
    pub fn reaches_row(&self, scope: &Scope, now: Seconds, row: u32) -> Result<bool, Error> {
        let compiler = self.state.compiler();
        let reach = Reach::new(scope, &compiler, Clock { now, tz: self.tz })?;
        Ok(reach
            .restrict(RoaringBitmap::from_iter([row]))
            .contains(row))
    }

    /// The rows `scope` reaches.
    pub fn reach(&self, scope: &Scope, now: Seconds) -> Result<RoaringBitmap, Error> {
        let compiler = self.state.compiler();
        let reach = Reach::new(scope, &compiler, Clock { now, tz: self.tz })?;
        Ok(reach.restrict(self.state.store.live().clone()))
    }

    /// The rows matching a compiled segment.
    pub fn rows(&self, segment: &Segment) -> RoaringBitmap {
        crate::exec::execute(&segment.plan, &self.state.store)
    }

    /// How many contacts match a compiled segment.
    pub fn count(&self, segment: &Segment) -> u64 {
        crate::exec::count(&segment.plan, &self.state.store)
    }

    /// EXPLAIN VERBOSE: the plan as lowered, then after each optimizer rule that
    /// changed it (named as its file).
    pub fn explain_steps(&self, text: &str, now: Seconds) -> Result<String, Error> {
        let lowered = self
            .state
            .compiler()
            .lower(text, Clock { now, tz: self.tz })?
            .plan;
        let mut out = format!("lowered:\n{lowered}");
        for (rule, plan) in plan::rules::optimize_steps(lowered) {
            out.push_str(&format!("after {rule}:\n{plan}"));
        }
        Ok(out)
    }

    /// EXPLAIN ANALYZE: the plan tree with estimated and actual cardinalities.
    pub fn explain(&self, segment: &Segment) -> String {
        explain_text(&self.explain_tree(segment), &segment.warnings)
    }

    /// EXPLAIN ANALYZE as a tree: the steps the executor took to count `segment`, each
    /// with its strategy, estimate, cost, actual rows and time (what [`View::explain`]
    /// renders).
    pub fn explain_tree(&self, segment: &Segment) -> ExplainNode {
        ExplainNode::new(&segment.plan, &self.state.store)
    }
}
