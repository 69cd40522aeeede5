//! Lost and duplicated events from the per-stream offsets one client saw.
//!
//! Every event frame of a stream carries the next offset of that stream
//! (docs/protocol.md §4): after the position a client starts from (the
//! offset its snapshot was stamped with, or 0 for a NATS subject the
//! publisher numbers from 1), each live event must carry exactly the next
//! offset. A jump forward counts the skipped offsets as lost, an offset at
//! or below the position counts as a duplicate. Events that never arrived at
//! the end of a run are found by [`StreamOffsets::tail_lost`], against the
//! last offset the stream reached (the highest any client saw).

use super::key::ShortKey;

/// What one received offset says about its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetCheck {
    /// The next offset, as expected.
    Next,
    /// At or below the position: an event seen before.
    Duplicate,
    /// Beyond the next offset: this many events were skipped.
    Gap(u64),
    /// The first event of a stream without a known start: taken as the start.
    Unanchored,
}

/// The position of each stream one client reads, and the counts so far.
///
/// A client reads one or two streams, so they are kept in a small vector,
/// found by [`ShortKey`] when the name is short (they all are).
#[derive(Debug, Default, Clone)]
pub struct StreamOffsets {
    streams: Vec<Stream>,
    /// Events received with the expected next offset.
    pub in_order: u64,
    /// Offsets skipped (events lost) so far.
    pub lost: u64,
    /// Events received again.
    pub duplicated: u64,
    /// Streams whose first event came without a start position.
    pub unanchored: u64,
}

impl StreamOffsets {
    /// A client with no stream yet.
    pub fn new() -> StreamOffsets {
        StreamOffsets::default()
    }

    fn slot(&mut self, stream: &str) -> Option<&mut u64> {
        let key = ShortKey::of(stream);
        self.streams
            .iter_mut()
            .find(|s| s.is(key, stream))
            .map(|s| &mut s.position)
    }

    /// Sets the position of `stream` (a snapshot stamped with `offset`, or the
    /// known start of a subject); live events must follow from `offset + 1`.
    pub fn start(&mut self, stream: &str, offset: u64) {
        match self.slot(stream) {
            Some(pos) => *pos = offset,
            None => self.streams.push(Stream::new(stream, offset)),
        }
    }

    /// Accounts for one live event of `stream` carrying `offset`.
    pub fn event(&mut self, stream: &str, offset: u64) -> OffsetCheck {
        let Some(pos) = self.slot(stream) else {
            self.streams.push(Stream::new(stream, offset));
            self.unanchored += 1;
            return OffsetCheck::Unanchored;
        };
        let check = if offset == *pos + 1 {
            *pos = offset;
            OffsetCheck::Next
        } else if offset <= *pos {
            OffsetCheck::Duplicate
        } else {
            let skipped = offset - *pos - 1;
            *pos = offset;
            OffsetCheck::Gap(skipped)
        };
        match check {
            OffsetCheck::Next => self.in_order += 1,
            OffsetCheck::Duplicate => self.duplicated += 1,
            OffsetCheck::Gap(n) => {
                self.in_order += 1;
                self.lost += n;
            }
            OffsetCheck::Unanchored => {}
        }
        check
    }

    /// The position of `stream` (the last offset received or started from).
    pub fn position(&self, stream: &str) -> Option<u64> {
        let key = ShortKey::of(stream);
        self.streams
            .iter()
            .find(|s| s.is(key, stream))
            .map(|s| s.position)
    }

    /// Each stream and its position.
    pub fn positions(&self) -> impl Iterator<Item = (&str, u64)> {
        self.streams.iter().map(|s| (&*s.name, s.position))
    }

    /// Events missing at the end: for each stream, how far this client's
    /// position is behind `last(stream)`, the offset the stream reached.
    pub fn tail_lost(&self, last: impl Fn(&str) -> Option<u64>) -> u64 {
        self.positions()
            .map(|(s, o)| last(s).map_or(0, |l| l.saturating_sub(o)))
            .sum()
    }
}

/// One stream a client reads, and its position.
#[derive(Debug, Clone)]
struct Stream {
    name: Box<str>,
    key: Option<ShortKey>,
    position: u64,
}

impl Stream {
    fn new(name: &str, position: u64) -> Stream {
        Stream {
            name: name.into(),
            key: ShortKey::of(name),
            position,
        }
    }

    /// Whether this is the stream `name`, whose key is `key`.
    #[inline]
    fn is(&self, key: Option<ShortKey>, name: &str) -> bool {
        match (self.key, key) {
            (Some(a), Some(b)) => a == b,
            (None, None) => *self.name == *name,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_after_the_snapshot() {
        let mut s = StreamOffsets::new();
        s.start("all", 41);
        assert_eq!(s.event("all", 42), OffsetCheck::Next);
        assert_eq!(s.event("all", 43), OffsetCheck::Next);
        assert_eq!((s.in_order, s.lost, s.duplicated), (2, 0, 0));
        assert_eq!(s.position("all"), Some(43));
    }
}
