//! Token sign-in, resume tokens and TLS, end to end (real sockets, the
//! simulator over HTTP, Prosody over XMPP).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_harness::*;
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
    let env = GatewayEnv::start(|c| {
        c.auth.jwt_algorithm = "HS256".into();
        c.auth.jwt_secret = SECRET.into();
    })
    .await;

    // An admin dashboard with ?access_token= may subscribe to everything.
    let admin = token(json!({"sub": "wall-1", "role": "admin", "exp": exp()}));
    let mut wall = WsClient::connect(&format!("{}?access_token={admin}", env.url)).await;
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
    let mut c = WsClient::connect(&env.url).await;
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
        if why != "role" {
            // The verifier's own words stay in the log.
            assert_eq!(
                e["data"]["data"]["errorMessage"], "invalid token",
                "{why}: {e}"
            );
        }
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
    let mut a1 = WsClient::connect(&env.url).await;
    let ready = a1.sign_in("1001001", "5001").await;
    let resume = ready["resumeToken"]
        .as_str()
        .expect("resumeToken")
        .to_owned();
    a1.close().await;
    let mut again = WsClient::connect(&env.url).await;
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
    let mut third = WsClient::connect(&env.url).await;
    third
        .send(json!({"channel":"Broker","topic":"Session","subtopic":"Authenticate","data":{"token":resume},"requestId":"r2"}))
        .await;
    let e = third.wait_for("refusal", |v| v["requestId"] == "r2").await;
    assert_eq!(e["data"]["data"]["errorType"], "Resume Token Unknown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_serves_wss_and_https() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let dir = tempfile::tempdir().expect("dir");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).expect("write");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write");
    let env = GatewayEnv::start(|c| {
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

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().expect("ip")
}

/// Wrong-password requests for `user` that reached the simulator's REST API.
fn wrong_guesses(env: &GatewayEnv, user: &str) -> usize {
    let path = format!("/finesse/api/User/{user}");
    env.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path && r.user.is_none())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_used_and_expired_resume_tokens_are_their_own_error_and_no_failed_sign_in() {
    let env = GatewayEnv::start(|c| {
        c.auth.jwt_algorithm = "HS256".into();
        c.auth.jwt_secret = SECRET.into();
        c.auth.resume_token_ttl = Duration::from_millis(300);
        c.limits.sign_in_failures_before_lockout = 2;
        c.limits.sign_in_failure_delay = Duration::ZERO;
    })
    .await;
    let unknown = |e: &Value| {
        assert_eq!(error_type(e), Some("Resume Token Unknown"), "{e}");
    };
    let mut c = WsClient::connect(&env.url).await;
    // Unknown (as after a restart), several times: more than the lockout's failures.
    for _ in 0..4 {
        unknown(&c.try_authenticate("0123456789abcdef0123456789abcdef").await);
    }
    // Used.
    let mut a = WsClient::connect(&env.url).await;
    let resume = a.sign_in("1001001", "5001").await["resumeToken"]
        .as_str()
        .expect("resumeToken")
        .to_owned();
    let mut b = WsClient::connect(&env.url).await;
    assert!(is(
        &b.try_authenticate(&resume).await,
        "Broker",
        "Session",
        "Ready"
    ));
    unknown(&c.try_authenticate(&resume).await);
    // Expired: released when its connection closed, then past its time.
    let mut d = WsClient::connect(&env.url).await;
    let expiring = d.sign_in("1001002", "5002").await["resumeToken"]
        .as_str()
        .expect("resumeToken")
        .to_owned();
    d.close().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    unknown(&c.try_authenticate(&expiring).await);
    // None of them counted as a failure: a token still signs in from this address.
    let admin = token(json!({"sub": "wall", "role": "admin", "exp": exp()}));
    let ready = c.try_authenticate(&admin).await;
    assert!(is(&ready, "Broker", "Session", "Ready"), "{ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_nbf_crit_issuer_and_audience_are_checked_with_a_generic_refusal() {
    let env = GatewayEnv::start(|c| {
        c.auth.jwt_algorithm = "HS256".into();
        c.auth.jwt_secret = SECRET.into();
        c.auth.jwt_issuer = "https://idp.example".into();
        c.auth.jwt_audience = "switchboard".into();
        c.limits.sign_in_failure_delay = Duration::ZERO;
    })
    .await;
    let claims = |extra: Value| {
        let mut base = json!({"sub": "dash", "role": "admin", "exp": exp(),
            "iss": "https://idp.example", "aud": "switchboard"});
        for (k, v) in extra.as_object().expect("object") {
            if v.is_null() {
                base.as_object_mut().expect("object").remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        base
    };
    let mut crit_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    crit_header.crit = Some(vec!["http://example.com/unknown-extension".into()]);
    let crit = jsonwebtoken::encode(
        &crit_header,
        &claims(json!({})),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token");
    let mut c = WsClient::connect(&env.url).await;
    for (bad, why) in [
        (token(claims(json!({"nbf": now() + 3600}))), "not yet valid"),
        (crit, "unknown crit header"),
        (token(claims(json!({"iss": null}))), "no issuer"),
        (
            token(claims(json!({"iss": "https://evil.example"}))),
            "wrong issuer",
        ),
        (token(claims(json!({"aud": null}))), "no audience"),
        (
            token(claims(json!({"aud": "another-service"}))),
            "wrong audience",
        ),
    ] {
        let e = c.try_authenticate(&bad).await;
        assert_eq!(error_type(&e), Some("Authorization Failure"), "{why}: {e}");
        assert_eq!(
            e["data"]["data"]["errorMessage"], "invalid token",
            "{why}: {e}"
        );
    }
    let logs = logs();
    assert!(logs.contains("ImmatureSignature"), "the reason is logged");
    assert!(logs.contains("InvalidIssuer") && logs.contains("InvalidAudience"));
    assert!(logs.contains("critical header"));
    // A token that satisfies all of them, valid since a minute ago, signs in.
    let good = token(claims(json!({"nbf": now() - 60})));
    let ready = c.try_authenticate(&good).await;
    assert!(is(&ready, "Broker", "Session", "Ready"), "{ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_throttle_counts_the_forwarded_address_only_from_a_trusted_proxy() {
    let env = GatewayEnv::start(|c| {
        c.trusted_proxies = vec!["127.0.0.2".parse().expect("range")];
        c.limits.sign_in_failures_before_lockout = 2;
        c.limits.sign_in_account_failures = 100;
        c.limits.sign_in_failure_delay = Duration::ZERO;
    })
    .await;
    let server = env.gateway.local_addr();
    let proxy = ip("127.0.0.2");
    let locked = |e: &Value| error_type(e) == Some("Too Many Requests");
    // Behind the trusted proxy: client 203.0.113.1 guesses twice and is locked out...
    let mut c = WsClient::connect_with(
        &env.url,
        server,
        proxy,
        &[("x-forwarded-for", "203.0.113.1")],
    )
    .await;
    for _ in 0..2 {
        let e = c.try_sign_in("1001001", "wrong", "5001").await;
        assert_eq!(error_type(&e), Some("Authorization Failure"), "{e}");
    }
    assert!(locked(&c.try_sign_in("1001001", PASSWORD, "5001").await));
    // ... also when the proxy names it in Forwarded ...
    let mut f = WsClient::connect_with(
        &env.url,
        server,
        proxy,
        &[("forwarded", "for=203.0.113.1;proto=https")],
    )
    .await;
    assert!(locked(&f.try_sign_in("1001001", PASSWORD, "5001").await));
    // ... while another client behind the same proxy signs in as the same user.
    let mut other = WsClient::connect_with(
        &env.url,
        server,
        proxy,
        &[("x-forwarded-for", "203.0.113.2")],
    )
    .await;
    let ready = other.try_sign_in("1001001", PASSWORD, "5001").await;
    assert!(is(&ready, "Broker", "Session", "Ready"), "{ready}");

    // From an untrusted peer the header is ignored: the peer is the client.
    let direct = ip("127.0.0.1");
    let mut g = WsClient::connect_with(
        &env.url,
        server,
        direct,
        &[("x-forwarded-for", "198.51.100.1")],
    )
    .await;
    for _ in 0..2 {
        g.try_sign_in("1001002", "wrong", "5002").await;
    }
    let mut h = WsClient::connect_with(
        &env.url,
        server,
        direct,
        &[("x-forwarded-for", "198.51.100.2")],
    )
    .await;
    let e = h.try_sign_in("1001002", PASSWORD, "5002").await;
    assert!(locked(&e), "a forged header changes nothing: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_guesses_reaches_finesse_no_more_than_the_account_limit_allows() {
    // The defaults: 3 failures per account, 250 ms more delay per failure.
    let env = GatewayEnv::start(|_| {}).await;
    let server = env.gateway.local_addr();
    let here = ip("127.0.0.1");
    let mut attacker = WsClient::connect(&env.url).await;
    for _ in 0..2 {
        let e = attacker.try_sign_in("1001002", "guess", "5002").await;
        assert_eq!(error_type(&e), Some("Authorization Failure"), "{e}");
    }
    // The attacker's own account, from the same address: clears nothing of 1001002's.
    let ready = attacker.try_sign_in("1001003", PASSWORD, "5003").await;
    assert!(is(&ready, "Broker", "Session", "Ready"), "{ready}");
    assert_eq!(wrong_guesses(&env, "1001002"), 2);

    // 40 guesses at once from two addresses, after the delay.
    let guesses = (0..40).map(|i| {
        let url = env.url.clone();
        let from = if i % 2 == 0 { here } else { ip("127.0.0.4") };
        tokio::spawn(async move {
            let mut c = WsClient::connect_with(&url, server, from, &[]).await;
            let e = c
                .try_sign_in("1001002", &format!("guess-{i}"), "5002")
                .await;
            error_type(&e).map(str::to_owned)
        })
    });
    let mut outcomes = Vec::new();
    for g in guesses.collect::<Vec<_>>() {
        outcomes.push(g.await.expect("task").expect("a SetAPIError"));
    }
    let reached = outcomes
        .iter()
        .filter(|t| *t == "Authorization Failure")
        .count();
    let refused = outcomes
        .iter()
        .filter(|t| *t == "Too Many Requests")
        .count();
    assert_eq!((reached, refused), (1, 39), "{outcomes:?}");
    // Three wrong passwords in all reached Finesse, below its lockout of five.
    assert_eq!(wrong_guesses(&env, "1001002"), 3);

    // The account is refused from any address, even with the right password...
    let mut elsewhere = WsClient::connect_with(&env.url, server, ip("127.0.0.5"), &[]).await;
    let e = elsewhere.try_sign_in("1001002", PASSWORD, "5002").await;
    assert_eq!(error_type(&e), Some("Too Many Requests"), "{e}");
    assert!(
        e["data"]["data"]["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("this account")),
        "{e}"
    );
    // ... and other users from the attacker's address are not.
    let mut neighbour = WsClient::connect(&env.url).await;
    let ready = neighbour.try_sign_in("1001004", PASSWORD, "5004").await;
    assert!(is(&ready, "Broker", "Session", "Ready"), "{ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_or_repeated_origin_is_refused() {
    let env = GatewayEnv::start(|_| {}).await;
    let server = env.gateway.local_addr();
    let here = ip("127.0.0.1");
    let same = format!("http://{server}");
    let status = |r: Result<WsClient, tokio_tungstenite::tungstenite::Error>| match r {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
    };
    // The same origin, and no origin at all, are allowed.
    assert_eq!(
        status(WsClient::try_connect_with(&env.url, server, here, &[("origin", &same)]).await),
        101
    );
    assert_eq!(
        status(WsClient::try_connect_with(&env.url, server, here, &[]).await),
        101
    );
    for (headers, why) in [
        (
            vec![("origin", same.as_str()), ("origin", same.as_str())],
            "two origins",
        ),
        (
            vec![
                ("origin", same.as_str()),
                ("origin", "https://evil.example"),
            ],
            "two different origins",
        ),
        (vec![("origin", "not an origin")], "unparsable"),
        (vec![("origin", "http://evil.example/path")], "with a path"),
    ] {
        assert_eq!(
            status(WsClient::try_connect_with(&env.url, server, here, &headers).await),
            403,
            "{why}"
        );
    }
    // A non-ASCII Origin (a WebSocket client library will not send one: raw bytes).
    assert_eq!(
        raw_upgrade_status(server, b"Origin: http://\xc3\xa9vil.example\r\n").await,
        403
    );
    assert_eq!(
        raw_upgrade_status(server, b"").await,
        101,
        "the raw request itself is fine"
    );
}

/// Sends a WebSocket upgrade request with `extra` header lines as raw bytes;
/// the response's status.
async fn raw_upgrade_status(server: std::net::SocketAddr, extra: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server)
        .await
        .expect("connect");
    let mut request = format!(
        "GET /ws HTTP/1.1\r\nHost: {server}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    .into_bytes();
    request.extend_from_slice(extra);
    request.extend_from_slice(b"\r\n");
    tcp.write_all(&request).await.expect("write");
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.expect("status line");
    std::str::from_utf8(&head[9..12])
        .expect("ascii")
        .parse()
        .expect("status")
}
