//! Reading Switchboard's frames on the hot path without a JSON parser.
//!
//! An event frame is the event JSON with `,"stream":..,"offset":..,"epoch":..`
//! appended by the hub (`switchboard_core::hub::stamp`), so the stream and the
//! offset are the last keys of the object; the fields the benchmark needs from
//! `data` (agent events: `source`, `agentId`, `state`, `reasonCodeId`,
//! `stateChangeTime`; call events: `source`, `ResponseActual.user.username`,
//! `CallVariables.callVariable10`) are plain strings. A key in quotes
//! followed by `:` cannot occur inside a JSON string value (the quotes would
//! be escaped there), so a substring search finds exactly the key. The first
//! `"subtopic"` is the top-level one: the writer's key order is `channel,
//! topic, subtopic, data`. The searches use `memchr`'s SIMD substring
//! finders, built once.

use std::sync::OnceLock;

use memchr::memmem;

use super::switchboard::MARK_VARIABLE;

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
    /// `data.stateChangeTime` (agent events): when Finesse (the simulator)
    /// made the change, RFC 3339 UTC.
    pub state_change_time: Option<&'a str>,
    /// Call events: the value of [`MARK_VARIABLE`] in `CallVariables`, where
    /// the benchmark's `call-data` changes put the number that names them.
    pub call_mark: Option<&'a str>,
}

impl<'a> EventFrame<'a> {
    /// Whether the event is a live change (not a snapshot or a replay).
    pub fn is_live(&self) -> bool {
        self.source == "event" || self.source == "resync"
    }

    /// A call event of `stream` at `offset`, its agent and mark read from
    /// `data` (the event's JSON, or the part of it before the stamp).
    fn call(
        stream: &'a str,
        offset: u64,
        source: &'a str,
        subtopic: &'a str,
        data: &'a str,
    ) -> EventFrame<'a> {
        let (agent_id, call_mark) = call_fields(data);
        EventFrame {
            stream,
            offset,
            source,
            subtopic,
            agent_id,
            state: None,
            reason_code_id: None,
            state_change_time: None,
            call_mark,
        }
    }

    /// Whether it is a call event (`OutBoundCallStateChange` or
    /// `InBoundCallStateChange`); its `agent_id` is the agent whose view it
    /// is (`ResponseActual.user.username`).
    pub fn is_call(&self) -> bool {
        is_call_subtopic(self.subtopic)
    }
}

fn is_call_subtopic(subtopic: &str) -> bool {
    subtopic == "OutBoundCallStateChange" || subtopic == "InBoundCallStateChange"
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
    state_change_time: memmem::Finder<'static>,
    username: memmem::Finder<'static>,
    call_variables: memmem::Finder<'static>,
    call_mark: memmem::Finder<'static>,
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
        state_change_time: memmem::Finder::new(br#""stateChangeTime":"#),
        username: memmem::Finder::new(br#""username":"#),
        call_variables: memmem::Finder::new(br#""CallVariables":"#),
        call_mark: memmem::Finder::new(format!("\"{MARK_VARIABLE}\":").as_bytes()).into_owned(),
    })
}

/// A text frame's payload as text: `None` when it is not UTF-8. The same
/// answer as `std::str::from_utf8` (the check a text frame needs), with
/// `simdutf8`'s SIMD check: a frame is a few hundred bytes of mostly ASCII,
/// read a million times a second.
#[inline]
pub fn text(payload: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(payload).ok()
}

/// How far from the end of a frame the hub's stamp (`"stream":..,"offset":..,
/// "epoch":..}`) starts at most: stream names and epochs are short.
const STAMP_TAIL: usize = 192;

/// Reads a text frame.
///
/// A live agent event as Switchboard writes it is read by
/// [`scan_agent_event`] with prefix comparisons where the writer's order
/// fixes the position and three short searches where optional fields come
/// between; anything else (another order, another event, a control frame)
/// goes through the general scan, where each key is looked for where the
/// writer puts it (the stamp at the end, `source` first in `data`, the agent
/// fields in their order), falling back to the whole frame.
///
/// The agent-event path is inlined into the caller, so that the frame's
/// fields stay in registers instead of being copied between return slots
/// (those copies were a tenth of the load tool's time).
#[inline(always)]
pub fn scan(text: &str) -> Frame<'_> {
    match scan_agent_event(text) {
        Some(e) => Frame::Event(e),
        None => scan_other(text),
    }
}

