//! The envelope every frame shares, in both directions (docs/protocol.md section 2), its tolerant
//! parser, and [`FrameError`], the error for anything wrong with client input.
//!
//! Input keys are matched case-insensitively after trimming whitespace, because the published
//! Acqueon samples write `"data "`, `"MediaAddress "`, `CallID` and `callID`. Output always uses
//! the canonical spelling (`channel`, `topic`, `subtopic`, `data`, `source`, `requestId`).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::codes::ErrorType;

/// The longest `requestId` a client may send, in characters.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Where the top-level fields of a frame are, for error messages.
const IN_FRAME: &str = "the frame";

/// One frame of the client protocol: `{channel, topic, subtopic, data, source, requestId}`.
///
/// [`Frame::parse`] builds it from client text; serializing it (it implements
/// [`Serialize`]) writes the canonical key spelling and leaves out `source` and `requestId`
/// when they are `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Frame {
    /// `Cisco` for contact-center frames, `Broker` for the broker's own control frames.
    /// Trimmed of surrounding whitespace when parsed.
    pub channel: String,
    /// The topic, e.g. `OutboundCall`, `Agent`, `Session`. Trimmed when parsed.
    pub topic: String,
    /// The subtopic, e.g. `SetANSWER`; empty when the client sent none. Trimmed when parsed.
    pub subtopic: String,
    /// The payload: an object, a string or `Null` (also when the client sent none).
    pub data: Value,
    /// The name of the sending application, if given (echoed in logs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The client-chosen id that every reply to this frame carries, exactly as sent (a JSON
    /// number is turned into its decimal text).
    #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Frame {
    /// A frame with the given names and data, without `source` or `requestId`.
    pub fn new(
        channel: impl Into<String>,
        topic: impl Into<String>,
        subtopic: impl Into<String>,
        data: Value,
    ) -> Frame {
        Frame {
            channel: channel.into(),
            topic: topic.into(),
            subtopic: subtopic.into(),
            data,
            source: None,
            request_id: None,
        }
    }

    /// The same frame carrying `request_id`.
    #[must_use]
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Frame {
        self.request_id = Some(request_id.into());
        self
    }

    /// Parses one client text frame.
    ///
    /// The top level must be a JSON object. Keys are matched case-insensitively after
    /// trimming whitespace; unknown keys are ignored. `channel` and `topic` are required
    /// strings, `subtopic` an optional string, `data` optional (object, string or null; the
    /// Acqueon variant `message` is used when `data` is absent), `source` an optional string,
    /// `requestId` an optional string or number of at most [`MAX_REQUEST_ID_LEN`] characters.
    /// A `null` value counts as absent.
    ///
    /// An Acqueon *packet* (`{channel, topic: "", subTopic: "", message: {channel, topic,
    /// subtopic, data, source}, ResponseUrl, subscriberID}`) is unwrapped: when the outer
    /// `topic` is empty or absent and `message` is an object with its own `channel`, the
    /// frame is that message (taking the outer `requestId` if it has none).
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        let value: Value = serde_json::from_str(text).map_err(|e| FrameError::Json {
            message: e.to_string(),
        })?;
        Frame::from_value(value)
    }

    /// Builds a frame from an already parsed JSON value, with the rules of [`Frame::parse`].
    pub fn from_value(value: Value) -> Result<Frame, FrameError> {
        let Value::Object(mut map) = value else {
            return Err(FrameError::NotAnObject);
        };
        unwrap_packet(&mut map);

        let channel = required_name(&mut map, "channel")?;
        let topic = required_name(&mut map, "topic")?;
        let subtopic = match take_ci(&mut map, "subtopic") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(_) => return Err(wrong_type("subtopic", "a string")),
        };

        let (data_key, data) = match take_ci(&mut map, "data") {
            Some(v) => ("data", Some(v)),
            None => ("message", take_ci(&mut map, "message")),
        };
        let data = match data {
            None => Value::Null,
            Some(v @ (Value::Null | Value::Object(_) | Value::String(_))) => v,
            Some(_) => return Err(wrong_type(data_key, "an object, a string or null")),
        };

        let source = match take_ci(&mut map, "source") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(wrong_type("source", "a string")),
        };

        let request_id = match take_ci(&mut map, "requestId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => return Err(wrong_type("requestId", "a string or a number")),
        };
        if let Some(id) = &request_id {
            let len = id.chars().count();
            if len > MAX_REQUEST_ID_LEN {
                return Err(FrameError::RequestIdTooLong { len });
            }
        }

        Ok(Frame {
            channel,
            topic,
            subtopic,
            data,
            source,
            request_id,
        })
    }

    /// Whether this frame is `channel/topic/subtopic`, compared case-insensitively.
    pub fn is(&self, channel: &str, topic: &str, subtopic: &str) -> bool {
        self.channel.trim().eq_ignore_ascii_case(channel.trim())
            && self.topic.trim().eq_ignore_ascii_case(topic.trim())
            && self.subtopic.trim().eq_ignore_ascii_case(subtopic.trim())
    }

    /// The frame as JSON text with the canonical key spelling.
    pub fn to_json(&self) -> String {
        crate::reply::to_json_text(self)
    }
}

/// Looks `key` up in a JSON object, case-insensitively and ignoring whitespace around the
/// keys (`"data "` and `"Data"` both match `data`). An exact match wins; otherwise the first
/// matching key in the object's order. `None` when `obj` is not an object or has no such key.
pub fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.as_object().and_then(|map| map_get_ci(map, key))
}

