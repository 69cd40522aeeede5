//! Readiness and REST failover between the two Finesse nodes (the simulator's
//! primary and secondary over real HTTP), and SystemInfo reaching each client
//! once per change with several users signed in (Prosody, notification
//! sessions, WebSocket clients).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use switchboard_connector::{FinesseClient, RestConfig};
use switchboard_core::{CacheConfig, StateCache};
use switchboard_finesse::SystemStatus;
use switchboard_gateway::{FinesseRest, Gateway, GatewayConfig, NoSessions, Parts};
use switchboard_harness::GatewayEnv;
use switchboard_sim::{NoticeSink, Side, SimConfig, SimOptions, start};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

async fn ready(url: &str, want: bool) -> Value {
    for _ in 0..200 {
        let r = reqwest::get(url).await.expect("readyz");
        let ok = r.status() == 200;
        let body: Value = r.json().await.expect("json");
        if ok == want {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("/readyz never became {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_node_in_service_and_rest_fails_over() {
    let any = "127.0.0.1:0".parse().expect("addr");
    let sim = start(SimOptions {
        config: SimConfig::default(),
        primary: any,
        secondary: Some(any),
        scenario: None,
        sink: NoticeSink::Discard,
    })
    .await
    .expect("simulator");
    let node = |addr| {
        FinesseClient::new(&format!("http://{addr}"), RestConfig::default()).expect("client")
    };
    let rest = FinesseRest::new(vec![
        node(sim.primary),
        node(sim.secondary.expect("secondary")),
    ]);
    let shutdown = CancellationToken::new();
    let (tx, rx) = mpsc::unbounded_channel();
    let gateway = Gateway::start(
        GatewayConfig {
            listen: any,
            readiness_probe_interval: Duration::from_millis(100),
            ..GatewayConfig::default()
        },
        Parts {
            cache: Arc::new(StateCache::new(CacheConfig::default())),
            finesse: rest.clone(),
            notifications: Arc::new(NoSessions),
            changes_tx: tx,
            changes_rx: rx,
            metrics: None,
        },
        &shutdown,
    )
    .await
    .expect("gateway");
    let url = format!("http://{}/readyz", gateway.local_addr());
    ready(&url, true).await;
    assert_eq!(rest.active_index(), 0);

    // The primary goes out of service: still ready, requests move to the secondary.
    sim.sim
        .apply(|w| {
            Ok((
                (),
                w.set_status(Side::Primary, SystemStatus::OutOfService, None),
            ))
        })
        .expect("status");
    for _ in 0..200 {
        if rest.active_index() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rest.active_index(), 1, "REST moved to the node in service");
    ready(&url, true).await;

    // Both out of service: not ready.
    sim.sim
        .apply(|w| {
            Ok((
                (),
                w.set_status(Side::Secondary, SystemStatus::OutOfService, None),
            ))
        })
        .expect("status");
    let body = ready(&url, false).await;
    assert_eq!(body["ready"], false);
    shutdown.cancel();
}

/// Each signed-in user has its own notification session, and each receives
/// Finesse's SystemInfo notification: a client still gets one event per
/// change (the issue: one per signed-in user).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_system_info_event_per_change_for_each_client() {
    const USERS: usize = 5;
    let env = GatewayEnv::start(|_| {}).await;
    let mut clients = Vec::new();
    for i in 1..=USERS {
        clients.push(
            env.agent(&format!("{}", 1_001_000 + i), &format!("{}", 5000 + i))
                .await,
        );
    }
    env.sessions_online(USERS as u64).await;
    let set = |status: SystemStatus| {
        env.finesse
            .sim
            .sim
            .apply(|w| Ok(((), w.set_status(Side::Primary, status, None))))
            .expect("status");
    };
    let system =
        |v: &Value, status: &str| v["subtopic"] == "SetSystemInfo" && v["data"]["status"] == status;
    set(SystemStatus::OutOfService);
    for c in &mut clients {
        c.wait_for("OUT_OF_SERVICE", |v| system(v, "OUT_OF_SERVICE"))
            .await;
    }
    // Back in service: the sessions come back and say so once.
    set(SystemStatus::InService);
    for c in &mut clients {
        c.wait_for("IN_SERVICE", |v| system(v, "IN_SERVICE")).await;
    }
    env.sessions_online(USERS as u64).await;
    // Out again: a new change, one event again.
    set(SystemStatus::OutOfService);
    for c in &mut clients {
        let (from, _) = c
            .wait_from(0, "OUT_OF_SERVICE", |v| system(v, "OUT_OF_SERVICE"))
            .await;
        c.wait_from(from + 1, "the second OUT_OF_SERVICE", |v| {
            system(v, "OUT_OF_SERVICE")
        })
        .await;
    }
    // Whatever else was on its way has arrived.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for c in &mut clients {
        while c.read(Duration::from_millis(100)).await.is_some() {}
        let seen: Vec<&str> = c
            .frames
            .iter()
            .filter(|v| v["subtopic"] == "SetSystemInfo")
            .filter_map(|v| v["data"]["status"].as_str())
            .collect();
        assert_eq!(
            seen,
            ["OUT_OF_SERVICE", "IN_SERVICE", "OUT_OF_SERVICE"],
            "one event per change"
        );
    }
}
