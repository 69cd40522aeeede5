//! The typed client commands (docs/protocol.md sections 3, 4 and 6) and their validation:
//! [`Command::from_frame`] turns a parsed [`Frame`] into a [`Command`] or a [`FrameError`]
//! that names the problem.
//!
//! Names are matched case-insensitively: channel, topic and subtopic (`SetAnswer` is
//! `SetANSWER`) as well as the keys inside `data` (`CallID`/`callID`,
//! `TOAddress`/`toAddress`/`"ToAddress "`). Ids may arrive as JSON numbers and are kept as
//! their decimal text. An empty string in an optional field counts as absent (the
//! `ActionsAllowed` templates carry `""` for every field).
//!
//! `data.rs` reads a command's `data` field by field and checks each value.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::frame::{Frame, FrameError};
use crate::topic::{Topic, TopicError};

mod data;

use data::{
    Data, check_address, check_call_id, check_callback_time, check_dtmf, check_text,
    check_user_name, check_variable_name, check_variable_value, clip,
};

/// The longest `CallID` (a Finesse dialog id), in characters.
pub const MAX_CALL_ID_LEN: usize = 64;
/// The longest address (`toAddress`, `MediaAddress`, `callbackNumber`, `extension`).
pub const MAX_ADDRESS_LEN: usize = 64;
/// The longest DTMF string of one `SetSEND_DTMF`.
pub const MAX_DTMF_LEN: usize = 32;
/// The most call variables one `SetUPDATE_CALL_DATA` may set.
pub const MAX_CALL_VARIABLES: usize = 40;
/// The longest call variable name (`callVariable1`, `user.BAResponse`, ...).
pub const MAX_VARIABLE_NAME_LEN: usize = 64;
/// The longest call variable value, in characters.
pub const MAX_VARIABLE_VALUE_LEN: usize = 1024;
/// The longest user name, wrap-up reason or other free text field, in characters.
pub const MAX_TEXT_LEN: usize = 128;
/// The longest reason code id.
pub const MAX_REASON_CODE_ID_LEN: usize = 32;
/// The longest password, in characters.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// The longest access token (`Broker/Session/Authenticate`), in characters.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A secret string (a password or an access token). Its `Debug` and `Display` print `***`,
/// and it deliberately does not implement `Serialize`: the only way to the text is
/// [`Secret::expose`], to be called where the secret is handed to Finesse or a verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret text. Never log it, echo it or put it in an event.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Secret {
        Secret(secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a client last was in one event stream, for resuming (`since` of
/// `Broker/Subscription/Subscribe`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamPosition {
    /// The `offset` of the last event the client received in that stream.
    pub offset: u64,
    /// The stream's `epoch` when the client received it.
    pub epoch: String,
}

/// Which call topic a call-control frame used. Either is accepted for any dialog; the reply
/// repeats the one the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallTopic {
    /// `InboundCall`.
    Inbound,
    /// `OutboundCall`.
    Outbound,
}

impl CallTopic {
    /// The canonical topic name: `InboundCall` or `OutboundCall`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallTopic::Inbound => "InboundCall",
            CallTopic::Outbound => "OutboundCall",
        }
    }

    /// The call topic named `topic` (case-insensitive, trimmed), if it is one.
    pub fn from_topic(topic: &str) -> Option<CallTopic> {
        let topic = topic.trim();
        if topic.eq_ignore_ascii_case("InboundCall") {
            Some(CallTopic::Inbound)
        } else if topic.eq_ignore_ascii_case("OutboundCall") {
            Some(CallTopic::Outbound)
        } else {
            None
        }
    }
}

/// A call-control command: `Cisco/InboundCall|OutboundCall/Set<ACTION>` on one dialog.
#[derive(Debug, Clone, PartialEq)]
pub struct CallCommand {
    /// The topic the client used.
    pub topic: CallTopic,
    /// What to do.
    pub action: CallAction,
    /// The Finesse dialog id (`CallID`): 1 to 64 letters, digits, `-` or `_`.
    pub call_id: String,
    /// The `MediaAddress` the client gave; `None` means the signed-in extension.
    pub media_address: Option<String>,
}