/// Like [`get_ci`], but only for text: a string is returned trimmed, a number as its decimal
/// text (widgets sometimes send ids as numbers). `None` for absent keys and other types.
pub fn get_str_ci(obj: &Value, key: &str) -> Option<String> {
    match get_ci(obj, key)? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Best effort for error replies: the `requestId` of a client text that [`Frame::parse`]
/// refused, when the text is a JSON object carrying a usable one. Lets the `SetAPIError`
/// for a malformed frame still carry the client's id.
pub fn request_id_hint(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let id = match get_ci(&value, "requestId")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (id.chars().count() <= MAX_REQUEST_ID_LEN).then_some(id)
}

/// [`get_ci`] on a map.
pub(crate) fn map_get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let key = key.trim();
    if let Some(v) = map.get(key) {
        return Some(v);
    }
    map.iter()
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Replaces an Acqueon packet by the message inside it (see [`Frame::parse`]).
fn unwrap_packet(map: &mut Map<String, Value>) {
    let outer_topic_empty = match map_get_ci(map, "topic") {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    };
    let inner_is_message = map_get_ci(map, "message")
        .is_some_and(|m| m.is_object() && get_ci(m, "channel").is_some())
        && map_get_ci(map, "data").is_none();
    if !(outer_topic_empty && inner_is_message) {
        return;
    }
    let Some(Value::Object(mut inner)) = take_ci(map, "message") else {
        return;
    };
    if map_get_ci(&inner, "requestId").is_none()
        && let Some(id) = take_ci(map, "requestId")
    {
        inner.insert("requestId".to_owned(), id);
    }
    *map = inner;
}

/// Removes and returns the value of `key` (matched like [`map_get_ci`]).
fn take_ci(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    if let Some(v) = map.remove(key) {
        return Some(v);
    }
    let found = map
        .keys()
        .find(|k| k.trim().eq_ignore_ascii_case(key))?
        .clone();
    map.remove(&found)
}

/// A required top-level string (`channel`, `topic`), trimmed.
fn required_name(map: &mut Map<String, Value>, field: &'static str) -> Result<String, FrameError> {
    match take_ci(map, field) {
        None | Some(Value::Null) => Err(FrameError::MissingField {
            field,
            location: IN_FRAME.to_owned(),
        }),
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        Some(_) => Err(wrong_type(field, "a string")),
    }
}

/// A [`FrameError::WrongType`] for a top-level field.
fn wrong_type(field: &'static str, expected: &'static str) -> FrameError {
    FrameError::WrongType {
        field,
        expected,
        location: IN_FRAME.to_owned(),
    }
}

/// Everything that can be wrong with a client frame. Each message is one line that names the
/// problem and the field, for the `errorMessage` of a `SetAPIError` with
/// `errorType: "Invalid Input"`.
///
/// `location` says where a field was looked for: `"the frame"` for the envelope, or
/// `"data of Cisco/OutboundCall/SetANSWER"` (the client's own spelling of the frame's names)
/// for a command's payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The text is not valid JSON; `message` is serde_json's, with line and column.
    #[error("invalid JSON: {message}")]
    Json {
        /// What serde_json found wrong, e.g. `expected value at line 1 column 1`.
        message: String,
    },
    /// The JSON is valid but not an object.
    #[error(
        "a frame must be a JSON object like {{\"channel\":..,\"topic\":..,\"subtopic\":..,\"data\":{{..}}}}"
    )]
    NotAnObject,
    /// A required field is absent (or `null`).
    #[error("missing field \"{field}\" in {location}")]
    MissingField {
        /// The field's canonical name, e.g. `CallID`.
        field: &'static str,
        /// Where it was looked for, e.g. `data of Cisco/OutboundCall/SetANSWER`.
        location: String,
    },
    /// A field has the wrong JSON type.
    #[error("field \"{field}\" in {location} must be {expected}")]
    WrongType {
        /// The field's canonical name.
        field: &'static str,
        /// What it must be, e.g. `a string`.
        expected: &'static str,
        /// Where the field is.
        location: String,
    },
    /// `requestId` is longer than [`MAX_REQUEST_ID_LEN`] characters.
    #[error("requestId is {len} characters long; at most 128 are allowed")]
    RequestIdTooLong {
        /// Its length in characters.
        len: usize,
    },
    /// No command of protocol version 1 has this channel, topic and subtopic.
    #[error("{}", crate::command::unknown_frame_message(channel, topic, subtopic))]
    UnknownFrame {
        /// The channel as sent (cut to 64 characters).
        channel: String,
        /// The topic as sent (cut to 64 characters).
        topic: String,
        /// The subtopic as sent (cut to 64 characters).
        subtopic: String,
    },
    /// A field has the right type but a value that is not allowed.
    #[error("invalid field \"{field}\" in {location}: {reason}")]
    InvalidField {
        /// The field's canonical name, e.g. `callbackTime`.
        field: &'static str,
        /// Why the value is refused; never contains a secret.
        reason: String,
        /// Where the field is.
        location: String,
    },
}

impl FrameError {
    /// The `errorType` of the `SetAPIError` that reports this error: always
    /// [`ErrorType::InvalidInput`].
    pub fn error_type(&self) -> ErrorType {
        ErrorType::InvalidInput
    }

    /// The field this error is about, if it is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            FrameError::MissingField { field, .. }
            | FrameError::WrongType { field, .. }
            | FrameError::InvalidField { field, .. } => Some(field),
            FrameError::RequestIdTooLong { .. } => Some("requestId"),
            FrameError::Json { .. } | FrameError::NotAnObject | FrameError::UnknownFrame { .. } => {
                None
            }
        }
    }
}
