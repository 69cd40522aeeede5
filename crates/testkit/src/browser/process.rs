//! chromedriver's process: found, started on a free port in a process group of its own (which
//! Chromium joins), polled until it answers, killed with its group; and the watchdog that
//! kills the group if the test process dies first.

use std::ffi::OsString;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};

use super::{BrowserError, DRIVER_START_TIMEOUT, LOG_TAIL_LINES, POLL_INTERVAL};

/// chromedriver, leader of the process group that Chromium joins, and the watchdog. Dropping
/// it kills them.
pub(super) struct Processes {
    pub(super) driver: Option<Child>,
    /// The watchdog and the write end of its pipe (held only by this process).
    pub(super) watchdog: Option<(Child, ChildStdin)>,
}

impl Processes {
    /// Kills chromedriver's process group (Chromium with it), then the watchdog (SIGKILL: it
    /// does nothing more; the folder is `TempDir`'s to delete).
    pub(super) fn stop(&mut self) {
        if let Some(driver) = self.driver.as_mut() {
            kill_group(driver);
        }
        if let Some((mut watchdog, stdin)) = self.watchdog.take() {
            let _ = watchdog.start_kill();
            drop(stdin);
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(super) fn spawn_driver(
    chromedriver: &Path,
    port: u16,
    log: &Path,
) -> Result<Child, BrowserError> {
    // A fresh log per attempt, so that an error shows this attempt's lines.
    let out = std::fs::File::create(log)
        .map_err(|e| BrowserError::io(format!("opening {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| BrowserError::io(format!("opening {}", log.display()), e))?;
    Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // A group of its own, so that Chromium's processes can be killed with it.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BrowserError::io(format!("starting {}", chromedriver.display()), e))
}

/// Waits until chromedriver answers `GET /status` with 200.
pub(super) async fn wait_until_ready(
    processes: &mut Processes,
    port: u16,
    log: &Path,
) -> Result<(), BrowserError> {
    let deadline = Instant::now() + DRIVER_START_TIMEOUT;
    loop {
        let exited = match processes.driver.as_mut() {
            Some(driver) => driver.try_wait(),
            None => Ok(None),
        };
        match exited {
            Ok(Some(status)) => {
                let log_tail = read_tail(log, LOG_TAIL_LINES);
                return Err(
                    if log_tail.contains("Address already in use")
                        || log_tail.contains("port not available")
                    {
                        BrowserError::PortInUse { port, log_tail }
                    } else {
                        BrowserError::DriverExited { status, log_tail }
                    },
                );
            }
            Ok(None) => {}
            Err(e) => return Err(BrowserError::io("waiting for chromedriver", e)),
        }
        if status_ok(port).await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(BrowserError::DriverTimeout {
                port,
                timeout: DRIVER_START_TIMEOUT,
                log_tail: read_tail(log, LOG_TAIL_LINES),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// One plain HTTP/1.1 `GET /status`; true on a 200 answer.
async fn status_ok(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        let request =
            format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        // The status line is enough (chromedriver keeps the connection open despite
        // `Connection: close`, so reading to the end would wait).
        let mut answer = Vec::new();
        let mut buf = [0u8; 512];
        while !answer.windows(2).any(|w| w == b"\r\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        Ok::<_, io::Error>(answer.starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(5), attempt).await,
        Ok(Ok(true))
    )
}

/// SIGKILL to the process group led by `driver` (chromedriver and Chromium).
fn kill_group(driver: &mut Child) {
    if let Some(pid) = driver.id() {
        let killed = std::process::Command::new("kill")
            // procps kill(1) needs `--` before a negative PID (without it, it kills nothing).
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if matches!(killed, Ok(s) if s.success()) {
            return;
        }
    }
    // No kill(1) at hand, or the group is gone: at least chromedriver.
    let _ = driver.start_kill();
}

/// Starts `sh` waiting for EOF on a pipe whose write end only this process holds: when the
/// process dies without stopping the browser, the pipe closes and the watchdog kills
/// chromedriver's process group (if `pid` still runs chromedriver on `port`: guards against PID
/// reuse) and deletes `dir`. It ignores SIGINT, SIGHUP and SIGTERM, so that a Ctrl-C reaching
/// the test's process group does not end it before it acts. `None` (no watchdog) when `sh`
/// cannot be started.
pub(super) fn spawn_watchdog(pid: u32, port: u16, dir: &Path) -> Option<(Child, ChildStdin)> {
    // dash, the usual `sh`, takes no `--` before a negative PID.
    let script = r#"trap '' INT HUP TERM
read -r _
if tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null | grep -qxF -- "--port=$2"; then
  kill -KILL "-$1" 2>/dev/null
fi
rm -rf -- "$3"
exit 0"#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("browser-watchdog")
        .arg(pid.to_string())
        .arg(port.to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| tracing::debug!("no browser watchdog: {e}"))
        .ok()?;
    let stdin = child.stdin.take()?;
    Some((child, stdin))
}

/// A free port on 127.0.0.1 (chromedriver takes it a moment later; `start` retries when
/// another process was faster).
pub(super) fn free_port() -> Result<u16, BrowserError> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| BrowserError::io("finding a free port", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| BrowserError::io("finding a free port", e))
}

pub(super) fn read_tail(path: &Path, lines: usize) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let all: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for line in &all[all.len().saturating_sub(lines)..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Looks `program` up: as a path when it contains `/`, else on `PATH`, then in `/usr/bin`.
pub(super) fn find_program(program: &OsString) -> Result<PathBuf, BrowserError> {
    let not_installed = || BrowserError::NotInstalled {
        program: program.to_string_lossy().into_owned(),
    };
    let path = Path::new(program);
    if program.to_string_lossy().contains('/') {
        return if is_executable(path) {
            Ok(path.to_path_buf())
        } else {
            Err(not_installed())
        };
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(path))
        .find(|p| is_executable(p))
        .ok_or_else(not_installed)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
