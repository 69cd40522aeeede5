//! `switchboard translate`: shows what a captured Finesse payload becomes.
//!
//! Reads one notification on stdin, prints each resulting event frame as one
//! JSON line on stdout. Bad input: a one-line error on stderr, exit code 2.

use std::io::{Read, Write};
use std::process::ExitCode;

/// Largest notification accepted on stdin (Finesse payloads are a few KiB).
const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// Arguments of `switchboard translate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The Finesse user id of the signed-in agent the events are rendered for.
    #[arg(long = "agent", value_name = "ID")]
    agent: String,
    /// The extension that agent is signed in on (picks its participant).
    #[arg(long = "extension", value_name = "EXT")]
    extension: String,
    /// Print each event indented over several lines instead of one per line.
    #[arg(long)]
    pretty: bool,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match translate(args, std::io::stdin().lock(), &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("switchboard translate: {message}");
            ExitCode::from(2)
        }
    }
}

fn translate(args: &Args, input: impl Read, out: &mut impl Write) -> Result<(), String> {
    let mut text = String::new();
    let read = input
        .take(MAX_INPUT + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read stdin as UTF-8 text: {e}"))?;
    if read as u64 > MAX_INPUT {
        return Err(format!("input is larger than {MAX_INPUT} bytes"));
    }
    if text.trim().is_empty() {
        return Err("no input on stdin: pipe a Finesse notification in".into());
    }
    let notification = switchboard_finesse::parse_notification(&text)
        .map_err(|e| format!("not a Finesse notification: {e}"))?;
    let events = switchboard_core::route::translate(notification, &args.agent, &args.extension);
    for event in events {
        let line = if args.pretty {
            let value: serde_json::Value =
                serde_json::from_str(&event).map_err(|e| e.to_string())?;
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?
        } else {
            event
        };
        writeln!(out, "{line}").map_err(|e| format!("cannot write stdout: {e}"))?;
    }
    Ok(())
}
