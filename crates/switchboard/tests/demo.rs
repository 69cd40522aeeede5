//! `switchboard demo` and `switchboard check-config` as a user runs them: the real binary as a
//! child process on free loopback ports.
//!
//! - the demo with its default call rate serves the pages, lets a WebSocket client sign in as
//!   supervisor 2001001, subscribe `team/5000` and watch the simulated agents' calls flow
//!   (offered, then answered); SIGTERM closes that client with 4000 and the process exits 0;
//! - `check-config` accepts `deploy/switchboard.example.toml` (exit 0) and refuses a file with
//!   an unknown key or a bad value (exit 2, the key named on stderr).
//!
//! Bounds are generous (a loaded 2-core CI machine); nothing here measures speed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_harness::{Demo, switchboard};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The binary under test.
const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");

/// How long a reply may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for the simulated agents' calls (0.5 calls/s by default, answered after
/// 4 s): far more than needed.
const CALLS_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the process may take to close its clients and exit after SIGTERM (its
/// `shutdown_grace` is 10 s).
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// What the client received: a JSON frame, or the close frame's code (`None` for a close
/// without a frame or a dropped connection).
#[derive(Debug)]
enum Received {
    Frame(Value),
    Closed(Option<u16>),
}

/// The next text frame or the close, waiting until `deadline`; `None` when it passes.
async fn receive(ws: &mut Ws, deadline: Instant) -> Option<Received> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = match tokio::time::timeout(left, ws.next()).await {
            Err(_) => return None,
            Ok(None) | Ok(Some(Err(_))) => return Some(Received::Closed(None)),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                let frame: Value = serde_json::from_str(text.as_str())
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
                return Some(Received::Frame(frame));
            }
            Message::Close(close) => {
                return Some(Received::Closed(close.map(|c| u16::from(c.code))));
            }
            // Pings are answered by tungstenite on the next read.
            _ => {}
        }
    }
}

