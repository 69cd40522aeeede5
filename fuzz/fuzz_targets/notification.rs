//! Any bytes as a Finesse notification: parse, and when it parses, map it to
//! events and re-parse what `Update::to_xml` writes. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::{SignedInAgent, map_notification};
use switchboard_finesse::{parse_notification, parse_update};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = parse_notification(text) {
        let agent = SignedInAgent {
            id: "1001001".into(),
            extension: "5001".into(),
        };
        for event in map_notification(&n, &agent) {
            assert!(serde_json_is_object(&event));
        }
        // What we write, we must read back to the same thing.
        let again = parse_update(&n.update.to_xml()).expect("re-parse of written Update");
        assert_eq!(again, n.update);
    }
});

fn serde_json_is_object(s: &str) -> bool {
    s.starts_with('{') && s.ends_with('}')
}
