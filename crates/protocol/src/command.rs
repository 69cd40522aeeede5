//! The typed client commands (docs/protocol.md sections 3, 4 and 6) and their validation:
//! [`Command::from_frame`] turns a parsed [`Frame`] into a [`Command`] or a [`FrameError`]
//! that names the problem.
//!
//! Names are matched case-insensitively: channel, topic and subtopic (`SetAnswer` is
//! `SetANSWER`) as well as the keys inside `data` (`CallID`/`callID`,
//! `TOAddress`/`toAddress`/`"ToAddress "`). Ids may arrive as JSON numbers and are kept as
//! their decimal text. An empty string in an optional field counts as absent (the
//! `ActionsAllowed` templates carry `""` for every field).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::frame::{Frame, FrameError, map_get_ci};
use crate::topic::{Topic, TopicError};

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

/// Entries of `topics` that did not parse, with the reason.
type Rejected = Vec<(String, TopicError)>;

/// The fields of a command's `data`, with the frame's name for error messages.
struct Data<'a> {
    map: Cow<'a, Map<String, Value>>,
    location: String,
}

impl<'a> Data<'a> {
    /// The `data` of `frame` as an object. `null`, an absent `data` and an empty string are
    /// an empty object; a string holding a JSON object (double-encoded `data`) is that
    /// object; anything else is refused.
    fn of(frame: &'a Frame) -> Result<Data<'a>, FrameError> {
        let location = format!(
            "data of {}/{}/{}",
            frame.channel, frame.topic, frame.subtopic
        );
        let map = match &frame.data {
            Value::Object(map) => Cow::Borrowed(map),
            Value::Null => Cow::Owned(Map::new()),
            Value::String(s) if s.trim().is_empty() => Cow::Owned(Map::new()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(map)) => Cow::Owned(map),
                _ => return Err(data_not_an_object(frame)),
            },
            _ => return Err(data_not_an_object(frame)),
        };
        Ok(Data { map, location })
    }

    /// The value of `key` (case-insensitive, trimmed); `null` counts as absent.
    fn get(&self, key: &str) -> Option<&Value> {
        map_get_ci(&self.map, key).filter(|v| !v.is_null())
    }

    fn missing(&self, field: &'static str) -> FrameError {
        FrameError::MissingField {
            field,
            location: self.location.clone(),
        }
    }

    fn wrong_type(&self, field: &'static str, expected: &'static str) -> FrameError {
        FrameError::WrongType {
            field,
            expected,
            location: self.location.clone(),
        }
    }

    fn invalid(&self, field: &'static str, reason: impl Into<String>) -> FrameError {
        FrameError::InvalidField {
            field,
            reason: reason.into(),
            location: self.location.clone(),
        }
    }

