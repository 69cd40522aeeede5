//! The `switchboard demo` child process shared by the binary's end-to-end
//! tests (demo.rs, browser.rs): free loopback ports, readiness, logs on failure.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::process::{Child, Command};

/// How long the demo may take to answer `/readyz` 200.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How many fresh port pairs to try when another process took one first.
pub const PORT_ATTEMPTS: usize = 3;

/// The binary, without the caller's `SWITCHBOARD_*` environment (it would override the
/// configuration under test).
pub fn switchboard() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
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
        let url = format!("{}/readyz", self.base());
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

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn sim(&self) -> String {
        format!("http://127.0.0.1:{}", self.sim_port)
    }

    /// The end of the demo's stdout and stderr.
    pub fn logs(&self) -> String {
        let tail = |name: &str| {
            let mut text = String::new();
            let path: PathBuf = self.dir.path().join(name);
            if let Ok(mut f) = File::open(&path) {
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
