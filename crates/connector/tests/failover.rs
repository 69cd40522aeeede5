//! Failover of the notification sessions between two Finesse nodes, each
//! with its own notification service: the simulator's primary and secondary
//! REST over real HTTP, and one Prosody per node with its own XMPP domain,
//! the simulator's notifications published to both (as each Finesse node
//! publishes on its own notification service).

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_connector::{
    Credentials, FinesseClient, RestConfig, Session, SessionConfig, SessionStatus, Spread,
};
use switchboard_core::{CacheConfig, Change, StateCache};
use switchboard_finesse::{
    Node, SystemInfo, SystemStatus, Update, UpdateData, UpdateEvent, UserRequest, UserState,
};
use switchboard_harness as harness;
use switchboard_sim::{
    Notice, NoticeSink, RunningSim, Side, SimConfig, SimOptions, XmppPublisher, XmppTarget, start,
};
use switchboard_testkit::{Prosody, ProsodyOptions, TlsMode, XmppClient, XmppConfig};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_millis(400);
const PING: Duration = Duration::from_millis(500);

/// How long the moves took from first to last, and the most of them within
/// any `slice` of time.
fn spread_of(moved: &[Instant], slice: Duration) -> (Duration, usize) {
    let first = moved.iter().min().copied().expect("moves");
    let last = moved.iter().max().copied().expect("moves");
    let busiest = moved
        .iter()
        .map(|t| {
            moved
                .iter()
                .filter(|u| **u >= *t && **u < *t + slice)
                .count()
        })
        .max()
        .unwrap_or_default();
    (last - first, busiest)
}

fn agent(i: usize) -> String {
    format!("{}", 1_001_000 + i)
}

struct Pair {
    sim: RunningSim,
    /// The primary's notification service.
    a: Prosody,
    /// The secondary's (kept running).
    _b: Prosody,
    primary_rest: FinesseClient,
    cache: Arc<StateCache>,
    changes: mpsc::UnboundedReceiver<Change>,
    sessions: Vec<Session>,
    _shutdown: CancellationToken,
}

/// Publishes every notice it is given on one Prosody, in order; a Prosody
/// that is down loses them (like Finesse's notification service).
async fn publisher(prosody: &Prosody, config: &SimConfig) -> mpsc::UnboundedSender<Notice> {
    let target = XmppTarget {
        addr: prosody.addr(),
        domain: prosody.domain().into(),
        user: "admin".into(),
        password: prosody.admin_password().into(),
        // Finesse subscribes each user to its nodes itself.
        auto_subscribe: true,
    };
    let mut p = XmppPublisher::connect(target, config)
        .await
        .expect("publisher");
    let (tx, mut rx) = mpsc::unbounded_channel::<Notice>();
    tokio::spawn(async move {
        while let Some(notice) = rx.recv().await {
            let _ = p.publish(&notice, Duration::from_secs(2)).await;
        }
    });
    tx
}