    /// A text field: a string (trimmed) or a number (its decimal text); `None` if absent.
    fn text(&self, field: &'static str) -> Result<Option<String>, FrameError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(self.wrong_type(field, "a string")),
        }
    }

    /// Runs `check` on a field's value.
    fn checked(
        &self,
        field: &'static str,
        value: String,
        check: fn(&str) -> Result<(), String>,
    ) -> Result<String, FrameError> {
        match check(&value) {
            Ok(()) => Ok(value),
            Err(reason) => Err(self.invalid(field, reason)),
        }
    }

    /// A required, non-empty text field that passes `check`.
    fn required_checked(
        &self,
        field: &'static str,
        check: fn(&str) -> Result<(), String>,
    ) -> Result<String, FrameError> {
        match self.text(field)? {
            None => Err(self.missing(field)),
            Some(value) if value.is_empty() => Err(self.invalid(field, "must not be empty")),
            Some(value) => self.checked(field, value, check),
        }
    }

    /// An optional text field that passes `check` when present; empty counts as absent.
    fn optional_checked(
        &self,
        field: &'static str,
        check: fn(&str) -> Result<(), String>,
    ) -> Result<Option<String>, FrameError> {
        match self.text(field)? {
            None => Ok(None),
            Some(value) if value.is_empty() => Ok(None),
            Some(value) => self.checked(field, value, check).map(Some),
        }
    }

    /// `ReasonCodeId`, optional.
    fn reason_code_id(&self) -> Result<Option<String>, FrameError> {
        self.optional_checked("ReasonCodeId", check_reason_code_id)
    }

    /// A secret (password or token): taken as sent, not trimmed; never echoed in errors.
    fn secret(&self, field: &'static str, max: usize) -> Result<Secret, FrameError> {
        let text = match self.get(field) {
            None => return Err(self.missing(field)),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(self.wrong_type(field, "a string")),
        };
        if text.trim().is_empty() {
            return Err(self.invalid(field, "must not be empty"));
        }
        if text.chars().count() > max {
            return Err(self.invalid(field, format!("is longer than {max} characters")));
        }
        Ok(Secret(text))
    }

    /// `topics`: an array of strings (a single string is taken as a one-topic list). Entries
    /// that are not valid topics are returned apart, with the reason.
    fn topics(&self) -> Result<(Vec<Topic>, Rejected), FrameError> {
        let items: Vec<&Value> = match self.get("topics") {
            None => return Err(self.missing("topics")),
            Some(Value::Array(items)) => items.iter().collect(),
            Some(item @ Value::String(_)) => vec![item],
            Some(_) => return Err(self.wrong_type("topics", "an array of strings")),
        };
        let mut seen = BTreeSet::new();
        let mut topics = Vec::new();
        let mut rejected = Vec::new();
        for item in items {
            match item {
                Value::String(text) => match text.parse::<Topic>() {
                    Ok(topic) => {
                        if seen.insert(topic.clone()) {
                            topics.push(topic);
                        }
                    }
                    Err(error) => rejected.push((text.clone(), error)),
                },
                other => {
                    let text = other.to_string();
                    let error = TopicError::not_a_string(&text);
                    rejected.push((text, error));
                }
            }
        }
        Ok((topics, rejected))
    }

    /// `since`: `{topic: {offset, epoch}}`, keyed by canonical topic text. Keys that are not
    /// valid topics are dropped (such a topic is reported through `topics`); a malformed
    /// position refuses the command.
    fn since(&self) -> Result<BTreeMap<String, StreamPosition>, FrameError> {
        let map = match self.get("since") {
            None => return Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(self.wrong_type("since", "an object of topic: {offset, epoch}"));
            }
        };
        let mut since = BTreeMap::new();
        for (key, value) in map {
            let Ok(topic) = key.parse::<Topic>() else {
                continue;
            };
            let topic = topic.to_string();
            let Some(position) = stream_position(value) else {
                return Err(self.invalid(
                    "since",
                    format!(
                        "the position for \"{topic}\" must be {{\"offset\": <integer >= 0>, \
                         \"epoch\": <string of at most {MAX_TEXT_LEN} characters>}}"
                    ),
                ));
            };
            since.insert(topic, position);
        }
        Ok(since)
    }

    /// `callVariables`: `{name: value}` with string or number values, at most 40.
    fn call_variables(&self, value: &Value) -> Result<Vec<(String, String)>, FrameError> {
        const FIELD: &str = "callVariables";
        let Value::Object(map) = value else {
            return Err(self.wrong_type(FIELD, "an object of name: value pairs"));
        };
        if map.len() > MAX_CALL_VARIABLES {
            return Err(self.invalid(
                FIELD,
                format!(
                    "has {} entries; at most {MAX_CALL_VARIABLES} are allowed",
                    map.len()
                ),
            ));
        }
        let mut variables = Vec::with_capacity(map.len());
        for (name, value) in map {
            let name = name.trim();
            if let Err(reason) = check_variable_name(name) {
                return Err(
                    self.invalid(FIELD, format!("variable name \"{}\" {reason}", clip(name)))
                );
            }
            let value = match value {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                _ => {
                    return Err(self.invalid(
                        FIELD,
                        format!("the value of \"{name}\" must be a string or a number"),
                    ));
                }
            };
            if let Err(reason) = check_variable_value(&value) {
                return Err(self.invalid(FIELD, format!("the value of \"{name}\" {reason}")));
            }
            variables.push((name.to_owned(), value));
        }
        Ok(variables)
    }
}

/// A [`FrameError::WrongType`] for a `data` that is not an object.
fn data_not_an_object(frame: &Frame) -> FrameError {
    FrameError::WrongType {
        field: "data",
        expected: "an object",
        location: format!("frame {}/{}/{}", frame.channel, frame.topic, frame.subtopic),
    }
}

/// One `{offset, epoch}` of `since`; `offset` may also be a string of digits, `epoch` a
/// number.
fn stream_position(value: &Value) -> Option<StreamPosition> {
    let map = value.as_object()?;
    let offset = match map_get_ci(map, "offset")? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    let epoch = match map_get_ci(map, "epoch")? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    check_text(&epoch).ok()?;
    Some(StreamPosition { offset, epoch })
}

/// A [`FrameError::UnknownFrame`] for `frame`, its names cut to 64 characters.
fn unknown_frame(frame: &Frame) -> FrameError {
    FrameError::UnknownFrame {
        channel: clip(&frame.channel),
        topic: clip(&frame.topic),
        subtopic: clip(&frame.subtopic),
    }
}

/// `text` cut to 64 characters, for error messages.
fn clip(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push('…');
        cut
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

/// Counts characters, refusing more than `max`.
fn check_len(value: &str, max: usize) -> Result<(), String> {
    let len = value.chars().count();
    if len > max {
        Err(format!(
            "is {len} characters long; at most {max} are allowed"
        ))
    } else {
        Ok(())
    }
}

/// A dialog id: letters, digits, `-`, `_`; at most 64.
fn check_call_id(value: &str) -> Result<(), String> {
    check_len(value, MAX_CALL_ID_LEN)?;
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        Ok(())
    } else {
        Err("may hold only letters, digits, '-' and '_'".to_owned())
    }
}

