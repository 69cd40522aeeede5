//! Token sign-in, resume tokens and TLS, end to end (real sockets, the
//! simulator over HTTP, Prosody over XMPP).

mod common;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_gateway::JwtKey;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "a-test-secret-of-32-characters!!";

fn token(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token")
}

fn exp() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_resume_tokens_sign_in() {
    let env = Env::start(|c| {
        c.auth.jwt = Some(JwtKey::Hs256 {
            secret: SECRET.into(),
        });
    })
    .await;

    // An admin dashboard with ?access_token= may subscribe to everything.
    let admin = token(json!({"sub": "wall-1", "role": "admin", "exp": exp()}));
    let mut wall = Client::connect(&format!("{}?access_token={admin}", env.url)).await;
    let ready = wall
        .wait_for("Ready", |v| is(v, "Broker", "Session", "Ready"))
        .await;
    assert_eq!(ready["data"]["roles"], json!(["admin"]));
    assert!(ready["data"]["agentId"].is_null());
    wall.send(json!({"channel":"Broker","topic":"Subscription","subtopic":"Subscribe","data":{"topics":["all"]},"requestId":"s"}))
        .await;
    let sub = wall.wait_for("Subscribed", |v| v["requestId"] == "s").await;
    assert_eq!(sub["data"]["topics"], json!(["all"]));

    // A token has no Finesse credentials: call control is refused (5), not sent.
    let r = wall
        .command("Cisco", "Agent", "SetReadyState", json!({}))
        .await;
    assert_eq!(response_type(&r), 5);

    // A forged, an expired and a wrong-role token are refused; the connection stays.
    let mut c = Client::connect(&env.url).await;
    for (bad, why) in [
        (format!("{admin}x"), "signature"),
        (
            token(json!({"sub": "x", "role": "admin", "exp": 1000})),
            "expired",
        ),
        (
            token(json!({"sub": "x", "role": "root", "exp": exp()})),
            "role",
        ),
    ] {
        let rid = c.request_id();
        c.send(json!({"channel":"Broker","topic":"Session","subtopic":"Authenticate","data":{"token":bad},"requestId":rid}))
            .await;
        let e = c.wait_for(why, |v| v["requestId"] == rid.as_str()).await;
        assert_eq!(
            e["data"]["data"]["errorType"], "Authorization Failure",
            "{why}: {e}"
        );
    }

    // A supervisor token subscribes to its team.
    let sup = token(json!({"sub": "dash", "role": "supervisor", "teams": ["5000"], "exp": exp()}));
    let rid = c.request_id();
    c.send(json!({"channel":"Broker","topic":"Session","subtopic":"Authenticate","data":{"token":sup},"requestId":rid}))
        .await;
    c.wait_for("Ready", |v| is(v, "Broker", "Session", "Ready"))
        .await;
    c.send(json!({"channel":"Broker","topic":"Subscription","subtopic":"Subscribe","data":{"topics":["team/5000","team/6000"]},"requestId":"t"}))
        .await;
    let sub = c
        .wait_for("Subscribed", |v| {
            v["subtopic"] == "Subscribed" && v["requestId"] == "t"
        })
        .await;
    assert_eq!(sub["data"]["topics"], json!(["team/5000"]));

    // A resume token restores an agent's sign-in, credentials included, once.
    let mut a1 = Client::connect(&env.url).await;
    let ready = a1.sign_in("1001001", "5001").await;
    let resume = ready["resumeToken"]
        .as_str()
        .expect("resumeToken")
        .to_owned();
    a1.close().await;
    let mut again = Client::connect(&env.url).await;
    again
        .send(json!({"channel":"Broker","topic":"Session","subtopic":"Authenticate","data":{"token":resume},"requestId":"r"}))
        .await;
    let ready = again
        .wait_for("Ready", |v| is(v, "Broker", "Session", "Ready"))
        .await;
    assert_eq!(ready["data"]["agentId"], "1001001");
    assert_ne!(ready["data"]["resumeToken"], resume.as_str());
    let r = again
        .command("Cisco", "Agent", "SetReadyState", json!({}))
        .await;
    assert_eq!(response_type(&r), 0, "{r}");
    let mut third = Client::connect(&env.url).await;
    third
        .send(json!({"channel":"Broker","topic":"Session","subtopic":"Authenticate","data":{"token":resume},"requestId":"r2"}))
        .await;
    let e = third.wait_for("refusal", |v| v["requestId"] == "r2").await;
    assert_eq!(e["data"]["data"]["errorType"], "Authorization Failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_serves_wss_and_https() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let dir = tempfile::tempdir().expect("dir");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).expect("write");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write");
    let env = Env::start(|c| {
        c.tls = Some(switchboard_gateway::TlsFiles {
            cert: cert_path.clone(),
            key: key_path.clone(),
        });
    })
    .await;
    let port = env.gateway.local_addr().port();

    let https = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("pem"),
        )
        .build()
        .expect("client");
    let health = https
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .expect("https");
    assert_eq!(health.status(), 200);
    // Plain HTTP on the TLS port is refused.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_err()
    );

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("tcp");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").expect("name"),
            tcp,
        )
        .await
        .expect("TLS handshake");
    let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://localhost:{port}/ws"), tls)
        .await
        .expect("wss");
    ws.send(Message::text(
        json!({"channel":"Broker","topic":"Session","subtopic":"Ping","data":{"n":1},"requestId":"p"}).to_string(),
    ))
    .await
    .expect("send");
    let pong = loop {
        match ws.next().await.expect("frame").expect("frame") {
            Message::Text(t) => break serde_json::from_str::<Value>(t.as_str()).expect("json"),
            _ => continue,
        }
    };
    assert_eq!(pong["subtopic"], "Pong");
    assert_eq!(pong["data"]["n"], 1);
}
