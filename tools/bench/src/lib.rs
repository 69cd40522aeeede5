//! Switchboard's end-to-end benchmarks (docs/performance.md).
//!
//! The criterion benchmarks of the crates measure one function on one core;
//! this crate measures the whole path on real sockets: notifications
//! published through a private Prosody and received by Switchboard's ingest,
//! and events fanned out by a running Switchboard to many WebSocket clients.
//!
//! - [`ingest_xmpp`]: `switchboard-bench ingest-xmpp`, notifications per second
//!   through XMPP -> parse -> state cache -> rendered event, next to Prosody's
//!   own delivery rate measured the same way;
//! - [`fanout`]: `switchboard-bench fanout`, deliveries per second, latency,
//!   memory per connection and lost/duplicated events with thousands of real
//!   WebSocket clients, against Switchboard or NATS over WebSocket;
//! - [`minimal`]: `switchboard-bench minimal-server`, the minimal broadcast
//!   server issue 7 compares against, for the same load tool;
//! - [`payload`]: the notifications published (the golden capture, varied);
//! - [`cpu`]: CPU time of this process, one thread, or Prosody, from `/proc`.

pub mod cpu;
pub mod fanout;
pub mod ingest_xmpp;
pub mod minimal;
pub mod payload;
