//! Switchboard's HTTP and WebSocket server: everything a client sees
//! (the client protocol of `docs/protocol.md`).
//!
//! This crate owns:
//! - [`server`]: the listener (plain or TLS), the routes (`/ws`, `/healthz`,
//!   `/readyz`, `/metrics`, the web pages), the origin check, the connection
//!   limit and graceful shutdown ([`Gateway`]);
//! - `admission`: what a socket counts against from its accept (sockets not
//!   upgraded, connections not signed in, per address and in all);
//! - [`connection`]: one WebSocket connection: a reader and a writer joined in
//!   one task, generic over the socket's `AsyncRead`/`AsyncWrite` halves;
//!   server pings, idle and sign-in timeouts, frame size;
//! - [`cmd`]: one file per command (sign-in, token sign-in, ping, subscribe,
//!   call control, agent state, call data, team), each checking before any
//!   Finesse call and answering exactly once;
//! - [`auth`]: identities and roles, topic authorization, JWT verification
//!   and resume tokens; [`throttle`]: the sign-in throttle (per user name and
//!   client address, and per account); [`forwarded`]: the client's address
//!   behind a trusted proxy;
//! - [`pipeline`]: cache changes -> events -> hub streams, with CTI errors
//!   matched back to the client command that caused them ([`pending`]), and
//!   `dialog/` subscriptions ended when their subscriber leaves the dialog;
//! - [`rate`]: the per-connection and per-user rate of commands that reach
//!   Finesse, and the count of each user's connections;
//! - [`finesse`]: the REST API with node failover and the notification
//!   sessions, as the gateway needs them;
//! - [`metrics`]: the Prometheus recorder and the metric names;
//! - [`assets`]: the embedded web pages and `/switchboard.js`.
//!
//! The hub (topics, streams, per-client queues) is `switchboard_core::hub`;
//! the gateway is its only user.

mod admission;
pub mod assets;
pub mod auth;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod finesse;
pub mod forwarded;
pub mod metrics;
pub mod pending;
pub mod pipeline;
pub mod rate;
pub mod server;
mod state;
pub mod throttle;

pub use config::{AuthSettings, GatewayConfig, HubSettings, JwtKey, Limits, TlsFiles};
pub use finesse::{FinesseRest, Lease, NoLease, NoSessions, SessionHealth, SessionPool};
pub use server::{Gateway, GatewayError, Parts};
