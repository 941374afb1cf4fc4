//! The data model of data-model.md as plain Rust values: channels, contacts, message kinds,
//! opt-outs and the derived states. Pure: no I/O, no indexes.

mod channel;
mod contact;
mod event;
mod fields;
pub mod json;
mod matching;
mod phone;
pub mod time;

pub use channel::Channel;
pub use contact::{
    Contact, FieldError, MAX_TAG_CHARS, MAX_TEXT_BYTES, MessageKind, check_tag_name,
};
pub use event::{Event, EventKind, moved_forward};
pub use fields::{
    AVATAR_CHANNELS, FB_FREQUENCY_CHANNELS, FbFrequency, Field, FieldKind, FieldSet, Flag,
    OptOutKind, OptOuts, SendableAt, TEXT_FIELDS, TextField, TimeField,
};
pub use matching::{MatchRule, WHITE_SPACE, fold};
pub use phone::{international_phone, normalize_phone};
pub use time::Seconds;