/// The action of a [`CallCommand`], one per call-control subtopic of docs/protocol.md section 6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallAction {
    /// `SetANSWER` (the Acqueon table writes `SetAnswer`). The broker sends it to Finesse as
    /// `ACCEPT` for a preview reservation.
    Answer,
    /// `SetACCEPT`: accept a preview reservation.
    Accept,
    /// `SetREJECT`: reject a preview reservation.
    Reject,
    /// `SetCLOSE`: close a preview reservation.
    Close,
    /// `SetHOLD`.
    Hold,
    /// `SetRETRIEVE`.
    Retrieve,
    /// `SetDROP`.
    Drop,
    /// `SetTRANSFER_SST`: single-step (direct) transfer.
    TransferSst {
        /// Where to transfer the call (`toAddress`, `TOAddress`).
        to_address: String,
    },
    /// `SetCONSULT_CALL` (alias `SetCONSULT`): start a consult call.
    ConsultCall {
        /// Whom to consult (`toAddress`, `TOAddress`).
        to_address: String,
    },
    /// `SetTRANSFER`: complete a consult transfer.
    Transfer,
    /// `SetCONFERENCE`: complete a consult conference.
    Conference,
    /// `SetSEND_DTMF`.
    SendDtmf {
        /// The digits: 1 to 32 of `0-9 * # A-D` (lower-case `a-d` are made upper-case).
        dtmf: String,
    },
    /// `SetUPDATE_CALL_DATA`.
    UpdateCallData {
        /// `callVariables` as `(name, value)` pairs, at most 40, in name order.
        call_variables: Vec<(String, String)>,
        /// `wrapUpReason`, if given.
        wrap_up_reason: Option<String>,
    },
    /// `SetUPDATE_SCHEDULED_CALLBACK`.
    UpdateScheduledCallback {
        /// `callbackTime`, exactly `YYYY-MM-DDTHH:MM` (a valid date and time).
        callback_time: String,
        /// `callbackNumber`, if given.
        callback_number: Option<String>,
    },
    /// `SetCANCEL_SCHEDULED_CALLBACK`.
    CancelScheduledCallback,
}

impl CallAction {
    /// The Finesse dialog `requestedAction`, e.g. `ANSWER`, `TRANSFER_SST`,
    /// `UPDATE_SCHEDULED_CALLBACK`. (For a preview reservation the broker sends
    /// [`CallAction::Answer`] as `ACCEPT`; that decision needs the dialog and is not made
    /// here.)
    pub fn finesse_action(&self) -> &'static str {
        match self {
            CallAction::Answer => "ANSWER",
            CallAction::Accept => "ACCEPT",
            CallAction::Reject => "REJECT",
            CallAction::Close => "CLOSE",
            CallAction::Hold => "HOLD",
            CallAction::Retrieve => "RETRIEVE",
            CallAction::Drop => "DROP",
            CallAction::TransferSst { .. } => "TRANSFER_SST",
            CallAction::ConsultCall { .. } => "CONSULT_CALL",
            CallAction::Transfer => "TRANSFER",
            CallAction::Conference => "CONFERENCE",
            CallAction::SendDtmf { .. } => "SEND_DTMF",
            CallAction::UpdateCallData { .. } => "UPDATE_CALL_DATA",
            CallAction::UpdateScheduledCallback { .. } => "UPDATE_SCHEDULED_CALLBACK",
            CallAction::CancelScheduledCallback => "CANCEL_SCHEDULED_CALLBACK",
        }
    }

    /// The canonical subtopic, `"Set"` followed by the Finesse action (e.g. `SetANSWER`,
    /// `SetCONSULT_CALL`).
    pub fn subtopic(&self) -> &'static str {
        match self {
            CallAction::Answer => "SetANSWER",
            CallAction::Accept => "SetACCEPT",
            CallAction::Reject => "SetREJECT",
            CallAction::Close => "SetCLOSE",
            CallAction::Hold => "SetHOLD",
            CallAction::Retrieve => "SetRETRIEVE",
            CallAction::Drop => "SetDROP",
            CallAction::TransferSst { .. } => "SetTRANSFER_SST",
            CallAction::ConsultCall { .. } => "SetCONSULT_CALL",
            CallAction::Transfer => "SetTRANSFER",
            CallAction::Conference => "SetCONFERENCE",
            CallAction::SendDtmf { .. } => "SetSEND_DTMF",
            CallAction::UpdateCallData { .. } => "SetUPDATE_CALL_DATA",
            CallAction::UpdateScheduledCallback { .. } => "SetUPDATE_SCHEDULED_CALLBACK",
            CallAction::CancelScheduledCallback => "SetCANCEL_SCHEDULED_CALLBACK",
        }
    }
}