/// Reads frames until one with `topic/subtopic` (and, if given, `requestId`); a
/// `SetAPIError` for the request or a close fails the test.
async fn expect_reply(ws: &mut Ws, topic: &str, subtopic: &str, request_id: &str) -> Value {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        match receive(ws, deadline).await {
            None => panic!("no {topic}/{subtopic} within {REPLY_TIMEOUT:?}"),
            Some(Received::Closed(code)) => {
                panic!("closed ({code:?}) while waiting for {topic}/{subtopic}")
            }
            Some(Received::Frame(frame)) => {
                if frame["subtopic"] == "SetAPIError" && frame["requestId"] == request_id {
                    panic!("{topic}/{subtopic} refused: {frame}");
                }
                if frame["topic"] == topic && frame["subtopic"] == subtopic {
                    return frame;
                }
            }
        }
    }
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string()))
        .await
        .expect("send a frame");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_pages_streams_the_simulated_calls_and_stops_on_sigterm() {
    let mut demo = Demo::start(SWITCHBOARD, &["--log-format", "json"]).await;
    let base = demo.base();

    // The pages.
    let http = http();
    for (path, content_type, needle) in [
        ("/", "text/html", "Switchboard"),
        ("/agent", "text/html", "id=\"signin\""),
        ("/supervisor", "text/html", "id=\"signin\""),
        ("/switchboard.js", "javascript", "Switchboard"),
    ] {
        let response = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", demo.logs()));
        assert_eq!(response.status(), reqwest::StatusCode::OK, "GET {path}");
        let ct = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(ct.contains(content_type), "GET {path}: content-type {ct}");
        let body = response.text().await.expect("body");
        assert!(
            body.contains(needle),
            "GET {path}: no {needle:?} in the body"
        );
    }

    // A supervisor over WebSocket: sign in, subscribe to its team.
    let url = format!("ws://127.0.0.1:{}/ws", demo.port);
    let (mut ws, _) = tokio::time::timeout(REPLY_TIMEOUT, tokio_tungstenite::connect_async(&url))
        .await
        .unwrap_or_else(|_| panic!("connecting to {url} timed out"))
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}\n{}", demo.logs()));
    send(
        &mut ws,
        json!({
            "channel": "Cisco", "topic": "Agent", "subtopic": "SetUserInfo",
            "data": {"username": "2001001", "password": "demo", "extension": "5999"},
            "source": "demo-test", "requestId": "sign-in",
        }),
    )
    .await;
    let ready = expect_reply(&mut ws, "Session", "Ready", "sign-in").await;
    assert_eq!(ready["channel"], "Broker", "{ready}");
    assert_eq!(ready["data"]["agentId"], "2001001", "{ready}");
    assert_eq!(ready["data"]["roles"], json!(["supervisor"]), "{ready}");
    assert_eq!(ready["data"]["teams"], json!(["5000"]), "{ready}");
    send(
        &mut ws,
        json!({
            "channel": "Broker", "topic": "Subscription", "subtopic": "Subscribe",
            "data": {"topics": ["team/5000"]}, "requestId": "subscribe",
        }),
    )
    .await;
    let subscribed = expect_reply(&mut ws, "Subscription", "Subscribed", "subscribe").await;
    assert_eq!(
        subscribed["data"]["topics"],
        json!(["team/5000"]),
        "{subscribed}"
    );

    // Calls flow: the simulated agents (1001002-1001010) are offered calls and answer them.
    // Wait for live events of at least two dialogs, one of them seen ringing (ALERTING) and
    // then answered (ACTIVE).
    let simulated: BTreeSet<String> = (1_001_002..=1_001_010).map(|i| i.to_string()).collect();
    // Dialog id -> the events seen (`data.event`), in order.
    let mut calls: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut snapshot_agents = BTreeSet::new();
    let mut last_offset = 0;
    let deadline = Instant::now() + CALLS_TIMEOUT;
    // Answered live: ALERTING, then ACTIVE, both seen as they happened.
    let answered = |calls: &BTreeMap<String, Vec<String>>| {
        calls.len() >= 2
            && calls.values().any(|seen| {
                seen.iter()
                    .position(|e| e == "ALERTING")
                    .is_some_and(|i| seen[i..].iter().any(|e| e == "ACTIVE"))
            })
    };
    while !answered(&calls) {
        let frame = match receive(&mut ws, deadline).await {
            Some(Received::Frame(frame)) => frame,
            Some(Received::Closed(code)) => {
                panic!("closed ({code:?}) while waiting for calls\n{}", demo.logs())
            }
            None => panic!(
                "no answered call on team/5000 within {CALLS_TIMEOUT:?}; seen: {calls:?}\n{}",
                demo.logs()
            ),
        };
        if frame["stream"] != "team/5000" {
            continue;
        }
        let offset = frame["offset"]
            .as_u64()
            .expect("an event carries its offset");
        let source = frame["data"]["source"].as_str().unwrap_or_default();
        if source == "event" {
            assert!(
                offset > last_offset,
                "team/5000 offsets go up: {offset} after {last_offset}"
            );
        }
        last_offset = last_offset.max(offset);
        let subtopic = frame["subtopic"].as_str().unwrap_or_default();
        if source == "snapshot" && subtopic == "SetAgentState" {
            snapshot_agents.insert(
                frame["data"]["agentId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        if source != "event" || !subtopic.ends_with("CallStateChange") {
            continue;
        }
        let call = &frame["data"]["call"];
        let id = call["id"].as_str().expect("call.id").to_owned();
        let username = call["ResponseActual"]["user"]["username"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            simulated.contains(&username),
            "a call event of {username}, not a simulated agent: {frame}"
        );
        calls.entry(id).or_default().push(
            frame["data"]["event"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    for agent in ["1001001", "1001002", "1001010"] {
        assert!(
            snapshot_agents.contains(agent),
            "the team snapshot lists {agent}: {snapshot_agents:?}"
        );
    }

    // SIGTERM: the client gets 4000, the process exits 0.
    let pid = demo.process.child.id().expect("the demo runs");
    let killed = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(killed.success(), "kill -TERM {pid}");
    let deadline = Instant::now() + EXIT_TIMEOUT;
    let code = loop {
        match receive(&mut ws, deadline).await {
            Some(Received::Frame(_)) => {}
            Some(Received::Closed(code)) => break code,
            None => panic!(
                "no close frame within {EXIT_TIMEOUT:?} of SIGTERM\n{}",
                demo.logs()
            ),
        }
    };
    assert_eq!(
        code,
        Some(4000),
        "close code after SIGTERM\n{}",
        demo.logs()
    );
    let status = tokio::time::timeout(EXIT_TIMEOUT, demo.process.child.wait())
        .await
        .unwrap_or_else(|_| panic!("still running {EXIT_TIMEOUT:?} after SIGTERM"))
        .expect("wait for the demo");
    assert!(
        status.success(),
        "exit status after SIGTERM: {status}\n{}",
        demo.logs()
    );
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn check_config(file: &Path) -> Output {
    switchboard(SWITCHBOARD)
        .arg("check-config")
        .arg("--config")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run switchboard check-config")
}

#[tokio::test]
async fn check_config_accepts_the_example_file() {
    let out = check_config(&repo().join("deploy/switchboard.example.toml")).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("# configuration is valid"),
        "stdout: {stdout}"
    );
}

#[tokio::test]
async fn check_config_refuses_unknown_keys_and_bad_values_naming_the_key() {
    let dir = tempfile::tempdir().expect("temporary folder");
    for (name, text, key) in [
        (
            "unknown-key.toml",
            "[server]\nlisten = \"127.0.0.1:8080\"\nlisten_port = 8080\n",
            "[server] listen_port: unknown key",
        ),
        (
            "unknown-section.toml",
            "[sever]\nlisten = \"127.0.0.1:8080\"\n",
            "[sever]: unknown section",
        ),
        (
            "bad-type.toml",
            "[limits]\nmax_frame_bytes = \"big\"\n",
            "[limits] max_frame_bytes: ",
        ),
        (
            "bad-duration.toml",
            "[limits]\nping_interval = \"often\"\n",
            "[limits] ping_interval: ",
        ),
        (
            "bad-value.toml",
            "[demo]\ncall_rate = -1.0\n",
            "demo.call_rate",
        ),
        ("bad-format.toml", "[log]\nformat = \"xml\"\n", "log.format"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write the config file");
        let out = check_config(&path).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: stderr: {stderr}");
        assert!(
            stderr.contains(key),
            "{name}: stderr does not name {key:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
    }

    // The demo refuses the same file before serving anything.
    let path = dir.path().join("unknown-key.toml");
    let out = tokio::time::timeout(
        EXIT_TIMEOUT,
        switchboard(SWITCHBOARD)
            .args(["demo", "--port", "0", "--sim-port", "0", "--config"])
            .arg(&path)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("demo exits at once on a bad config")
    .expect("run switchboard demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "demo: stderr: {stderr}");
    assert!(stderr.contains("listen_port"), "demo: stderr: {stderr}");
}
