//! The Finesse REST client against the simulator over real HTTP, and against
//! tiny hand-made servers for what the simulator cannot do (never answer,
//! answer garbage, show the request head as sent).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchboard_connector::{
    Credentials, FinesseClient, FinesseEndpoint, RestConfig, RestError, Secret,
};
use switchboard_finesse::{
    DialogAction, DialogRequest, MakeCallRequest, SystemStatus, UserRequest, UserState,
};
use switchboard_sim::{NoticeSink, RunningSim, SimConfig, SimOptions, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const PASSWORD: &str = "demo";

async fn sim() -> RunningSim {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    start(SimOptions {
        config: SimConfig::default(),
        primary: any,
        secondary: Some(any),
        scenario: Some(any),
        sink: NoticeSink::Discard,
    })
    .await
    .expect("simulator starts")
}

fn client(addr: SocketAddr) -> FinesseClient {
    FinesseClient::new(&format!("http://{addr}"), RestConfig::default()).expect("client")
}

fn agent(id: &str) -> Credentials {
    Credentials::basic(id, PASSWORD)
}

fn login(ext: &str) -> UserRequest {
    UserRequest {
        state: UserState::Login,
        extension: Some(ext.into()),
        reason_code_id: None,
    }
}

fn state(state: UserState) -> UserRequest {
    UserRequest {
        state,
        ..Default::default()
    }
}

async fn sign_in_ready(c: &FinesseClient, id: &str, ext: &str) {
    c.put_user(&agent(id), id, &login(ext))
        .await
        .expect("LOGIN");
    c.put_user(&agent(id), id, &state(UserState::Ready))
        .await
        .expect("READY");
}

async fn scenario(sim: &RunningSim, path: &str, body: serde_json::Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("http://{}{path}", sim.scenario))
        .json(&body)
        .send()
        .await
        .expect("scenario API")
}

