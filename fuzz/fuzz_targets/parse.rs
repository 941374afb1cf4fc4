//! Fuzz the segment parser and planner: no input may panic, and a parsed segment printed
//! back must parse to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(Some(expr)) = reach::syntax::parse(text) {
        let printed = reach::syntax::print(&expr);
        let again = reach::syntax::parse(&printed).expect("printed text parses").expect("not empty");
        assert!(expr.same_as(&again), "{text:?} printed as {printed:?}");
    }
    let _ = reach::Engine::in_memory().compile(text, 1_748_750_400);
});
