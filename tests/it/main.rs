//! The one integration-test binary: modules by concern.

mod cli;
mod grammar;
mod import_export;
mod oracle;
mod parser;
mod repl;
mod snapshot;
mod store;

/// A store of `n` generated contacts (seed `seed`), loaded by upsert at time `now`.
pub fn generated_store(n: u64, seed: u64, now: i64) -> reach::store::Store {
    let mut store = reach::store::Store::new();
    let change = reach::store::Change::Upsert {
        contacts: reach::synth::contacts(n, seed, reach::synth::DEFAULT_ANCHOR),
        fields: reach::model::FieldSet::all(),
    };
    store
        .apply(&change, now)
        .expect("generated contacts are valid");
    store
}
