//! CSV export: a set of rows written in (channel, account, external_id) order, with all
//! columns or the columns of the channels' contact lists. The rows are put in identity
//! order, then formatted from the columns (a [`RowReader`]) chunk by chunk: each chunk's
//! rows in row order on every core (a walk through the columns the prefetcher follows),
//! put back in export order and written while the next chunk is formatted.

use std::io::{self, Write};

use rayon::prelude::*;
use roaring::RoaringBitmap;

use crate::model::time::write_rfc3339_utc;
use crate::model::{Channel, Field, Field as F, FieldKind, TEXT_FIELDS};
use crate::store::{RowReader, Store, TextCursor};

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

/// The `limit` rows of `rows` after the first `offset`, in (channel, account,
/// external_id) order: one page, without sorting what comes after it.
pub fn page_rows(store: &Store, rows: &RoaringBitmap, offset: usize, limit: usize) -> Vec<u32> {
    let mut accounts: Vec<_> = store.accounts().collect();
    accounts.sort_by(|a, b| (a.channel.name(), a.id).cmp(&(b.channel.name(), b.id)));
    let by_id = |a: &u32, b: &u32| store.external_id(*a).cmp(store.external_id(*b));
    let capacity = limit.min(rows.len() as usize);
    let (mut out, mut skip) = (Vec::with_capacity(capacity), offset);
    for account in accounts {
        if out.len() == limit {
            break;
        }
        let members = account.rows.intersection_len(rows) as usize;
        if members <= skip {
            skip -= members;
            continue;
        }
        let mut members: Vec<u32> = (account.rows & rows).iter().collect();
        let wanted = skip.saturating_add(limit - out.len());
        if wanted < members.len() {
            members.select_nth_unstable_by(wanted, by_id);
            members.truncate(wanted);
        }
        members.sort_unstable_by(by_id);
        out.extend(members.into_iter().skip(skip));
        skip = 0;
    }
    out
}

/// Up to `limit` rows of `rows` that come after the identity `after` (channel, account,
/// external id) in identity order: a page that stays put when contacts before it come
/// and go.
pub fn page_after(
    store: &Store,
    rows: &RoaringBitmap,
    after: Option<(Channel, &str, &str)>,
    limit: usize,
) -> Vec<u32> {
    let mut accounts: Vec<_> = store.accounts().collect();
    accounts.sort_by(|a, b| (a.channel.name(), a.id).cmp(&(b.channel.name(), b.id)));
    let mut out = Vec::with_capacity(limit.min(rows.len() as usize));
    for account in accounts {
        if out.len() == limit {
            break;
        }
        let place = (account.channel.name(), account.id);
        let start = after.map(|(c, a, _)| (c.name(), a));
        if start.is_some_and(|s| place < s) {
            continue;
        }
        let same = start == Some(place);
        let mut members: Vec<u32> = (account.rows & rows).iter().collect();
        if let (true, Some((_, _, id))) = (same, after) {
            members.retain(|&r| store.external_id(r) > id);
        }
        let wanted = limit - out.len();
        let by_id = |a: &u32, b: &u32| store.external_id(*a).cmp(store.external_id(*b));
        if wanted < members.len() {
            members.select_nth_unstable_by(wanted, by_id);
            members.truncate(wanted);
        }
        members.sort_unstable_by(by_id);
        out.extend(members);
    }
    out
}

/// Rows formatted per parallel task.
const TASK_ROWS: usize = 8_192;
/// Rows formatted between two writes (and progress reports).
const CHUNK_ROWS: usize = 1 << 18;

/// Writes the live rows among `rows` as CSV; returns how many contacts were written.
/// `progress` is told the number written so far.
///
/// Rows are formatted straight from the columns (a [`RowReader`]) on every core, chunk by
/// chunk, while the previous chunk is written.
pub fn export(
    store: &Store,
    rows: &RoaringBitmap,
    choice: ColumnChoice,
    out: impl Write + Send,
    progress: &dyn Fn(u64),
) -> io::Result<u64> {
    let rows = rows & store.live();
    let fields = columns(store, &rows, choice);
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    let mut header = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        write_separator(&mut header, i);
        write_text(&mut header, field.name());
    }
    header.push(b'\n');
    out.write_all(&header)?;
    let (order, reader) = rayon::join(
        || sorted_rows(store, &rows),
        || RowReader::new(store, &rows),
    );
    let format = |chunk: &[u32]| format_chunk(&reader, &fields, chunk);
    let mut written = 0u64;
    let mut ready: Vec<Vec<u8>> = Vec::new();
    for chunk in order.chunks(CHUNK_ROWS) {
        let (formatted, wrote) = rayon::join(
            || format(chunk),
            || ready.iter().try_for_each(|bytes| out.write_all(bytes)),
        );
        wrote?;
        ready = formatted;
        written += chunk.len() as u64;
        progress(written);
        if crate::cancel::requested() {
            return Err(crate::cancel::error());
        }
    }
    ready.iter().try_for_each(|bytes| out.write_all(bytes))?;
    out.flush()?;
    Ok(written)
}

