//! The `switchboard` binary as a child process: [`switchboard`] (the command
//! without the caller's `SWITCHBOARD_*` environment), [`Process`] (its output
//! in files, readiness, killed on drop), [`Demo`] (`switchboard demo` on free
//! loopback ports), [`free_port`] and [`FinesseEnv::run_config`] (the `[finesse]` section
//! that points `switchboard run` at a [`FinesseEnv`]).
//!
//! Only the `switchboard` package's tests have the binary: they pass its path,
//! `env!("CARGO_BIN_EXE_switchboard")`; the load tool's tests (`tools/bench`) pass the one
//! they build.

use std::ffi::OsStr;
use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::finesse::FinesseEnv;

/// How long a process may take to answer `/readyz` 200.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How many fresh port pairs [`Demo::start`] tries when another process took one first.
pub const PORT_ATTEMPTS: usize = 3;

/// The binary at `bin`, without the caller's `SWITCHBOARD_*` environment (it would override
/// the configuration under test).
pub fn switchboard(bin: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(bin);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SWITCHBOARD_") {
            command.env_remove(key);
        }
    }
    command
}

/// A free port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("bind a free port")
        .local_addr()
        .expect("port")
        .port()
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

/// A child process whose stdout and stderr go to files, shown when something fails; killed
/// on drop.
#[derive(Debug)]
pub struct Process {
    /// The process.
    pub child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Process {
    /// Starts `command` with no stdin and its stdout and stderr in `dir`'s files
    /// `stdout{suffix}` and `stderr{suffix}`.
    pub fn spawn(mut command: Command, dir: &Path, suffix: &str) -> Process {
        let stdout = dir.join(format!("stdout{suffix}"));
        let stderr = dir.join(format!("stderr{suffix}"));
        let child = command
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("stdout file"))
            .stderr(File::create(&stderr).expect("stderr file"))
            .kill_on_drop(true)
            .spawn()
            .expect("start switchboard");
        Process {
            child,
            stdout,
            stderr,
        }
    }

    /// Polls `{base}/readyz` until 200; an error (with the logs) if the process exits or
    /// [`START_TIMEOUT`] passes.
    pub async fn wait_ready(&mut self, base: &str) -> Result<(), String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("HTTP client");
        let url = format!("{base}/readyz");
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

    /// The end of the process's stdout and stderr.
    pub fn logs(&self) -> String {
        let tail = |path: &Path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

/// `switchboard demo` as a child process on free loopback ports; killed on drop. Its stdout
/// and stderr are the files `stdout` and `stderr` of a temporary folder.
#[derive(Debug)]
pub struct Demo {
    /// The process.
    pub process: Process,
    /// Its port (`--port`).
    pub port: u16,
    /// The embedded simulator's port (`--sim-port`).
    pub sim_port: u16,
    /// The folder of its output files.
    pub dir: TempDir,
}

impl Demo {
    /// Starts the binary at `bin` as `switchboard demo` with `extra` flags and waits for
    /// `/readyz` 200; tries [`PORT_ATTEMPTS`] port pairs when one is taken.
    pub async fn start(bin: impl AsRef<OsStr>, extra: &[&str]) -> Demo {
        let bin = bin.as_ref();
        let mut last_failure = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let (port, sim_port) = free_ports();
            let dir = tempfile::tempdir().expect("temporary folder");
            let mut command = switchboard(bin);
            command
                .arg("demo")
                .args(["--port", &port.to_string()])
                .args(["--sim-port", &sim_port.to_string()])
                .args(extra);
            let mut demo = Demo {
                process: Process::spawn(command, dir.path(), ""),
                port,
                sim_port,
                dir,
            };
            match demo.process.wait_ready(&demo.base()).await {
                Ok(()) => return demo,
                Err(failure) if failure.contains("in use") => last_failure = failure,
                Err(failure) => panic!("switchboard demo did not start: {failure}"),
            }
        }
        panic!("switchboard demo did not start after {PORT_ATTEMPTS} port pairs: {last_failure}")
    }

    /// `http://127.0.0.1:port`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The embedded simulator's `http://127.0.0.1:port`.
    pub fn sim(&self) -> String {
        format!("http://127.0.0.1:{}", self.sim_port)
    }

    /// The end of the demo's stdout and stderr.
    pub fn logs(&self) -> String {
        self.process.logs()
    }
}

impl FinesseEnv {
    /// The `[finesse]` section that points `switchboard run` at this
    /// environment: the simulator's REST, this Prosody over plain XMPP,
    /// explicit subscriptions, reconnects within 100-500 ms.
    pub fn run_config(&self) -> String {
        format!(
            r#"[finesse]
primary = "{rest}"
xmpp_port = {xmpp}
xmpp_tls = "plain"
xmpp_domain = "{domain}"
pubsub = "{pubsub}"
explicit_subscribe = true
reconnect_min = "100ms"
reconnect_max = "500ms"
"#,
            rest = self.rest_url(),
            xmpp = self.prosody.port(),
            domain = self.prosody.domain(),
            pubsub = self.prosody.pubsub_jid(),
        )
    }
}
