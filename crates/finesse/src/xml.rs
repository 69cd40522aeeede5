//! The XML reading cursor and writer shared by every Finesse noun.
//!
//! Finesse documents are parsed by name, never by position: elements come in
//! any order, unknown elements are skipped, and element names are matched
//! without regard to case (`<User>` and `<user>`, `ApiError` and `apiError`)
//! or namespace prefix. The cursor is a thin layer over `quick_xml`'s
//! zero-copy slice reader; nothing here recurses on input, so a hostile
//! document cannot exhaust the stack.

use std::borrow::Cow;

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::Error;

/// Longest element name this crate knows; longer names are never matched.
const NAME_CAP: usize = 40;

/// An element's local name, lower-cased, for matching.
pub(crate) struct Name {
    buf: [u8; NAME_CAP],
    len: usize,
}

impl Name {
    fn of(start: &BytesStart<'_>) -> Name {
        let local = start.local_name();
        let raw = local.as_ref();
        let mut name = Name {
            buf: [0; NAME_CAP],
            len: 0,
        };
        if raw.len() <= NAME_CAP {
            for (dst, src) in name.buf.iter_mut().zip(raw) {
                *dst = src.to_ascii_lowercase();
            }
            name.len = raw.len();
        }
        name
    }

    /// The lower-cased local name (empty if it is longer than any known name).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// An element the cursor stands on: its start tag, and whether it is `<x/>`.
pub(crate) struct Elem<'a> {
    start: BytesStart<'a>,
    empty: bool,
}

impl<'a> Elem<'a> {
    /// The lower-cased local name.
    pub(crate) fn name(&self) -> Name {
        Name::of(&self.start)
    }

    /// The element's name as written, for messages.
    pub(crate) fn raw_name(&self) -> String {
        String::from_utf8_lossy(self.start.local_name().as_ref()).into_owned()
    }

    /// The value of attribute `key` (local name, case-insensitive), unescaped.
    pub(crate) fn attr(&self, key: &str) -> Option<String> {
        // Without the duplicate check (it allocates per element): the first
        // attribute of that name is taken either way.
        let mut attributes = self.start.attributes();
        attributes.with_checks(false);
        attributes.flatten().find_map(|a| {
            if a.key
                .local_name()
                .as_ref()
                .eq_ignore_ascii_case(key.as_bytes())
            {
                match &a.value {
                    // Nothing to normalize (no entity, no tab or line end):
                    // the value as written, which is what `normalized_value`
                    // returns for it (a unit test checks both ways).
                    Cow::Borrowed(raw)
                        if !raw
                            .iter()
                            .any(|b| matches!(b, b'&' | b'\t' | b'\r' | b'\n')) =>
                    {
                        std::str::from_utf8(raw).ok().map(str::to_owned)
                    }
                    _ => a
                        .normalized_value(XmlVersion::Implicit1_0)
                        .ok()
                        .map(Cow::into_owned),
                }
            } else {
                None
            }
        })
    }
}

/// A pull cursor over one XML document.
pub(crate) struct XmlReader<'a> {
    inner: Reader<&'a [u8]>,
    /// The whole document (the reader's input), for slicing escaped text out.
    src: &'a str,
}

