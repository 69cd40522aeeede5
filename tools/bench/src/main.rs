//! The `switchboard-bench` binary: end-to-end benchmarks on this machine.
//!
//! Subcommands:
//! - `ingest-xmpp`: notifications per second through Prosody into the parser,
//!   the state cache and the event encoder (see `switchboard_bench::ingest_xmpp`);
//! - `fanout`: thousands of WebSocket clients against a running Switchboard or
//!   NATS: deliveries/s, latency, memory per connection, lost/duplicated events
//!   (see `switchboard_bench::fanout`);
//! - `minimal-server`: a minimal broadcast server to compare with, driven by
//!   `fanout --target nats` (see `switchboard_bench::minimal`).

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Switchboard's end-to-end benchmarks (run them with `--release`).
#[derive(Debug, Parser)]
#[command(name = "switchboard-bench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Notifications per second through XMPP (a private Prosody) -> parse ->
    /// state cache -> rendered event, next to Prosody's raw delivery rate.
    /// Prints a table and one JSON line per scenario on stdout.
    IngestXmpp(switchboard_bench::ingest_xmpp::Args),
    /// WebSocket fan-out against a running Switchboard (`switchboard demo`) or
    /// NATS: N real clients signed in and subscribed; deliveries/s, latency
    /// percentiles, server CPU and RSS per connection, lost/duplicated events.
    /// Scenarios s1 (closed loop), s2 (fixed rate), idle (memory).
    Fanout(Box<switchboard_bench::fanout::Args>),
    /// The reference point for `fanout`: a minimal tokio + tungstenite
    /// broadcast server (frames once, writes everything queued meanwhile in
    /// one vectored write), driven with `fanout --target nats`.
    MinimalServer(switchboard_bench::minimal::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::IngestXmpp(args) => runtime.block_on(switchboard_bench::ingest_xmpp::run(&args)),
        Command::Fanout(args) => runtime
            .block_on(switchboard_bench::fanout::run(&args))
            .map(|_| ()),
        Command::MinimalServer(args) => runtime.block_on(switchboard_bench::minimal::run(&args)),
    }
}
