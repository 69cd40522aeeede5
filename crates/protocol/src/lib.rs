//! The client side of Switchboard: the frames of the client protocol, version 1
//! (written out in full in `docs/protocol.md`).
//!
//! This crate owns what a WebSocket client (an agent widget, a supervisor dashboard, a
//! softphone) and the broker say to each other, and nothing else: it does no I/O, holds no
//! state and knows nothing of Finesse beyond the names of its dialog actions.
//!
//! # Layout
//! - [`frame`]: the envelope every frame shares ([`Frame`]), the tolerant parser for it
//!   (case-insensitive, whitespace-trimmed keys, as the published Acqueon samples need) and
//!   [`FrameError`], the one error type of client input.
//! - [`topic`]: subscription topics ([`Topic`]: `agent/<id>`, `team/<id>`, `dialog/<id>`,
//!   `queue/<id>`, `all`).
//! - [`command`]: the typed client commands ([`Command`]) built from a parsed frame by
//!   [`Command::from_frame`], with their validation.
//! - [`codes`]: the documented tables: WebSocket close codes ([`CloseCode`]), `SetAPIError`
//!   error types ([`ErrorType`]) and command result codes ([`ResponseType`]).
//! - [`reply`]: the server frames that are not call events (command results, API errors,
//!   `Ready`, `Subscribed`, `Pong`), serialized with the canonical key spelling.
//!
//! # Example
//! ```
//! use switchboard_protocol::{CallAction, Command, Frame};
//!
//! let frame = Frame::parse(
//!     r#"{"channel":"Cisco","topic":"InboundCall","subtopic":"SetAnswer",
//!         "data ":{"MediaAddress ":"5069","callID":16786021},"requestId":"c-1"}"#,
//! )?;
//! let Command::Call(call) = Command::from_frame(&frame)? else { unreachable!() };
//! assert_eq!(call.action, CallAction::Answer);
//! assert_eq!(call.call_id, "16786021");
//! assert_eq!(call.media_address.as_deref(), Some("5069"));
//! assert_eq!(call.action.finesse_action(), "ANSWER");
//! # Ok::<(), switchboard_protocol::FrameError>(())
//! ```

pub mod codes;
pub mod command;
pub mod frame;
pub mod reply;
pub mod topic;

pub use codes::{CloseCode, ErrorType, ResponseType};
pub use command::{CallAction, CallCommand, CallTopic, Command, Secret, StreamPosition};
pub use frame::{Frame, FrameError, MAX_REQUEST_ID_LEN, get_ci, get_str_ci, request_id_hint};
pub use topic::{Topic, TopicError};

/// The version of the client protocol this crate implements (`docs/protocol.md`).
pub const PROTOCOL_VERSION: u32 = 1;

/// The default limit on the size of one client frame, in bytes (64 KiB). A larger frame
/// closes the connection with [`CloseCode::FrameTooLarge`] (4409).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024;
