//! JSON written by hand for the frames of the hot path (call events and
//! agent state events): keys and punctuation as constant bytes, string
//! values escaped as serde_json escapes them.
//!
//! This module owns that output. serde_json's map machinery escapes every
//! key, byte by byte, and writes each string in pieces through its escape
//! table; here a key is copied as is (the callers' keys are constants with
//! nothing to escape), and a value with nothing to escape (most of what
//! Finesse sends: ids, numbers, states, times) is copied as is after one
//! check over its bytes. Anything to escape goes to serde_json. The event
//! views in [`crate::event`] keep their `Serialize` impls as the reference;
//! property tests check that both write the same bytes.

/// Whether serde_json writes `s` with an escape: a quote, a backslash, or a
/// control character below U+0020. It escapes nothing else (not `/`, not
/// U+007F, not non-ASCII). Eight bytes at a time: each word is tested for a
/// byte below 0x20 and, after an exclusive or, for a zero byte (Bit Twiddling
/// Hacks' "determine if a word has a byte less than n", exact as a yes/no);
/// the last word overlaps the one before. Shorter strings byte by byte.
pub(crate) fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    fn any_below(x: u64, n: u64) -> bool {
        x.wrapping_sub(ONES * n) & !x & HIGHS != 0
    }
    fn word(x: u64) -> bool {
        any_below(x, 0x20) | any_below(x ^ QUOTES, 1) | any_below(x ^ BACKSLASHES, 1)
    }
    fn load(chunk: &[u8]) -> u64 {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(chunk);
        u64::from_ne_bytes(bytes)
    }
    if s.len() < 8 {
        return s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
    }
    let mut chunks = s.chunks_exact(8);
    if chunks.any(|chunk| word(load(chunk))) {
        return true;
    }
    !chunks.remainder().is_empty() && word(load(&s[s.len() - 8..]))
}

/// Writes `s` as a JSON string, exactly as serde_json writes it.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    if needs_escape(s.as_bytes()) {
        return serde_json::to_writer(&mut *out, s);
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

/// A JSON object being written: `{`, then `"key":value` pairs separated by
/// commas, then `}` from [`Object::close`].
pub(crate) struct Object<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl<'o> Object<'o> {
    /// Starts an object at the end of `out`.
    pub(crate) fn open(out: &'o mut Vec<u8>) -> Object<'o> {
        out.push(b'{');
        Object { out, empty: true }
    }

    /// Writes `"key":` (after a comma unless it is the first) and hands back
    /// the buffer, for the caller to write the value. `key` is written as is:
    /// it must have nothing to escape.
    pub(crate) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        debug_assert!(!needs_escape(key.as_bytes()), "key {key:?} needs escaping");
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.reserve(key.len() + 3);
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// `"key":` for any key, escaped as serde_json escapes map keys; hands
    /// back the buffer for the value.
    pub(crate) fn any_key(&mut self, key: &str) -> serde_json::Result<&mut Vec<u8>> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        string(self.out, key)?;
        self.out.push(b':');
        Ok(self.out)
    }

    /// `"key":"value"`.
    pub(crate) fn str(&mut self, key: &str, value: &str) -> serde_json::Result<()> {
        string(self.key(key), value)
    }

    /// `"key":"value"` if there is a value; nothing otherwise.
    pub(crate) fn opt(&mut self, key: &str, value: &Option<String>) -> serde_json::Result<()> {
        match value {
            Some(v) => self.str(key, v),
            None => Ok(()),
        }
    }

    /// `"key":` then `json`, which is JSON text already.
    pub(crate) fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key).extend_from_slice(json);
    }

    /// Ends the object.
    pub(crate) fn close(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every string, whatever it holds, comes out as serde_json writes it.
        #[test]
        fn strings_are_what_serde_json_writes(
            s in prop_oneof![
                "[a-zA-Z0-9 :._-]{0,40}",
                "[a-z\"\\\\/\u{0}-\u{1f}\u{7f}\u{80}é中😀 ]{0,40}",
                any::<String>(),
            ],
        ) {
            let mut out = b"x".to_vec();
            string(&mut out, &s).expect("writes");
            let reference = serde_json::to_string(&s).expect("serializes");
            prop_assert_eq!(&out[1..], reference.as_bytes());
        }
    }

    #[test]
    fn each_byte_serde_json_escapes_is_found_in_each_place() {
        for b in 0..=u8::MAX {
            for len in 1..20 {
                for at in 0..len {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    let Ok(text) = std::str::from_utf8(&s) else {
                        continue;
                    };
                    let escaped = serde_json::to_string(text).expect("serializes");
                    assert_eq!(
                        needs_escape(&s),
                        escaped.len() != text.len() + 2,
                        "byte {b:#04x} at {at} of {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn objects_put_commas_between_entries_only() {
        let mut out = Vec::new();
        let mut o = Object::open(&mut out);
        o.opt("absent", &None).expect("writes");
        o.str("a", "1").expect("writes");
        o.opt("b", &Some("q\"".into())).expect("writes");
        let mut inner = Object::open(o.key("c"));
        inner.raw("d", b"[]");
        inner.close();
        o.close();
        assert_eq!(out, br#"{"a":"1","b":"q\"","c":{"d":[]}}"#);
    }
}
