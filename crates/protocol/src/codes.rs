//! The documented tables of the protocol (docs/protocol.md sections 6 and 7): WebSocket close
//! codes ([`CloseCode`]), the `errorType` strings of `Cisco/Error/SetAPIError`
//! ([`ErrorType`]) and the `ResponseType` codes of command results ([`ResponseType`]).
//!
//! The numbers and strings here are the wire contract: `docs/protocol.md` quotes them
//! verbatim, and changing one breaks deployed widgets.

use std::fmt;

use serde::{Serialize, Serializer};

/// Why the server closed a WebSocket connection. Codes 4000-4499 mean "reconnecting is
/// fine" (with back-off), 4500-4999 "do not reconnect". 1002 and 1007 are RFC 6455's own,
/// for a client that broke the WebSocket framing: the same client would break it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum CloseCode {
    /// 1002 (RFC 6455): the client broke the WebSocket framing (an unmasked or
    /// fragmented control frame, reserved bits, an unknown opcode, a bad close frame).
    ProtocolError = 1002,
    /// 1007 (RFC 6455): a text frame (or close reason) that is not UTF-8.
    InvalidPayload = 1007,
    /// 4000: the server is shutting down; reconnect with back-off.
    Shutdown = 4000,
    /// 4401: the connection did not sign in within the configured time.
    NotSignedIn = 4401,
    /// 4403: signed out, by a supervisor or by the agent.
    SignedOut = 4403,
    /// 4408: the client read too slowly and its queue overflowed; reconnect and resume.
    TooSlow = 4408,
    /// 4409: a client frame was larger than the configured limit.
    FrameTooLarge = 4409,
    /// 4429: too many connections (for this user, address or server).
    TooManyConnections = 4429,
    /// 4503: the account is locked after repeated failed sign-ins; do not reconnect.
    AccountLocked = 4503,
}

impl CloseCode {
    /// Every close code, in ascending order.
    pub const ALL: [CloseCode; 9] = [
        CloseCode::ProtocolError,
        CloseCode::InvalidPayload,
        CloseCode::Shutdown,
        CloseCode::NotSignedIn,
        CloseCode::SignedOut,
        CloseCode::TooSlow,
        CloseCode::FrameTooLarge,
        CloseCode::TooManyConnections,
        CloseCode::AccountLocked,
    ];

    /// The numeric code sent in the WebSocket close frame.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The close code with this number, if it is one of the table.
    pub fn from_code(code: u16) -> Option<CloseCode> {
        CloseCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// A stable snake-case name, for logs and metric labels (e.g. `too_slow`).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseCode::ProtocolError => "protocol_error",
            CloseCode::InvalidPayload => "invalid_payload",
            CloseCode::Shutdown => "shutdown",
            CloseCode::NotSignedIn => "not_signed_in",
            CloseCode::SignedOut => "signed_out",
            CloseCode::TooSlow => "too_slow",
            CloseCode::FrameTooLarge => "frame_too_large",
            CloseCode::TooManyConnections => "too_many_connections",
            CloseCode::AccountLocked => "account_locked",
        }
    }

    /// The reason text of the close frame: short (at most 60 bytes, well under the 123 a
    /// close frame allows) and meant for a widget author reading a log.
    pub fn reason(self) -> &'static str {
        match self {
            CloseCode::ProtocolError => "WebSocket protocol error",
            CloseCode::InvalidPayload => "text frame is not UTF-8",
            CloseCode::Shutdown => "server shutting down; reconnect with back-off",
            CloseCode::NotSignedIn => "not signed in in time",
            CloseCode::SignedOut => "signed out",
            CloseCode::TooSlow => "too slow: send queue overflowed; reconnect and resume",
            CloseCode::FrameTooLarge => "frame too large",
            CloseCode::TooManyConnections => "too many connections",
            CloseCode::AccountLocked => "account locked; do not reconnect",
        }
    }

    /// Whether a client may reconnect after this close: true for 4000-4499, false for
    /// 4500-4999.
    pub fn may_reconnect(self) -> bool {
        (4000..4500).contains(&self.code())
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.reason())
    }
}

/// The `errorType` of a `Cisco/Error/SetAPIError` frame. Serializes as its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorType {
    /// `"Invalid Input"`: bad JSON, unknown frame, missing or invalid field.
    InvalidInput,
    /// `"Authorization Failure"`: bad credentials or token, or a refused topic or action.
    AuthorizationFailure,
    /// `"Not Signed In"`: a command other than sign-in or ping before signing in.
    NotSignedIn,
    /// `"Dialog Not Found"`: the `CallID` names no dialog the broker knows.
    UnknownDialog,
    /// `"Action Not Allowed"`: the action is not in the participant's current `actions`.
    ActionNotAllowed,
    /// `"Finesse Error"`: Finesse refused the request.
    FinesseError,
    /// `"Service Unavailable"`: Finesse could not be reached or is out of service.
    FinesseUnavailable,
    /// `"Timeout"`: Finesse did not answer in time.
    Timeout,
    /// `"Too Many Requests"`: too many commands in flight or per second, too many
    /// connections of one user, or the sign-in throttle.
    TooManyRequests,
    /// `"Call Operation Failure"`: a Finesse CTI error for a call request.
    CallOperationFailure,
    /// `"Resume Token Unknown"`: the resume token is unknown to this server
    /// (used, expired, or issued before a restart); not a failed sign-in.
    ResumeTokenUnknown,
}

