//! Switchboard's Finesse I/O: everything that talks to Cisco Finesse over the
//! network (see `docs/ARCHITECTURE.md`, stages 1 and 7).
//!
//! This crate owns:
//! - [`rest`]: the Finesse REST client ([`FinesseClient`]): typed GETs of
//!   SystemInfo, User, Dialogs, Dialog and Team, and the PUT/POST commands
//!   (user state, Dialog actions, MAKE_CALL), each sent with a fresh
//!   `requestId` so the caller can match the notifications Finesse sends for
//!   it (Finesse Developer Guide: REST APIs; requestId); errors are typed
//!   ([`RestError`]), with Finesse's `ApiErrors` kept and 401/404/503, timeouts and unreachable nodes told
//!   apart;
//! - [`ingest`]: the one road from a received notification into the state
//!   cache (parse, metrics, apply), taken by the sessions and the demo's feed;
//! - [`session`]: one XMPP notification session per signed-in Finesse user:
//!   subscriptions, ping, reconnect with back-off and jitter, failover between
//!   the two Finesse nodes, and the resync of the state cache from REST after
//!   every (re)connect;
//! - [`spread`]: first connects, failovers and failbacks of many sessions
//!   spread over a window ([`Spread`]);
//! - [`settings`]: the `[finesse]` section of the configuration
//!   ([`FinesseSettings`]) and the REST and session settings it gives;
//! - [`manager`]: the registry of sessions, one per user shared by all its
//!   client connections, closed a grace period after the last one leaves.
//!
//! The nouns and their XML come from `switchboard-finesse`; this crate only
//! moves them. Credentials are never logged, displayed or used as metric
//! labels ([`Secret`]).

pub mod ingest;
pub mod manager;
pub mod metrics;
pub mod rest;
pub mod session;
pub mod settings;
pub mod spread;

pub use ingest::ingest;
pub use manager::{SessionLease, SessionManager, discover_domains, discover_xmpp};
pub use rest::{
    Credentials, FinesseClient, FinesseEndpoint, REQUEST_ID_HEADER, RequestId, RestConfig,
    RestError, Secret, Url,
};
pub use session::{FinesseNodeAddr, Session, SessionConfig, SessionStatus, backoff};
pub use settings::FinesseSettings;
pub use spread::Spread;