async fn preview_call(sim: &RunningSim, agent: &str) -> String {
    let r = scenario(
        sim,
        "/sim/calls",
        serde_json::json!({"agent": agent, "kind": "preview"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    r.json::<serde_json::Value>().await.expect("json")["dialogId"]
        .as_str()
        .expect("dialogId")
        .to_owned()
}

/// An HTTP/1.1 answer with a `Content-Length`.
fn answer(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A server that accepts one connection, reads one request (head and
/// `Content-Length` body), answers `response` and returns the request.
async fn canned(response: String) -> (SocketAddr, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.expect("accept");
        let request = read_request(&mut sock).await;
        sock.write_all(response.as_bytes()).await.expect("write");
        sock.shutdown().await.ok();
        request
    });
    (addr, task)
}

async fn read_request(sock: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed before the end of the request");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn sign_in_check_with_right_and_wrong_password() {
    let sim = sim().await;
    let c = client(sim.primary);
    let user = c
        .user(&agent("1001001"), "1001001")
        .await
        .expect("signed in");
    assert_eq!(user.login_id, "1001001");

    let err = c
        .user(&Credentials::basic("1001001", "wrong"), "1001001")
        .await
        .expect_err("wrong password");
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_retryable());
    assert_eq!(err.api_errors()[0].error_type, "Authorization Failure");
    assert!(err.to_string().contains("401"), "{err}");

    // Another agent's user: 401 too.
    let err = c
        .user(&agent("1001002"), "1001001")
        .await
        .expect_err("not theirs");
    assert!(err.is_unauthorized(), "{err:?}");
}

#[tokio::test]
async fn reads_system_info_user_dialogs_dialog_team() {
    let sim = sim().await;
    let c = client(sim.primary);
    let info = c.system_info().await.expect("SystemInfo");
    assert_eq!(info.status, SystemStatus::InService);
    assert_eq!(info.xmpp_domain.as_deref(), Some("finesse.local"));

    let user = c.user(&agent("1001003"), "1001003").await.expect("User");
    assert_eq!(
        (user.login_id.as_str(), user.state),
        ("1001003", UserState::Logout)
    );
    assert!(
        c.dialogs(&agent("1001003"), "1001003")
            .await
            .expect("Dialogs")
            .is_empty()
    );

    sign_in_ready(&c, "1001003", "5003").await;
    let id = preview_call(&sim, "1001003").await;
    let dialogs = c
        .dialogs(&agent("1001003"), "1001003")
        .await
        .expect("Dialogs");
    assert_eq!(
        dialogs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    let dialog = c.dialog(&agent("1001003"), &id).await.expect("Dialog");
    assert_eq!(dialog.id, id);
    assert!(dialog.is_preview_reservation());

    let team = c.team(&agent("2001001"), "5000").await.expect("Team");
    assert_eq!(team.id, "5000");
    assert!(team.users.iter().any(|u| u.login_id == "1001003"));
    let err = c
        .team(&agent("2001001"), "no-such-team")
        .await
        .expect_err("unknown team");
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn put_user_login_and_ready() {
    let sim = sim().await;
    let c = client(sim.primary);
    let creds = agent("1001004");
    let login_id = c
        .put_user(&creds, "1001004", &login("5004"))
        .await
        .expect("LOGIN");
    assert_eq!(
        c.user(&creds, "1001004").await.expect("User").state,
        UserState::NotReady
    );
    let ready_id = c
        .put_user(&creds, "1001004", &state(UserState::Ready))
        .await
        .expect("READY");
    assert_ne!(login_id, ready_id);
    assert_eq!(
        c.user(&creds, "1001004").await.expect("User").state,
        UserState::Ready
    );
    let log = sim.sim.request_log();
    for (id, action) in [(&login_id, "LOGIN"), (&ready_id, "READY")] {
        let rec = log
            .iter()
            .find(|r| r.request_id.as_deref() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("{action} with requestId {id} in the log"));
        assert_eq!(
            (rec.method.as_str(), rec.path.as_str(), rec.status),
            ("PUT", "/finesse/api/User/1001004", 202)
        );
        assert_eq!(rec.action.as_deref(), Some(action));
    }
    // GETs carry no requestId.
    assert!(
        log.iter()
            .filter(|r| r.method == "GET")
            .all(|r| r.request_id.is_none())
    );
}

#[tokio::test]
async fn accept_on_a_preview_reservation_returns_the_request_id_sent() {
    let sim = sim().await;
    let c = client(sim.primary);
    sign_in_ready(&c, "1001001", "5001").await;
    let dialog_id = preview_call(&sim, "1001001").await;
    let accept = DialogRequest {
        action: DialogAction::Accept,
        target_media_address: Some("5001".into()),
    };
    let rid = c
        .dialog_action(&agent("1001001"), &dialog_id, &accept)
        .await
        .expect("ACCEPT");
    assert_eq!(rid.as_str().len(), 36, "a hyphenated UUID: {rid}");
    let log = sim.sim.request_log();
    let rec = log
        .iter()
        .find(|r| r.path == format!("/finesse/api/Dialog/{dialog_id}"))
        .expect("the ACCEPT in the log");
    assert_eq!(rec.method, "PUT");
    assert_eq!(rec.request_id.as_deref(), Some(rid.as_str()));
    assert_eq!(rec.action.as_deref(), Some("ACCEPT"));
    assert_eq!(rec.status, 202);
    // The reservation became a call.
    let user = c.user(&agent("1001001"), "1001001").await.expect("User");
    assert_eq!(user.state, UserState::Talking);

    // MAKE_CALL is a POST with its own requestId.
    let call = MakeCallRequest {
        from_address: "5002".into(),
        to_address: "5551234".into(),
        call_variables: Vec::new(),
    };
    sign_in_ready(&c, "1001002", "5002").await;
    let rid = c
        .make_call(&agent("1001002"), "1001002", &call)
        .await
        .expect("MAKE_CALL");
    let log = sim.sim.request_log();
    let rec = log
        .iter()
        .find(|r| r.request_id.as_deref() == Some(rid.as_str()))
        .expect("MAKE_CALL in the log");
    assert_eq!(
        (rec.method.as_str(), rec.path.as_str(), rec.status),
        ("POST", "/finesse/api/User/1001002/Dialogs", 202)
    );
}

#[tokio::test]
async fn request_ids_are_unique_across_100_requests() {
    let sim = sim().await;
    let c = client(sim.primary);
    let creds = agent("1001005");
    let mut ids = HashSet::new();
    ids.insert(
        c.put_user(&creds, "1001005", &login("5005"))
            .await
            .expect("LOGIN"),
    );
    for i in 0..99 {
        let req = if i % 2 == 0 {
            state(UserState::Ready)
        } else {
            UserRequest {
                state: UserState::NotReady,
                reason_code_id: Some("1".into()),
                extension: None,
            }
        };
        ids.insert(c.put_user(&creds, "1001005", &req).await.expect("state"));
    }
    assert_eq!(ids.len(), 100);
    let logged: HashSet<String> = sim
        .sim
        .request_log()
        .into_iter()
        .filter(|r| r.status == 202)
        .filter_map(|r| r.request_id)
        .collect();
    assert_eq!(logged.len(), 100);
    assert!(ids.iter().all(|id| logged.contains(id.as_str())));
}

#[tokio::test]
async fn not_found_and_bad_request_carry_the_api_errors() {
    let sim = sim().await;
    let c = client(sim.primary);
    let creds = agent("1001006");
    let err = c
        .dialog(&creds, "no-such-dialog")
        .await
        .expect_err("unknown dialog");
    match &err {
        RestError::Finesse {
            status: 404,
            errors,
            request_id: None,
            ..
        } => assert!(
            errors.iter().any(|e| e.error_message == "Dialog Not Found"),
            "{errors:?}"
        ),
        other => panic!("expected a 404: {other:?}"),
    }
    assert!(err.is_not_found() && !err.is_retryable());
    assert!(err.to_string().contains("Dialog Not Found"), "{err}");

    // A PUT's error keeps the requestId it was sent with.
    let hold = DialogRequest {
        action: DialogAction::Hold,
        target_media_address: Some("5006".into()),
    };
    let err = c
        .dialog_action(&creds, "no-such-dialog", &hold)
        .await
        .expect_err("unknown dialog");
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.request_id().map(str::len), Some(36));
    let logged = sim.sim.request_log();
    assert!(
        logged
            .iter()
            .any(|r| r.request_id.as_deref() == err.request_id() && r.status == 404)
    );

    // 400 Parameter Missing: LOGIN without an extension.
    let err = c
        .put_user(&creds, "1001006", &state(UserState::Login))
        .await
        .expect_err("no extension");
    match &err {
        RestError::Finesse {
            status: 400,
            errors,
            request_id: Some(_),
            ..
        } => {
            assert_eq!(errors[0].error_type, "Parameter Missing");
            assert_eq!(errors[0].error_data.as_deref(), Some("extension"));
        }
        other => panic!("expected a 400: {other:?}"),
    }

    // 400 Invalid Destination: MAKE_CALL to oneself.
    sign_in_ready(&c, "1001006", "5006").await;
    let call = MakeCallRequest {
        from_address: "5006".into(),
        to_address: "5006".into(),
        call_variables: Vec::new(),
    };
    let err = c
        .make_call(&creds, "1001006", &call)
        .await
        .expect_err("to = from");
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.api_errors()[0].error_type, "Invalid Destination");
}

#[tokio::test]
async fn out_of_service_is_503_unavailable_and_retryable() {
    let sim = sim().await;
    let primary = client(sim.primary);
    let secondary = client(sim.secondary.expect("pair"));
    let r = scenario(
        &sim,
        "/sim/status",
        serde_json::json!({"side": "primary", "status": "OUT_OF_SERVICE"}),
    )
    .await;
    assert_eq!(r.status(), 204);
    let err = primary
        .user(&agent("1001007"), "1001007")
        .await
        .expect_err("out of service");
    assert!(err.is_unavailable() && err.is_retryable(), "{err:?}");
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.api_errors()[0].error_type, "Service Unavailable");
    // SystemInfo still answers, and says so; the other node serves.
    assert_eq!(
        primary.system_info().await.expect("SystemInfo").status,
        SystemStatus::OutOfService
    );
    secondary
        .user(&agent("1001007"), "1001007")
        .await
        .expect("the secondary serves");
}

#[tokio::test]
async fn a_node_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let config = RestConfig {
        request_timeout: Duration::from_millis(200),
        ..RestConfig::default()
    };
    let c = FinesseClient::new(&format!("http://{addr}"), config).expect("client");
    let started = Instant::now();
    let err = c
        .put_user(&agent("1001001"), "1001001", &state(UserState::Ready))
        .await
        .expect_err("no answer");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, RestError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable() && err.status().is_none());
    assert!(
        err.request_id().is_some(),
        "a timed-out PUT keeps its requestId"
    );
    holder.abort();
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = client(addr).system_info().await.expect_err("refused");
    assert!(matches!(err, RestError::Connect { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("cannot reach Finesse"), "{err}");
}

#[tokio::test]
async fn headers_on_the_wire_bearer_basic_content_type_request_id() {
    let (addr, seen) = canned(answer("202 Accepted", "", "")).await;
    let rid = client(addr)
        .put_user(
            &Credentials::bearer("tok-abc.123"),
            "1001001",
            &state(UserState::Ready),
        )
        .await
        .expect("202");
    let head = seen.await.expect("request").to_ascii_lowercase();
    assert!(
        head.starts_with("put /finesse/api/user/1001001 http/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nauthorization: bearer tok-abc.123\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\ncontent-type: application/xml\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nrequestid: {}\r\n", rid.as_str())),
        "{head}"
    );
    assert!(head.contains("<state>ready</state>"), "{head}");

    let (addr, seen) = canned(answer("200 OK", "", "<Dialogs></Dialogs>")).await;
    let dialogs = client(addr)
        .dialogs(&agent("1001001"), "1001001")
        .await
        .expect("empty list");
    assert!(dialogs.is_empty());
    let head = seen.await.expect("request").to_ascii_lowercase();
    // base64("1001001:demo")
    assert!(
        head.contains("\r\nauthorization: basic mtawmtawmtpkzw1v\r\n"),
        "{head}"
    );
    assert!(
        !head.contains("requestid"),
        "GETs carry no requestId: {head}"
    );
}

