//! reach: an embedded audience-segmentation engine.
pub mod cli;
pub mod csv;
pub mod engine;
pub mod error;
pub mod exec;
pub mod model;
pub mod plan;
pub mod repl;
pub mod store;
pub mod suggest;
pub mod syntax;
pub mod synth;

pub use engine::{Engine, Quota, Segment};
pub use error::Error;
