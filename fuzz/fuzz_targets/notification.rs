//! Any bytes as a Finesse notification: parse, and when it parses, re-parse
//! what `Update::to_xml` writes and take it through the production path (a
//! cache that knows the agent, `route::publish`) to events. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::route::translate;
use switchboard_finesse::{parse_notification, parse_update};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = parse_notification(text) {
        // What we write, we must read back to the same thing.
        let again = parse_update(&n.update.to_xml()).expect("re-parse of written Update");
        assert_eq!(again, n.update);
        for event in translate(n, "1001001", "5001") {
            assert!(serde_json_is_object(&event));
        }
    }
});

fn serde_json_is_object(s: &str) -> bool {
    s.starts_with('{') && s.ends_with('}')
}
