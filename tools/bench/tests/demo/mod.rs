//! `switchboard demo` as a child process for the load tool's tests: the product's binary on
//! free loopback ports, readiness, logs on failure.
//!
//! The binary is `$SWITCHBOARD_BIN` when set; otherwise it is built from the product workspace
//! (`../../Cargo.toml`, `cargo build --locked -p switchboard`, debug profile, same
//! `CARGO_TARGET_DIR`) by the cargo running these tests, once per test process.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::process::{Child, Command};

/// How long the demo may take to answer `/readyz` 200.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How many fresh port pairs to try when another process took one first.
pub const PORT_ATTEMPTS: usize = 3;

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

/// The binary, without the caller's `SWITCHBOARD_*` environment (it would override the
/// configuration under test; `SWITCHBOARD_BIN` is this harness's own).
pub fn switchboard() -> Command {
    let mut command = Command::new(binary());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SWITCHBOARD_") {
            command.env_remove(key);
        }
    }
    command
}

/// `switchboard demo` as a child process on free loopback ports; killed on drop. Its stdout
/// and stderr go to files in a temporary folder, shown when something fails.
pub struct Demo {
    pub child: Child,
    pub port: u16,
    pub sim_port: u16,
    pub dir: TempDir,
}

impl Demo {
    /// Starts the demo with `extra` flags and waits for `/readyz` 200.
    pub async fn start(extra: &[&str]) -> Demo {
        let mut last_failure = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let (port, sim_port) = free_ports();
            let dir = tempfile::tempdir().expect("temporary folder");
            let stdout = File::create(dir.path().join("stdout")).expect("stdout file");
            let stderr = File::create(dir.path().join("stderr")).expect("stderr file");
            let child = switchboard()
                .arg("demo")
                .args(["--port", &port.to_string()])
                .args(["--sim-port", &sim_port.to_string()])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .kill_on_drop(true)
                .spawn()
                .expect("start switchboard demo");
            let mut demo = Demo {
                child,
                port,
                sim_port,
                dir,
            };
            match demo.wait_ready().await {
                Ok(()) => return demo,
                Err(failure) if failure.contains("in use") => last_failure = failure,
                Err(failure) => panic!("switchboard demo did not start: {failure}"),
            }
        }
        panic!("switchboard demo did not start after {PORT_ATTEMPTS} port pairs: {last_failure}")
    }

    /// Polls `/readyz` until 200; an error (with the log) if the process exits or the bound
    /// passes.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("HTTP client");
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                return Err(format!("it exited ({status}):\n{}", self.logs()));
            }
            if let Ok(response) = http.get(&url).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{url} not 200 after {START_TIMEOUT:?}:\n{}",
                    self.logs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The embedded simulator's base URL.
    pub fn sim(&self) -> String {
        format!("http://127.0.0.1:{}", self.sim_port)
    }

    /// The end of the demo's stdout and stderr.
    pub fn logs(&self) -> String {
        let tail = |name: &str| {
            let mut text = String::new();
            if let Ok(mut f) = File::open(self.dir.path().join(name)) {
                let _ = f.read_to_string(&mut text);
            }
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            tail("stdout"),
            tail("stderr")
        )
    }
}

/// Two distinct free ports on 127.0.0.1 (both bound at once, then released).
pub fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    (
        a.local_addr().expect("port").port(),
        b.local_addr().expect("port").port(),
    )
}
