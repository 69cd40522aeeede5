//! Idle and slow sockets cannot take the last file descriptors: `switchboard
//! demo` (the real binary) under a limit of 1,024 descriptors, and 1,100
//! sockets that never finish their request (issue 22: they used to block
//! every new client and `/readyz`). The connections not signed in are capped
//! below the limit: at the cap each new socket takes the place of the oldest
//! one still waiting for its request, so `/readyz` and a new client are
//! served meanwhile, and the ones held are closed by the header-read timeout.

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::json;
use switchboard_harness::free_ports;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

const DESCRIPTORS: u32 = 1024;
const ATTACK: usize = 1100;
const CAP: usize = 500;
const HEADER_TIMEOUT: Duration = Duration::from_secs(6);

/// `switchboard demo` with at most `DESCRIPTORS` open files (util-linux's
/// `prlimit`), on free ports; killed on drop.
fn start(config: &std::path::Path, dir: &std::path::Path, port: u16, sim_port: u16) -> Child {
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile={DESCRIPTORS}:{DESCRIPTORS}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_switchboard"))
        .arg("demo")
        .args(["--config", config.to_str().expect("UTF-8 path")])
        .args(["--port", &port.to_string()])
        .args(["--sim-port", &sim_port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr")).expect("log file"))
        .kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SWITCHBOARD_") {
            command.env_remove(key);
        }
    }
    command.spawn().expect("start prlimit switchboard demo")
}

fn log(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// `/readyz`'s status, or why there was none within 3 s.
async fn readyz(base: &str) -> Result<u16, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    http.get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_that_never_send_a_request_cannot_exhaust_the_descriptors() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[limits]\nmax_unauthenticated = {CAP}\nheader_read_timeout = \"{}s\"\n",
            HEADER_TIMEOUT.as_secs()
        ),
    )
    .expect("config file");
    let (port, sim_port) = free_ports();
    let mut child = start(&config, dir.path(), port, sim_port);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while readyz(&base).await != Ok(200) {
        if let Some(status) = child.try_wait().expect("status") {
            panic!("switchboard demo exited ({status}):\n{}", log(dir.path()));
        }
        assert!(Instant::now() < deadline, "not ready:\n{}", log(dir.path()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The attack: sockets that send the start of a request and nothing more.
    let start = Instant::now();
    let mut held = Vec::new();
    let mut closed = 0;
    for _ in 0..ATTACK {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect (the listen backlog takes it)");
        let _ = s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n").await;
        held.push(s);
    }
    // At the cap each new socket takes the place of the oldest: at most
    // CAP stay open.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for s in &held {
        let mut buf = [0u8; 64];
        match s.try_read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            _ => closed += 1,
        }
    }
    assert!(
        closed >= ATTACK - CAP,
        "{closed} of {ATTACK} closed with a cap of {CAP}:\n{}",
        log(dir.path())
    );

    // Meanwhile /readyz and a new client are served.
    assert_eq!(readyz(&base).await, Ok(200), "{}", log(dir.path()));
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(3),
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")),
    )
    .await
    .expect("a new client is accepted in time")
    .expect("WebSocket handshake");
    ws.send(Message::text(
        json!({"channel":"Broker","topic":"Session","subtopic":"Ping","data":{}}).to_string(),
    ))
    .await
    .expect("send a ping");
    let pong = tokio::time::timeout(Duration::from_secs(3), ws.next())
        .await
        .expect("a pong in time");
    assert!(matches!(pong, Some(Ok(Message::Text(_)))), "{pong:?}");
    assert!(
        start.elapsed() < HEADER_TIMEOUT,
        "the checks took {:?}, past the header timeout",
        start.elapsed()
    );

    // The held sockets are closed by the header-read timeout (+5 s slack).
    let mut open = 0;
    for s in &mut held {
        let left = (HEADER_TIMEOUT + Duration::from_secs(5)).saturating_sub(start.elapsed());
        let mut buf = [0u8; 64];
        loop {
            match tokio::time::timeout(left, s.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => {
                    open += 1;
                    break;
                }
            }
        }
    }
    assert_eq!(open, 0, "sockets still open after the header timeout");
    assert_eq!(readyz(&base).await, Ok(200));
}
