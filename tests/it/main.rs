//! The one integration-test binary: modules by concern.

mod cli;
mod grammar;
mod import_export;
mod oracle;
mod parser;
mod repl;
mod snapshot;
mod store;
