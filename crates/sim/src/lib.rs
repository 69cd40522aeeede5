//! A Cisco Finesse simulator for tests, the demo and benchmarks (docs/simulator.md).
//!
//! This crate owns:
//! - [`config`]: the simulated users and teams (defaults, or a TOML file);
//! - [`world`]: the simulated Finesse itself: agent states, dialogs, the
//!   notifications each change causes, and the REST semantics (errors included);
//! - [`server`]: Finesse REST over HTTP (primary and secondary node), the
//!   scenario API, the notification pump and the load generator;
//! - [`xmpp`]: publishing notifications through a real XMPP server.

pub mod config;
pub mod server;
pub mod world;
pub mod xmpp;

pub use config::{SimConfig, TeamConfig, UserConfig};
pub use server::{
    LoadSpec, Notice, NoticeSink, RequestRecord, RunningSim, Sim, SimOptions, StartError, start,
};
pub use world::{ApiFailure, CallKind, CallOptions, Outgoing, Side, World};
pub use xmpp::{XmppPublisher, XmppTarget};
