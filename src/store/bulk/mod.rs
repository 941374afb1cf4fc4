//! Rows in bulk: a batch of new contacts built outside the store and appended in one
//! change (`batch`), and many rows read out at once for export (`reader`).

pub(super) mod batch;
pub(super) mod reader;
