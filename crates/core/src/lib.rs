//! Switchboard's core, with no sockets: the stages between Finesse's objects
//! and the bytes the hub sends (see `docs/ARCHITECTURE.md`).
//!
//! This crate owns:
//! - [`event`]: mapping a Finesse Dialog, User, ApiError or SystemInfo, as seen
//!   by one signed-in agent, to the client event frame of docs/protocol.md §5 in
//!   the Acqueon-compatible shape of the seed sample;
//! - [`actions`]: the table of buttons and command templates per Finesse action;
//! - [`cache`]: the state cache (dialogs, agents' lists and states), apply,
//!   reconcile after resync, snapshots;
//! - [`route`]: what a change becomes (its event, rendered once, and its
//!   topics or a broadcast) and a topic's snapshot events: the only module
//!   that reads both the cache and the event shapes;
//! - [`hub`]: the topic index, the event streams with offsets and history,
//!   and the fan-out to each client's bounded queue;
//! - [`testing`]: the JSON superset comparison used by the golden tests.

pub mod actions;
pub mod cache;
pub mod event;
pub mod hub;
pub mod route;
pub mod testing;

pub use actions::{ACTION_TABLE, ActionSpec, action_for_subtopic, action_spec};
pub use cache::{AgentSnapshot, CacheConfig, Change, DialogChange, ResyncFence, StateCache};
pub use event::{
    AgentStateEvent, ApiErrorEvent, CallEvent, DELETED, EventSource, SignedInAgent, SystemInfoEvent,
};