/// [`scan`] of anything but an agent event in the writer's order.
#[inline(never)]
fn scan_other(text: &str) -> Frame<'_> {
    match scan_call_event(text) {
        Some(e) => Frame::Event(e),
        None => scan_general(text),
    }
}

/// The start of every call event Switchboard writes, up to `source`'s value,
/// by subtopic.
const CALL_EVENTS: [(&str, &str); 2] = [
    (
        r#"{"channel":"Cisco","topic":"OutboundCall","subtopic":"OutBoundCallStateChange","data":{"source":"#,
        "OutBoundCallStateChange",
    ),
    (
        r#"{"channel":"Cisco","topic":"InboundCall","subtopic":"InBoundCallStateChange","data":{"source":"#,
        "InBoundCallStateChange",
    ),
];

/// A call event in the writer's order (`CallEvent` in
/// `switchboard_core::event`, then the hub's stamp): `source` first in `data`,
/// `ResponseActual` (with `user.username`) before `CallVariables`, and the
/// stamp as the last keys. `None` when the frame is not exactly that; a frame
/// it reads gives the same fields as the general scan (tested against it).
pub fn scan_call_event(text: &str) -> Option<EventFrame<'_>> {
    let (rest, subtopic) = CALL_EVENTS
        .iter()
        .find_map(|(prefix, subtopic)| Some((text.strip_prefix(prefix)?, *subtopic)))?;
    let (source, rest) = quoted(rest)?;
    let (stream, offset, data) = stamp_at_end(rest)?;
    Some(EventFrame::call(stream, offset, source, subtopic, data))
}

/// A call event's agent (`ResponseActual.user.username`) and mark
/// ([`MARK_VARIABLE`] in `CallVariables`, which comes after it).
fn call_fields(data: &str) -> (Option<&str>, Option<&str>) {
    let k = keys();
    let (agent_id, from) = match k.username.find(data.as_bytes()) {
        Some(at) => {
            let value_at = at + k.username.needle().len();
            (str_at(data, value_at), value_at)
        }
        None => (None, 0),
    };
    let mark = k
        .call_variables
        .find(&data.as_bytes()[from..])
        .map(|at| from + at + k.call_variables.needle().len())
        .and_then(|vars| {
            let at = vars + k.call_mark.find(&data.as_bytes()[vars..])?;
            str_at(data, at + k.call_mark.needle().len())
        });
    (agent_id, mark)
}

/// The start of every agent event Switchboard writes, up to `source`'s value.
const AGENT_EVENT: &str =
    r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetAgentState","data":{"source":"#;

/// An agent event in the writer's order (`AgentStateEvent` in
/// `switchboard_core::event`, then the hub's stamp): `source` and `agentId`
/// first in `data`, then `state`, `reasonCodeId` and `stateChangeTime` after
/// optional fields, and the stamp `"stream":..,"offset":..,"epoch":".."}` as
/// the last keys. `None` when the frame is not exactly that, so that the
/// general scan reads it; a frame it reads gives the same fields as the
/// general scan (tested against it).
#[inline(always)]
pub fn scan_agent_event(text: &str) -> Option<EventFrame<'_>> {
    let k = keys();
    let rest = text.strip_prefix(AGENT_EVENT)?;
    let (source, rest) = quoted(rest)?;
    let rest = rest.strip_prefix(r#","agentId":"#)?;
    let (agent_id, rest) = quoted(rest)?;
    let (stream, offset, data) = stamp_at_end(rest)?;
    // `state` after the optional name and extension fields.
    let at = k.state.find(data.as_bytes())?;
    let (state, rest) = quoted(&data[at + k.state.needle().len()..])?;
    let rest = match rest.strip_prefix(r#","pendingState":"#) {
        Some(pending) => quoted(pending)?.1,
        None => rest,
    };
    let (reason_code_id, rest) = match rest.strip_prefix(r#","reasonCodeId":"#) {
        Some(r) => {
            let (id, rest) = quoted(r)?;
            (Some(id), rest)
        }
        None => (None, rest),
    };
    // `stateChangeTime` after the optional `reasonCode` object.
    let state_change_time = match k.state_change_time.find(rest.as_bytes()) {
        Some(at) => Some(quoted(&rest[at + k.state_change_time.needle().len()..])?.0),
        None => None,
    };
    Some(EventFrame {
        stream,
        offset,
        source,
        subtopic: "SetAgentState",
        agent_id: Some(agent_id),
        state: Some(state),
        reason_code_id,
        state_change_time,
        call_mark: None,
    })
}

