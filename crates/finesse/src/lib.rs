//! Cisco Finesse's nouns and their XML, with no I/O: the first stage of
//! Switchboard's data flow (see `docs/ARCHITECTURE.md`).
//!
//! This crate owns:
//! - the model: [`Dialog`] (with [`MediaProperties`], [`CallVariable`],
//!   [`Participant`], [`ScheduledCallbackInfo`]), [`User`], [`SystemInfo`],
//!   [`ApiError`], [`Team`], and Finesse's vocabularies ([`enums`]);
//! - notifications: [`parse_notification`] reads an XMPP pubsub `<message>` or
//!   a bare `<Update>` into a [`Notification`], [`parse_item`] the `<Update>`
//!   of a pubsub item an XMPP client has already read; [`Update::to_xml`] and
//!   [`Update::to_stanza_xml`] write them (the simulator publishes those);
//! - REST bodies: [`DialogRequest`], [`MakeCallRequest`], [`UserRequest`],
//!   written by the connector and parsed by the simulator;
//! - [`Node`]: the pubsub node and resource paths.
//!
//! Every parser returns a typed [`Error`] naming what was wrong; none panics
//! on any input (property tests and a fuzz target check it). The formats
//! follow Cisco's public *Cisco Finesse Web Services Developer Guide* (cited
//! as "Finesse Developer Guide: <topic>" in each module) and the notifications
//! real Finesse servers send.

mod api_error;
mod dialog;
pub mod enums;
mod error;
mod node;
mod request;
mod system_info;
mod team;
mod update;
mod user;
mod xml;

pub use api_error::{ApiError, ApiErrorStyle};
pub use dialog::{
    BA_VARIABLES, CallVariable, Dialog, MediaProperties, Participant, ScheduledCallbackInfo,
    is_ba_variable,
};
pub use enums::{
    Action, CallType, DialogState, ParticipantState, SystemStatus, UpdateEvent, UserState,
};
pub use error::Error;
pub use node::Node;
pub use request::{DialogAction, DialogRequest, MakeCallRequest, UserRequest};
pub use system_info::{FinesseNode, SystemInfo};
pub use team::Team;
pub use update::{Notification, Update, UpdateData, parse_item, parse_notification, parse_update};
pub use user::{ReasonCode, TeamRef, User};
