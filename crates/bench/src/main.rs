//! The `switchboard-bench` binary: end-to-end benchmarks on this machine.
//!
//! Subcommands:
//! - `ingest-xmpp`: notifications per second through Prosody into the parser,
//!   the state cache and the event encoder (see `switchboard_bench::ingest_xmpp`).

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
    }
}
