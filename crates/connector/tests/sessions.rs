//! Notification sessions against a real Prosody and the Finesse simulator over
//! real XMPP and HTTP: many agents at once, a mixed call scenario, the cache
//! equal to the simulator's own state; Prosody restarted mid-calls; a
//! malformed notification skipped with the session staying up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_connector::{
    Credentials, FinesseClient, FinesseNodeAddr, Session, SessionConfig, SessionStatus,
};
use switchboard_core::{CacheConfig, Change, DialogChange, EventSource, StateCache};
use switchboard_finesse::*;
use switchboard_harness::{FinesseEnv, FinesseOptions, agents};
use switchboard_sim::{CallKind, CallOptions, SimConfig};
use switchboard_testkit::{TlsMode, XmppClient, XmppConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const AGENTS: usize = 20;

fn agent(i: usize) -> (String, String) {
    (format!("{}", 1_001_000 + i), format!("{}", 5000 + i))
}

struct Env {
    finesse: FinesseEnv,
    rest: FinesseClient,
    cache: Arc<StateCache>,
    changes: mpsc::UnboundedReceiver<Change>,
    sessions: Vec<Session>,
    _shutdown: CancellationToken,
}

async fn env() -> Env {
    let finesse = FinesseEnv::start(FinesseOptions {
        config: SimConfig {
            users: agents(AGENTS),
            ..SimConfig::default()
        },
        ..FinesseOptions::default()
    })
    .await;
    let rest = finesse.rest();
    let session_config = Arc::new(finesse.session_config(rest.clone()));
    let cache = Arc::new(StateCache::new(CacheConfig::default()));
    let (tx, changes) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let sessions = (1..=AGENTS)
        .map(|i| {
            let (id, _) = agent(i);
            Session::spawn(
                id.clone(),
                Credentials::basic(id, "demo"),
                session_config.clone(),
                cache.clone(),
                tx.clone(),
                &shutdown,
            )
        })
        .collect();
    Env {
        finesse,
        rest,
        cache,
        changes,
        sessions,
        _shutdown: shutdown,
    }
}

impl Env {
    async fn all_online(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        for s in &mut self.sessions {
            let left = deadline.saturating_duration_since(Instant::now());
            let status = tokio::time::timeout(
                left,
                s.wait_for(|st| matches!(st, SessionStatus::Online(_))),
            )
            .await
            .unwrap_or_else(|_| {
                panic!("session {} not online in time: {:?}", s.user(), s.status())
            });
            assert!(
                matches!(status, SessionStatus::Online(_)),
                "{}: {status:?}",
                s.user()
            );
        }
    }

    async fn put_user(&self, i: usize, state: UserState) {
        let (id, ext) = agent(i);
        let req = UserRequest {
            state: state.clone(),
            extension: (state == UserState::Login).then_some(ext),
            reason_code_id: None,
        };
        self.rest
            .put_user(&Credentials::basic(id.clone(), "demo"), &id, &req)
            .await
            .expect("202");
    }

    async fn act(&self, i: usize, dialog: &str, action: DialogAction) {
        let (id, ext) = agent(i);
        let req = DialogRequest {
            action,
            target_media_address: Some(ext),
        };
        self.rest
            .dialog_action(&Credentials::basic(id, "demo"), dialog, &req)
            .await
            .expect("202");
    }

    fn diff(&self) -> Option<String> {
        let world = self.finesse.sim.sim.world();
        for i in 1..=AGENTS {
            let (id, _) = agent(i);
            let mut want = world.dialogs_of(&id).expect("dialogs");
            want.sort_by(|a, b| a.id.cmp(&b.id));
            let mut got: Vec<Dialog> = self
                .cache
                .snapshot_agent(&id)
                .dialogs
                .iter()
                .map(|d| (**d).clone())
                .collect();
            got.sort_by(|a, b| a.id.cmp(&b.id));
            if got != want {
                return Some(format!(
                    "dialogs of {id}: cache {:?} vs sim {:?}",
                    got.iter().map(|d| (&d.id, &d.state)).collect::<Vec<_>>(),
                    want.iter().map(|d| (&d.id, &d.state)).collect::<Vec<_>>()
                ));
            }
            let user = world.user(&id).expect("user");
            let cached = self.cache.user(&id);
            if cached.as_ref().map(|u| (&u.state, &u.extension))
                != Some((&user.state, &user.extension))
            {
                return Some(format!(
                    "user {id}: cache {:?} vs sim {:?}",
                    cached.map(|u| u.state.clone()),
                    user.state
                ));
            }
        }
        None
    }

    /// Waits until the cache equals the simulator's state, dialog by dialog.
    async fn converged(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            match self.diff() {
                None => return,
                Some(d) if Instant::now() > deadline => panic!("cache did not converge: {d}"),
                Some(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn start_call(&self, i: usize, kind: CallKind) -> String {
        let (id, _) = agent(i);
        self.finesse
            .sim
            .sim
            .apply(|w| w.start_call(&id, kind, &CallOptions::default()))
            .expect("call")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_agents_mixed_calls_cache_equals_simulator() {
    let mut env = env().await;
    env.all_online(Duration::from_secs(30)).await;
    for i in 1..=AGENTS {
        env.put_user(i, UserState::Login).await;
        env.put_user(i, UserState::Ready).await;
    }
    env.converged(Duration::from_secs(10)).await;
    let kinds = CallKind::ALL;
    let mut calls = Vec::new();
    for i in 1..=AGENTS {
        calls.push((
            i,
            kinds[i % kinds.len()],
            env.start_call(i, kinds[i % kinds.len()]),
        ));
    }
    for (i, kind, id) in &calls {
        match (kind, i % 3) {
            (CallKind::Preview | CallKind::DirectPreview | CallKind::CallbackPreview, 0) => {
                env.act(*i, id, DialogAction::Reject).await
            }
            (CallKind::Preview | CallKind::DirectPreview | CallKind::CallbackPreview, _) => {
                env.act(*i, id, DialogAction::Accept).await
            }
            (_, 0) => env.act(*i, id, DialogAction::Answer).await,
            (_, 1) => {
                env.act(*i, id, DialogAction::Answer).await;
                env.act(*i, id, DialogAction::Hold).await;
            }
            _ => {
                env.act(*i, id, DialogAction::Answer).await;
                env.act(*i, id, DialogAction::Drop).await;
            }
        }
    }
    env.converged(Duration::from_secs(15)).await;
    assert!(env.cache.dialog_count() > 0);
    let mut seen = 0;
    while env.changes.try_recv().is_ok() {
        seen += 1;
    }
    assert!(seen > 3 * AGENTS, "changes flowed out ({seen})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prosody_restart_mid_calls_resyncs_what_was_missed() {
    let mut env = env().await;
    env.all_online(Duration::from_secs(30)).await;
    for i in 1..=4 {
        env.put_user(i, UserState::Login).await;
        env.put_user(i, UserState::Ready).await;
    }
    let inbound = env.start_call(1, CallKind::Inbound);
    let preview = env.start_call(2, CallKind::Preview);
    env.act(1, &inbound, DialogAction::Answer).await;
    env.converged(Duration::from_secs(10)).await;
    while env.changes.try_recv().is_ok() {}

    env.finesse.prosody.kill().expect("Prosody killed");
    // While the notification service is down, calls change: these notifications are lost.
    env.act(1, &inbound, DialogAction::Drop).await;
    env.act(2, &preview, DialogAction::Reject).await;
    let new_call = env.start_call(3, CallKind::Inbound);
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.finesse.prosody.start_again().expect("Prosody back");
    let back = Instant::now();
    env.all_online(Duration::from_secs(5)).await;
    let took = back.elapsed();
    assert!(
        took <= Duration::from_secs(5),
        "sessions back {took:?} after Prosody returned"
    );
    env.converged(Duration::from_secs(10)).await;
    // The missed changes reached the change stream as resync updates.
    let mut resync = Vec::new();
    while let Ok(c) = env.changes.try_recv() {
        if let Change::Dialog {
            dialog,
            change,
            source: EventSource::Resync,
            ..
        } = c
        {
            resync.push((dialog.id.clone(), change));
        }
    }
    assert!(
        resync.contains(&(inbound.clone(), DialogChange::Removed)),
        "{resync:?}"
    );
    assert!(
        resync.contains(&(preview.clone(), DialogChange::Removed)),
        "{resync:?}"
    );
    assert!(
        resync.contains(&(new_call.clone(), DialogChange::Added)),
        "{resync:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_notification_is_skipped_and_the_session_stays_up() {
    let mut env = env().await;
    env.all_online(Duration::from_secs(30)).await;
    let (admin, _) = XmppClient::connect(
        XmppConfig::new(
            env.finesse.prosody.addr(),
            env.finesse.prosody.admin_jid(),
            env.finesse.prosody.admin_password(),
        )
        .tls(TlsMode::Plain),
    )
    .await
    .expect("admin");
    let node = "/finesse/api/User/1001001/Dialogs";
    admin
        .publish(
            &env.finesse.prosody.pubsub_jid(),
            node,
            "bad-1",
            "<Update><data><dialog><id>1</id>",
        )
        .await
        .expect("publish");
    admin
        .publish(
            &env.finesse.prosody.pubsub_jid(),
            node,
            "bad-2",
            "not xml at all",
        )
        .await
        .expect("publish");
    // A valid notification after them still arrives and is applied.
    env.put_user(1, UserState::Login).await;
    env.converged(Duration::from_secs(10)).await;
    assert!(matches!(env.sessions[0].status(), SessionStatus::Online(_)));
    assert_eq!(
        env.cache.user("1001001").expect("user").state,
        UserState::NotReady
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_stops_the_session_with_auth_failed() {
    let env = env().await;
    let config = Arc::new(SessionConfig {
        resource: "x".into(),
        ..env.finesse.session_config(env.rest.clone())
    });
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut s = Session::spawn(
        "1001001".into(),
        Credentials::basic("1001001", "wrong"),
        config,
        env.cache.clone(),
        tx,
        &CancellationToken::new(),
    );
    let status = tokio::time::timeout(
        Duration::from_secs(10),
        s.wait_for(|st| matches!(st, SessionStatus::AuthFailed(_))),
    )
    .await
    .expect("reported within 10 s");
    assert!(matches!(status, SessionStatus::AuthFailed(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_out_of_service_fails_over_to_the_secondary_and_back() {
    let finesse = FinesseEnv::start(FinesseOptions {
        secondary: true,
        ..FinesseOptions::default()
    })
    .await;
    let sim = &finesse.sim;
    let config = Arc::new(SessionConfig {
        nodes: vec![
            finesse.node(finesse.rest()),
            finesse.node(finesse.secondary_rest()),
        ],
        resource: "switchboard-a".into(),
        ping_interval: Duration::from_millis(300),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        prefer_primary: true,
        ..finesse.session_config(finesse.rest())
    });
    let cache = Arc::new(StateCache::new(CacheConfig::default()));
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut s = Session::spawn(
        "1001001".into(),
        Credentials::basic("1001001", "demo"),
        config,
        cache,
        tx,
        &CancellationToken::new(),
    );
    let online = |n: usize| move |st: &SessionStatus| *st == SessionStatus::Online(n);
    tokio::time::timeout(Duration::from_secs(10), s.wait_for(online(0)))
        .await
        .expect("online on the primary");
    sim.sim
        .apply(|w| {
            Ok((
                (),
                w.set_status(
                    switchboard_sim::Side::Primary,
                    SystemStatus::OutOfService,
                    Some("CTI lost".into()),
                ),
            ))
        })
        .expect("status");
    tokio::time::timeout(Duration::from_secs(10), s.wait_for(online(1)))
        .await
        .expect("failed over to the secondary");
    // The resync after failover went to the secondary node.
    let log = sim.sim.request_log();
    assert!(
        log.iter()
            .any(|r| r.side == switchboard_sim::Side::Secondary
                && r.path == "/finesse/api/User/1001001/Dialogs"
                && r.status == 200),
        "{log:?}"
    );
    sim.sim
        .apply(|w| {
            Ok((
                (),
                w.set_status(
                    switchboard_sim::Side::Primary,
                    SystemStatus::InService,
                    None,
                ),
            ))
        })
        .expect("status");
    tokio::time::timeout(Duration::from_secs(10), s.wait_for(online(0)))
        .await
        .expect("moved back to the primary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_per_user_shared_and_closed_after_the_grace_period() {
    let env = env().await;
    let (domain, pubsub) = switchboard_connector::discover_xmpp(&env.rest)
        .await
        .expect("SystemInfo");
    assert_eq!(
        (domain.as_str(), pubsub.as_str()),
        ("finesse.local", "pubsub.finesse.local")
    );
    let config = Arc::new(SessionConfig {
        nodes: vec![FinesseNodeAddr {
            domain,
            pubsub,
            ..env.finesse.node(env.rest.clone())
        }],
        resource: "switchboard-m".into(),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..env.finesse.session_config(env.rest.clone())
    });
    let (tx, _rx) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let manager = switchboard_connector::SessionManager::new(
        config,
        env.cache.clone(),
        tx,
        Duration::from_millis(300),
        &shutdown,
    );
    let a = manager.acquire("1001005", Credentials::basic("1001005", "demo"));
    let b = manager.acquire("1001005", Credentials::basic("1001005", "demo"));
    assert!(
        std::ptr::eq(a.session(), b.session()),
        "two connections, one session"
    );
    assert_eq!(manager.len(), 1);
    drop(a);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(manager.len(), 1, "still held by the second connection");
    drop(b);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let c = manager.acquire("1001005", Credentials::basic("1001005", "demo"));
    assert_eq!(
        manager.len(),
        1,
        "reacquired within the grace period: same session"
    );
    drop(c);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(manager.is_empty(), "closed after the grace period");
}
