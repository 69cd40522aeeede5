//! Against a real Prosody: Finesse-like nodes, escaped `<Update>` payloads, sign-in failure,
//! parallel instances, restart and kill.

use std::time::{Duration, Instant};

use futures::StreamExt;
use switchboard_testkit::{
    Prosody, ProsodyOptions, ReceivedItem, TlsMode, XmppClient, XmppConfig, XmppError,
};
use tokio::sync::mpsc;

const AGENT: &str = "1001001";
const AGENT_PW: &str = "agent-pw-1";
const DIALOGS: &str = "/finesse/api/User/1001001/Dialogs";
const USER: &str = "/finesse/api/User/1001001";
const WAIT: Duration = Duration::from_secs(20);

fn update(n: usize) -> String {
    format!(
        "<Update><data><dialog><id>{n}</id></dialog></data><event>PUT</event>\
         <requestId></requestId><source>/finesse/api/Dialog/{n}</source></Update>"
    )
}

async fn server(accounts: &[(&str, &str)]) -> Prosody {
    Prosody::start_async(ProsodyOptions::with_accounts(accounts.iter().copied()))
        .await
        .expect("Prosody starts")
}

async fn connect_admin(server: &Prosody) -> XmppClient {
    let config = XmppConfig::new(server.addr(), server.admin_jid(), server.admin_password())
        .tls(TlsMode::Plain)
        .resource("publisher");
    XmppClient::connect(config).await.expect("admin signs in").0
}

async fn connect_agent(server: &Prosody) -> (XmppClient, mpsc::Receiver<ReceivedItem>) {
    let config = XmppConfig::new(server.addr(), server.jid(AGENT), AGENT_PW)
        .tls(TlsMode::Plain)
        .resource("desk");
    XmppClient::connect(config).await.expect("agent signs in")
}

