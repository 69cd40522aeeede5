//! [`Wire`]: one server-to-client WebSocket text frame, framed once.
//!
//! A server's frames are not masked (RFC 6455 §5.1), so the bytes a frame
//! takes on the wire are the same for every client. The hub frames each
//! event once, header and payload in one shared buffer; every subscriber's
//! queue holds a reference to it and the connection writes those bytes to the
//! socket as they are (no per-client framing, copy or UTF-8 check).

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{Data, OpCode};

/// A text frame: the RFC 6455 header (unmasked, final) and the JSON text in
/// one reference-counted buffer.
///
/// The buffer is only ever filled from `&str`s, so the payload is UTF-8: it is
/// not checked when the frame is built (the hub builds one per event and
/// stream), only when the text is read back ([`Wire::as_str`]; replays, tests).
#[derive(Clone, PartialEq, Eq)]
pub struct Wire {
    /// Header + payload.
    frame: Bytes,
    /// Where the payload starts in `frame`.
    header_len: usize,
}

impl Wire {
    /// Frames `text`.
    pub fn new(text: &str) -> Wire {
        Wire::concat(&[text])
    }

    /// Frames the concatenation of `parts`: one allocation and one copy of
    /// each part, header included.
    pub(crate) fn concat(parts: &[&str]) -> Wire {
        let header = FrameHeader {
            opcode: OpCode::Data(Data::Text),
            ..FrameHeader::default()
        };
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let length = len as u64;
        let header_len = header.len(length);
        let mut buf = Vec::with_capacity(header_len + len);
        // Formatting into a Vec cannot fail.
        let _ = header.format(length, &mut buf);
        for part in parts {
            buf.extend_from_slice(part.as_bytes());
        }
        Wire {
            frame: Bytes::from(buf),
            header_len,
        }
    }

    /// A frame of static text.
    pub fn from_static(text: &'static str) -> Wire {
        Wire::new(text)
    }

    /// The JSON text (checked as UTF-8 on each call; it always is).
    pub fn as_str(&self) -> &str {
        self.frame
            .get(self.header_len..)
            .and_then(|payload| std::str::from_utf8(payload).ok())
            .unwrap_or_default()
    }

    /// The bytes to write to the socket: header and payload.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }

    /// Bytes on the wire (header included): what queues are bounded by.
    pub fn wire_len(&self) -> usize {
        self.frame.len()
    }

    /// Bytes of the JSON text (without the header).
    pub fn text_len(&self) -> usize {
        self.frame.len() - self.header_len
    }
}

/// The text of one complete, unmasked text frame as [`Wire::frame`] lays it
/// out (for tests and tools reading queued bytes back); `None` for anything
/// else.
pub fn text_of(frame: &[u8]) -> Option<&str> {
    let mut cursor = std::io::Cursor::new(frame);
    let (header, len) = FrameHeader::parse(&mut cursor).ok()??;
    let start = cursor.position() as usize;
    if header.opcode != OpCode::Data(Data::Text) || header.mask.is_some() {
        return None;
    }
    let payload = frame.get(start..start.checked_add(usize::try_from(len).ok()?)?)?;
    std::str::from_utf8(payload).ok()
}

impl Deref for Wire {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Wire {
    fn from(text: String) -> Wire {
        Wire::new(&text)
    }
}

impl From<&str> for Wire {
    fn from(text: &str) -> Wire {
        Wire::new(text)
    }
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parsed(w: &Wire) -> (FrameHeader, u64, usize) {
        let mut cursor = Cursor::new(w.frame().as_ref());
        let (header, len) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
        (header, len, cursor.position() as usize)
    }

    #[test]
    fn frames_parse_back_with_each_length_encoding() {
        // 7-bit, 16-bit and 64-bit payload lengths.
        for n in [0, 1, 125, 126, 65_535, 65_536, 70_000] {
            let text = "é".repeat(n / 2) + &"x".repeat(n % 2);
            let w = Wire::from(text.clone());
            let (header, len, at) = parsed(&w);
            assert!(header.is_final);
            assert_eq!(header.opcode, OpCode::Data(Data::Text));
            assert_eq!(header.mask, None);
            assert_eq!(len as usize, text.len());
            assert_eq!(&w.frame()[at..], text.as_bytes());
            assert_eq!(w.as_str(), text);
            assert_eq!(w.wire_len(), at + text.len());
            assert_eq!(text_of(w.frame()), Some(text.as_str()));
        }
    }

    #[test]
    fn the_text_shares_the_frames_buffer() {
        let w = Wire::from("{\"a\":1}");
        let frame_end = w.frame().as_ptr() as usize + w.frame().len();
        let text_end = w.as_str().as_ptr() as usize + w.as_str().len();
        assert_eq!(frame_end, text_end);
    }
}