/// A JSON string without escapes at the start of `text`: its value and what
/// follows its closing quote.
fn quoted(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix('"')?;
    let end = string_end(rest.as_bytes())?;
    (rest.as_bytes()[end] == b'"').then(|| (&rest[..end], &rest[end + 1..]))
}

/// Bytes looked at one by one before `memchr` takes over: the values read on
/// the hot path (ids, states, times, stream names, epochs) are shorter, and
/// for them `memchr`'s call and set-up cost more than the loop.
const SHORT: usize = 32;

/// Where the first `"` or `\` of `b` is: the end of a JSON string's text, or
/// an escape.
#[inline]
fn string_end(b: &[u8]) -> Option<usize> {
    let head = &b[..b.len().min(SHORT)];
    match head.iter().position(|&c| c == b'"' || c == b'\\') {
        Some(at) => Some(at),
        None if b.len() <= SHORT => None,
        None => memchr::memchr2(b'"', b'\\', &b[SHORT..]).map(|at| at + SHORT),
    }
}

/// Where the last `"` or `\` of `b` is (the start of a string read from its
/// end), as [`string_end`] from the other side.
#[inline]
fn string_start_rev(b: &[u8]) -> Option<usize> {
    let from = b.len().saturating_sub(SHORT);
    match b[from..].iter().rposition(|&c| c == b'"' || c == b'\\') {
        Some(at) => Some(from + at),
        None => memchr::memrchr2(b'"', b'\\', &b[..from]),
    }
}

