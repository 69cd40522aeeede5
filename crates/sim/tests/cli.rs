//! `finesse-sim` as a user runs it: the real binary as a child process on a free loopback
//! port, driven over its REST API.
//!
//! - `--load` with `--manual 1001001` offers calls to both READY agents, answers for
//!   1001002 and leaves 1001001's call ringing (to a person);
//! - `--manual` with an unknown user, or without `--load`, is refused (exit 2);
//! - its log, written to a pipe, carries no colour codes.
//!
//! Bounds are generous (a loaded 2-core CI machine); nothing here measures speed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_finesse::{UserRequest, UserState};
use switchboard_harness::free_port;

/// How long anything here may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Seconds a simulated agent waits before answering.
const ANSWER_AFTER: f64 = 0.2;

struct Sim(Child);

// The sim's log is a few lines at start: its pipe never fills.

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn put_user(http: &reqwest::Client, base: &str, id: &str, request: &UserRequest) {
    let response = http
        .put(format!("{base}/finesse/api/User/{id}"))
        .basic_auth(id, Some("demo"))
        .header("Content-Type", "application/xml")
        .body(request.to_xml())
        .send()
        .await
        .expect("PUT User");
    assert_eq!(
        response.status(),
        reqwest::StatusCode::ACCEPTED,
        "PUT User {id}"
    );
}

/// Each user's state, from the scenario API.
async fn states(http: &reqwest::Client, base: &str) -> Vec<(String, String)> {
    let state: Value = http
        .get(format!("{base}/sim/state"))
        .send()
        .await
        .expect("GET /sim/state")
        .json()
        .await
        .expect("JSON");
    state["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap_or_default().to_owned(),
                u["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn state_of(states: &[(String, String)], id: &str) -> String {
    states
        .iter()
        .find(|(u, _)| u == id)
        .map(|(_, s)| s.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn load_leaves_manual_agents_to_people() {
    let port = free_port();
    let mut sim = Sim(Command::new(env!("CARGO_BIN_EXE_finesse-sim"))
        .args(["--rest", &format!("127.0.0.1:{port}")])
        .args(["--load", "20", "--answer-after", &ANSWER_AFTER.to_string()])
        .args(["--talk-for", "600", "--manual", "1001001"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start finesse-sim"));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let deadline = Instant::now() + TIMEOUT;
    while http.get(format!("{base}/sim/state")).send().await.is_err() {
        assert!(Instant::now() < deadline, "finesse-sim not serving");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (id, extension) in [("1001001", "5001"), ("1001002", "5002")] {
        let login = UserRequest {
            state: UserState::Login,
            extension: Some(extension.into()),
            reason_code_id: None,
        };
        put_user(&http, &base, id, &login).await;
        let ready = UserRequest {
            state: UserState::Ready,
            ..UserRequest::default()
        };
        put_user(&http, &base, id, &ready).await;
    }
    // Both are offered a call; the simulated one talks, the manual one is still reserved
    // well after the simulated agents' answer time.
    let reserved = |s: &str| s.starts_with("RESERVED");
    let (mut manual_offered, mut other_talking) = (None, false);
    loop {
        let now = states(&http, &base).await;
        if manual_offered.is_none() && reserved(&state_of(&now, "1001001")) {
            manual_offered = Some(Instant::now());
        }
        other_talking |= state_of(&now, "1001002") == "TALKING";
        if let Some(at) = manual_offered
            && other_talking
            && at.elapsed() > Duration::from_secs_f64(ANSWER_AFTER * 10.0)
        {
            assert!(
                reserved(&state_of(&now, "1001001")),
                "1001001 was answered for: {now:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no calls offered: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut stderr = sim.0.stderr.take().expect("stderr");
    drop(sim);
    let mut log = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut log).expect("read the log");
    assert!(log.contains("finesse-sim serving"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a pipe: {log:?}");
}

#[test]
fn manual_needs_a_known_user_and_the_load() {
    for (args, needle) in [
        (
            vec!["--load", "1", "--manual", "1001001,9999999"],
            "--manual 9999999: no such user",
        ),
        (vec!["--manual", "1001001"], "--manual needs --load"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_finesse-sim"))
            .args(["--rest", &format!("127.0.0.1:{}", free_port())])
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run finesse-sim");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