/// A typed client command. Built by [`Command::from_frame`].
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `Cisco/Agent/SetUserInfo {username, password, extension}`: agent or supervisor sign-in.
    SignIn {
        /// The Finesse user name or id.
        username: String,
        /// The password, used only for the Finesse calls it authorizes.
        password: Secret,
        /// The extension to sign in to.
        extension: String,
    },
    /// `Broker/Session/Authenticate {token}`: token sign-in.
    Authenticate {
        /// The JWT.
        token: Secret,
    },
    /// `Broker/Session/Ping`: answered by `Broker/Session/Pong` with the same `data`.
    Ping {
        /// The frame's `data`, echoed back.
        data: Value,
    },
    /// `Broker/Subscription/Subscribe {topics, since?}`.
    Subscribe {
        /// The topics that parsed, without duplicates, in the order given.
        topics: Vec<Topic>,
        /// Resume positions by canonical topic text (`agent/1001001`); entries whose key is
        /// not a valid topic are dropped.
        since: BTreeMap<String, StreamPosition>,
        /// The entries of `topics` that did not parse, as sent, with the reason; the gateway
        /// refuses just these and applies the others.
        rejected: Vec<(String, TopicError)>,
    },
    /// `Broker/Subscription/Unsubscribe {topics}`.
    Unsubscribe {
        /// The topics that parsed, without duplicates.
        topics: Vec<Topic>,
        /// The entries of `topics` that did not parse, as sent, with the reason.
        rejected: Vec<(String, TopicError)>,
    },
    /// A call-control command on one dialog (docs/protocol.md section 6).
    Call(CallCommand),
    /// `Cisco/InboundCall|OutboundCall/SetMakeCall {toAddress}`.
    MakeCall {
        /// The number to call.
        to_address: String,
    },
    /// `Cisco/Agent/SetReadyState`.
    SetReady,
    /// `Cisco/Agent/SetNotReadyState {ReasonCodeId}`.
    SetNotReady {
        /// The Not Ready reason code id, if given (kept as sent, e.g. `"28"` or `"-1"`).
        reason_code_id: Option<String>,
    },
    /// `Cisco/Agent/WrapUpCall {callID, wrapup}` (or `customwrapup` with
    /// `iscustomwrapup: true`).
    WrapUp {
        /// The dialog id.
        call_id: String,
        /// The wrap-up reason.
        wrapup: String,
    },
    /// `Cisco/Agent/UpdateCallVariables {callID, key, value}`.
    UpdateCallVariable {
        /// The dialog id.
        call_id: String,
        /// The variable name, e.g. `callVariable1` or `user.BAResponse`.
        key: String,
        /// The new value (may be empty).
        value: String,
    },
    /// `Cisco/Connection/Logout {ReasonCodeId}`.
    Logout {
        /// The logout reason code id, if given.
        reason_code_id: Option<String>,
    },
    /// `Cisco/Team/SetTeamAgentNotReadyState {Username, ReasonCodeId}` (supervisor).
    TeamAgentNotReady {
        /// The agent to change.
        username: String,
        /// The Not Ready reason code id, if given.
        reason_code_id: Option<String>,
    },
    /// `Cisco/Team/SetTeamAgentLogout {Username}` (supervisor).
    TeamAgentLogout {
        /// The agent to sign out.
        username: String,
    },
}