#[tokio::test]
async fn unusable_answers_are_bad_responses() {
    let (addr, _) = canned(answer("200 OK", "", "<html></html>")).await;
    let err = client(addr)
        .user(&agent("1001001"), "1001001")
        .await
        .expect_err("not a User");
    assert!(matches!(err, RestError::BadResponse { .. }), "{err:?}");

    let (addr, _) = canned(answer(
        "302 Found",
        "location: https://sso.example/login\r\n",
        "",
    ))
    .await;
    let err = client(addr)
        .user(&agent("1001001"), "1001001")
        .await
        .expect_err("redirect");
    assert!(matches!(err, RestError::BadResponse { .. }), "{err:?}");

    // Larger than max_response_bytes.
    let (addr, _) = canned(answer("200 OK", "", &"x".repeat(64))).await;
    let small = RestConfig {
        max_response_bytes: 32,
        ..RestConfig::default()
    };
    let err = FinesseClient::new(&format!("http://{addr}"), small)
        .expect("client")
        .system_info()
        .await
        .expect_err("too large");
    assert!(
        matches!(&err, RestError::BadResponse { reason, .. } if reason.contains("32 bytes")),
        "{err:?}"
    );

    // A 5xx from something that is not Finesse: one synthetic ApiError.
    let (addr, _) = canned(answer("502 Bad Gateway", "", "oops!")).await;
    let err = client(addr).system_info().await.expect_err("502");
    assert_eq!(err.status(), Some(502));
    assert_eq!(err.api_errors().len(), 1);
    assert_eq!(err.api_errors()[0].error_type, "Bad Gateway");
}