async fn pair(agents: usize, spread: Duration, prefer_primary: bool) -> Pair {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("switchboard_connector=info")
        .with_test_writer()
        .try_init();
    let config = SimConfig {
        users: harness::agents(agents),
        ..SimConfig::default()
    };
    let accounts = harness::accounts(&config);
    let a = Prosody::start_async(ProsodyOptions::with_accounts(accounts.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Each node's notification service has its own XMPP domain, named after
    // the node as Finesse does.
    let b = Prosody::start_async(ProsodyOptions {
        domain: "finesse-b.local".into(),
        ..ProsodyOptions::with_accounts(accounts)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let to_a = publisher(&a, &config).await;
    let to_b = publisher(&b, &config).await;
    let (notices, mut from_sim) = mpsc::unbounded_channel::<Notice>();
    tokio::spawn(async move {
        while let Some(n) = from_sim.recv().await {
            let _ = to_a.send(n.clone());
            let _ = to_b.send(n);
        }
    });
    let any = "127.0.0.1:0".parse().expect("addr");
    let sim = start(SimOptions {
        config,
        primary: any,
        secondary: Some(any),
        scenario: None,
        sink: NoticeSink::Channel(notices),
    })
    .await
    .expect("simulator");
    let rest = |addr: std::net::SocketAddr| {
        FinesseClient::new(&format!("http://{addr}"), RestConfig::default()).expect("client")
    };
    let primary_rest = rest(sim.primary);
    let session_config = Arc::new(SessionConfig {
        nodes: vec![
            harness::node(primary_rest.clone(), &a),
            harness::node(rest(sim.secondary.expect("secondary")), &b),
        ],
        resource: "switchboard-failover".into(),
        ping_interval: PING,
        // Generous: 200 sign-ins on a shared test machine.
        timeout: Duration::from_secs(15),
        explicit_subscribe: false,
        backoff_min: BACKOFF_MIN,
        backoff_max: BACKOFF_MAX,
        prefer_primary,
        failover_spread: Spread::new(spread),
        tls: TlsMode::Plain,
    });
    let cache = Arc::new(StateCache::new(CacheConfig::default()));
    let (tx, changes) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let sessions = (1..=agents)
        .map(|i| {
            Session::spawn(
                agent(i),
                Credentials::basic(agent(i), "demo"),
                session_config.clone(),
                cache.clone(),
                tx.clone(),
                &shutdown,
            )
        })
        .collect();
    Pair {
        sim,
        a,
        _b: b,
        primary_rest,
        cache,
        changes,
        sessions,
        _shutdown: shutdown,
    }
}

impl Pair {
    async fn all_online_on(&mut self, node: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        for s in &mut self.sessions {
            let online = tokio::time::timeout_at(
                deadline,
                s.wait_for(|st| *st == SessionStatus::Online(node)),
            )
            .await;
            assert!(
                online.is_ok(),
                "session {} not online on node {node} within {within:?}: {:?}",
                s.user(),
                s.status()
            );
        }
    }

    /// Watches every session until it is online on `node`, noting when it
    /// started to connect there (its own status).
    fn watch_moves(&mut self, node: usize) -> Vec<JoinHandle<(Session, Instant)>> {
        std::mem::take(&mut self.sessions)
            .into_iter()
            .map(|mut s| {
                tokio::spawn(async move {
                    s.wait_for(|st| {
                        matches!(st, SessionStatus::Connecting(n) | SessionStatus::Online(n) if *n == node)
                    })
                    .await;
                    let moved = Instant::now();
                    s.wait_for(|st| *st == SessionStatus::Online(node)).await;
                    (s, moved)
                })
            })
            .collect()
    }

    /// The moments the watched sessions started moving; every one online on
    /// `node` within `bound` of `since`.
    async fn moved(
        &mut self,
        watchers: Vec<JoinHandle<(Session, Instant)>>,
        node: usize,
        since: Instant,
        bound: Duration,
    ) -> Vec<Instant> {
        let mut moved = Vec::new();
        for w in watchers {
            let left = bound.saturating_sub(since.elapsed());
            let (s, at) = tokio::time::timeout(left, w)
                .await
                .unwrap_or_else(|_| {
                    panic!("a session was not online on node {node} within {bound:?}")
                })
                .expect("watcher");
            assert_eq!(s.status(), SessionStatus::Online(node), "{}", s.user());
            self.sessions.push(s);
            moved.push(at);
        }
        moved
    }

    /// The resyncs (GET .../Dialogs) node `side` answered.
    fn dialog_reads(&self, side: Side) -> usize {
        self.sim
            .sim
            .request_log()
            .iter()
            .filter(|r| r.side == side && r.method == "GET" && r.path.ends_with("/Dialogs"))
            .count()
    }

    /// Publishes a Finesse SystemInfo notification on `prosody` (a node's
    /// notification service), naming `about`'s host as its XMPP domain the
    /// way Finesse does.
    async fn publish_system_info(
        &self,
        on: &Prosody,
        item: &str,
        about: Side,
        status: SystemStatus,
    ) {
        let mut info: SystemInfo = self.sim.sim.world().system_info(about);
        let host = match about {
            Side::Primary => info.primary_node.as_ref(),
            Side::Secondary => info.secondary_node.as_ref(),
        }
        .expect("node")
        .host
        .clone();
        info.status = status;
        info.status_reason = Some("CTI lost".into());
        info.xmpp_domain = Some(host);
        let update = Update {
            event: UpdateEvent::Put,
            request_id: None,
            source: "/finesse/api/SystemInfo".into(),
            data: UpdateData::SystemInfo(Box::new(info)),
        };
        let (admin, _) = XmppClient::connect(
            XmppConfig::new(on.addr(), on.admin_jid(), on.admin_password()).tls(TlsMode::Plain),
        )
        .await
        .expect("admin");
        admin
            .publish(
                &on.pubsub_jid(),
                &Node::SystemInfo.to_string(),
                item,
                &update.to_xml(),
            )
            .await
            .expect("published");
    }

    fn system_changes(&mut self) -> Vec<Arc<SystemInfo>> {
        let mut out = Vec::new();
        while let Ok(c) = self.changes.try_recv() {
            if let Change::System { info } = c {
                out.push(info);
            }
        }
        out
    }
}

/// The issue: with `prefer_primary` the session went back to the primary
/// before every attempt while its REST answered, so an outage of the
/// primary's notification service alone left every session offline. Now the
/// secondary is tried after two failures, and the 200 moves are spread over
/// `failover_spread` instead of happening within milliseconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_notification_service_down_with_rest_up_moves_every_session_spread_out() {
    const AGENTS: usize = 200;
    let window = Duration::from_secs(5);
    let mut pair = pair(AGENTS, window, true).await;
    pair.all_online_on(0, Duration::from_secs(90)).await;

    let watchers = pair.watch_moves(1);
    tokio::task::block_in_place(|| pair.a.stop()).expect("primary's notification service stopped");
    let stopped = Instant::now();
    // The primary's REST still answers, in service.
    let info = pair.primary_rest.system_info().await.expect("primary REST");
    assert_eq!(info.status, SystemStatus::InService);
    // Lost, one retry on the primary (back-off), the secondary after the
    // second failure (back-off, plus the spread): then 5 s for the sign-in.
    let bound = BACKOFF_MAX * 2 + window + Duration::from_secs(5);
    let moved = pair.moved(watchers, 1, stopped, bound).await;
    let (span, busiest) = spread_of(&moved, window / 10);
    assert!(
        span >= window / 2,
        "{AGENTS} failovers spread over {window:?}: they started within {span:?}"
    );
    assert!(
        busiest < AGENTS / 2,
        "{busiest} failovers within a tenth of the window"
    );
    eprintln!(
        "{AGENTS} failovers: online on the secondary {:?} after the stop; moves spread over {span:?}, at most {busiest} within a tenth of the window",
        stopped.elapsed(),
    );
    assert!(
        pair.dialog_reads(Side::Secondary) >= AGENTS,
        "resynced from the secondary"
    );

    // Live events arrive through the secondary's notification service.
    let id = agent(7);
    pair.primary_rest
        .put_user(
            &Credentials::basic(id.clone(), "demo"),
            &id,
            &UserRequest {
                state: UserState::Login,
                extension: Some("5007".into()),
                reason_code_id: None,
            },
        )
        .await
        .expect("202");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pair.cache.user(&id).map(|u| u.state.clone()) != Some(UserState::NotReady) {
        assert!(Instant::now() < deadline, "no live event on the secondary");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The primary's notification service back: every session moves back,
    // spread too (not on the aligned ticks of a ping).
    for s in &pair.sessions {
        assert_eq!(
            s.status(),
            SessionStatus::Online(1),
            "stayed on the secondary"
        );
    }
    let watchers = pair.watch_moves(0);
    tokio::task::block_in_place(|| pair.a.start_again()).expect("started again");
    let started = Instant::now();
    // The next ping finds the primary serving, then the spread and the sign-in.
    let bound = PING + window + Duration::from_secs(5);
    let moved = pair.moved(watchers, 0, started, bound).await;
    let (span, busiest) = spread_of(&moved, window / 10);
    assert!(
        span >= window / 2,
        "{AGENTS} failbacks spread over {window:?}: they started within {span:?}"
    );
    assert!(
        busiest < AGENTS / 2,
        "{busiest} failbacks within a tenth of the window"
    );
    eprintln!(
        "{AGENTS} failbacks: online on the primary {:?} after its restart; moves spread over {span:?}, at most {busiest} within a tenth of the window",
        started.elapsed(),
    );
}

/// A SystemInfo OUT_OF_SERVICE about the secondary, received on the
/// primary's notification service, leaves the sessions where they are, and
/// is passed on once however many sessions received it; one about the
/// primary moves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_info_about_the_other_node_moves_no_session_and_is_passed_on_once() {
    const AGENTS: usize = 6;
    let mut pair = pair(AGENTS, Duration::from_millis(300), false).await;
    pair.all_online_on(0, Duration::from_secs(30)).await;
    // Any move (even one that came back) would resync somewhere.
    let resyncs = |pair: &Pair| {
        (
            pair.dialog_reads(Side::Primary),
            pair.dialog_reads(Side::Secondary),
        )
    };
    let reads_before = resyncs(&pair);
    pair.system_changes();

    pair.publish_system_info(&pair.a, "si-1", Side::Secondary, SystemStatus::OutOfService)
        .await;
    // Several pings and far longer than a failover takes here.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for s in &pair.sessions {
        assert_eq!(s.status(), SessionStatus::Online(0), "{}", s.user());
    }
    assert_eq!(resyncs(&pair), reads_before, "no session moved");
    let seen = pair.system_changes();
    assert_eq!(seen.len(), 1, "one SystemInfo change, not one per session");
    assert_eq!(seen[0].status, SystemStatus::OutOfService);
    assert_eq!(seen[0].xmpp_domain.as_deref(), Some("finesse-b.local"));

    // The simulator's own SystemInfo names no node (one domain for both):
    // the primary's REST, in service, says it was not about the primary.
    pair.sim
        .sim
        .apply(|w| {
            Ok((
                (),
                w.set_status(Side::Secondary, SystemStatus::OutOfService, None),
            ))
        })
        .expect("status");
    tokio::time::sleep(Duration::from_secs(3)).await;
    for s in &pair.sessions {
        assert_eq!(s.status(), SessionStatus::Online(0), "{}", s.user());
    }
    assert_eq!(resyncs(&pair), reads_before, "no session moved");
    pair.sim
        .sim
        .apply(|w| {
            Ok((
                (),
                w.set_status(Side::Secondary, SystemStatus::InService, None),
            ))
        })
        .expect("status");
    tokio::time::sleep(Duration::from_millis(500)).await;
    pair.system_changes();

    // The same about the primary moves every session.
    pair.publish_system_info(&pair.a, "si-2", Side::Primary, SystemStatus::OutOfService)
        .await;
    pair.all_online_on(1, Duration::from_secs(10)).await;
    let seen = pair.system_changes();
    assert_eq!(
        seen.iter()
            .filter(|i| i.xmpp_domain.as_deref() == Some("finesse-a.local"))
            .count(),
        1,
        "{seen:?}"
    );
}