impl Command {
    /// Builds the command a frame asks for, validating its `data`.
    ///
    /// An unknown channel, topic or subtopic gives [`FrameError::UnknownFrame`]; a bad field
    /// gives [`FrameError::MissingField`], [`FrameError::WrongType`] or
    /// [`FrameError::InvalidField`], naming the field and the frame. Bad entries of `topics`
    /// do not fail a subscription command: they are listed in its `rejected`.
    pub fn from_frame(frame: &Frame) -> Result<Command, FrameError> {
        let channel = frame.channel.trim().to_ascii_lowercase();
        let topic = frame.topic.trim().to_ascii_lowercase();
        let subtopic = frame.subtopic.trim().to_ascii_lowercase();

        match (channel.as_str(), topic.as_str(), subtopic.as_str()) {
            ("cisco", "agent", "setuserinfo") => sign_in(&Data::of(frame)?),
            ("cisco", "agent", "setreadystate") => Ok(Command::SetReady),
            ("cisco", "agent", "setnotreadystate") => Ok(Command::SetNotReady {
                reason_code_id: Data::of(frame)?.reason_code_id()?,
            }),
            ("cisco", "agent", "wrapupcall") => wrap_up(&Data::of(frame)?),
            ("cisco", "agent", "updatecallvariables") => update_call_variable(&Data::of(frame)?),
            ("cisco", "connection", "logout") => Ok(Command::Logout {
                reason_code_id: Data::of(frame)?.reason_code_id()?,
            }),
            ("cisco", "team", "setteamagentnotreadystate") => {
                let data = Data::of(frame)?;
                Ok(Command::TeamAgentNotReady {
                    username: data.required_checked("Username", check_user_name)?,
                    reason_code_id: data.reason_code_id()?,
                })
            }
            ("cisco", "team", "setteamagentlogout") => Ok(Command::TeamAgentLogout {
                username: Data::of(frame)?.required_checked("Username", check_user_name)?,
            }),
            ("cisco", "inboundcall" | "outboundcall", "setmakecall") => Ok(Command::MakeCall {
                to_address: Data::of(frame)?.required_checked("toAddress", check_address)?,
            }),
            ("cisco", "inboundcall" | "outboundcall", sub) => {
                let (Some(call_topic), Some(kind)) = (
                    CallTopic::from_topic(&topic),
                    ActionKind::from_subtopic(sub),
                ) else {
                    return Err(unknown_frame(frame));
                };
                call(call_topic, kind, &Data::of(frame)?)
            }
            ("broker", "session", "authenticate") => Ok(Command::Authenticate {
                token: Data::of(frame)?.secret("token", MAX_TOKEN_LEN)?,
            }),
            ("broker", "session", "ping") => Ok(Command::Ping {
                data: frame.data.clone(),
            }),
            ("broker", "subscription", "subscribe") => {
                let data = Data::of(frame)?;
                let (topics, rejected) = data.topics()?;
                Ok(Command::Subscribe {
                    topics,
                    since: data.since()?,
                    rejected,
                })
            }
            ("broker", "subscription", "unsubscribe") => {
                let (topics, rejected) = Data::of(frame)?.topics()?;
                Ok(Command::Unsubscribe { topics, rejected })
            }
            _ => Err(unknown_frame(frame)),
        }
    }

    /// Whether the command needs a signed-in connection: false only for
    /// [`Command::SignIn`], [`Command::Authenticate`] and [`Command::Ping`].
    pub fn needs_sign_in(&self) -> bool {
        !matches!(
            self,
            Command::SignIn { .. } | Command::Authenticate { .. } | Command::Ping { .. }
        )
    }

