//! Taking up a batch: its recipients checked again at their turn (deleted, blocked,
//! opted out since the start: skipped and counted), and the others rendered — identity,
//! text, a WhatsApp template's values, the email or notification token — into a
//! [`Prepared`] batch that owns them, so that no lock on the engine's state is held while
//! its requests are out. A recipient whose text is longer than the platform takes fails,
//! unsent.

use super::message::{Template, too_long};
use super::sink::{Prepared, Recipient};
use crate::engine::{BatchOutcome, Job, View};
use crate::model::{Channel, Flag, Seconds, TextField};

/// Batch `index` of `job` taken up at `at`: the rendered recipients, and its outcome so
/// far (those skipped at their turn).
pub fn prepare(
    view: &View,
    job: &Job,
    template: &Template,
    index: usize,
    at: Seconds,
) -> (Prepared, BatchOutcome) {
    let batch = &job.batches[index];
    let store = view.store();
    let mut outcome = BatchOutcome {
        at,
        ..BatchOutcome::default()
    };
    outcome.deleted = &batch.rows - store.live();
    let alive = &batch.rows - &outcome.deleted;
    outcome.blocked = &alive & store.flag(Flag::Blocked);
    if let Some(kind) = job.message.kind.opt_out() {
        outcome.opted_out = (&alive - &outcome.blocked) & store.opt_out(kind);
    }
    let rows = &alive - &outcome.blocked - &outcome.opted_out;
    let payload = job.message.payloads.get(batch.channel.name());
    let mut recipients = Vec::with_capacity(rows.len() as usize);
    for row in &rows {
        let recipient = recipient(view, job, template, batch.channel, row);
        match payload
            .is_none()
            .then(|| too_long(batch.channel, &recipient.text))
        {
            Some(Some(why)) => outcome.failed.push((row, why)),
            _ => recipients.push(recipient),
        }
    }
    let prepared = Prepared {
        job: job.id.clone(),
        batch: index as u32,
        key: super::idempotency_key(&job.id, index as u32),
        kind: job.message.kind,
        channel: batch.channel,
        account: batch.account.clone(),
        payload: payload.cloned(),
        reply_window: job.options.reply_window,
        subject: job.message.subject.clone(),
        personal: template.is_personal(),
        recipients,
    };
    (prepared, outcome)
}

/// One recipient, rendered.
fn recipient(view: &View, job: &Job, template: &Template, channel: Channel, row: u32) -> Recipient {
    let store = view.store();
    let values = job.variables.values.get(row);
    let values = values.as_deref();
    let address = match channel {
        Channel::Web => store.text_of(TextField::Email, row),
        Channel::Facebook => store.text_of(TextField::FbNotificationToken, row),
        _ => None,
    };
    Recipient {
        row,
        external_id: store.external_id(row).to_string(),
        text: template.render(store, row, values),
        values: match channel {
            Channel::Whatsapp => template.values(store, row, values),
            _ => Vec::new(),
        },
        address: address.map(str::to_string),
    }
}
