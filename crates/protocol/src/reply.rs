//! The server frames that are not call events (call events are built where dialogs are):
//! command results, `Cisco/Error/SetAPIError`, `Broker/Session/Ready`,
//! `Broker/Subscription/Subscribed` and `Unsubscribed`, `Broker/Session/Pong`.
//!
//! Each function returns the frame as JSON text, keys in the canonical spelling and order
//! `channel, topic, subtopic, data, requestId`; `requestId` is left out when `None`.

use serde::Serialize;
use serde_json::Value;

use crate::codes::ResponseType;
use crate::frame::FrameError;
use crate::topic::Topic;

/// What [`to_json_text`] returns if serialization ever failed (it cannot for these types).
const FALLBACK: &str = r#"{"channel":"Cisco","topic":"Error","subtopic":"SetAPIError","data":{"packet":"apierror","data":{"errorType":"Finesse Error","errorMessage":"internal error: reply could not be serialized","msg":"internal error: reply could not be serialized"}}}"#;

/// The envelope of every reply.
#[derive(Serialize)]
struct Envelope<'a, D: Serialize> {
    channel: &'a str,
    topic: &'a str,
    subtopic: &'a str,
    data: D,
    #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// `data` of a command result.
#[derive(Serialize)]
struct ResultData<'a> {
    #[serde(rename = "ResponseType")]
    response_type: ResponseType,
    #[serde(rename = "ResponseText")]
    response_text: &'a str,
    #[serde(rename = "finesseRequestId")]
    finesse_request_id: Option<&'a str>,
}

/// `data` of `SetAPIError`, in the Acqueon shape.
#[derive(Serialize)]
struct ApiErrorData<'a> {
    packet: &'static str,
    data: ApiErrorInner<'a>,
}

/// `data.data` of `SetAPIError`.
#[derive(Serialize)]
struct ApiErrorInner<'a> {
    #[serde(rename = "errorType")]
    error_type: &'a str,
    #[serde(rename = "errorMessage")]
    error_message: &'a str,
    msg: &'a str,
}

/// `data` of `Broker/Session/Ready`.
#[derive(Serialize)]
struct ReadyData<'a> {
    #[serde(rename = "sessionId")]
    session_id: &'a str,
    #[serde(rename = "agentId")]
    agent_id: Option<&'a str>,
    extension: Option<&'a str>,
    roles: Vec<&'a str>,
    teams: Vec<&'a str>,
    #[serde(rename = "resumeToken")]
    resume_token: &'a str,
}

/// `data` of `Broker/Subscription/Subscribed` and `Unsubscribed`.
#[derive(Serialize)]
struct TopicsData<'a> {
    topics: &'a [Topic],
    #[serde(skip_serializing_if = "Option::is_none")]
    recovered: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// Serializes a reply. These types cannot fail to serialize (all map keys are strings); if
/// one ever did, the result is a generic `SetAPIError` rather than a panic.
pub(crate) fn to_json_text<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| FALLBACK.to_owned())
}

/// The one reply to a command: `{channel, topic, subtopic: <subtopic>Result, data:
/// {ResponseType, ResponseText, finesseRequestId}, requestId}`.
///
/// `channel`, `topic` and `subtopic_of_command` are the command's (as the client sent them);
/// `text` overrides the default [`ResponseType::text`]; `finesse_request_id` is the id the
/// outcome's call event carries in `ResponseActual.requestId` (`null` when there is none).
pub fn command_result(
    channel: &str,
    topic: &str,
    subtopic_of_command: &str,
    request_id: Option<&str>,
    response: ResponseType,
    text: Option<&str>,
    finesse_request_id: Option<&str>,
) -> String {
    let subtopic = format!("{subtopic_of_command}Result");
    to_json_text(&Envelope {
        channel,
        topic,
        subtopic: &subtopic,
        data: ResultData {
            response_type: response,
            response_text: text.unwrap_or_else(|| response.text()),
            finesse_request_id,
        },
        request_id,
    })
}