    /// A stable name for logs and metrics: the canonical subtopic (`SetUserInfo`,
    /// `SetANSWER`, `Subscribe`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Command::SignIn { .. } => "SetUserInfo",
            Command::Authenticate { .. } => "Authenticate",
            Command::Ping { .. } => "Ping",
            Command::Subscribe { .. } => "Subscribe",
            Command::Unsubscribe { .. } => "Unsubscribe",
            Command::Call(call) => call.action.subtopic(),
            Command::MakeCall { .. } => "SetMakeCall",
            Command::SetReady => "SetReadyState",
            Command::SetNotReady { .. } => "SetNotReadyState",
            Command::WrapUp { .. } => "WrapUpCall",
            Command::UpdateCallVariable { .. } => "UpdateCallVariables",
            Command::Logout { .. } => "Logout",
            Command::TeamAgentNotReady { .. } => "SetTeamAgentNotReadyState",
            Command::TeamAgentLogout { .. } => "SetTeamAgentLogout",
        }
    }

    /// The dialog the command is about, if it names one (call-control commands,
    /// `WrapUpCall`, `UpdateCallVariables`).
    pub fn call_id(&self) -> Option<&str> {
        match self {
            Command::Call(call) => Some(&call.call_id),
            Command::WrapUp { call_id, .. } | Command::UpdateCallVariable { call_id, .. } => {
                Some(call_id)
            }
            _ => None,
        }
    }
}

/// The call-control subtopics, before their fields are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActionKind {
    Answer,
    Accept,
    Reject,
    Close,
    Hold,
    Retrieve,
    Drop,
    TransferSst,
    ConsultCall,
    Transfer,
    Conference,
    SendDtmf,
    UpdateCallData,
    UpdateScheduledCallback,
    CancelScheduledCallback,
}

impl ActionKind {
    /// The kind for a lower-cased subtopic.
    fn from_subtopic(lower: &str) -> Option<ActionKind> {
        Some(match lower {
            "setanswer" => ActionKind::Answer,
            "setaccept" => ActionKind::Accept,
            "setreject" => ActionKind::Reject,
            "setclose" => ActionKind::Close,
            "sethold" => ActionKind::Hold,
            "setretrieve" => ActionKind::Retrieve,
            "setdrop" => ActionKind::Drop,
            "settransfer_sst" => ActionKind::TransferSst,
            "setconsult_call" | "setconsult" => ActionKind::ConsultCall,
            "settransfer" => ActionKind::Transfer,
            "setconference" => ActionKind::Conference,
            "setsend_dtmf" => ActionKind::SendDtmf,
            "setupdate_call_data" => ActionKind::UpdateCallData,
            "setupdate_scheduled_callback" => ActionKind::UpdateScheduledCallback,
            "setcancel_scheduled_callback" => ActionKind::CancelScheduledCallback,
            _ => return None,
        })
    }
}

/// Builds a call-control command.
fn call(topic: CallTopic, kind: ActionKind, data: &Data<'_>) -> Result<Command, FrameError> {
    // The Acqueon templates spell the id `callID` for these three, `CallID` for the rest;
    // either spelling is accepted, and errors use the documented one.
    let call_id_field = match kind {
        ActionKind::UpdateCallData
        | ActionKind::UpdateScheduledCallback
        | ActionKind::CancelScheduledCallback => "callID",
        _ => "CallID",
    };
    let call_id = data.required_checked(call_id_field, check_call_id)?;
    let media_address = data.optional_checked("MediaAddress", check_address)?;
    let action = match kind {
        ActionKind::Answer => CallAction::Answer,
        ActionKind::Accept => CallAction::Accept,
        ActionKind::Reject => CallAction::Reject,
        ActionKind::Close => CallAction::Close,
        ActionKind::Hold => CallAction::Hold,
        ActionKind::Retrieve => CallAction::Retrieve,
        ActionKind::Drop => CallAction::Drop,
        ActionKind::Transfer => CallAction::Transfer,
        ActionKind::Conference => CallAction::Conference,
        ActionKind::CancelScheduledCallback => CallAction::CancelScheduledCallback,
        ActionKind::TransferSst => CallAction::TransferSst {
            to_address: data.required_checked("toAddress", check_address)?,
        },
        ActionKind::ConsultCall => CallAction::ConsultCall {
            to_address: data.required_checked("toAddress", check_address)?,
        },
        ActionKind::SendDtmf => CallAction::SendDtmf {
            dtmf: data
                .required_checked("dtmf", check_dtmf)?
                .to_ascii_uppercase(),
        },
        ActionKind::UpdateCallData => {
            let wrap_up_reason = data.optional_checked("wrapUpReason", check_text)?;
            let call_variables = match data.get("callVariables") {
                None if wrap_up_reason.is_some() => Vec::new(),
                None => return Err(data.missing("callVariables")),
                Some(value) => data.call_variables(value)?,
            };
            CallAction::UpdateCallData {
                call_variables,
                wrap_up_reason,
            }
        }
        ActionKind::UpdateScheduledCallback => CallAction::UpdateScheduledCallback {
            callback_time: data.required_checked("callbackTime", check_callback_time)?,
            callback_number: data.optional_checked("callbackNumber", check_address)?,
        },
    };
    Ok(Command::Call(CallCommand {
        topic,
        action,
        call_id,
        media_address,
    }))
}