/// A reason code id: letters, digits, `-`, `_`; at most 32.
fn check_reason_code_id(value: &str) -> Result<(), String> {
    check_len(value, MAX_REASON_CODE_ID_LEN)?;
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        Ok(())
    } else {
        Err("may hold only letters, digits, '-' and '_'".to_owned())
    }
}

/// An address (phone number, extension, SIP user): printable ASCII, at most 64.
fn check_address(value: &str) -> Result<(), String> {
    check_len(value, MAX_ADDRESS_LEN)?;
    if value.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        Ok(())
    } else {
        Err("may hold only printable ASCII characters".to_owned())
    }
}

/// A user name: no control characters, at most 128.
fn check_user_name(value: &str) -> Result<(), String> {
    check_text(value)
}

/// Free text: no control characters, at most 128.
fn check_text(value: &str) -> Result<(), String> {
    check_len(value, MAX_TEXT_LEN)?;
    if value.chars().any(char::is_control) {
        Err("must not contain control characters".to_owned())
    } else {
        Ok(())
    }
}

/// DTMF digits: 1 to 32 of `0-9 * # A-D` (any case).
fn check_dtmf(value: &str) -> Result<(), String> {
    check_len(value, MAX_DTMF_LEN)?;
    if value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c.to_ascii_uppercase(), '*' | '#' | 'A'..='D'))
    {
        Ok(())
    } else {
        Err("may hold only 0-9, *, # and A-D".to_owned())
    }
}

/// A call variable name: 1 to 64 letters, digits, `.`, `_`, `-`.
fn check_variable_name(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    check_len(value, MAX_VARIABLE_NAME_LEN)?;
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Ok(())
    } else {
        Err("may hold only letters, digits, '.', '_' and '-'".to_owned())
    }
}

/// A call variable value: no control characters, at most 1024.
fn check_variable_value(value: &str) -> Result<(), String> {
    check_len(value, MAX_VARIABLE_VALUE_LEN)?;
    if value.chars().any(char::is_control) {
        Err("must not contain control characters".to_owned())
    } else {
        Ok(())
    }
}

/// `callbackTime`: exactly `YYYY-MM-DDTHH:MM`, a real calendar date, hour 00-23, minute
/// 00-59; no seconds and no zone.
fn check_callback_time(value: &str) -> Result<(), String> {
    const SHAPE: &str =
        "must be YYYY-MM-DDTHH:MM (no seconds, no time zone), e.g. 2026-03-07T14:30";
    let bytes = value.as_bytes();
    let shape_ok = bytes.len() == 16
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(SHAPE.to_owned());
    }
    let number = |from: usize, to: usize| -> u32 {
        bytes
            .iter()
            .skip(from)
            .take(to - from)
            .fold(0, |n, &b| n * 10 + u32::from(b - b'0'))
    };
    let (year, month, day) = (number(0, 4), number(5, 7), number(8, 10));
    let (hour, minute) = (number(11, 13), number(14, 16));
    if !(1..=12).contains(&month) {
        return Err(format!("month {month:02} does not exist ({SHAPE})"));
    }
    let days = days_in_month(year, month);
    if day == 0 || day > days {
        return Err(format!(
            "day {day:02} does not exist in {year:04}-{month:02} ({SHAPE})"
        ));
    }
    if hour > 23 {
        return Err(format!("hour {hour:02} is not 00-23 ({SHAPE})"));
    }
    if minute > 59 {
        return Err(format!("minute {minute:02} is not 00-59 ({SHAPE})"));
    }
    Ok(())
}

/// Days in a month of the Gregorian calendar.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_time_accepts_real_times() {
        for good in [
            "2026-03-07T14:30",
            "2026-12-31T23:59",
            "2026-01-01T00:00",
            "2024-02-29T10:00",
            "2000-02-29T10:00",
        ] {
            assert_eq!(check_callback_time(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn callback_time_refuses_bad_times() {
        for bad in [
            "2026-13-01T10:00",
            "2026-00-01T10:00",
            "2026-02-30T10:00",
            "2026-02-29T10:00",
            "1900-02-29T10:00",
            "2026-04-31T10:00",
            "2026-01-00T10:00",
            "2026-01-01T24:00",
            "2026-01-01T10:60",
            "2026-01-01T10:00:00",
            "2026-01-01T10:00Z",
            "2026-01-01T10:00+01:00",
            "2026-01-01 10:00",
            "2026-1-01T10:00",
            "26-01-01T10:00",
            "",
            "２０２６-01-01T10:00",
        ] {
            assert!(check_callback_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dtmf_rules() {
        assert!(check_dtmf("0123456789*#ABCDabcd").is_ok());
        assert!(check_dtmf("12E").is_err());
        assert!(check_dtmf(&"1".repeat(33)).is_err());
        assert!(check_dtmf(&"1".repeat(32)).is_ok());
    }

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
