//! Fuzz CSV import: no input may panic, and a refused file changes nothing (staging only
//! reads the store; applying a staged import never fails).
#![no_main]

use libfuzzer_sys::fuzz_target;
use reach::csv::{ImportOptions, stage};
use reach::store::Store;

const SEED: &str = "channel,account,external_id,name,tags,fb_optin,fb_frequency\n\
                    line,tw,U1,Ann,vip|gold,,\nfacebook,page,1,Bob,,true,weekly\n";

fuzz_target!(|data: &[u8]| {
    let mut store = Store::new();
    let options = ImportOptions::default();
    let seed = stage(&store, SEED.as_bytes(), &options, None, 0, &|_| {}).expect("seed file");
    seed.apply_to(&mut store, 0).expect("seed applies");
    if let Ok(staged) = stage(&store, data, &options, None, 0, &|_| {}) {
        staged.apply_to(&mut store, 0).expect("a staged import applies");
    }
});
