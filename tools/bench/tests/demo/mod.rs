//! The `switchboard` binary for the load tool's tests, started as `switchboard demo` by the
//! product's test harness (`switchboard_harness::Demo`).
//!
//! The binary is `$SWITCHBOARD_BIN` when set; otherwise it is built from the product workspace
//! (`../../Cargo.toml`, `cargo build --locked -p switchboard`, debug profile, same
//! `CARGO_TARGET_DIR`) by the cargo running these tests, once per test process.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

pub use switchboard_harness::Demo;

/// `switchboard demo` with `extra` flags, ready (`/readyz` 200); killed on drop.
pub async fn start(extra: &[&str]) -> Demo {
    Demo::start(binary(), extra).await
}

/// The `switchboard` binary: `$SWITCHBOARD_BIN`, or built from the product workspace.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| match std::env::var_os("SWITCHBOARD_BIN") {
        Some(path) => PathBuf::from(path),
        None => build_binary(),
    })
}

/// Builds the `switchboard` binary of the product workspace and returns its path, as cargo
/// reports it (whatever `CARGO_TARGET_DIR` is).
fn build_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let output = std::process::Command::new(cargo)
        .args(["build", "--locked", "-p", "switchboard"])
        .args(["--bin", "switchboard", "--manifest-path"])
        .arg(&manifest)
        .args(["--message-format", "json-render-diagnostics"])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build -p switchboard ({}) failed",
        manifest.display()
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == "switchboard")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo build named the switchboard executable")
}
