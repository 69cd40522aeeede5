//! Against a real Prosody that requires STARTTLS (test CA, leaf certificate for the domain):
//! sign-in, subscribe and receive over TLS; untrusted certificate, plaintext client, server
//! without STARTTLS and wrong password each fail fast with a typed error.

use std::time::{Duration, Instant};

use switchboard_testkit::{Prosody, ProsodyOptions, TlsMode, XmppClient, XmppConfig, XmppError};

const AGENT: &str = "1001001";
const AGENT_PW: &str = "agent-pw-tls";
const DIALOGS: &str = "/finesse/api/User/1001001/Dialogs";
/// Sign-in timeout given to the client; every failure must come well before it.
const TIMEOUT: Duration = Duration::from_secs(8);

async fn server(tls: bool) -> Prosody {
    let options = ProsodyOptions {
        tls,
        ..ProsodyOptions::with_accounts([(AGENT, AGENT_PW)])
    };
    Prosody::start_async(options).await.expect("Prosody starts")
}

fn tls_config(server: &Prosody, jid: String, password: &str) -> XmppConfig {
    XmppConfig::new(server.addr(), jid, password)
        .tls(TlsMode::StartTls)
        .extra_root_cert_pem(server.ca_pem().expect("a TLS server has a CA"))
        .timeout(TIMEOUT)
}

/// Runs a connect that must fail, checks it failed before the timeout, returns the error.
async fn failing_connect(config: XmppConfig) -> XmppError {
    let start = Instant::now();
    let err = tokio::time::timeout(
        TIMEOUT + Duration::from_secs(2),
        XmppClient::connect(config),
    )
    .await
    .expect("connect returns")
    .expect_err("the connection must fail");
    assert!(start.elapsed() < TIMEOUT, "{:?}: {err}", start.elapsed());
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_the_test_ca_subscribes_and_receives() {
    let server = server(true).await;
    assert!(server.is_tls());
    let ca = server.ca_pem().expect("CA");
    assert!(String::from_utf8_lossy(&ca).contains("BEGIN CERTIFICATE"));
    let pubsub = server.pubsub_jid();

    let (admin, _) = XmppClient::connect(
        tls_config(&server, server.admin_jid(), server.admin_password()).resource("publisher"),
    )
    .await
    .expect("admin signs in over TLS");
    assert!(admin.create_node(&pubsub, DIALOGS).await.expect("create"));

    let (agent, mut items) =
        XmppClient::connect(tls_config(&server, server.jid(AGENT), AGENT_PW).resource("desk"))
            .await
            .expect("agent signs in over TLS");
    assert!(agent.bound_jid().starts_with("1001001@finesse.local/desk"));
    agent
        .subscribe(&pubsub, DIALOGS, agent.bare_jid())
        .await
        .expect("subscribe");
    let update = "<Update><event>PUT</event><source>/finesse/api/Dialog/7</source></Update>";
    admin
        .publish(&pubsub, DIALOGS, "tls-1", update)
        .await
        .expect("publish");
    let item = tokio::time::timeout(Duration::from_secs(10), items.recv())
        .await
        .expect("an item arrives in time")
        .expect("the session is still up");
    assert_eq!(item.node, DIALOGS);
    assert_eq!(item.item_id.as_deref(), Some("tls-1"));
    assert_eq!(item.notification_text.as_deref(), Some(update));
    admin.close().await;
    agent.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_without_trusting_the_ca_is_a_tls_error() {
    let server = server(true).await;
    let config = XmppConfig::new(server.addr(), server.jid(AGENT), AGENT_PW)
        .tls(TlsMode::StartTls)
        .timeout(TIMEOUT);
    let err = failing_connect(config).await;
    assert!(err.is_tls(), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_against_a_tls_required_server_is_a_tls_error() {
    let server = server(true).await;
    let config = XmppConfig::new(server.addr(), server.jid(AGENT), AGENT_PW)
        .tls(TlsMode::Plain)
        .timeout(TIMEOUT);
    let err = failing_connect(config).await;
    assert!(err.is_tls(), "{err:?}");
    assert!(err.to_string().contains("requires STARTTLS"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_against_a_server_without_it_is_a_tls_error() {
    let server = server(false).await;
    assert!(server.ca_pem().is_none());
    let config = XmppConfig::new(server.addr(), server.jid(AGENT), AGENT_PW).timeout(TIMEOUT);
    assert_eq!(config.tls, TlsMode::StartTls, "StartTls is the default");
    let err = failing_connect(config).await;
    assert!(err.is_tls(), "{err:?}");
    assert!(err.to_string().contains("does not offer STARTTLS"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_over_tls_is_an_auth_error() {
    let server = server(true).await;
    let err = failing_connect(tls_config(&server, server.jid(AGENT), "wrong-password")).await;
    match &err {
        XmppError::Auth { jid, condition } => {
            assert_eq!(jid, "1001001@finesse.local");
            assert_eq!(condition, "not-authorized");
        }
        other => panic!("expected Auth, got {other:?}"),
    }
}
