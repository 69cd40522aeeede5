//! Reading Switchboard's frames on the hot path without a JSON parser.
//!
//! An event frame is the event JSON with `,"stream":..,"offset":..,"epoch":..`
//! appended by the hub (`switchboard_core::hub::stamp`), so the stream and the
//! offset are the last keys of the object; the fields the benchmark needs from
//! `data` (`source`, `agentId`, `state`, `reasonCodeId`) are plain strings. A key in quotes
//! followed by `:` cannot occur inside a JSON string value (the quotes would
//! be escaped there), so a substring search finds exactly the key. The first
//! `"subtopic"` is the top-level one: the writer's key order is `channel,
//! topic, subtopic, data`. The searches use `memchr`'s SIMD substring
//! finders, built once.

use std::sync::OnceLock;

use memchr::memmem;

/// One frame, as far as the benchmark cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// An event of a stream (live, snapshot, replay or resync).
    Event(EventFrame<'a>),
    /// Any other frame (`Ready`, `Subscribed`, `SetAPIError`, `Pong`,
    /// `SetSystemInfo`...), by its subtopic (empty when there is none).
    Control {
        /// The top-level `subtopic`.
        subtopic: &'a str,
    },
}

/// The fields of an event frame the benchmark reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFrame<'a> {
    /// `stream`: the topic (`all`, `team/5000`, `agent/1001001`...).
    pub stream: &'a str,
    /// `offset` in that stream.
    pub offset: u64,
    /// `data.source`: `event`, `snapshot`, `replay` or `resync`.
    pub source: &'a str,
    /// The top-level `subtopic` (`SetAgentState` for agent events).
    pub subtopic: &'a str,
    /// `data.agentId` (agent events).
    pub agent_id: Option<&'a str>,
    /// `data.state` (agent events).
    pub state: Option<&'a str>,
    /// `data.reasonCodeId` (agent events, NOT_READY with a reason).
    pub reason_code_id: Option<&'a str>,
}

impl EventFrame<'_> {
    /// Whether the event is a live change (not a snapshot or a replay).
    pub fn is_live(&self) -> bool {
        self.source == "event" || self.source == "resync"
    }
}

/// Substring finders for the keys read on the hot path, built once.
struct Keys {
    subtopic: memmem::Finder<'static>,
    stream: memmem::FinderRev<'static>,
    offset: memmem::Finder<'static>,
    source: memmem::Finder<'static>,
    agent_id: memmem::Finder<'static>,
    state: memmem::Finder<'static>,
    reason_code_id: memmem::Finder<'static>,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        subtopic: memmem::Finder::new(br#""subtopic":"#),
        stream: memmem::FinderRev::new(br#""stream":"#),
        offset: memmem::Finder::new(br#""offset":"#),
        source: memmem::Finder::new(br#""source":"#),
        agent_id: memmem::Finder::new(br#""agentId":"#),
        state: memmem::Finder::new(br#""state":"#),
        reason_code_id: memmem::Finder::new(br#""reasonCodeId":"#),
    })
}

/// Reads a text frame.
pub fn scan(text: &str) -> Frame<'_> {
    let k = keys();
    let subtopic = find_str(text, 0, &k.subtopic).unwrap_or("");
    let stamped = k.stream.rfind(text.as_bytes()).and_then(|at| {
        let stream = str_at(text, at + br#""stream":"#.len())?;
        let offset = find_u64(text, at, &k.offset)?;
        Some((stream, offset))
    });
    match stamped {
        Some((stream, offset)) => Frame::Event(EventFrame {
            stream,
            offset,
            source: find_str(text, 0, &k.source).unwrap_or(""),
            subtopic,
            agent_id: find_str(text, 0, &k.agent_id),
            state: find_str(text, 0, &k.state),
            reason_code_id: find_str(text, 0, &k.reason_code_id),
        }),
        None => Frame::Control { subtopic },
    }
}

/// The string value after the first match of `key` (`"name":`) at or after `from`.
fn find_str<'a>(text: &'a str, from: usize, key: &memmem::Finder<'_>) -> Option<&'a str> {
    let at = from + key.find(text.as_bytes().get(from..)?)?;
    str_at(text, at + key.needle().len())
}

/// The number after the first match of `key` at or after `from`.
fn find_u64(text: &str, from: usize, key: &memmem::Finder<'_>) -> Option<u64> {
    let at = from + key.find(text.as_bytes().get(from..)?)?;
    u64_at(text, at + key.needle().len())
}

/// A JSON string without escapes starting at byte `at` (spaces allowed before it).
fn str_at(text: &str, at: usize) -> Option<&str> {
    let rest = text.get(at..)?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = memchr::memchr2(b'"', b'\\', rest.as_bytes())?;
    (rest.as_bytes()[end] == b'"').then(|| &rest[..end])
}

/// Digits starting at byte `at` (spaces allowed before them).
fn u64_at(text: &str, at: usize) -> Option<u64> {
    let rest = text.get(at..)?.trim_start();
    let end = rest
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The value of the first `"key":"value"` in `text` (no escapes in the value).
pub fn str_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!("\"{key}\":");
    let at = memmem::find(text.as_bytes(), pattern.as_bytes())?;
    str_at(text, at + pattern.len())
}

/// The value of the first `"key":<digits>` in `text`.
pub fn u64_field(text: &str, key: &str) -> Option<u64> {
    let pattern = format!("\"{key}\":");
    let at = memmem::find(text.as_bytes(), pattern.as_bytes())?;
    u64_at(text, at + pattern.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_event() {
        let f = r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetAgentState","data":{"source":"event","agentId":"1001001","state":"NOT_READY","reasonCodeId":"10007","pendingState":"READY","event":"NOT_READY"},"stream":"all","offset":12,"epoch":"ab-1"}"#;
        let Frame::Event(e) = scan(f) else {
            panic!("not an event")
        };
        assert_eq!(e.stream, "all");
        assert_eq!(e.offset, 12);
        assert_eq!(e.source, "event");
        assert_eq!(e.subtopic, "SetAgentState");
        assert_eq!(e.agent_id, Some("1001001"));
        assert_eq!(e.state, Some("NOT_READY"));
        assert_eq!(e.reason_code_id, Some("10007"));
        assert!(e.is_live());
    }

    #[test]
    fn control_frames() {
        let f =
            r#"{"channel":"Broker","topic":"Session","subtopic":"Ready","data":{"agentId":null}}"#;
        assert_eq!(scan(f), Frame::Control { subtopic: "Ready" });
        assert_eq!(scan("not json"), Frame::Control { subtopic: "" });
    }
}