#[tokio::test]
async fn secrets_never_appear_in_debug_or_messages() {
    const SECRET: &str = "s3cr3t-Pa55";
    let basic = Credentials::basic("1001001", SECRET);
    let bearer = Credentials::bearer(Secret::new(SECRET));
    for creds in [&basic, &bearer] {
        let shown = format!("{creds:?} {creds:#?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    let mut errors = Vec::new();
    let sim = sim().await;
    let c = client(sim.primary);
    errors.push(c.user(&basic, "1001001").await.expect_err("401"));
    errors.push(c.user(&bearer, "1001001").await.expect_err("401"));
    errors.push(
        c.put_user(&basic, "1001001", &state(UserState::Ready))
            .await
            .expect_err("401"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let closed = listener.local_addr().expect("addr");
    drop(listener);
    errors.push(
        client(closed)
            .user(&basic, "1001001")
            .await
            .expect_err("refused"),
    );
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let quick = RestConfig {
        request_timeout: Duration::from_millis(100),
        ..RestConfig::default()
    };
    errors.push(
        FinesseClient::new(&format!("http://{silent_addr}"), quick)
            .expect("client")
            .user(&basic, "1001001")
            .await
            .expect_err("timeout"),
    );
    holder.abort();
    let (addr, _) = canned(answer("200 OK", "", "xyz")).await;
    errors.push(
        client(addr)
            .user(&basic, "1001001")
            .await
            .expect_err("garbage"),
    );
    errors.push(
        client(sim.primary)
            .user(&Credentials::bearer(format!("{SECRET}\n")), "1001001")
            .await
            .expect_err("not a header value"),
    );
    errors.push(
        FinesseEndpoint::parse(&format!("http://1001001:{SECRET}@finesse:8445"))
            .expect_err("credentials in the URL"),
    );
    assert!(matches!(errors.last(), Some(RestError::InvalidUrl { .. })));
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, RestError::InvalidCredentials { .. }))
    );
    for e in &errors {
        let shown = format!("{e:?} {e:#?} {e}");
        assert!(!shown.contains(SECRET), "{shown}");
    }
}

#[tokio::test]
async fn https_urls_go_through_tls() {
    // A server that speaks plain HTTP at once: the TLS handshake fails, which
    // shows the client tried TLS (without a TLS backend reqwest refuses the
    // scheme instead).
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        if let Ok((mut sock, _)) = listener.accept().await {
            let _ = sock
                .write_all(answer("200 OK", "", "<SystemInfo/>").as_bytes())
                .await;
            let _ = sock.shutdown().await;
        }
    });
    let c = FinesseClient::new(&format!("https://{addr}"), RestConfig::default()).expect("client");
    let err = c.system_info().await.expect_err("not TLS");
    assert!(matches!(err, RestError::Connect { .. }), "{err:?}");
    let shown = format!("{err} {err:?}").to_ascii_lowercase();
    assert!(!shown.contains("scheme"), "{shown}");
    assert!(
        shown.contains("tls") || shown.contains("corrupt") || shown.contains("ssl"),
        "{shown}"
    );
    server.abort();
}
