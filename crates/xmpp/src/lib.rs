//! Switchboard's XMPP client: one session to a Finesse-like notification
//! service (Openfire at Finesse, Prosody in tests), used by the connector's
//! per-user sessions, the Finesse simulator's publisher and the tests.
//!
//! This crate owns the session mechanics only: sign-in, presence,
//! IQ requests matched by id with timeouts, XEP-0060 subscribe / unsubscribe /
//! create / publish, ping, and received pubsub items. Reconnecting, resyncing
//! and what a notification means belong to `switchboard-connector`.
//!
//! - [`client`]: the session handle ([`XmppClient`]), its requests, the pubsub payloads;
//! - `config`: how to connect ([`XmppConfig`], [`TlsMode`]);
//! - `connect`: TCP, STARTTLS, SASL, the stream restart;
//! - `driver`: the background task that owns the stream;
//! - `error`: [`XmppError`].

pub mod client;
mod config;
mod connect;
mod driver;
mod error;

pub use client::{IqKind, NS_PUBSUB, NS_PUBSUB_EVENT, NS_PUBSUB_OWNER, ReceivedItem, XmppClient};
pub use config::{TlsMode, XmppConfig};
pub use error::XmppError;