impl ErrorType {
    /// Every error type.
    pub const ALL: [ErrorType; 11] = [
        ErrorType::InvalidInput,
        ErrorType::AuthorizationFailure,
        ErrorType::NotSignedIn,
        ErrorType::UnknownDialog,
        ErrorType::ActionNotAllowed,
        ErrorType::FinesseError,
        ErrorType::FinesseUnavailable,
        ErrorType::Timeout,
        ErrorType::TooManyRequests,
        ErrorType::CallOperationFailure,
        ErrorType::ResumeTokenUnknown,
    ];

    /// The `errorType` text on the wire, e.g. `"Invalid Input"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidInput => "Invalid Input",
            ErrorType::AuthorizationFailure => "Authorization Failure",
            ErrorType::NotSignedIn => "Not Signed In",
            ErrorType::UnknownDialog => "Dialog Not Found",
            ErrorType::ActionNotAllowed => "Action Not Allowed",
            ErrorType::FinesseError => "Finesse Error",
            ErrorType::FinesseUnavailable => "Service Unavailable",
            ErrorType::Timeout => "Timeout",
            ErrorType::TooManyRequests => "Too Many Requests",
            ErrorType::CallOperationFailure => "Call Operation Failure",
            ErrorType::ResumeTokenUnknown => "Resume Token Unknown",
        }
    }
}

impl AsRef<str> for ErrorType {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The `ResponseType` of a command result (`<subtopic>Result`): 0 means Finesse accepted the
/// request, anything else says why the command was refused. Serializes as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum ResponseType {
    /// 0: Finesse accepted the request (HTTP 202); the outcome follows as a call event.
    Success = 0,
    /// 1: the command's frame was malformed or a field invalid.
    InvalidInput = 1,
    /// 2: the `CallID` names no dialog the broker knows.
    UnknownDialog = 2,
    /// 3: the sender's agent does not take part in the dialog.
    NotParticipant = 3,
    /// 4: the action is not in the participant's current `actions`.
    ActionNotAllowed = 4,
    /// 5: the sender's role does not allow this command.
    NotAuthorized = 5,
    /// 6: Finesse refused the request (HTTP 4xx/5xx with an ApiError).
    FinesseRefused = 6,
    /// 7: Finesse could not be reached or is out of service.
    FinesseUnavailable = 7,
    /// 8: Finesse did not answer in time.
    Timeout = 8,
    /// 9: the connection has too many commands in flight.
    TooManyInFlight = 9,
    /// 10: the connection has not signed in.
    NotSignedIn = 10,
    /// 11: over the command rate of the connection or of its user; the command did not
    /// reach Finesse. Wait and send again.
    RateLimited = 11,
}

impl ResponseType {
    /// Every response type, in ascending order of code.
    pub const ALL: [ResponseType; 12] = [
        ResponseType::Success,
        ResponseType::InvalidInput,
        ResponseType::UnknownDialog,
        ResponseType::NotParticipant,
        ResponseType::ActionNotAllowed,
        ResponseType::NotAuthorized,
        ResponseType::FinesseRefused,
        ResponseType::FinesseUnavailable,
        ResponseType::Timeout,
        ResponseType::TooManyInFlight,
        ResponseType::NotSignedIn,
        ResponseType::RateLimited,
    ];

    /// The numeric `ResponseType` on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The response type with this number, if it is one of the table.
    pub fn from_code(code: u16) -> Option<ResponseType> {
        ResponseType::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The default `ResponseText`, e.g. `"Success"`, `"Invalid input"`.
    pub fn text(self) -> &'static str {
        match self {
            ResponseType::Success => "Success",
            ResponseType::InvalidInput => "Invalid input",
            ResponseType::UnknownDialog => "Dialog not found",
            ResponseType::NotParticipant => "Not a participant of this dialog",
            ResponseType::ActionNotAllowed => "Action not allowed",
            ResponseType::NotAuthorized => "Not authorized",
            ResponseType::FinesseRefused => "Finesse refused the request",
            ResponseType::FinesseUnavailable => "Finesse unavailable",
            ResponseType::Timeout => "Timeout",
            ResponseType::TooManyInFlight => "Too many requests in flight",
            ResponseType::NotSignedIn => "Not signed in",
            ResponseType::RateLimited => "Too many commands",
        }
    }

    /// The `errorType` of the `SetAPIError` that accompanies a refused command; `None` for
    /// [`ResponseType::Success`].
    pub fn error_type(self) -> Option<ErrorType> {
        match self {
            ResponseType::Success => None,
            ResponseType::InvalidInput => Some(ErrorType::InvalidInput),
            ResponseType::UnknownDialog => Some(ErrorType::UnknownDialog),
            ResponseType::NotParticipant | ResponseType::NotAuthorized => {
                Some(ErrorType::AuthorizationFailure)
            }
            ResponseType::ActionNotAllowed => Some(ErrorType::ActionNotAllowed),
            ResponseType::FinesseRefused => Some(ErrorType::FinesseError),
            ResponseType::FinesseUnavailable => Some(ErrorType::FinesseUnavailable),
            ResponseType::Timeout => Some(ErrorType::Timeout),
            ResponseType::TooManyInFlight | ResponseType::RateLimited => {
                Some(ErrorType::TooManyRequests)
            }
            ResponseType::NotSignedIn => Some(ErrorType::NotSignedIn),
        }
    }
}

impl fmt::Display for ResponseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.text())
    }
}

impl Serialize for ResponseType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u16(self.code())
    }
}
