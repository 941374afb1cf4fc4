//! Fuzz CSV import: no input may panic, and a refused file leaves the store as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reach::csv::{ImportOptions, import};
use reach::store::Store;

const SEED: &str = "channel,account,external_id,name,tags,fb_optin,fb_frequency\n\
                    line,tw,U1,Ann,vip|gold,,\nfacebook,page,1,Bob,,true,weekly\n";

fuzz_target!(|data: &[u8]| {
    let mut store = Store::new();
    let options = ImportOptions::default();
    import(&mut store, SEED.as_bytes(), &options, None, 0, &|_| {}).expect("seed file");
    let before = store.contacts(store.live());
    if import(&mut store, data, &options, None, 0, &|_| {}).is_err() {
        assert_eq!(store.contacts(store.live()), before);
    }
});
