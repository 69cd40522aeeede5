//! The `switchboard` binary: command line, configuration and wiring.
//!
//! Subcommands (one file each under `src/cmd/`):
//! - `translate`: a captured Finesse notification in, the client events out.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Switchboard: a WebSocket event broker for Cisco Finesse contact centers.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read a Finesse notification (a whole XMPP <message> or a bare <Update>)
    /// on stdin and print the events it becomes, one JSON object per line.
    Translate(cmd::translate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Translate(args) => cmd::translate::run(&args),
    }
}
