//! Switchboard's end-to-end benchmarks (docs/performance.md).
//!
//! The criterion benchmarks of the crates measure one function on one core;
//! this crate measures the whole path on real sockets: notifications
//! published through a private Prosody and received by Switchboard's ingest.
//!
//! - [`ingest_xmpp`]: `switchboard-bench ingest-xmpp`, notifications per second
//!   through XMPP -> parse -> state cache -> rendered event, next to Prosody's
//!   own delivery rate measured the same way;
//! - [`payload`]: the notifications published (the golden capture, varied);
//! - [`cpu`]: CPU time of this process, one thread, or Prosody, from `/proc`.

pub mod cpu;
pub mod ingest_xmpp;
pub mod payload;
