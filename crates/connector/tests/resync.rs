//! Notifications queued while a resync runs: a dialog deleted during the
//! resync never comes back. Real Prosody and the simulator over real HTTP;
//! the session reaches the simulator's REST through a small proxy that can
//! hold a `GET .../Dialogs` until the test releases it, so the call changes
//! while the resync is under way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use switchboard_connector::{
    Credentials, FinesseClient, RestConfig, Session, SessionConfig, SessionStatus,
};
use switchboard_core::{CacheConfig, Change, DialogChange, StateCache};
use switchboard_finesse::{DialogAction, DialogRequest, DialogState, UserRequest, UserState};
use switchboard_harness::{FinesseEnv, FinesseOptions};
use switchboard_sim::{CallKind, CallOptions};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

const AGENT: &str = "1001001";
const EXTENSION: &str = "5001";

/// Forwards Finesse REST to the simulator; while armed, holds each
/// `GET .../Dialogs` until released.
#[derive(Clone)]
struct Gate {
    upstream: String,
    http: reqwest::Client,
    armed: Arc<AtomicBool>,
    held: Arc<Notify>,
    release: Arc<Notify>,
}

async fn forward(
    State(gate): State<Gate>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::GET
        && uri.path().ends_with("/Dialogs")
        && gate.armed.swap(false, Ordering::SeqCst)
    {
        let released = gate.release.notified();
        gate.held.notify_one();
        released.await;
    }
    let mut request = gate
        .http
        .request(method, format!("{}{}", gate.upstream, uri))
        .body(body);
    for (name, value) in &headers {
        if name != "host" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(r) => {
            let status = r.status();
            let headers = r.headers().clone();
            let body = r.bytes().await.unwrap_or_default();
            (status, headers, body).into_response()
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn gate(upstream: SocketAddr) -> (Gate, SocketAddr) {
    let gate = Gate {
        upstream: format!("http://{upstream}"),
        http: reqwest::Client::new(),
        armed: Arc::new(AtomicBool::new(false)),
        held: Arc::new(Notify::new()),
        release: Arc::new(Notify::new()),
    };
    let app = Router::new().fallback(forward).with_state(gate.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (gate, addr)
}

fn call_changes(
    changes: &mut mpsc::UnboundedReceiver<Change>,
    id: &str,
) -> Vec<(DialogChange, DialogState)> {
    let mut out = Vec::new();
    while let Ok(c) = changes.try_recv() {
        if let Change::Dialog { dialog, change, .. } = c
            && dialog.id == id
        {
            out.push((change, dialog.state.clone()));
        }
    }
    out
}

/// The issue: notifications that waited while a resync ran brought a
/// dialog the resync had removed back as ACTIVE, and it got a second
/// DELETED. Here the call is held and dropped (and deleted) while the
/// resync's `GET .../Dialogs` is under way: the resync removes it, the
/// queued HELD, DROPPED and DELETE notifications change nothing, and a call
/// created after the resync arrives as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialog_deleted_during_a_resync_never_comes_back() {
    let mut finesse = FinesseEnv::start(FinesseOptions {
        auto_subscribe: true,
        ..FinesseOptions::default()
    })
    .await;
    let password = finesse.password(AGENT);
    let direct = finesse.rest();
    let (gate, proxy) = gate(finesse.sim.primary).await;
    let session_config = Arc::new(SessionConfig {
        resource: "switchboard-resync".into(),
        explicit_subscribe: false,
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..finesse.session_config(
            FinesseClient::new(&format!("http://{proxy}"), RestConfig::default()).expect("client"),
        )
    });
    let cache = Arc::new(StateCache::new(CacheConfig::default()));
    let (tx, mut changes) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let mut session = Session::spawn(
        AGENT.into(),
        Credentials::basic(AGENT, password.clone()),
        session_config,
        cache.clone(),
        tx,
        &shutdown,
    );
    let online = |s: &SessionStatus| matches!(s, SessionStatus::Online(_));
    tokio::time::timeout(Duration::from_secs(15), session.wait_for(online))
        .await
        .expect("online");
    let me = Credentials::basic(AGENT, password);
    for state in [UserState::Login, UserState::Ready] {
        let req = UserRequest {
            extension: (state == UserState::Login).then(|| EXTENSION.to_owned()),
            state,
            reason_code_id: None,
        };
        direct.put_user(&me, AGENT, &req).await.expect("202");
    }
    let call = finesse
        .sim
        .sim
        .apply(|w| w.start_call(AGENT, CallKind::Inbound, &CallOptions::default()))
        .expect("call");
    let act = |action| DialogRequest {
        action,
        target_media_address: Some(EXTENSION.to_owned()),
    };
    direct
        .dialog_action(&me, &call, &act(DialogAction::Answer))
        .await
        .expect("answered");
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache.dialog(&call).map(|d| d.state.clone()) != Some(DialogState::Active) {
        assert!(Instant::now() < deadline, "the call never became ACTIVE");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    call_changes(&mut changes, &call);

    // A reconnect, whose resync's Dialogs read is held.
    gate.armed.store(true, Ordering::SeqCst);
    let held = gate.held.notified();
    tokio::task::block_in_place(|| finesse.prosody.kill()).expect("killed");
    tokio::task::block_in_place(|| finesse.prosody.start_again()).expect("started");
    tokio::time::timeout(Duration::from_secs(15), held)
        .await
        .expect("the resync read its Dialogs");
    // Meanwhile the call is held, dropped and deleted: three notifications
    // wait in the session's queue.
    direct
        .dialog_action(&me, &call, &act(DialogAction::Hold))
        .await
        .expect("held");
    direct
        .dialog_action(&me, &call, &act(DialogAction::Drop))
        .await
        .expect("dropped");
    assert!(
        finesse
            .sim
            .sim
            .world()
            .dialogs_of(AGENT)
            .expect("dialogs")
            .is_empty(),
        "Finesse no longer has the call"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    gate.release.notify_one();
    tokio::time::timeout(Duration::from_secs(15), session.wait_for(online))
        .await
        .expect("online again");
    tokio::time::sleep(Duration::from_secs(1)).await;

    let seen = call_changes(&mut changes, &call);
    assert_eq!(
        seen,
        vec![(DialogChange::Removed, DialogState::Active)],
        "removed once by the resync, never back"
    );
    assert!(cache.dialog(&call).is_none());

    // A call created after the resync is a new dialog as usual.
    let next = finesse
        .sim
        .sim
        .apply(|w| w.start_call(AGENT, CallKind::Inbound, &CallOptions::default()))
        .expect("call");
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache.dialog(&next).is_none() {
        assert!(Instant::now() < deadline, "the new call never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
}
