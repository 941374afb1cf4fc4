//! `FbRows`: the opted-in Facebook contacts with their recurring-notification columns
//! side by side (expiry, last send, frequency), so that `is:fb_sendable` is one pass
//! over a few hundred thousand entries instead of four scans of 10M-row time columns.
//!
//! Built on the first `fb_sendable` after a change and kept until the next one (a
//! [`super::derived::Cached`] value).

use std::sync::Arc;

use roaring::RoaringBitmap;

use super::Store;
use super::time_column::NONE;
use crate::model::{Channel, FbFrequency, Flag, Seconds, SendableAt, TimeField};

/// The opted-in live Facebook rows, ascending, with their columns.
#[derive(Debug, Default)]
pub struct FbRows {
    rows: Vec<u32>,
    expires: Vec<u32>,
    last_sent: Vec<u32>,
    /// 0: none, else 1 + the frequency's index.
    frequency: Vec<u8>,
}

impl FbRows {
    fn build(store: &Store) -> FbRows {
        let rows = store.flag(Flag::FbOptin) & store.channel(Channel::Facebook) & store.live();
        let times = |field: TimeField| {
            let column = &store.times[field.index()];
            (rows.iter())
                .map(|r| column.raw().get(r as usize).copied().unwrap_or(NONE))
                .collect()
        };
        let mut frequency = vec![0u8; rows.len() as usize];
        let position = super::RowPositions::new(&rows);
        for f in FbFrequency::ALL {
            for row in store.frequency(*f) & &rows {
                frequency[position.of(row)] = 1 + f.index() as u8;
            }
        }
        FbRows {
            expires: times(TimeField::FbExpiresAt),
            last_sent: times(TimeField::FbLastSentAt),
            rows: rows.iter().collect(),
            frequency,
        }
    }

    /// The rows sendable at `at`: not expired (no expiry, or expiring after now), and
    /// never sent to, or last sent no later than their frequency allows.
    fn sendable(&self, at: SendableAt) -> RoaringBitmap {
        let stored = |t: Seconds| t.clamp(-1, i64::from(NONE));
        let now = stored(at.now);
        let latest = at.latest_send.map(stored);
        let hits = (0..self.rows.len()).filter(|&i| {
            let expires = self.expires[i];
            let last = self.last_sent[i];
            let live = expires == NONE || i64::from(expires) > now;
            let due = last == NONE
                || match self.frequency[i] {
                    0 => false,
                    f => i64::from(last) <= latest[usize::from(f - 1)],
                };
            live && due
        });
        // Bits into words, then whole containers at once: appending row by row costs
        // more than the test itself.
        let words = self.rows.last().map_or(0, |&r| r as usize / 64 + 1);
        let mut bits = vec![0u64; words];
        for i in hits {
            let row = self.rows[i] as usize;
            bits[row / 64] |= 1 << (row % 64);
        }
        for word in &mut bits {
            *word = word.to_le();
        }
        RoaringBitmap::from_lsb0_bytes(0, bytemuck::cast_slice(&bits))
    }
}

impl Store {
    /// The live contacts that may receive a recurring notification at `at`.
    pub fn fb_sendable(&self, at: SendableAt) -> RoaringBitmap {
        self.fb_rows().sendable(at)
    }

    fn fb_rows(&self) -> Arc<FbRows> {
        self.derived
            .fb_rows
            .get(self.version, || FbRows::build(self))
    }
}
