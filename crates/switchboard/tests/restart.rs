//! A restart signs no one out: `switchboard run` (the real binary) against the
//! simulator through a private Prosody, 120 widgets on one address, SIGTERM,
//! a new process on the same port. Each widget does what `switchboard.js`
//! does: it presents its old resume token, which the new process does not
//! know (`Resume Token Unknown`, not a failed sign-in), then signs in with the
//! credentials it holds. Meanwhile a brute force on one user from the same
//! address is locked out, and no one else is.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_harness::{FinesseEnv, FinesseOptions};
use switchboard_harness::{Process, free_ports, switchboard};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The binary under test.
const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Widgets on the one address (127.0.0.1).
const WIDGETS: usize = 120;
/// The agents they sign in as (1001001..=1001009); 1001010 is the brute force's target.
const AGENTS: usize = 9;
const PASSWORD: &str = "demo";
const WAIT: Duration = Duration::from_secs(60);

/// `switchboard run` with `config`, its output in `dir` (`stdout-{n}`, `stderr-{n}`), ready.
async fn start_run(
    config: &std::path::Path,
    dir: &std::path::Path,
    n: usize,
    base: &str,
) -> Process {
    let mut command = switchboard(SWITCHBOARD);
    command
        .arg("run")
        .args(["--config", config.to_str().expect("path")]);
    let mut process = Process::spawn(command, dir, &format!("-{n}"));
    if let Err(failure) = process.wait_ready(base).await {
        panic!("switchboard run did not start: {failure}");
    }
    process
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string()))
        .await
        .expect("send");
}

/// The reply to `request_id` (Ready or SetAPIError), skipping events.
async fn reply(ws: &mut Ws, request_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no reply to {request_id} in {WAIT:?}"));
        match next {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).expect("json");
                if v["requestId"] == request_id {
                    return v;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("connection ended waiting for {request_id}: {other:?}"),
        }
    }
}

fn sign_in_frame(user: &str, password: &str, rid: &str) -> Value {
    json!({"channel":"Cisco","topic":"Agent","subtopic":"SetUserInfo",
        "data":{"username":user,"password":password,"extension":extension(user)},"requestId":rid})
}

fn extension(user: &str) -> String {
    // The simulator's agent 10010NN has extension 50NN.
    format!("50{}", &user[5..])
}

fn is_ready(v: &Value) -> bool {
    v["subtopic"] == "Ready"
}

fn error_type(v: &Value) -> &str {
    v["data"]["data"]["errorType"].as_str().unwrap_or("")
}

/// Waits for the close frame; its code.
async fn closed(ws: &mut Ws) -> u16 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => panic!("no close in {WAIT:?}"),
            Ok(Some(Ok(Message::Close(f)))) => return f.map_or(1005, |f| u16::from(f.code)),
            Ok(Some(Ok(_))) => {}
            Ok(_) => return 1006,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_signs_no_one_out_and_keeps_a_brute_force_locked_out() {
    let finesse = FinesseEnv::start(FinesseOptions {
        password: Some(PASSWORD.into()),
        ..FinesseOptions::default()
    })
    .await;
    let (port, _) = free_ports();
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
shutdown_grace = "5s"

{finesse}
[log]
level = "info"
format = "json"
"#,
            finesse = finesse.run_config(),
        ),
    )
    .expect("config");
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("ws://127.0.0.1:{port}/ws");

    let mut first = start_run(&config, dir.path(), 1, &base).await;

    // 120 widgets sign in (at once) and keep their resume tokens.
    let widgets = futures::future::join_all((0..WIDGETS).map(|i| {
        let url = url.clone();
        async move {
            let user = format!("10010{:02}", i % AGENTS + 1);
            let (mut ws, _) = tokio_tungstenite::connect_async(&url)
                .await
                .expect("connect");
            send(&mut ws, sign_in_frame(&user, PASSWORD, "in")).await;
            let ready = reply(&mut ws, "in").await;
            assert!(is_ready(&ready), "{user}: {ready}");
            let token = ready["data"]["resumeToken"]
                .as_str()
                .expect("resumeToken")
                .to_owned();
            (user, token, ws)
        }
    }))
    .await;

    // SIGTERM: every widget is closed with 4000, the process exits.
    let pid = first.child.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut tokens = Vec::new();
    for (user, token, mut ws) in widgets {
        assert_eq!(closed(&mut ws).await, 4000, "{user}");
        tokens.push((user, token));
    }
    let status = tokio::time::timeout(WAIT, first.child.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("status");
    assert!(status.success(), "{status}\n{}", first.logs());

    // A new process on the same port.
    let mut second = start_run(&config, dir.path(), 2, &base).await;

    // Every widget comes back, while a brute force on 1001010 runs from the same address.
    let comeback = futures::future::join_all(tokens.into_iter().map(|(user, token)| {
        let url = url.clone();
        async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(&url)
                .await
                .expect("reconnect");
            send(
                &mut ws,
                json!({"channel":"Broker","topic":"Session","subtopic":"Authenticate",
                "data":{"token":token},"requestId":"resume"}),
            )
            .await;
            let resumed = reply(&mut ws, "resume").await;
            assert_eq!(
                error_type(&resumed),
                "Resume Token Unknown",
                "{user}: {resumed}"
            );
            send(&mut ws, sign_in_frame(&user, PASSWORD, "again")).await;
            (user, reply(&mut ws, "again").await, ws)
        }
    }));
    let brute_force = async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("connect");
        let mut outcomes = Vec::new();
        for i in 0..6 {
            let rid = format!("guess-{i}");
            send(
                &mut ws,
                sign_in_frame("1001010", &format!("guess-{i}"), &rid),
            )
            .await;
            outcomes.push(error_type(&reply(&mut ws, &rid).await).to_owned());
        }
        // Even the right password is refused now.
        send(&mut ws, sign_in_frame("1001010", PASSWORD, "right")).await;
        outcomes.push(error_type(&reply(&mut ws, "right").await).to_owned());
        outcomes
    };
    let (back, outcomes) = tokio::join!(comeback, brute_force);
    let refused: Vec<String> = back
        .iter()
        .filter(|(_, r, _)| !is_ready(r))
        .map(|(u, r, _)| format!("{u}: {r}"))
        .collect();
    assert!(
        refused.is_empty(),
        "{} refused: {refused:#?}",
        refused.len()
    );
    assert_eq!(back.len(), WIDGETS);
    assert_eq!(
        outcomes,
        [
            vec!["Authorization Failure"; 3],
            vec!["Too Many Requests"; 4]
        ]
        .concat(),
        "{outcomes:?}"
    );
    // Fewer wrong passwords reached Finesse for 1001010 than Finesse's own lockout (5).
    let wrong = finesse
        .sim
        .sim
        .request_log()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/finesse/api/User/1001010" && r.user.is_none())
        .count();
    assert_eq!(wrong, 3);
    // The other users still sign in from that address.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("connect");
    send(&mut ws, sign_in_frame("1001001", PASSWORD, "other")).await;
    let ready = reply(&mut ws, "other").await;
    assert!(is_ready(&ready), "{ready}");
    drop(back);
    let _ = second.child.start_kill();
}
