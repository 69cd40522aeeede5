//! The broker: the streams. Each topic's stream has an epoch, the offset of
//! its last event and a bounded history for resume; publishing an event
//! stamps it with its position and frames it once ([`stamp`]); a resume asks
//! for the events after a position ([`Broker::history`]). The broker knows no
//! client: delivering to this process's connections is the [`Hub`]'s job
//! (Centrifuge's split: `Broker` and `Hub`).
//!
//! [`MemoryBroker`](super::MemoryBroker) keeps the streams in this process. A
//! cluster broker (NATS JetStream, a later issue) implements the same trait.
//!
//! [`Hub`]: super::Hub

use std::fmt;
use std::time::Instant;

use switchboard_protocol::{StreamPosition, Topic};

use super::Wire;

/// An event as the broker appended it.
#[derive(Debug, Clone)]
pub struct Published {
    /// Its position: the stream's epoch and the event's offset.
    pub position: StreamPosition,
    /// The event stamped with that position and framed for the WebSocket,
    /// once, for every subscriber ([`stamp`]).
    pub frame: Wire,
}

/// The history no longer holds every event after the position asked for (or
/// the position is from another epoch, or beyond the stream): the client
/// takes a snapshot instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap;

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the history does not cover the position")
    }
}

impl std::error::Error for Gap {}

/// The streams: positions, epochs and history.
pub trait Broker: Send + Sync + fmt::Debug {
    /// Appends an event (a JSON object) to `topic`'s stream: the next offset,
    /// stamped and framed, kept in the history.
    fn publish(&self, topic: &Topic, event_json: &str) -> Published;

    /// The frames of `topic` after `since`, in order, when the history holds
    /// every one of them in the stream's current epoch.
    fn history(&self, topic: &Topic, since: &StreamPosition) -> Result<Vec<Wire>, Gap>;

    /// The stream's current position (offset 0 and a fresh epoch when it has
    /// none: the stream starts then).
    fn position(&self, topic: &Topic) -> StreamPosition;

    /// Drops `topic`'s expired history, and the stream itself when it holds
    /// no history and `unsubscribed` (no client of this process wants it).
    /// Returns whether the stream is gone (dropped, or there was none).
    fn sweep(&self, topic: &Topic, now: Instant, unsubscribed: bool) -> bool;

    /// Bytes held by the histories.
    fn history_bytes(&self) -> usize;
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