/// The epoch of an event frame's stream (the hub's stamp, as
/// [`stamp_at_end`] reads it), for resuming from its offset.
pub fn epoch(text: &str) -> Option<&str> {
    let body = text.strip_suffix("\"}")?;
    let epoch_at = string_start_rev(body.as_bytes())?;
    if body.as_bytes()[epoch_at] != b'"' {
        return None;
    }
    body[..epoch_at]
        .ends_with(r#","epoch":"#)
        .then(|| &body[epoch_at + 1..])
}

/// Whether a `Subscribed` reply says the resume replayed every missed event
/// (`recovered`; `None` when the reply has no such field).
pub fn recovered(text: &str) -> Option<bool> {
    let at = memmem::find(text.as_bytes(), br#""recovered":"#)? + r#""recovered":"#.len();
    let rest = text[at..].trim_start();
    if rest.starts_with("true") {
        Some(true)
    } else if rest.starts_with("false") {
        Some(false)
    } else {
        None
    }
}

/// The hub's stamp at the end of `text` (`,"stream":"S","offset":N,"epoch":"E"}`,
/// all without escapes): the stream, the offset, and `text` before the stamp.
fn stamp_at_end(text: &str) -> Option<(&str, u64, &str)> {
    let body = text.strip_suffix("\"}")?;
    let epoch_at = string_start_rev(body.as_bytes())?;
    if body.as_bytes()[epoch_at] != b'"' {
        return None;
    }
    let body = body[..epoch_at].strip_suffix(r#","epoch":"#)?;
    let digits = body.bytes().rev().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let offset = body[body.len() - digits..].bytes().fold(0u64, |v, d| {
        v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
    });
    let body = body[..body.len() - digits].strip_suffix(r#","offset":"#)?;
    let body = body.strip_suffix('"')?;
    let stream_at = string_start_rev(body.as_bytes())?;
    if body.as_bytes()[stream_at] != b'"' {
        return None;
    }
    let stream = &body[stream_at + 1..];
    let body = body[..stream_at].strip_suffix(r#","stream":"#)?;
    // The event's closing brace, before the stamp.
    let body = body.strip_suffix('}')?;
    Some((stream, offset, body))
}

/// The general scan: see [`scan`].
fn scan_general(text: &str) -> Frame<'_> {
    let k = keys();
    let sub_at = k.subtopic.find(text.as_bytes());
    let subtopic = sub_at
        .and_then(|at| str_at(text, at + k.subtopic.needle().len()))
        .unwrap_or("");
    let tail = floor_char_boundary(text, text.len().saturating_sub(STAMP_TAIL));
    let stamped = k
        .stream
        .rfind(&text.as_bytes()[tail..])
        .map(|at| tail + at)
        .or_else(|| k.stream.rfind(text.as_bytes()))
        .and_then(|at| {
            let stream = str_at(text, at + k.stream.needle().len())?;
            let offset = find_u64(text, at, &k.offset)?;
            Some((stream, offset))
        });
    match stamped {
        Some((stream, offset)) if is_call_subtopic(subtopic) => {
            let from = sub_at.unwrap_or(0);
            let (source, _) = find_str_from(text, from, &k.source);
            Frame::Event(EventFrame::call(
                stream,
                offset,
                source.unwrap_or(""),
                subtopic,
                text,
            ))
        }
        Some((stream, offset)) => {
            let from = sub_at.unwrap_or(0);
            let (source, from) = find_str_from(text, from, &k.source);
            let (agent_id, from) = find_str_from(text, from, &k.agent_id);
            let (state, from) = find_str_from(text, from, &k.state);
            let (reason_code_id, from) = find_str_from(text, from, &k.reason_code_id);
            let (state_change_time, _) = find_str_from(text, from, &k.state_change_time);
            Frame::Event(EventFrame {
                stream,
                offset,
                source: source.unwrap_or(""),
                subtopic,
                agent_id,
                state,
                reason_code_id,
                state_change_time,
                call_mark: None,
            })
        }
        None => Frame::Control { subtopic },
    }
}

/// The string value of `key` searched from byte `from` (then from the start,
/// if the fields came in another order), and where the search may go on.
fn find_str_from<'a>(
    text: &'a str,
    from: usize,
    key: &memmem::Finder<'_>,
) -> (Option<&'a str>, usize) {
    let found = key
        .find(text.as_bytes().get(from..).unwrap_or_default())
        .map(|at| from + at)
        .or_else(|| key.find(text.as_bytes()));
    match found {
        Some(at) => {
            let value_at = at + key.needle().len();
            (str_at(text, value_at), value_at)
        }
        None => (None, from),
    }
}

/// The largest char boundary at or below `at`.
fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The number after the first match of `key` at or after `from`.
fn find_u64(text: &str, from: usize, key: &memmem::Finder<'_>) -> Option<u64> {
    let at = from + key.find(text.as_bytes().get(from..)?)?;
    u64_at(text, at + key.needle().len())
}

/// A JSON string without escapes starting at byte `at` (spaces allowed before it).
fn str_at(text: &str, at: usize) -> Option<&str> {
    let rest = text.get(at..)?;
    let rest = rest
        .strip_prefix('"')
        .or_else(|| rest.trim_start().strip_prefix('"'))?;
    let end = string_end(rest.as_bytes())?;
    (rest.as_bytes()[end] == b'"').then(|| &rest[..end])
}

/// Digits starting at byte `at` (spaces allowed before them).
fn u64_at(text: &str, at: usize) -> Option<u64> {
    let rest = text.get(at..)?;
    let rest = if rest.starts_with(|c: char| c.is_ascii_digit()) {
        rest
    } else {
        rest.trim_start()
    };
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
        let f = r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetAgentState","data":{"source":"event","agentId":"1001001","state":"NOT_READY","reasonCodeId":"10007","reasonCode":{"id":"10007"},"stateChangeTime":"2026-11-24T13:05:09.123Z","pendingState":"READY","event":"NOT_READY"},"stream":"all","offset":12,"epoch":"ab-1"}"#;
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
        assert_eq!(e.state_change_time, Some("2026-11-24T13:05:09.123Z"));
        assert!(e.is_live());
    }

    /// Agent events as the writer varies them: optional fields present or
    /// not, escapes in names, other streams, a top-level `requestId`.
    fn agent_event_variants() -> Vec<String> {
        let mut out = Vec::new();
        for names in [
            r#","loginName":"aokafor","firstName":"Amara","lastName":"Okafor","extension":"5004""#,
            r#","firstName":"A \"state\": name""#,
            "",
        ] {
            for pending in ["", r#","pendingState":"READY""#] {
                for reason in [
                    "",
                    r#","reasonCodeId":"10007""#,
                    r#","reasonCodeId":"10007","reasonCode":{"id":"10007","label":"a}b","category":"NOT_READY"}"#,
                ] {
                    for time in ["", r#","stateChangeTime":"2026-11-24T09:30:00.120Z""#] {
                        for (stream, tail) in [
                            ("all", ""),
                            ("team/5000", r#","requestId":"c-1""#),
                            ("agent/1001004", ""),
                        ] {
                            out.push(format!(
                                r#"{{"channel":"Cisco","topic":"Agent","subtopic":"SetAgentState","data":{{"source":"event","agentId":"1001004"{names},"state":"NOT_READY"{pending}{reason}{time},"roles":["Agent"],"teamId":"5000","event":"NOT_READY"}}{tail},"stream":"{stream}","offset":9876543210,"epoch":"19a-3"}}"#
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_fast_path_reads_what_the_general_scan_reads() {
        let variants = agent_event_variants();
        let mut fast = 0;
        for f in &variants {
            let general = scan_general(f);
            assert!(matches!(general, Frame::Event(_)), "{f}");
            if let Some(e) = scan_agent_event(f) {
                fast += 1;
                assert_eq!(Frame::Event(e), general, "{f}");
            } else {
                // Only the frame with a top-level key after `data` leaves the fast path.
                assert!(f.contains("requestId"), "{f}");
            }
        }
        assert_eq!(fast, variants.len() * 2 / 3);
        // Cut anywhere, a frame is never misread by the fast path.
        let f = &variants[5];
        for end in 0..f.len() {
            if let Some(cut) = f.get(..end)
                && let Some(e) = scan_agent_event(cut)
            {
                panic!("read {e:?} from a cut frame {cut}");
            }
        }
    }

    /// Call events as the server writes them (`CallEvent::encode`, then the
    /// hub's stamp) from the golden Dialog: outbound and inbound, live and
    /// snapshot, with the mark set or not, and call variables whose values
    /// look like the keys the scan looks for.
    fn call_event_frames() -> Vec<(String, Option<&'static str>)> {
        use switchboard_core::hub::stamp;
        use switchboard_core::{CallEvent, EventSource, SignedInAgent};
        use switchboard_finesse::{CallType, UpdateData, parse_update};
        use switchboard_protocol::Topic;

        let update = parse_update(crate::payload::GOLDEN_UPDATE).expect("golden parses");
        let UpdateData::Dialog(golden) = update.data else {
            panic!("the golden is a Dialog")
        };
        let agent = SignedInAgent {
            id: "311640960".into(),
            extension: "5068".into(),
        };
        let mut out = Vec::new();
        for inbound in [false, true] {
            for mark in [Some("10042"), None] {
                for source in [EventSource::Event, EventSource::Snapshot] {
                    let mut d = (*golden).clone();
                    let media = &mut d.media_properties;
                    if inbound {
                        media.call_type = Some(CallType::AcdIn);
                        media.call_variables.retain(|v| !v.name.starts_with("BA"));
                    }
                    for v in &mut media.call_variables {
                        match (v.name.as_str(), mark) {
                            ("callVariable10", Some(m)) => v.value = m.into(),
                            ("callVariable10", None) => v.value.clear(),
                            ("callVariable9", _) => {
                                v.value = r#""username":"1","callVariable10":"2""#.into()
                            }
                            _ => {}
                        }
                    }
                    let event = CallEvent {
                        dialog: &d,
                        agent: &agent,
                        source,
                        deleted: false,
                        finesse_request_id: None,
                    }
                    .encode();
                    let frame = stamp(&event, &Topic::Team("5000".into()), 31, "19a-2");
                    out.push((frame.as_str().to_owned(), mark.or(Some(""))));
                }
            }
        }
        out
    }

    #[test]
    fn call_events_as_the_server_writes_them() {
        let frames = call_event_frames();
        assert_eq!(frames.len(), 8);
        for (f, mark) in &frames {
            let general = scan_general(f);
            let e = scan_call_event(f).unwrap_or_else(|| panic!("not read: {f}"));
            assert_eq!(Frame::Event(e), general, "{f}");
            assert_eq!(scan(f), general, "{f}");
            assert!(e.is_call(), "{f}");
            assert_eq!(e.agent_id, Some("311640960"), "{f}");
            assert_eq!(e.call_mark, *mark, "{f}");
            assert_eq!((e.stream, e.offset), ("team/5000", 31), "{f}");
            assert_eq!(e.state, None);
            let outbound = f.contains(r#""topic":"OutboundCall""#);
            assert_eq!(
                e.subtopic,
                if outbound {
                    "OutBoundCallStateChange"
                } else {
                    "InBoundCallStateChange"
                }
            );
        }
        assert_eq!(
            frames
                .iter()
                .filter(|(f, _)| !f.contains("Outbound"))
                .count(),
            4
        );
        // Cut anywhere, a frame is never misread by the fast path.
        let f = &frames[0].0;
        for end in 0..f.len() {
            if let Some(cut) = f.get(..end)
                && let Some(e) = scan_call_event(cut)
            {
                panic!("read {e:?} from a cut frame {cut}");
            }
        }
    }

    #[test]
    fn epochs_and_recovered() {
        let f = r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetAgentState","data":{"source":"replay","agentId":"1"},"stream":"all","offset":12,"epoch":"19a-3f"}"#;
        assert_eq!(epoch(f), Some("19a-3f"));
        assert_eq!(epoch(r#"{"epoch2":"x"}"#), None);
        assert_eq!(epoch("not json"), None);
        let sub = |r: &str| {
            format!(
                r#"{{"channel":"Broker","topic":"Subscription","subtopic":"Subscribed","data":{{"topics":["all"]{r}}}}}"#
            )
        };
        assert_eq!(recovered(&sub(r#","recovered":true"#)), Some(true));
        assert_eq!(recovered(&sub(r#","recovered": false"#)), Some(false));
        assert_eq!(recovered(&sub("")), None);
    }

    #[test]
    fn control_frames() {
        let f =
            r#"{"channel":"Broker","topic":"Session","subtopic":"Ready","data":{"agentId":null}}"#;
        assert_eq!(scan(f), Frame::Control { subtopic: "Ready" });
        assert_eq!(scan("not json"), Frame::Control { subtopic: "" });
    }

    #[test]
    fn fields_in_another_order_and_a_long_frame_are_found() {
        let pad = "x".repeat(500);
        let f = format!(
            r#"{{"channel":"Cisco","topic":"Agent","subtopic":"SetAgentState","data":{{"source":"event","state":"READY","reasonCodeId":"7","pad":"{pad}","agentId":"1001002"}},"stream":"agent/1001002","offset":3,"epoch":"e"}}"#
        );
        let Frame::Event(e) = scan(&f) else {
            panic!("not an event")
        };
        assert_eq!(e.agent_id, Some("1001002"));
        assert_eq!(e.state, Some("READY"));
        assert_eq!(e.reason_code_id, Some("7"));
        assert_eq!((e.stream, e.offset), ("agent/1001002", 3));
        let spaced =
            r#"{"subtopic": "Ready", "data": {"source": "event"}, "stream": "all", "offset": 9}"#;
        let Frame::Event(e) = scan(spaced) else {
            panic!("not an event")
        };
        assert_eq!((e.subtopic, e.source, e.offset), ("Ready", "event", 9));
    }

    mod strings {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            /// The loops over the first and last bytes find what `memchr`
            /// finds over the whole text, at every length around the switch
            /// from one to the other.
            #[test]
            fn string_ends_are_memchrs(
                b in proptest::collection::vec(
                    prop_oneof![60 => b'a'..=b'z', 1 => Just(b'"'), 1 => Just(b'\\'), 1 => any::<u8>()],
                    0..3 * SHORT,
                )
            ) {
                prop_assert_eq!(string_end(&b), memchr::memchr2(b'"', b'\\', &b));
                prop_assert_eq!(string_start_rev(&b), memchr::memrchr2(b'"', b'\\', &b));
            }

            /// A frame is text exactly when the standard library says so.
            #[test]
            fn text_is_std_utf8(b in proptest::collection::vec(any::<u8>(), 0..600)) {
                prop_assert_eq!(text(&b), std::str::from_utf8(&b).ok());
            }

            #[test]
            fn text_of_strings(s in "\\PC{0,300}") {
                prop_assert_eq!(text(s.as_bytes()), Some(s.as_str()));
            }
        }
    }
}
