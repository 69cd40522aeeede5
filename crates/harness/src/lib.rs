//! The integration tests' harness: every test that needs Finesse, a running
//! gateway or the `switchboard` binary starts it from here (the shape of
//! linkerd2-proxy's `app/integration`).
//!
//! - [`FinesseEnv`] ([`finesse`]): a private Prosody standing in for
//!   Finesse's notification service, the simulator answering REST over real
//!   HTTP and publishing through that Prosody, a REST client and the
//!   connector's `SessionConfig` for them.
//! - [`GatewayEnv`] ([`gateway`]): a [`FinesseEnv`], the connector's
//!   notification sessions and the gateway on a free port, logs captured.
//! - [`WsClient`] ([`ws`]): a real WebSocket client speaking the client
//!   protocol.
//! - [`run`]: the `switchboard` binary as a child process ([`Demo`],
//!   [`Process`]) and the `[finesse]` configuration that points
//!   `switchboard run` at a [`FinesseEnv`].
//!
//! A dev-dependency only, of the crates whose tests use it (it depends on
//! them: a dev-dependency cycle, which Cargo allows for integration tests).
//! Not published.

pub mod finesse;
pub mod gateway;
pub mod run;
pub mod ws;

pub use finesse::{FinesseEnv, FinesseOptions, accounts, agents, node};
pub use gateway::{GatewayEnv, PASSWORD, Relay, logs};
pub use run::{Demo, Process, free_port, free_ports, switchboard};
pub use ws::{
    WAIT, WsClient, all_frames, error_type, is, reservation, response_type, simple_call_kind,
};
