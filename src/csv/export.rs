//! CSV export: a set of rows written in (channel, account, external_id) order, with all
//! columns or the columns of the channels' contact lists.

use std::io::{self, Write};

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::cells::format_cell;
use crate::model::{Channel, Field, Field as F};
use crate::store::Store;

/// Which columns to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnChoice {
    /// Every column of the format.
    All,
    /// The identity columns plus what the channels' contact lists show (csv-format.md).
    ContactList,
}

/// The fields a channel's contact list shows, after the identity columns. "status" is
/// `blocked` and `opt_outs`; "FB recurring opt-in" is `fb_optin` and `fb_frequency`;
/// store and salesperson only when `show_store` (some contact has one).
pub fn list_columns(channel: Channel, show_store: bool) -> Vec<Field> {
    let status = [F::Blocked, F::OptOuts];
    let mut fields: Vec<Field> = match channel {
        Channel::Facebook => vec![
            F::AvatarUrl,
            F::Name,
            F::Tags,
            F::CustomerInteractionAt,
            F::Bound,
            F::FbOptin,
            F::FbFrequency,
            F::SubscribedAt,
        ],
        Channel::Line => vec![
            F::AvatarUrl,
            F::Name,
            F::Tags,
            F::CustomerInteractionAt,
            F::Bound,
            F::SubscribedAt,
        ],
        Channel::Whatsapp => vec![
            F::Name,
            F::Phone,
            F::Tags,
            F::CustomerInteractionAt,
            F::Bound,
            F::SubscribedAt,
        ],
        Channel::Instagram => vec![
            F::AvatarUrl,
            F::Name,
            F::Tags,
            F::CustomerInteractionAt,
            F::SubscribedAt,
        ],
        Channel::Web => vec![
            F::Name,
            F::MemberId,
            F::Email,
            F::Phone,
            F::Tags,
            F::SubscribedAt,
        ],
    };
    fields.extend(status);
    if channel == Channel::Web {
        fields.push(F::CustomerInteractionAt);
    }
    if show_store && matches!(channel, Channel::Line | Channel::Whatsapp) {
        fields.extend([F::Store, F::Salesperson]);
    }
    fields
}

/// The columns to write for `rows`.
fn columns(store: &Store, rows: &RoaringBitmap, choice: ColumnChoice) -> Vec<Field> {
    if choice == ColumnChoice::All {
        return Field::ALL.to_vec();
    }
    let show_store = [
        crate::model::TextField::Store,
        crate::model::TextField::Salesperson,
    ]
    .iter()
    .any(|f| !store.text_present(*f).is_disjoint(rows));
    let mut wanted = vec![Field::Channel, Field::Account, Field::ExternalId];
    for channel in Channel::ALL {
        if !store.channel(channel).is_disjoint(rows) {
            wanted.extend(list_columns(channel, show_store));
        }
    }
    Field::ALL
        .iter()
        .copied()
        .filter(|f| wanted.contains(f))
        .collect()
}

/// The rows of `rows` in (channel, account, external_id) order.
pub fn sorted_rows(store: &Store, rows: &RoaringBitmap) -> Vec<u32> {
    let mut accounts: Vec<_> = store
        .accounts()
        .filter(|a| !a.rows.is_disjoint(rows))
        .collect();
    accounts.sort_by(|a, b| (a.channel.name(), a.id).cmp(&(b.channel.name(), b.id)));
    let mut out = Vec::with_capacity(rows.len() as usize);
    for account in accounts {
        let mut members: Vec<u32> = (account.rows & rows).iter().collect();
        members.par_sort_unstable_by(|a, b| store.external_id(*a).cmp(store.external_id(*b)));
        out.extend(members);
    }
    out
}

/// Writes the live rows among `rows` as CSV; returns how many contacts were written.
/// `progress` is told the number written so far.
pub fn export(
    store: &Store,
    rows: &RoaringBitmap,
    choice: ColumnChoice,
    out: impl Write,
    progress: &dyn Fn(u64),
) -> io::Result<u64> {
    let rows = rows & store.live();
    let fields = columns(store, &rows, choice);
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    out.write_all(&csv_line(fields.iter().map(|f| f.name().to_string())))?;
    let order = sorted_rows(store, &rows);
    let mut written = 0u64;
    for chunk in order.chunks(1 << 16) {
        let batch: RoaringBitmap = chunk.iter().copied().collect();
        let mut contacts = store.contacts(&batch);
        contacts.par_sort_unstable_by(|a, b| a.identity_order().cmp(&b.identity_order()));
        let lines: Vec<Vec<u8>> = contacts
            .par_iter()
            .map(|c| csv_line(fields.iter().map(|f| format_cell(c, *f))))
            .collect();
        for line in lines {
            out.write_all(&line)?;
        }
        written += contacts.len() as u64;
        progress(written);
        if crate::cancel::requested() {
            return Err(crate::cancel::error());
        }
    }
    out.flush()?;
    Ok(written)
}

/// One CSV record (RFC 4180 quoting, `\n` ending) as bytes.
fn csv_line(cells: impl Iterator<Item = String>) -> Vec<u8> {
    let mut line = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(256));
    // Writing to a Vec cannot fail.
    let _ = line.write_record(cells);
    line.into_inner().unwrap_or_default()
}
