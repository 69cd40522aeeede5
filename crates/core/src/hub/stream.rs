//! One event stream: its epoch, its last offset and the bounded history of its
//! recent frames, which is what a reconnecting client resumes from.
//!
//! Offsets start at 1 and grow by one per event. The epoch is a new random-ish
//! string whenever a stream is created (process start, or the stream was
//! dropped after being idle), so a position from an older epoch is never
//! mistaken for one of this history.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchboard_protocol::{StreamPosition, Topic};

use super::Wire;

/// How much history each stream keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// At most this many events per stream.
    pub size: usize,
    /// Events older than this are dropped.
    pub ttl: Duration,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits {
            size: 300,
            ttl: Duration::from_secs(300),
        }
    }
}

/// A new epoch: the process's start time and a counter, in hex; unique across
/// restarts and across streams.
pub(crate) fn new_epoch() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0)
    });
    format!("{start:x}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// One stream's position and history.
#[derive(Debug)]
pub(crate) struct Stream {
    epoch: String,
    offset: u64,
    /// `(offset, appended at, frame)`, oldest first, offsets consecutive.
    history: VecDeque<(u64, Instant, Wire)>,
    /// Bytes held by `history`.
    bytes: usize,
}

impl Stream {
    pub(crate) fn new() -> Stream {
        Stream {
            epoch: new_epoch(),
            offset: 0,
            history: VecDeque::new(),
            bytes: 0,
        }
    }

    pub(crate) fn epoch(&self) -> &str {
        &self.epoch
    }

    /// The offset of the last event (0 before the first).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    /// Takes the next offset; the caller stamps the frame with it and then
    /// [`Stream::record`]s it.
    pub(crate) fn next_offset(&mut self) -> u64 {
        self.offset += 1;
        self.offset
    }

    /// Keeps `frame` (stamped with the offset just taken) in the history.
    pub(crate) fn record(&mut self, offset: u64, frame: Wire, now: Instant, limits: HistoryLimits) {
        if limits.size == 0 {
            return;
        }
        self.bytes += frame.text_len();
        self.history.push_back((offset, now, frame));
        while self.history.len() > limits.size {
            self.pop();
        }
        self.expire(now, limits.ttl);
    }

    fn pop(&mut self) {
        if let Some((_, _, f)) = self.history.pop_front() {
            self.bytes -= f.text_len();
        }
    }

    /// Drops events older than `ttl`.
    pub(crate) fn expire(&mut self, now: Instant, ttl: Duration) {
        while let Some((_, at, _)) = self.history.front() {
            if now.saturating_duration_since(*at) > ttl {
                self.pop();
            } else {
                break;
            }
        }
    }

    /// The frames after `since`, if the history still holds every one of them
    /// in this epoch; `None` when the client must take a snapshot instead.
    pub(crate) fn since(&self, since: &StreamPosition) -> Option<Vec<Wire>> {
        if since.epoch != self.epoch || since.offset > self.offset {
            return None;
        }
        if since.offset == self.offset {
            return Some(Vec::new());
        }
        let first = self.history.front()?.0;
        if since.offset + 1 < first {
            return None;
        }
        let skip = (since.offset + 1 - first) as usize;
        Some(
            self.history
                .iter()
                .skip(skip)
                .map(|(_, _, f)| f.clone())
                .collect(),
        )
    }
}

/// Appends `,"stream":..,"offset":..,"epoch":..` to an event frame (a JSON
/// object), once per stream: every subscriber of that stream shares the result.
/// The frame is written in one piece (one allocation, one copy of the event).
pub fn stamp(event_json: &str, stream: &Topic, offset: u64, epoch: &str) -> Wire {
    let body = event_json.trim_end();
    let body = body.strip_suffix('}').unwrap_or(body);
    // Topics are `[a-z]+/[A-Za-z0-9._-]+` or `all`, epochs hex and '-': no
    // escaping needed.
    let mut digits = itoa::Buffer::new();
    let (kind, slash, id) = match stream.id() {
        Some(id) => (stream.kind(), "/", id),
        None => (stream.kind(), "", ""),
    };
    Wire::concat(&[
        body,
        r#","stream":""#,
        kind,
        slash,
        id,
        r#"","offset":"#,
        digits.format(offset),
        r#","epoch":""#,
        epoch,
        r#""}"#,
    ])
}

/// The same frame with `data.source` replaced (`"replay"` for resumed events).
/// Every event frame starts `{"channel":..,"topic":..,"subtopic":..,"data":{"source":"..."`.
pub fn with_source(frame: &str, source: &str) -> Wire {
    const KEY: &str = r#""data":{"source":""#;
    let Some(start) = frame.find(KEY).map(|i| i + KEY.len()) else {
        return Wire::from(frame);
    };
    let Some(len) = frame[start..].find('"') else {
        return Wire::from(frame);
    };
    Wire::concat(&[&frame[..start], source, &frame[start + len..]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(size: usize) -> HistoryLimits {
        HistoryLimits {
            size,
            ttl: Duration::from_secs(60),
        }
    }

    fn filled(n: u64, size: usize) -> Stream {
        let mut s = Stream::new();
        let now = Instant::now();
        for _ in 0..n {
            let o = s.next_offset();
            s.record(o, Wire::from(o.to_string()), now, limits(size));
        }
        s
    }

    fn pos(s: &Stream, offset: u64) -> StreamPosition {
        StreamPosition {
            offset,
            epoch: s.epoch().to_owned(),
        }
    }

    #[test]
    fn replays_exactly_the_missed_events() {
        let s = filled(100, 60);
        let got = s.since(&pos(&s, 50)).unwrap();
        let offsets: Vec<String> = got.iter().map(|b| b.as_str().to_owned()).collect();
        assert_eq!(offsets.first().map(String::as_str), Some("51"));
        assert_eq!(offsets.last().map(String::as_str), Some("100"));
        assert_eq!(offsets.len(), 50);
        assert_eq!(s.since(&pos(&s, 100)).unwrap().len(), 0);
    }

    #[test]
    fn beyond_the_history_or_another_epoch_is_a_gap() {
        let s = filled(100, 60);
        assert!(s.since(&pos(&s, 39)).is_none(), "41..100 kept; 40 lost");
        assert_eq!(s.since(&pos(&s, 40)).unwrap().len(), 60);
        assert!(s.since(&pos(&s, 101)).is_none());
        let other = StreamPosition {
            offset: 99,
            epoch: "other".into(),
        };
        assert!(s.since(&other).is_none());
    }

    #[test]
    fn epochs_differ() {
        assert_ne!(Stream::new().epoch(), Stream::new().epoch());
    }

    #[test]
    fn expired_events_are_dropped() {
        let mut s = Stream::new();
        let t0 = Instant::now();
        let l = HistoryLimits {
            size: 10,
            ttl: Duration::from_secs(5),
        };
        let o = s.next_offset();
        s.record(o, Wire::from_static("a"), t0, l);
        let o = s.next_offset();
        s.record(o, Wire::from_static("b"), t0 + Duration::from_secs(10), l);
        assert!(s.since(&pos(&s, 0)).is_none());
        assert_eq!(s.since(&pos(&s, 1)).unwrap().len(), 1);
        assert_eq!(s.bytes(), 1);
    }

    #[test]
    fn stamp_and_source() {
        let json = r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetAgentState","data":{"source":"event","state":"READY"}}"#;
        let framed = stamp(json, &Topic::Agent("1001001".into()), 42, "e1");
        let v: serde_json::Value = serde_json::from_str(&framed).unwrap();
        assert_eq!(v["stream"], "agent/1001001");
        assert_eq!(v["offset"], 42);
        assert_eq!(v["epoch"], "e1");
        let replay = with_source(&framed, "replay");
        let v: serde_json::Value = serde_json::from_str(&replay).unwrap();
        assert_eq!(v["data"]["source"], "replay");
        assert_eq!(v["data"]["state"], "READY");
        assert_eq!(v["offset"], 42);
    }
}