impl<'a> XmlReader<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        let mut inner = Reader::from_str(src);
        let config = inner.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        XmlReader { inner, src }
    }

    /// An error reported by the XML reader, at the position it reports.
    fn error(&self, err: impl std::fmt::Display) -> Error {
        Error::Xml {
            position: self.inner.error_position(),
            message: err.to_string(),
        }
    }

    /// An error found by this cursor, at the current position.
    fn here(&self, message: impl std::fmt::Display) -> Error {
        Error::Xml {
            position: self.position() as u64,
            message: message.to_string(),
        }
    }

    /// Where the reader is in the document: just after the last event.
    pub(crate) fn position(&self) -> usize {
        usize::try_from(self.inner.buffer_position()).unwrap_or(usize::MAX)
    }

    #[inline(always)]
    fn next(&mut self) -> Result<Event<'a>, Error> {
        let event = self.inner.read_event().map_err(|e| self.error(e))?;
        if let Event::Start(start) | Event::Empty(start) = &event {
            // quick-xml takes everything up to whitespace or `>` as the name;
            // check it is an XML name (ASCII part of the rules: letters, digits,
            // `_ - .`, at most one `:` between a prefix and a local name).
            let name = start.name();
            if !is_xml_name(name.as_ref()) {
                return Err(self.here(format_args!(
                    "invalid element name <{}>",
                    String::from_utf8_lossy(name.as_ref()).escape_debug()
                )));
            }
        }
        Ok(event)
    }

    /// Moves to the root element, skipping the prolog.
    pub(crate) fn root(&mut self) -> Result<Elem<'a>, Error> {
        loop {
            match self.next()? {
                Event::Start(start) => {
                    return Ok(Elem {
                        start,
                        empty: false,
                    });
                }
                Event::Empty(start) => return Ok(Elem { start, empty: true }),
                Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
                Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                    return Err(self.here("text before the root element"));
                }
                Event::Eof => return Err(Error::NoRoot),
                Event::End(_) => return Err(self.here("closing tag before any root element")),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            }
        }
    }

    /// The next child element of `parent`, or `None` once `parent` is closed.
    ///
    /// The caller must consume each child it gets (with [`text`](Self::text),
    /// [`skip`](Self::skip) or a nested parse) before asking for the next.
    pub(crate) fn child(&mut self, parent: &Elem<'a>) -> Result<Option<Elem<'a>>, Error> {
        if parent.empty {
            return Ok(None);
        }
        loop {
            match self.next()? {
                Event::Start(start) => {
                    return Ok(Some(Elem {
                        start,
                        empty: false,
                    }));
                }
                Event::Empty(start) => return Ok(Some(Elem { start, empty: true })),
                Event::End(_) => return Ok(None),
                Event::Eof => {
                    return Err(
                        self.here(format_args!("document ends inside <{}>", parent.raw_name()))
                    );
                }
                // Mixed content and markup declarations carry nothing we read.
                _ => {}
            }
        }
    }

    /// The text of `event` as a slice of the document: the reader's events
    /// borrow the input, which is a `&str`, so no second UTF-8 check is
    /// needed. Falls back to decoding if the bytes are not part of the input.
    fn borrowed(&self, raw: &'a [u8]) -> Option<&'a str> {
        let src: &'a str = self.src;
        let offset = (raw.as_ptr() as usize).checked_sub(src.as_ptr() as usize)?;
        src.get(offset..offset.checked_add(raw.len())?)
    }

    /// The text content of `el`, entities resolved; child elements are skipped.
    /// Borrowed from the document when it is one run of plain text (the usual case).
    pub(crate) fn text_cow(&mut self, el: &Elem<'a>) -> Result<Cow<'a, str>, Error> {
        fn append<'a>(out: &mut Cow<'a, str>, s: Cow<'a, str>) {
            if out.is_empty() {
                *out = s;
            } else {
                out.to_mut().push_str(&s);
            }
        }
        let mut out = Cow::Borrowed("");
        if el.empty {
            return Ok(out);
        }
        loop {
            match self.next()? {
                Event::Text(t) => {
                    let s = match t.into_inner() {
                        Cow::Borrowed(raw) => match self.borrowed(raw) {
                            Some(s) => Cow::Borrowed(s),
                            None => Cow::Owned(
                                std::str::from_utf8(raw)
                                    .map_err(|e| self.error(e))?
                                    .to_owned(),
                            ),
                        },
                        Cow::Owned(raw) => {
                            Cow::Owned(String::from_utf8(raw).map_err(|e| self.error(e))?)
                        }
                    };
                    append(&mut out, s);
                }
                Event::CData(c) => {
                    let s = c.decode().map_err(|e| self.error(e))?.into_owned();
                    append(&mut out, Cow::Owned(s));
                }
                Event::GeneralRef(r) => {
                    if let Some(ch) = r.resolve_char_ref().map_err(|e| self.error(e))? {
                        out.to_mut().push(ch);
                    } else {
                        let name = r.decode().map_err(|e| self.error(e))?;
                        match resolve_predefined_entity(&name) {
                            Some(s) => out.to_mut().push_str(s),
                            None => return Err(self.here(format_args!("unknown entity &{name};"))),
                        }
                    }
                }
                Event::Start(start) => {
                    self.inner
                        .read_to_end(start.name())
                        .map_err(|e| self.error(e))?;
                }
                Event::End(_) => return Ok(out),
                Event::Eof => {
                    return Err(self.here(format_args!("document ends inside <{}>", el.raw_name())));
                }
                _ => {}
            }
        }
    }

    /// The text content of `el`, entities resolved; child elements are skipped.
    pub(crate) fn text(&mut self, el: &Elem<'a>) -> Result<String, Error> {
        Ok(self.text_cow(el)?.into_owned())
    }

    /// The trimmed text of `el`, borrowed from the document when possible
    /// (for values that are matched, not kept: states, events).
    pub(crate) fn trimmed_cow(&mut self, el: &Elem<'a>) -> Result<Cow<'a, str>, Error> {
        Ok(match self.text_cow(el)? {
            Cow::Borrowed(s) => Cow::Borrowed(trim(s)),
            Cow::Owned(s) if trim(&s).len() == s.len() => Cow::Owned(s),
            Cow::Owned(s) => Cow::Owned(trim(&s).to_owned()),
        })
    }

    /// The trimmed text of `el`.
    pub(crate) fn trimmed(&mut self, el: &Elem<'a>) -> Result<String, Error> {
        Ok(self.trimmed_cow(el)?.into_owned())
    }

    /// The trimmed text of `el`, `None` when empty.
    pub(crate) fn opt(&mut self, el: &Elem<'a>) -> Result<Option<String>, Error> {
        let s = self.trimmed_cow(el)?;
        Ok(if s.is_empty() {
            None
        } else {
            Some(s.into_owned())
        })
    }

    /// Skips `el` and everything in it.
    pub(crate) fn skip(&mut self, el: &Elem<'a>) -> Result<(), Error> {
        if !el.empty {
            self.inner
                .read_to_end(el.start.name())
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// The content of `el` as a string: escaped text is unescaped, CDATA is
    /// unwrapped, and element content is returned as its raw markup.
    ///
    /// This is how the `<Update>` is taken out of a pubsub `<notification>`.
    /// Escaped text cannot contain `<`, so its end is found with one scan
    /// instead of one reader event per entity; the reader then continues
    /// after `</notification>` on the rest of the document.
    pub(crate) fn content(&mut self, el: &Elem<'a>) -> Result<Cow<'a, str>, Error> {
        if el.empty {
            return Ok(Cow::Borrowed(""));
        }
        let start = self.position();
        let rest = self.src.get(start..).unwrap_or("");
        let Some(lt) = memchr::memchr(b'<', rest.as_bytes()) else {
            return Err(self.here(format_args!("document ends inside <{}>", el.raw_name())));
        };
        if !rest[lt..].starts_with("</") {
            // CDATA or inline elements: let the reader find the matching end.
            let text = self
                .inner
                .read_text(el.start.name())
                .map_err(|e| self.error(e))?;
            let raw = text.decode().map_err(|e| self.error(e))?;
            let trimmed = raw.trim();
            return Ok(
                match trimmed
                    .strip_prefix("<![CDATA[")
                    .and_then(|c| c.strip_suffix("]]>"))
                {
                    Some(c) => Cow::Owned(c.to_owned()),
                    None => raw,
                },
            );
        }
        // `</name>` must close `el`.
        let close = &rest[lt + 2..];
        let gt = close
            .find('>')
            .ok_or_else(|| self.here("unterminated closing tag"))?;
        let name = close[..gt].trim_end();
        if name.as_bytes() != el.start.name().as_ref() {
            return Err(Error::Xml {
                position: (start + lt) as u64,
                message: format!(
                    "expected </{}>, found </{name}>",
                    String::from_utf8_lossy(el.start.name().as_ref())
                ),
            });
        }
        let after = start + lt + 2 + gt + 1;
        let text = unescape(&rest[..lt]).map_err(|message| Error::Xml {
            position: start as u64,
            message,
        })?;
        // Continue on the rest of the document. The enclosing start tags were
        // read by the old reader, so their end tags come unmatched here.
        let tail = self.src.get(after..).unwrap_or("");
        let mut inner = Reader::from_str(tail);
        inner.config_mut().allow_unmatched_ends = true;
        self.inner = inner;
        self.src = tail;
        Ok(text)
    }

    /// Checks that nothing but whitespace, comments and processing
    /// instructions follows the root element.
    pub(crate) fn finish(&mut self) -> Result<(), Error> {
        loop {
            match self.next()? {
                Event::Eof => return Ok(()),
                Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
                Event::Comment(_) | Event::PI(_) => {}
                _ => return Err(self.here("content after the root element")),
            }
        }
    }
}

/// Builds XML text; every value written through it is escaped.
#[derive(Debug, Default)]
pub(crate) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    pub(crate) fn with_capacity(n: usize) -> Self {
        XmlWriter {
            out: String::with_capacity(n),
        }
    }

    pub(crate) fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    pub(crate) fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>value</name>`, always written (empty value gives `<name></name>`).
    pub(crate) fn leaf(&mut self, name: &str, value: &str) {
        self.open(name);
        self.out.push_str(&escape(value));
        self.close(name);
    }

    /// `<name>value</name>` when `value` is `Some`.
    pub(crate) fn leaf_opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.leaf(name, v);
        }
    }

    /// `<name xmlns='ns'>value</name>`.
    pub(crate) fn leaf_ns(&mut self, name: &str, ns: &str, value: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns='");
        self.attr_value(ns);
        self.out.push_str("'>");
        self.out.push_str(&escape(value));
        self.close(name);
    }

    /// Markup written as is (callers pass constants only).
    pub(crate) fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    /// An attribute value, escaped (quotes included).
    pub(crate) fn attr_value(&mut self, value: &str) {
        self.out.push_str(&escape(value));
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// `str::trim`, without its scan for Unicode white space when the text
/// begins and ends with visible ASCII (almost every field value), where
/// there is nothing to trim.
fn trim(s: &str) -> &str {
    let visible = |b: &u8| (0x21..0x7f).contains(b);
    let bytes = s.as_bytes();
    if bytes.first().is_some_and(visible) && bytes.last().is_some_and(visible) {
        s
    } else {
        s.trim()
    }
}

/// [`NAME_CLASS`] bit: may start a name part (letter, `_`, non-ASCII).
const NAME_START: u8 = 1;
/// [`NAME_CLASS`] bit: may continue a name part (letters, digits, `_ - .`, non-ASCII).
const NAME_CHAR: u8 = 2;

/// The class of every byte in element names, looked up once per byte.
static NAME_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            t[b] = NAME_START | NAME_CHAR;
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            t[b] = NAME_CHAR;
        }
        b += 1;
    }
    t
};

/// True for an XML element name: a name start character (letter, `_`, or any
/// non-ASCII character) followed by letters, digits, `_ - .` or non-ASCII
/// characters, with at most one `:` separating two such names.
fn is_xml_name(name: &[u8]) -> bool {
    let starts = |p: &[u8]| {
        p.first()
            .is_some_and(|&b| NAME_CLASS[usize::from(b)] & NAME_START != 0)
    };
    // One table lookup per byte up to the first byte that is not a name
    // byte; only a `:` may be there, followed by a second name part.
    match name
        .iter()
        .position(|&b| NAME_CLASS[usize::from(b)] & NAME_CHAR == 0)
    {
        None => starts(name),
        Some(i) if name[i] == b':' => {
            let local = &name[i + 1..];
            starts(&name[..i])
                && starts(local)
                && local
                    .iter()
                    .all(|&b| NAME_CLASS[usize::from(b)] & NAME_CHAR != 0)
        }
        Some(_) => false,
    }
}

/// Resolves the entities of escaped XML text. The five predefined entities
/// (all a Finesse payload uses) are resolved in one pass; anything else
/// (character references) goes to `quick_xml::escape::unescape`.
///
/// Escaped markup has an entity every few bytes (a golden payload: 424 in
/// 4 KB), so the runs between them are short: they are copied eight bytes at
/// a time (a whole word is stored, then the bytes past the `&` it holds, if
/// any, are dropped), and the `&` is found in the word with a bit trick, not
/// with a call per run.
pub(crate) fn unescape(text: &str) -> Result<Cow<'_, str>, String> {
    /// The low bit of each byte set where the byte of `w` is `&` (exact for
    /// the lowest such byte, which is the only one used).
    fn amp_bits(w: u64) -> u64 {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let x = w ^ (ONES * u64::from(b'&'));
        x.wrapping_sub(ONES) & !x & (ONES << 7)
    }
    let bytes = text.as_bytes();
    let Some(first) = memchr::memchr(b'&', bytes) else {
        return Ok(Cow::Borrowed(text));
    };
    // Every entity is longer than the byte it stands for, so the output never
    // outgrows the input and the word stores below never reallocate.
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    // `i` is on an `&` at the top of the loop.
    let mut i = first;
    loop {
        let (len, b) = match &bytes[i + 1..] {
            [b'l', b't', b';', ..] => (4, b'<'),
            [b'g', b't', b';', ..] => (4, b'>'),
            [b'a', b'm', b'p', b';', ..] => (5, b'&'),
            [b'q', b'u', b'o', b't', b';', ..] => (6, b'"'),
            [b'a', b'p', b'o', b's', b';', ..] => (6, b'\''),
            _ => {
                return quick_xml::escape::unescape(text)
                    .map(|c| Cow::Owned(c.into_owned()))
                    .map_err(|e| format!("bad escape: {e}"));
            }
        };
        out.push(b);
        i += len;
        // Entities often follow each other (`&gt;&lt;` between tags).
        if bytes.get(i) == Some(&b'&') {
            continue;
        }
        // Copy the run up to the next `&`.
        loop {
            if let Some(word) = bytes.get(i..i + 8) {
                let word: &[u8; 8] = word.try_into().map_err(|_| "unreachable")?;
                let found = amp_bits(u64::from_le_bytes(*word));
                out.extend_from_slice(word);
                if found == 0 {
                    i += 8;
                    continue;
                }
                let k = (found.trailing_zeros() / 8) as usize;
                out.truncate(out.len() - 8 + k);
                i += k;
                break;
            }
            // Fewer than eight bytes left.
            let rest = &bytes[i..];
            match rest.iter().position(|&c| c == b'&') {
                Some(k) => {
                    out.extend_from_slice(&rest[..k]);
                    i += k;
                    break;
                }
                None => {
                    out.extend_from_slice(rest);
                    // Only ASCII entities were replaced by ASCII bytes in valid
                    // UTF-8, so this cannot fail.
                    return String::from_utf8(out)
                        .map(Cow::Owned)
                        .map_err(|e| e.to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{XmlReader, unescape};

    /// Attribute values: as written when there is nothing to normalize,
    /// quick-xml's normalized value otherwise (entities, tabs, line ends).
    #[test]
    fn attribute_values() {
        for (doc, want) in [
            ("<m from='a.b/c d'/>", Some("a.b/c d")),
            ("<m from=\"x\"/>", Some("x")),
            ("<m from=''/>", Some("")),
            ("<m from='a&amp;b &lt;&#233;'/>", Some("a&b <\u{e9}")),
            ("<m from='a\tb\r\nc\nd'/>", Some("a b c d")),
            ("<m From='x' from='y'/>", Some("x")),
            ("<m to='x'/>", None),
            ("<m from='a&bogus;b'/>", None),
            ("<m x:from='\u{e9}t\u{e9}'/>", Some("\u{e9}t\u{e9}")),
        ] {
            let mut r = XmlReader::new(doc);
            let root = r.root().expect("root");
            assert_eq!(root.attr("from").as_deref(), want, "{doc}");
        }
    }

    #[test]
    fn xml_names() {
        for ok in ["a", "Update", "x:y", "_a-b.c", "callKey1", "\u{e9}t\u{e9}"] {
            assert!(super::is_xml_name(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", "1a", "-a", ":a", "a:", "a:b:c", "a<b", "a\0", "a/b", "x:", "a b", "::::",
        ] {
            assert!(!super::is_xml_name(bad.as_bytes()), "{bad:?}");
        }
    }

    /// The rule as first written (one pass, a branch per kind of byte), to
    /// check the table-driven one against.
    fn is_xml_name_reference(name: &[u8]) -> bool {
        let mut at_start = true;
        let mut colon = false;
        for &b in name {
            let ok = if b == b':' {
                let first = !colon && !at_start;
                colon = true;
                at_start = true;
                first
            } else if at_start {
                at_start = false;
                b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
            } else {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') || b >= 0x80
            };
            if !ok {
                return false;
            }
        }
        !at_start
    }

    proptest::proptest! {
        #[test]
        fn trim_agrees_with_str_trim(s in "[ \t\n\r\u{b}\u{c}\u{85}\u{a0}\u{2028}\u{3000}a-z~!é]{0,6}") {
            proptest::prop_assert_eq!(super::trim(&s), s.trim());
        }

        #[test]
        fn xml_name_table_agrees_with_reference(
            name in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(b"aZ_-.:09 </>\x80\xff".to_vec()),
                    proptest::num::u8::ANY,
                ],
                0..8,
            )
        ) {
            proptest::prop_assert_eq!(super::is_xml_name(&name), is_xml_name_reference(&name));
        }
    }

    #[test]
    fn unescape_predefined_and_character_references() {
        assert_eq!(unescape("plain").as_deref(), Ok("plain"));
        assert_eq!(
            unescape("&lt;a b=&quot;1&quot; c=&apos;2&apos;&gt;x &amp; y&lt;/a&gt;").as_deref(),
            Ok("<a b=\"1\" c='2'>x & y</a>")
        );
        assert_eq!(
            unescape("caf&#233; &#x4e2d; &amp;").as_deref(),
            Ok("café 中 &")
        );
        assert!(unescape("a &bogus; b").is_err());
        assert!(unescape("a & b").is_err());
    }

    proptest::proptest! {
        /// The same result as quick-xml's unescape, on text dense in entities.
        #[test]
        fn unescape_agrees_with_quick_xml(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("&lt;".to_owned()),
                    proptest::strategy::Just("&gt;".to_owned()),
                    proptest::strategy::Just("&amp;".to_owned()),
                    proptest::strategy::Just("&quot;".to_owned()),
                    proptest::strategy::Just("&apos;".to_owned()),
                    proptest::strategy::Just("&#233;".to_owned()),
                    proptest::strategy::Just("&".to_owned()),
                    "[a-z;é ]{0,6}",
                    "[a-zé<>/ ]{7,19}",
                ],
                0..60,
            )
        ) {
            let text = parts.concat();
            let ours = unescape(&text).map(|c| c.into_owned()).ok();
            let theirs = quick_xml::escape::unescape(&text).map(|c| c.into_owned()).ok();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }
}
