//! What a running job holds grows with what is in flight, not with the audience: an
//! account's recipients taken up and not yet logged stay within
//! [`IN_FLIGHT_RECIPIENTS`], however fast the sink settles them.

use std::sync::atomic::{AtomicU64, Ordering};

use reach::broadcast::{
    self, AudienceSource, Delivery, IN_FLIGHT_RECIPIENTS, Outcome, Outgoing, Run, Sink,
};
use reach::engine::{Edit, Engine};
use reach::model::{Channel, FieldSet};
use reach::synth;

const NOW: i64 = synth::DEFAULT_ANCHOR;
const BATCH: usize = 10_000;

/// Settles each batch at once, and notes how far what it was given ran ahead of what
/// the job logged.
#[derive(Default)]
struct Ahead {
    given: AtomicU64,
    logged: AtomicU64,
    most: AtomicU64,
}

impl Sink for Ahead {
    fn idempotent(&self, _: Channel) -> bool {
        true
    }

    fn batch_size(&self, _: Channel) -> usize {
        BATCH
    }

    fn send(&self, batch: &Outgoing) -> Delivery {
        let given = self.given.fetch_add(batch.len() as u64, Ordering::SeqCst) + batch.len() as u64;
        let ahead = given.saturating_sub(self.logged.load(Ordering::SeqCst));
        self.most.fetch_max(ahead, Ordering::SeqCst);
        Delivery::Each(vec![Outcome::Sent; batch.len()])
    }
}

/// An engine holding the LINE contacts of `n` made up, all of one account.
fn one_account(n: u64) -> Engine {
    let mut contacts = synth::contacts(n, 7, NOW);
    contacts.retain(|c| c.channel == Channel::Line);
    for c in &mut contacts {
        c.account = "line-tw".into();
    }
    let engine = Engine::in_memory();
    let edit = Edit::Upsert {
        contacts,
        fields: FieldSet::all(),
    };
    engine.commit(edit, NOW).expect("valid contacts");
    engine
}

#[test]
fn recipients_taken_up_stay_within_the_bound_however_fast_the_sink() {
    let engine = one_account(200_000);
    let request = crate::bot_request(
        "big",
        AudienceSource::Segment(engine.compile("", NOW).expect("all")),
        "Hi {{name|friend}}",
    );
    let sink = Ahead::default();
    broadcast::start(&engine, request, &sink, NOW).expect("started");
    let eligible = engine.read().jobs()["big"].figures.eligible;
    assert!(eligible > 2 * IN_FLIGHT_RECIPIENTS, "{eligible} eligible");
    let clock = || NOW;
    let progress = |done: u64, _: u64| sink.logged.store(done, Ordering::SeqCst);
    let run = Run {
        clock: &clock,
        progress: &progress,
        ..Run::default()
    };
    let report = broadcast::send(&engine, "big", &sink, false, &run).expect("sent");
    assert_eq!(report.figures.sent, eligible);
    let most = sink.most.load(Ordering::SeqCst);
    assert!(
        most <= IN_FLIGHT_RECIPIENTS,
        "{most} recipients given to the sink and not logged at once"
    );
}