/// `Cisco/Error/SetAPIError` in the Acqueon shape: `data: {packet: "apierror", data:
/// {errorType, errorMessage, msg}}`; `errorMessage` and `msg` both carry `message`.
/// `error_type` is an [`ErrorType`](crate::ErrorType) or, for Finesse CTI errors, Finesse's own text.
pub fn api_error(error_type: impl AsRef<str>, message: &str, request_id: Option<&str>) -> String {
    to_json_text(&Envelope {
        channel: "Cisco",
        topic: "Error",
        subtopic: "SetAPIError",
        data: ApiErrorData {
            packet: "apierror",
            data: ApiErrorInner {
                error_type: error_type.as_ref(),
                error_message: message,
                msg: message,
            },
        },
        request_id,
    })
}

/// The `SetAPIError` (`errorType: "Invalid Input"`) for a refused client frame, its message
/// the error's.
pub fn frame_error(error: &FrameError, request_id: Option<&str>) -> String {
    api_error(error.error_type(), &error.to_string(), request_id)
}

/// `Broker/Session/Ready {sessionId, agentId, extension, roles, teams, resumeToken}`, the
/// last reply to a successful sign-in. `agent_id` and `extension` are `null` for a token
/// sign-in without them; `request_id` is the sign-in frame's.
pub fn ready<R: AsRef<str>, T: AsRef<str>>(
    session_id: &str,
    agent_id: Option<&str>,
    extension: Option<&str>,
    roles: &[R],
    teams: &[T],
    resume_token: &str,
    request_id: Option<&str>,
) -> String {
    to_json_text(&Envelope {
        channel: "Broker",
        topic: "Session",
        subtopic: "Ready",
        data: ReadyData {
            session_id,
            agent_id,
            extension,
            roles: roles.iter().map(AsRef::as_ref).collect(),
            teams: teams.iter().map(AsRef::as_ref).collect(),
            resume_token,
        },
        request_id,
    })
}

/// `Broker/Subscription/Subscribed {topics, recovered?}`: the topics now subscribed by this
/// command; `recovered` (left out when `None`) says whether a resume replayed every missed
/// event (`true`) or fell back to a snapshot (`false`).
pub fn subscribed(topics: &[Topic], recovered: Option<bool>, request_id: Option<&str>) -> String {
    to_json_text(&Envelope {
        channel: "Broker",
        topic: "Subscription",
        subtopic: "Subscribed",
        data: TopicsData {
            topics,
            recovered,
            reason: None,
        },
        request_id,
    })
}

/// `Broker/Subscription/Unsubscribed {topics}`: the topics this command removed.
pub fn unsubscribed(topics: &[Topic], request_id: Option<&str>) -> String {
    to_json_text(&Envelope {
        channel: "Broker",
        topic: "Subscription",
        subtopic: "Unsubscribed",
        data: TopicsData {
            topics,
            recovered: None,
            reason: None,
        },
        request_id,
    })
}

/// The reason of an [`ended`] subscription whose subscriber no longer takes part in the
/// dialog.
pub const LEFT_DIALOG: &str = "left_dialog";

/// `Broker/Subscription/Unsubscribed {topics, reason}` sent by the server on its own (no
/// `requestId`): the subscriptions to `topics` ended because the connection may no longer
/// have them ([`LEFT_DIALOG`]: a `dialog/<id>` whose dialog left the subscriber's list).
pub fn ended(topics: &[Topic], reason: &str) -> String {
    to_json_text(&Envelope {
        channel: "Broker",
        topic: "Subscription",
        subtopic: "Unsubscribed",
        data: TopicsData {
            topics,
            recovered: None,
            reason: Some(reason),
        },
        request_id: None,
    })
}

/// `Broker/Session/Pong` carrying the ping's `data` unchanged.
pub fn pong(data: &Value, request_id: Option<&str>) -> String {
    to_json_text(&Envelope {
        channel: "Broker",
        topic: "Session",
        subtopic: "Pong",
        data,
        request_id,
    })
}
