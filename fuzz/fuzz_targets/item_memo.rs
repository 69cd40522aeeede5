//! Any bytes as two `<Update>` documents of one agent's stream (split at the
//! first `0xFF`, which UTF-8 text never holds): each read with the stream's
//! dialog memo must be exactly what a fresh parse reads, errors included, and
//! so must the second one read again (the memo then has its content).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_finesse::{DialogMemo, parse_item, parse_item_with};

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&c| c == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, data),
    };
    let (Ok(a), Ok(b)) = (std::str::from_utf8(a), std::str::from_utf8(b)) else {
        return;
    };
    let mut memo = DialogMemo::default();
    for doc in [a, b, b] {
        let fresh = parse_item(doc, None, None, None);
        let with = parse_item_with(&mut memo, doc, None, None, None);
        assert_eq!(with.as_ref().ok(), fresh.as_ref().ok());
        assert_eq!(with.is_err(), fresh.is_err());
    }
});