async fn next_item(items: &mut mpsc::Receiver<ReceivedItem>) -> ReceivedItem {
    tokio::time::timeout(WAIT, items.recv())
        .await
        .expect("an item arrives in time")
        .expect("the session is still up")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_receives_200_escaped_updates_in_order() {
    let server = server(&[(AGENT, AGENT_PW), ("1001002", "pw2"), ("1001003", "pw3")]).await;
    let pubsub = server.pubsub_jid();
    assert_eq!(pubsub, "pubsub.finesse.local");
    let admin = connect_admin(&server).await;
    assert!(admin.create_node(&pubsub, DIALOGS).await.expect("create"));
    assert!(admin.create_node(&pubsub, USER).await.expect("create"));
    // Already there: "conflict" counts as success.
    assert!(
        !admin
            .create_node(&pubsub, USER)
            .await
            .expect("create again")
    );

    let (agent, mut items) = connect_agent(&server).await;
    assert!(agent.bound_jid().starts_with("1001001@finesse.local/desk"));
    for node in [DIALOGS, USER] {
        agent
            .subscribe(&pubsub, node, agent.bare_jid())
            .await
            .expect("subscribe");
    }

    // Pipelined publishes (32 in flight) from one client on the multi-thread runtime.
    let results: Vec<Result<(), XmppError>> = futures::stream::iter(0..200)
        .map(|n| {
            let admin = admin.clone();
            let pubsub = pubsub.clone();
            async move {
                admin
                    .publish(&pubsub, DIALOGS, &format!("item-{n}"), &update(n))
                    .await
            }
        })
        .buffered(32)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    for n in 0..200 {
        let item = next_item(&mut items).await;
        assert_eq!(item.node, DIALOGS);
        assert_eq!(item.item_id.as_deref(), Some(format!("item-{n}").as_str()));
        assert_eq!(item.notification_text.as_deref(), Some(update(n).as_str()));
        // Prosody delivers the Update as escaped text, as Finesse does.
        assert!(!item.inline_payload, "{item:?}");
        assert_eq!(item.from.as_deref(), Some("pubsub.finesse.local"));
    }

    let user_update = "<Update><data><user><loginId>1001001</loginId><state>READY</state></user></data>\
                       <event>PUT</event><requestId></requestId><source>/finesse/api/User/1001001</source></Update>";
    admin
        .publish(&pubsub, USER, "user-1", user_update)
        .await
        .expect("publish");
    let item = next_item(&mut items).await;
    assert_eq!(item.node, USER);
    assert_eq!(item.notification_text.as_deref(), Some(user_update));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_typed_auth_error_within_10_s() {
    let server = server(&[(AGENT, AGENT_PW)]).await;
    let start = Instant::now();
    let config =
        XmppConfig::new(server.addr(), server.jid(AGENT), "wrong-password").tls(TlsMode::Plain);
    let err = XmppClient::connect(config)
        .await
        .expect_err("a wrong password must fail");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    match &err {
        XmppError::Auth { jid, condition } => {
            assert_eq!(jid, "1001001@finesse.local");
            assert_eq!(condition, "not-authorized");
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(err.is_auth());

    // Unknown user: same error.
    let config = XmppConfig::new(server.addr(), server.jid("nobody"), "x").tls(TlsMode::Plain);
    let err = XmppClient::connect(config).await.expect_err("unknown user");
    assert!(err.is_auth(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_closed_port_fails_fast() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let config = XmppConfig::new(port, "1001001@finesse.local", "pw").tls(TlsMode::Plain);
    let err = XmppClient::connect(config)
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, XmppError::Connect { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_started_concurrently_are_separate() {
    let (a, b) = tokio::join!(server(&[("u", "p")]), server(&[("u", "p")]));
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    assert_ne!(a.admin_password(), b.admin_password());
    for s in [&a, &b] {
        let (client, _) =
            XmppClient::connect(XmppConfig::new(s.addr(), s.jid("u"), "p").tls(TlsMode::Plain))
                .await
                .expect("signs in");
        client.ping().await.expect("ping");
        client.close().await;
        assert!(!client.is_connected());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_accounts_nodes_and_subscriptions() {
    let mut server = server(&[(AGENT, AGENT_PW)]).await;
    let pubsub = server.pubsub_jid();
    let port = server.port();
    {
        let admin = connect_admin(&server).await;
        admin.create_node(&pubsub, DIALOGS).await.expect("create");
        let (agent, _items) = connect_agent(&server).await;
        agent
            .subscribe(&pubsub, DIALOGS, agent.bare_jid())
            .await
            .expect("subscribe");

        let restart = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            server.restart().map(|()| (server, t.elapsed()))
        });
        // The old sessions see the shutdown.
        let reason = tokio::time::timeout(WAIT, agent.closed())
            .await
            .expect("the agent notices the restart");
        assert!(!reason.is_empty());
        let err = agent.ping().await.expect_err("the old session is gone");
        assert!(matches!(err, XmppError::Disconnected { .. }), "{err:?}");
        let (restarted, took) = restart.await.expect("join").expect("restart");
        eprintln!("restart took {took:?}");
        server = restarted;
    }
    assert_eq!(server.port(), port);

    // New sessions; the node and the bare-JID subscription survived.
    let admin = connect_admin(&server).await;
    let (_agent, mut items) = connect_agent(&server).await;
    admin
        .publish(&pubsub, DIALOGS, "after-restart", &update(7))
        .await
        .expect("publish after restart");
    let item = next_item(&mut items).await;
    assert_eq!(item.item_id.as_deref(), Some("after-restart"));
    assert_eq!(item.notification_text.as_deref(), Some(update(7).as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_sessions_and_start_again_recovers() {
    let mut server = server(&[(AGENT, AGENT_PW)]).await;
    let (agent, mut items) = connect_agent(&server).await;
    server.kill().expect("kill");
    assert!(!server.is_running());
    tokio::time::timeout(WAIT, agent.closed())
        .await
        .expect("the agent notices the crash");
    // The item channel closes too.
    assert!(
        tokio::time::timeout(WAIT, items.recv())
            .await
            .expect("closes")
            .is_none()
    );
    // Registration works while the server is down (prosodyctl register, offline).
    let mut server = tokio::task::spawn_blocking(move || {
        server.register("offline", "off-pw")?;
        server.start_again().map(|()| server)
    })
    .await
    .expect("join")
    .expect("register offline and start again");
    assert!(server.is_running());
    let (agent, _) = connect_agent(&server).await;
    agent.ping().await.expect("ping");
    let config =
        XmppConfig::new(server.addr(), server.jid("offline"), "off-pw").tls(TlsMode::Plain);
    XmppClient::connect(config)
        .await
        .expect("the account registered offline signs in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_stops_delivery() {
    let server = server(&[(AGENT, AGENT_PW)]).await;
    let pubsub = server.pubsub_jid();
    let admin = connect_admin(&server).await;
    admin.create_node(&pubsub, DIALOGS).await.expect("create");
    admin.create_node(&pubsub, USER).await.expect("create");
    let (agent, mut items) = connect_agent(&server).await;
    for node in [DIALOGS, USER] {
        agent
            .subscribe(&pubsub, node, agent.bare_jid())
            .await
            .expect("subscribe");
    }
    agent
        .unsubscribe(&pubsub, DIALOGS, agent.bare_jid())
        .await
        .expect("unsubscribe");
    admin
        .publish(&pubsub, DIALOGS, "not-for-you", &update(1))
        .await
        .expect("publish");
    admin
        .publish(&pubsub, USER, "for-you", &update(2))
        .await
        .expect("publish");
    // Delivery is in order: the first item to arrive is the one still subscribed.
    let item = next_item(&mut items).await;
    assert_eq!(item.item_id.as_deref(), Some("for-you"));

    // Subscribing to a missing node is a typed stanza error.
    let err = agent
        .subscribe(&pubsub, "/finesse/api/Team/1/Users", agent.bare_jid())
        .await
        .expect_err("no such node");
    assert_eq!(err.condition(), Some("item-not-found"), "{err}");
    // Only the admin creates nodes.
    let err = agent
        .create_node(&pubsub, "/finesse/api/SystemInfo")
        .await
        .expect_err("agents cannot create nodes");
    assert!(err.condition().is_some(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_accounts_and_late_registration() {
    let mut accounts: Vec<(String, String)> = (0..19)
        .map(|i| (format!("10020{i:02}"), format!("pw-{i}")))
        .collect();
    // Quotes, backslashes, spaces and non-ASCII survive the trip through prosodyctl.
    accounts.push(("quoted".into(), r"it's a \ p@ss wörd".into()));
    let options = ProsodyOptions::with_accounts(accounts.clone());
    let start = Instant::now();
    let server = Prosody::start_async(options).await.expect("starts");
    let took = start.elapsed();
    eprintln!("start with 20 accounts took {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    for (user, pw) in [&accounts[0], &accounts[19]] {
        let (c, _) = XmppClient::connect(
            XmppConfig::new(server.addr(), server.jid(user), pw.as_str()).tls(TlsMode::Plain),
        )
        .await
        .expect("registered account signs in");
        c.close().await;
    }

    let server =
        tokio::task::spawn_blocking(move || server.register("late", "late-pw").map(|()| server))
            .await
            .expect("join")
            .expect("register while running");
    let (c, _) = XmppClient::connect(
        XmppConfig::new(server.addr(), server.jid("late"), "late-pw").tls(TlsMode::Plain),
    )
    .await
    .expect("late account signs in");
    assert!(c.ping().await.expect("ping") < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_pipelined_publishes_do_not_stall() {
    let server = server(&[(AGENT, AGENT_PW)]).await;
    let pubsub = server.pubsub_jid();
    let admin = connect_admin(&server).await;
    admin.create_node(&pubsub, DIALOGS).await.expect("create");
    let (agent, mut items) = connect_agent(&server).await;
    agent
        .subscribe(&pubsub, DIALOGS, agent.bare_jid())
        .await
        .expect("subscribe");

    const N: usize = 2000;
    let start = Instant::now();
    let publisher = tokio::spawn(async move {
        futures::stream::iter(0..N)
            .map(|n| {
                let admin = admin.clone();
                let pubsub = pubsub.clone();
                async move {
                    admin
                        .publish(&pubsub, DIALOGS, &n.to_string(), &update(n))
                        .await
                }
            })
            .buffer_unordered(128)
            .collect::<Vec<_>>()
            .await
    });
    let mut seen = vec![false; N];
    for _ in 0..N {
        let item = next_item(&mut items).await;
        let n: usize = item
            .item_id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .expect("numeric id");
        assert_eq!(item.notification_text.as_deref(), Some(update(n).as_str()));
        assert!(!seen[n], "duplicate {n}");
        seen[n] = true;
    }
    let results = publisher.await.expect("join");
    assert!(results.iter().all(Result::is_ok));
    eprintln!("{N} notifications end to end in {:?}", start.elapsed());
}
