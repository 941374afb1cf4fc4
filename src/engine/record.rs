//! [`Record`]: one logged mutation, the unit of the write-ahead log and of replay. A
//! record holds changes already resolved to rows (a segment or an identity is looked up
//! once, when the change is made), so that replaying it on the same state gives the same
//! result, whatever the clock says then.

use serde::{Deserialize, Serialize};

use super::job::{BatchOutcome, Job, JobState};
use super::quota::Quota;
use crate::error::Error;
use crate::model::Seconds;
use crate::store::Change;

/// The payload format: the first byte of every record. Format 3 added
/// [`Change::Update`] as the last variant, so a format 2 record decodes as it is.
const FORMAT: u8 = 3;
const FORMATS_READ: [u8; 2] = [2, 3];

/// A mutation of the engine's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Record {
    /// Store changes applied together, at time `now` (new tags' creation time).
    Store { changes: Vec<Change>, now: Seconds },
    /// Saves (or replaces) a segment under a name.
    SaveSegment { name: String, text: String },
    /// Removes a saved segment.
    ForgetSegment { name: String },
    /// Sets a LINE account's quota figures.
    SetQuota { account: String, quota: Quota },
    /// Starts a broadcast job (its audience frozen, judged and cut into batches).
    JobStart { job: Box<Job> },
    /// A batch's requests are about to go out through a sink without idempotency keys.
    BatchIntent { job: String, batch: u32 },
    /// Batches found in flight after a crash: whether they were delivered is unknown.
    BatchesUncertain { job: String, batches: Vec<u32> },
    /// A batch was sent: its outcome, and with it the books (`team_marketing_at`,
    /// `fb_last_sent_at`, LINE quota `used`), in the same record.
    BatchDone {
        job: String,
        batch: u32,
        outcome: Box<BatchOutcome>,
    },
    /// Ends a job (done, failed, cancelled).
    JobEnd { job: String, state: JobState },
}

impl Record {
    /// The record as log payload bytes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut bytes = vec![FORMAT];
        postcard::to_io(self, &mut bytes).map_err(|e| {
            Error::internal_from(format!("cannot encode a change for the log: {e}"), e)
        })?;
        Ok(bytes)
    }

    /// Reads a record back from log payload bytes.
    pub fn decode(bytes: &[u8]) -> Result<Record, Error> {
        match bytes.split_first() {
            Some((format, rest)) if FORMATS_READ.contains(format) => postcard::from_bytes(rest)
                .map_err(|e| Error::data_from(format!("a record does not decode ({e})"), e)),
            Some((other, _)) => Err(Error::data(format!(
                "a record of format {other}, which this reach does not read"
            ))),
            None => Err(Error::data("an empty record")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn a_record_that_does_not_decode_keeps_the_decoder_error() {
        let e = Record::decode(&[FORMAT, 0xff, 0xff, 0xff]).expect_err("not a record");
        assert_eq!(e.kind(), ErrorKind::Data);
        assert!(e.to_string().starts_with("a record does not decode"), "{e}");
        assert!(
            e.source().is_some_and(|s| s.is::<postcard::Error>()),
            "{e:?}"
        );
        let e = Record::decode(&[]).expect_err("empty");
        assert_eq!(e.kind(), ErrorKind::Data);
        assert!(e.source().is_none());
    }
}
