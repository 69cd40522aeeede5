//! The broker of a single process: each topic's stream (its epoch, its last
//! offset and the bounded history of its recent frames, which is what a
//! reconnecting client resumes from) in memory.
//!
//! Offsets start at 1 and grow by one per event. The epoch is a new random-ish
//! string whenever a stream is created (process start, or the stream was
//! dropped after being idle), so a position from an older epoch is never
//! mistaken for one of this history.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dashmap::DashMap;
use switchboard_protocol::{StreamPosition, Topic};

use super::Wire;
use super::broker::{Broker, Gap, Published, stamp};

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
struct Stream {
    epoch: String,
    offset: u64,
    /// `(offset, appended at, frame)`, oldest first, offsets consecutive.
    history: VecDeque<(u64, Instant, Wire)>,
    /// Bytes held by `history`.
    bytes: usize,
}

impl Stream {
    fn new() -> Stream {
        Stream {
            epoch: new_epoch(),
            offset: 0,
            history: VecDeque::new(),
            bytes: 0,
        }
    }

    fn epoch(&self) -> &str {
        &self.epoch
    }

    /// The offset of the last event (0 before the first).
    fn offset(&self) -> u64 {
        self.offset
    }

    fn bytes(&self) -> usize {
        self.bytes
    }

    fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    /// Takes the next offset; the caller stamps the frame with it and then
    /// [`Stream::record`]s it.
    fn next_offset(&mut self) -> u64 {
        self.offset += 1;
        self.offset
    }

    /// Keeps `frame` (stamped with the offset just taken) in the history.
    fn record(&mut self, offset: u64, frame: Wire, now: Instant, limits: HistoryLimits) {
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
    fn expire(&mut self, now: Instant, ttl: Duration) {
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
    fn since(&self, since: &StreamPosition) -> Option<Vec<Wire>> {
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

/// The streams of a single process, in memory.
#[derive(Debug, Default)]
pub struct MemoryBroker {
    limits: HistoryLimits,
    streams: DashMap<Topic, Mutex<Stream>>,
}

fn lock(m: &Mutex<Stream>) -> MutexGuard<'_, Stream> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryBroker {
    /// No streams yet; each keeps `limits` of history.
    pub fn new(limits: HistoryLimits) -> MemoryBroker {
        MemoryBroker {
            limits,
            streams: DashMap::new(),
        }
    }

    /// Runs `f` on `topic`'s stream, starting it if there is none.
    fn with_stream<R>(&self, topic: &Topic, f: impl FnOnce(&mut Stream) -> R) -> R {
        if let Some(s) = self.streams.get(topic) {
            return f(&mut lock(&s));
        }
        let s = self
            .streams
            .entry(topic.clone())
            .or_insert_with(|| Mutex::new(Stream::new()));
        f(&mut lock(&s))
    }
}

impl Broker for MemoryBroker {
    fn publish(&self, topic: &Topic, event_json: &str) -> Published {
        self.with_stream(topic, |s| {
            let offset = s.next_offset();
            let frame = stamp(event_json, topic, offset, s.epoch());
            s.record(offset, frame.clone(), Instant::now(), self.limits);
            Published {
                position: StreamPosition {
                    offset,
                    epoch: s.epoch().to_owned(),
                },
                frame,
            }
        })
    }

    fn history(&self, topic: &Topic, since: &StreamPosition) -> Result<Vec<Wire>, Gap> {
        self.streams
            .get(topic)
            .and_then(|s| lock(&s).since(since))
            .ok_or(Gap)
    }

    fn position(&self, topic: &Topic) -> StreamPosition {
        self.with_stream(topic, |s| StreamPosition {
            offset: s.offset(),
            epoch: s.epoch().to_owned(),
        })
    }

    fn sweep(&self, topic: &Topic, now: Instant, unsubscribed: bool) -> bool {
        let Some(stream) = self.streams.get(topic) else {
            return true;
        };
        let empty = {
            let mut s = lock(&stream);
            s.expire(now, self.limits.ttl);
            s.is_empty()
        };
        drop(stream);
        if empty && unsubscribed {
            self.streams.remove(topic);
        }
        empty && unsubscribed
    }

    fn history_bytes(&self) -> usize {
        self.streams.iter().map(|s| lock(&s).bytes()).sum()
    }
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
}