/// `Cisco/Agent/SetUserInfo`.
fn sign_in(data: &Data<'_>) -> Result<Command, FrameError> {
    Ok(Command::SignIn {
        username: data.required_checked("username", check_user_name)?,
        password: data.secret("password", MAX_PASSWORD_LEN)?,
        extension: data.required_checked("extension", check_address)?,
    })
}

/// `Cisco/Agent/WrapUpCall`: `wrapup`, or `customwrapup` when `iscustomwrapup` is true.
fn wrap_up(data: &Data<'_>) -> Result<Command, FrameError> {
    let call_id = data.required_checked("callID", check_call_id)?;
    let custom = match data.get("iscustomwrapup") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1"),
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    };
    let wrapup = if custom {
        data.required_checked("customwrapup", check_text)?
    } else {
        data.required_checked("wrapup", check_text)?
    };
    Ok(Command::WrapUp { call_id, wrapup })
}

/// `Cisco/Agent/UpdateCallVariables`.
fn update_call_variable(data: &Data<'_>) -> Result<Command, FrameError> {
    let call_id = data.required_checked("callID", check_call_id)?;
    let key = data.required_checked("key", check_variable_name)?;
    let value = match data.text("value")? {
        None => return Err(data.missing("value")),
        Some(value) => data.checked("value", value, check_variable_value)?,
    };
    Ok(Command::UpdateCallVariable {
        call_id,
        key,
        value,
    })
}

/// A [`FrameError::UnknownFrame`] for `frame`, its names cut to 64 characters.
fn unknown_frame(frame: &Frame) -> FrameError {
    FrameError::UnknownFrame {
        channel: clip(&frame.channel),
        topic: clip(&frame.topic),
        subtopic: clip(&frame.subtopic),
    }
}

/// The message of [`FrameError::UnknownFrame`]: says which of the three names is unknown.
pub(crate) fn unknown_frame_message(channel: &str, topic: &str, subtopic: &str) -> String {
    const CISCO_TOPICS: &str = "InboundCall, OutboundCall, Agent, Connection, Team";
    const BROKER_TOPICS: &str = "Session, Subscription";
    let full = format!("{channel}/{topic}/{subtopic}");
    let topics = if channel.trim().eq_ignore_ascii_case("Cisco") {
        CISCO_TOPICS
    } else if channel.trim().eq_ignore_ascii_case("Broker") {
        BROKER_TOPICS
    } else {
        return format!(
            "unknown channel \"{channel}\" in frame {full}: expected \"Cisco\" or \"Broker\""
        );
    };
    let topic_known = topics
        .split(", ")
        .any(|known| known.eq_ignore_ascii_case(topic.trim()));
    if !topic_known {
        format!("unknown topic \"{topic}\" in frame {full}: channel {channel} has {topics}")
    } else if subtopic.trim().is_empty() {
        format!("missing subtopic in frame {full}")
    } else {
        format!("unknown subtopic \"{subtopic}\" in frame {full}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_frame_message_names_the_unknown_part() {
        assert!(unknown_frame_message("Foo", "Agent", "X").contains("unknown channel \"Foo\""));
        assert!(unknown_frame_message("Cisco", "Nope", "X").contains("unknown topic \"Nope\""));
        assert!(
            unknown_frame_message("cisco", "outboundcall", "SetFOO")
                .contains("unknown subtopic \"SetFOO\"")
        );
        assert!(unknown_frame_message("Broker", "Session", "").contains("missing subtopic"));
    }
}
