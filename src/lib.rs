//! reach: an embedded audience-segmentation engine.
pub mod csv;
pub mod model;
pub mod store;
pub mod suggest;
pub mod synth;