/// The CSV lines of `chunk`, in its order, as buffers to write one after the other.
///
/// Export order is random with respect to row ids, and so to where the columns keep each
/// row; the rows are formatted in row order instead (a strided walk through every column
/// that the memory prefetcher follows), then the lines are put back in export order.
fn format_chunk(reader: &RowReader<'_>, fields: &[Field], chunk: &[u32]) -> Vec<Vec<u8>> {
    let mut by_row: Vec<(u32, u32)> = (chunk.iter().enumerate())
        .map(|(position, &row)| (row, position as u32))
        .collect();
    by_row.par_sort_unstable();
    let parts: Vec<Lines> = by_row
        .par_chunks(TASK_ROWS)
        .map(|task| format_rows(reader, fields, task.iter().map(|p| p.0)))
        .collect();
    let mut place = vec![(0u32, 0u32); chunk.len()];
    for (part, task) in by_row.chunks(TASK_ROWS).enumerate() {
        for (line, &(_, position)) in task.iter().enumerate() {
            place[position as usize] = (part as u32, line as u32);
        }
    }
    place
        .par_chunks(TASK_ROWS)
        .map(|places| {
            let mut out = Vec::with_capacity(places.len() * 256);
            for &(part, line) in places {
                out.extend_from_slice(parts[part as usize].line(line as usize));
            }
            out
        })
        .collect()
}

/// CSV lines, back to back, and where each ends.
struct Lines {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Lines {
    fn line(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }
}

/// The CSV lines of `rows`.
fn format_rows(reader: &RowReader<'_>, fields: &[Field], rows: impl Iterator<Item = u32>) -> Lines {
    let mut out = Vec::with_capacity(TASK_ROWS * 256);
    let mut ends = Vec::with_capacity(TASK_ROWS);
    let mut scratch = Vec::new();
    let mut texts = reader.text_cursors();
    for row in rows {
        for (i, field) in fields.iter().enumerate() {
            write_separator(&mut out, i);
            write_cell(&mut out, &mut scratch, &mut texts, reader, row, *field);
        }
        out.push(b'\n');
        ends.push(out.len() as u32);
    }
    Lines { bytes: out, ends }
}

fn write_separator(out: &mut Vec<u8>, column: usize) {
    if column > 0 {
        out.push(b',');
    }
}

/// Writes one cell as the import reads it back (see `cells.rs`). Rows come in ascending
/// order (for the text cursors).
fn write_cell(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    texts: &mut [TextCursor<'_>; TEXT_FIELDS],
    reader: &RowReader<'_>,
    row: u32,
    field: Field,
) {
    match field.kind() {
        FieldKind::Identity => match field {
            Field::Channel => out.extend_from_slice(reader.account(row).0.name().as_bytes()),
            Field::Account => write_text(out, reader.account(row).1),
            _ => write_text(out, reader.external_id(row)),
        },
        FieldKind::Name => write_text(out, reader.name(row)),
        FieldKind::AvatarUrl => write_text(out, reader.avatar_url(row)),
        FieldKind::Tags => {
            scratch.clear();
            for (i, tag) in reader.tags(row).enumerate() {
                if i > 0 {
                    scratch.push(b'|');
                }
                scratch.extend_from_slice(tag.as_bytes());
            }
            write_bytes(out, scratch);
        }
        FieldKind::OptOuts => {
            for (i, kind) in reader.opt_outs(row).iter().enumerate() {
                if i > 0 {
                    out.push(b'|');
                }
                out.extend_from_slice(kind.name().as_bytes());
            }
        }
        FieldKind::FbFrequency => {
            if let Some(frequency) = reader.frequency(row) {
                out.extend_from_slice(frequency.name().as_bytes());
            }
        }
        FieldKind::Flag(flag) => {
            let text = if reader.flag(row, flag) {
                "true"
            } else {
                "false"
            };
            out.extend_from_slice(text.as_bytes());
        }
        FieldKind::Time(time) => {
            if let Some(t) = reader.time(row, time) {
                write_rfc3339_utc(t, out);
            }
        }
        FieldKind::Text(text) => {
            write_text(out, texts[text.index()].get(row).unwrap_or_default());
        }
    }
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    write_bytes(out, text.as_bytes());
}

/// Writes a cell, quoted (RFC 4180) when it holds a comma, quote or line break.
fn write_bytes(out: &mut Vec<u8>, cell: &[u8]) {
    let special = |b: &u8| matches!(b, b',' | b'"' | b'\n' | b'\r');
    if !cell.iter().any(special) {
        out.extend_from_slice(cell);
        return;
    }
    out.push(b'"');
    for &b in cell {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}
