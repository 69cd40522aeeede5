//! The simulator's HTTP side: Finesse REST on the primary (and optionally the
//! secondary) port, the scenario API on its own port, and the tasks that
//! publish notifications, run timed transitions and generate load.
//!
//! Every request to the Finesse REST API is recorded in the request log
//! (`GET /sim/requests`), so tests can check that a request did, or did not,
//! reach "Finesse".

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use headers::authorization::Basic;
use headers::{Authorization, HeaderMapExt};
use serde::{Deserialize, Serialize};
use switchboard_finesse::{
    ApiError, ApiErrorStyle, Dialog, DialogRequest, Error as XmlError, MakeCallRequest, Node,
    SystemStatus, UserRequest,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::SimConfig;
use crate::world::{ApiFailure, CallKind, CallOptions, Outgoing, Side, World};

/// One notification as published: the node and the `<Update>` XML text (the
/// text Finesse escapes inside `<notification>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The pubsub node.
    pub node: Node,
    /// The `<Update>` document.
    pub update_xml: String,
}

/// One request received by the Finesse REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    /// Which node received it.
    pub side: Side,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The authenticated user, if the credentials were right.
    pub user: Option<String>,
    /// The `requestId` header.
    #[serde(rename = "requestId")]
    pub request_id: Option<String>,
    /// The requested action or state of a PUT/POST body, if it parsed.
    pub action: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
}

/// Where notifications go.
#[derive(Debug)]
pub enum NoticeSink {
    /// Handed to a channel in-process (the demo and benchmarks).
    Channel(mpsc::UnboundedSender<Notice>),
    /// Published through an XMPP server, as Finesse does.
    Xmpp(crate::xmpp::XmppTarget),
    /// Printed to stdout as JSON lines `{"node": ..., "update": ...}`.
    Stdout,
    /// Dropped (tests that only look at REST).
    Discard,
}

/// The sink once connected.
enum ActiveSink {
    Channel(mpsc::UnboundedSender<Notice>),
    Xmpp(Box<crate::xmpp::XmppPublisher>),
    Stdout,
    Discard,
}

/// How to start the simulator.
#[derive(Debug)]
pub struct SimOptions {
    /// Users, teams, wrap-up.
    pub config: SimConfig,
    /// Finesse REST of the primary node.
    pub primary: SocketAddr,
    /// Finesse REST of the secondary node, if a pair is simulated.
    pub secondary: Option<SocketAddr>,
    /// The scenario API on its own port; `None` serves it on the primary port
    /// next to Finesse REST (`/sim/...`).
    pub scenario: Option<SocketAddr>,
    /// Where notifications go.
    pub sink: NoticeSink,
}

/// State shared by every handler and task.
#[derive(Debug)]
pub struct Sim {
    world: Mutex<World>,
    notices: mpsc::UnboundedSender<Notice>,
    log: Mutex<Vec<RequestRecord>>,
    down_nodes: Mutex<BTreeSet<String>>,
    load: Mutex<Option<CancellationToken>>,
    shutdown: CancellationToken,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler that panicked mid-update leaves the world as it was at the
    // panic; the simulator keeps serving rather than failing every request.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Sim {
    /// The world, locked. Do not hold it across an `.await`.
    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// Every Finesse REST request received so far.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        lock(&self.log).clone()
    }

    /// Forgets the request log.
    pub fn clear_request_log(&self) {
        lock(&self.log).clear();
    }

    /// Publishes notifications in order (call with the world locked, so the
    /// order of notifications is the order of changes).
    fn publish(&self, out: Vec<Outgoing>) {
        let down = lock(&self.down_nodes);
        for o in out {
            let node = o.node.to_string();
            if down.contains(&node) {
                tracing::debug!(%node, "node down: notification dropped");
                continue;
            }
            // The pump only ends at shutdown; a notice after that has nowhere to go.
            let _ = self.notices.send(Notice {
                node: o.node,
                update_xml: o.update.to_xml(),
            });
        }
    }

    /// Runs `f` on the world and publishes what it returns.
    pub fn apply<T>(
        &self,
        f: impl FnOnce(&mut World) -> Result<(T, Vec<Outgoing>), ApiFailure>,
    ) -> Result<T, ApiFailure> {
        let mut world = lock(&self.world);
        let (value, out) = f(&mut world)?;
        self.publish(out);
        Ok(value)
    }
}

/// A running simulator.
#[derive(Debug)]
pub struct RunningSim {
    /// Shared state (the world, the request log).
    pub sim: Arc<Sim>,
    /// Finesse REST, primary node.
    pub primary: SocketAddr,
    /// Finesse REST, secondary node.
    pub secondary: Option<SocketAddr>,
    /// The scenario API (the primary address when they share a port).
    pub scenario: SocketAddr,
}

impl RunningSim {
    /// Stops every listener and task.
    pub fn shutdown(&self) {
        self.sim.shutdown.cancel();
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    /// The XMPP server refused the publisher or could not be reached.
    #[error("cannot publish through XMPP: {0}")]
    Xmpp(#[from] switchboard_xmpp::XmppError),
}

/// Binds the listeners, connects the notification sink and starts serving.
pub async fn start(opts: SimOptions) -> Result<RunningSim, StartError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Notice>();
    let shutdown = CancellationToken::new();
    let sim = Arc::new(Sim {
        world: Mutex::new(World::new(opts.config)),
        notices: tx,
        log: Mutex::new(Vec::new()),
        down_nodes: Mutex::new(BTreeSet::new()),
        load: Mutex::new(None),
        shutdown: shutdown.clone(),
    });

    // The pump: one task, so notifications leave in the order they were made.
    let mut sink = match opts.sink {
        NoticeSink::Channel(tx) => ActiveSink::Channel(tx),
        NoticeSink::Discard => ActiveSink::Discard,
        NoticeSink::Stdout => ActiveSink::Stdout,
        NoticeSink::Xmpp(target) => {
            let config = sim.world().config().clone();
            ActiveSink::Xmpp(Box::new(
                crate::xmpp::XmppPublisher::connect(target, &config).await?,
            ))
        }
    };
    let pump_stop = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = pump_stop.cancelled() => break,
                notice = rx.recv() => {
                    let Some(notice) = notice else { break };
                    match &mut sink {
                        ActiveSink::Channel(out) => {
                            if out.send(notice).is_err() {
                                break;
                            }
                        }
                        ActiveSink::Xmpp(publisher) => {
                            if let Err(e) = publisher.publish(&notice, Duration::from_secs(30)).await {
                                // Like Finesse during an XMPP outage: the notification is
                                // lost; clients resync from REST when they reconnect.
                                tracing::warn!(node = %notice.node, error = %e, "notification not published");
                            }
                        }
                        ActiveSink::Stdout => {
                            let line = serde_json::json!({"node": notice.node.to_string(), "update": notice.update_xml});
                            println!("{line}");
                        }
                        ActiveSink::Discard => {}
                    }
                }
            }
        }
    });

    // Timed transitions (wrap-up ending).
    let ticker = sim.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = ticker.shutdown.cancelled() => break,
                _ = every.tick() => {
                    let _ = ticker.apply(|w| Ok(((), w.tick(Instant::now()))));
                }
            }
        }
    });

    let mut primary_router = rest_router(sim.clone(), Side::Primary);
    if opts.scenario.is_none() {
        primary_router = scenario_router(sim.clone()).merge(primary_router);
    }
    let primary = serve(primary_router, opts.primary, &shutdown).await?;
    let secondary = match opts.secondary {
        Some(addr) => {
            Some(serve(rest_router(sim.clone(), Side::Secondary), addr, &shutdown).await?)
        }
        None => None,
    };
    let scenario = match opts.scenario {
        Some(addr) => serve(scenario_router(sim.clone()), addr, &shutdown).await?,
        None => primary,
    };
    Ok(RunningSim {
        sim,
        primary,
        secondary,
        scenario,
    })
}

async fn serve(
    router: Router,
    addr: SocketAddr,
    shutdown: &CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "simulator listener failed");
        }
    });
    Ok(local)
}

// ----- Finesse REST -----

#[derive(Clone)]
struct RestState {
    sim: Arc<Sim>,
    side: Side,
}

fn rest_router(sim: Arc<Sim>, side: Side) -> Router {
    Router::new()
        .route("/finesse/api/SystemInfo", get(get_system_info))
        .route("/finesse/api/User/{id}", get(get_user).put(put_user))
        .route(
            "/finesse/api/User/{id}/Dialogs",
            get(get_dialogs).post(post_dialogs),
        )
        .route("/finesse/api/Dialog/{id}", get(get_dialog).put(put_dialog))
        .route("/finesse/api/Team/{id}", get(get_team))
        .fallback(not_found)
        .with_state(RestState { sim, side })
}

const XML: &str = "application/xml";

fn xml_response(status: StatusCode, body: String, request_id: Option<&str>) -> Response {
    let mut r = (status, [(axum::http::header::CONTENT_TYPE, XML)], body).into_response();
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        r.headers_mut().insert("requestId", id);
    }
    r
}

fn failure_response(f: &ApiFailure, request_id: Option<&str>) -> Response {
    xml_response(
        StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST),
        ApiError::list_to_xml(&f.errors, ApiErrorStyle::Rest),
        request_id,
    )
}

/// The checks every REST request passes first: service status, then credentials.
struct Call {
    user: Option<String>,
    request_id: Option<String>,
}

impl RestState {
    fn begin(&self, headers: &HeaderMap) -> Result<Call, ApiFailure> {
        let request_id = headers
            .get("requestId")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let user = headers
            .typed_get::<Authorization<Basic>>()
            .filter(|auth| {
                self.sim
                    .world()
                    .check_password(auth.username(), auth.password())
            })
            .map(|auth| auth.username().to_owned());
        let call = Call { user, request_id };
        if self.sim.world().is_out_of_service(self.side) {
            return Err(ApiFailure {
                status: 503,
                errors: vec![ApiError {
                    error_type: "Service Unavailable".into(),
                    error_message: "Finesse is OUT_OF_SERVICE".into(),
                    error_data: None,
                }],
            });
        }
        if call.user.is_none() {
            return Err(ApiFailure {
                status: 401,
                errors: vec![ApiError {
                    error_type: "Authorization Failure".into(),
                    error_message: "UNAUTHORIZED".into(),
                    error_data: headers
                        .typed_get::<Authorization<Basic>>()
                        .map(|a| a.username().to_owned()),
                }],
            });
        }
        Ok(call)
    }

    fn record(
        &self,
        method: &str,
        path: String,
        headers: &HeaderMap,
        action: Option<String>,
        status: u16,
    ) {
        let user = headers
            .typed_get::<Authorization<Basic>>()
            .filter(|auth| {
                self.sim
                    .world()
                    .check_password(auth.username(), auth.password())
            })
            .map(|auth| auth.username().to_owned());
        lock(&self.sim.log).push(RequestRecord {
            side: self.side,
            method: method.into(),
            path,
            user,
            request_id: headers
                .get("requestId")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            action,
            status,
        });
    }

    /// Runs a handler body, answers, and records the request.
    fn handle(
        &self,
        method: &str,
        path: String,
        headers: &HeaderMap,
        action: Option<String>,
        body: impl FnOnce(&Call) -> Result<(StatusCode, String), ApiFailure>,
    ) -> Response {
        let result = self.begin(headers).and_then(|call| {
            let r = body(&call);
            r.map(|ok| (ok, call))
        });
        let (status, response) = match result {
            Ok(((status, text), call)) => (
                status,
                xml_response(status, text, call.request_id.as_deref()),
            ),
            Err(f) => {
                let rid = headers.get("requestId").and_then(|v| v.to_str().ok());
                (
                    StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST),
                    failure_response(&f, rid),
                )
            }
        };
        self.record(method, path, headers, action, status.as_u16());
        response
    }
}

impl Call {
    /// The authenticated user (checked by `begin` before any handler body runs).
    fn actor(&self) -> &str {
        self.user.as_deref().unwrap_or_default()
    }
}

impl RestState {
    /// A PUT/POST command: parse the XML body (400 if it does not), record its
    /// action, run `op` on the world, publish what it causes, answer 202.
    #[allow(clippy::too_many_arguments)]
    fn command<R>(
        &self,
        method: &str,
        path: String,
        headers: &HeaderMap,
        body: &Bytes,
        parse: fn(&str) -> Result<R, XmlError>,
        label: fn(&R) -> String,
        op: impl FnOnce(&mut World, &R, &Call) -> Result<Vec<Outgoing>, ApiFailure>,
    ) -> Response {
        let parsed = body_text(body).and_then(|t| parse(t).map_err(|e| body_error(&e)));
        let action = parsed.as_ref().ok().map(label);
        self.handle(method, path, headers, action, |call| {
            let req = parsed?;
            self.sim.apply(|w| Ok(((), op(w, &req, call)?)))?;
            Ok((StatusCode::ACCEPTED, String::new()))
        })
    }
}

/// A body that does not parse: 400 Parameter Missing or Invalid Input.
fn body_error(e: &XmlError) -> ApiFailure {
    let error_type = match e {
        XmlError::Missing { .. } => "Parameter Missing",
        _ => "Invalid Input",
    };
    ApiFailure {
        status: 400,
        errors: vec![ApiError {
            error_type: error_type.into(),
            error_message: e.to_string(),
            error_data: None,
        }],
    }
}

fn body_text(body: &Bytes) -> Result<&str, ApiFailure> {
    std::str::from_utf8(body).map_err(|_| ApiFailure {
        status: 400,
        errors: vec![ApiError {
            error_type: "Invalid Input".into(),
            error_message: "body is not UTF-8".into(),
            error_data: None,
        }],
    })
}

async fn get_system_info(State(s): State<RestState>, headers: HeaderMap) -> Response {
    // SystemInfo answers even out of service (clients poll it to see IN_SERVICE again)
    // and without credentials (finesse.js reads it before sign-in).
    let xml = s.sim.world().system_info(s.side).to_xml();
    s.record("GET", "/finesse/api/SystemInfo".into(), &headers, None, 200);
    xml_response(StatusCode::OK, xml, None)
}

async fn get_user(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    s.handle(
        "GET",
        format!("/finesse/api/User/{id}"),
        &headers,
        None,
        |call| {
            let actor = call.actor();
            let world = s.sim.world();
            let user = world.user(&id)?;
            if !world.may_act_on_user(actor, &id) {
                return Err(ApiFailure::not_authorized(actor));
            }
            Ok((StatusCode::OK, user.to_xml()))
        },
    )
}

async fn put_user(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/finesse/api/User/{id}");
    s.command(
        "PUT",
        path,
        &headers,
        &body,
        UserRequest::from_xml,
        |r| r.state.to_string(),
        |w, req, call| w.put_user(&id, call.actor(), req, call.request_id.as_deref()),
    )
}

async fn get_dialogs(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    s.handle(
        "GET",
        format!("/finesse/api/User/{id}/Dialogs"),
        &headers,
        None,
        |call| {
            let actor = call.actor();
            let world = s.sim.world();
            let dialogs = world.dialogs_of(&id)?;
            if !world.may_act_on_user(actor, &id) {
                return Err(ApiFailure::not_authorized(actor));
            }
            Ok((StatusCode::OK, Dialog::list_to_xml(&dialogs)))
        },
    )
}

async fn post_dialogs(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/finesse/api/User/{id}/Dialogs");
    s.command(
        "POST",
        path,
        &headers,
        &body,
        MakeCallRequest::from_xml,
        |_| "MAKE_CALL".to_owned(),
        |w, req, call| {
            if call.actor() != id {
                return Err(ApiFailure::not_authorized(call.actor()));
            }
            w.make_call(&id, req, call.request_id.as_deref())
        },
    )
}

async fn get_dialog(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    s.handle(
        "GET",
        format!("/finesse/api/Dialog/{id}"),
        &headers,
        None,
        |_| Ok((StatusCode::OK, s.sim.world().dialog(&id)?.to_xml())),
    )
}

async fn put_dialog(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/finesse/api/Dialog/{id}");
    s.command(
        "PUT",
        path,
        &headers,
        &body,
        DialogRequest::from_xml,
        |r| r.action.action().to_string(),
        |w, req, call| w.dialog_action(&id, call.actor(), req, call.request_id.as_deref()),
    )
}

async fn get_team(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    s.handle(
        "GET",
        format!("/finesse/api/Team/{id}"),
        &headers,
        None,
        |call| {
            let world = s.sim.world();
            let team = world.team(&id)?;
            if !world.may_read_team(call.actor(), &id) {
                return Err(ApiFailure::not_authorized(call.actor()));
            }
            Ok((StatusCode::OK, team.to_xml()))
        },
    )
}

async fn not_found() -> Response {
    failure_response(
        &ApiFailure {
            status: 404,
            errors: vec![ApiError {
                error_type: "Not Found".into(),
                error_message: "no such resource".into(),
                error_data: None,
            }],
        },
        None,
    )
}

// ----- scenario API -----

fn scenario_router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/sim/calls", post(post_call))
        .route("/sim/failures/cti-error", post(post_cti_error))
        .route("/sim/status", post(post_status))
        .route("/sim/nodes/down", post(post_node_down))
        .route("/sim/load", post(post_load).delete(delete_load))
        .route("/sim/requests", get(get_requests).delete(delete_requests))
        .route("/sim/state", get(get_state))
        .with_state(sim)
}

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": message.into() })),
    )
        .into_response()
}

fn failure_json(f: &ApiFailure) -> Response {
    let message = f
        .errors
        .first()
        .map(|e| format!("{}: {}", e.error_type, e.error_message))
        .unwrap_or_default();
    json_error(
        StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST),
        message,
    )
}

/// The JSON body, or the 400 answer naming what is wrong with it.
fn parse_json<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(json_error(
            StatusCode::BAD_REQUEST,
            format!("bad JSON: {e}"),
        ))
    })
}

/// `POST /sim/calls`: start a call of a kind at an agent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartCall {
    agent: String,
    kind: CallKind,
    #[serde(default, flatten)]
    options: CallOptions,
}

async fn post_call(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let req: StartCall = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    match sim.apply(|w| w.start_call(&req.agent, req.kind, &req.options)) {
        Ok(id) => (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({ "dialogId": id })),
        )
            .into_response(),
        Err(f) => failure_json(&f),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentOnly {
    agent: String,
}

async fn post_cti_error(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let req: AgentOnly = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    match sim.world().fail_next_action(&req.agent) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(f) => failure_json(&f),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetStatus {
    side: Side,
    status: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn post_status(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let req: SetStatus = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let status = SystemStatus::parse(&req.status);
    if let SystemStatus::Other(s) = &status {
        return json_error(StatusCode::BAD_REQUEST, format!("unknown status {s:?}"));
    }
    let _ = sim.apply(|w| Ok(((), w.set_status(req.side, status, req.reason))));
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeDown {
    node: String,
    down: bool,
}

async fn post_node_down(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let req: NodeDown = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let mut down = lock(&sim.down_nodes);
    if req.down {
        down.insert(req.node);
    } else {
        down.remove(&req.node);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /sim/load`: the load generator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// New calls per second across all READY agents.
    pub calls_per_second: f64,
    /// The mix of kinds, as weights (default: inbound 1, preview 1).
    #[serde(default)]
    pub mix: Vec<(CallKind, u32)>,
    /// Seconds before a simulated agent answers or accepts (absent: agents do not act).
    #[serde(default)]
    pub answer_after: Option<f64>,
    /// Seconds a simulated agent talks before dropping.
    #[serde(default = "default_talk")]
    pub talk_for: f64,
    /// Agents left to people (e.g. the demo's agent widget): they are offered
    /// calls like the others when READY, but nothing answers or drops for them.
    #[serde(default)]
    pub manual: Vec<String>,
}

fn default_talk() -> f64 {
    10.0
}

async fn post_load(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let spec: LoadSpec = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    if !(spec.calls_per_second > 0.0 && spec.calls_per_second <= 10_000.0) {
        return json_error(
            StatusCode::BAD_REQUEST,
            "calls_per_second must be in (0, 10000]",
        );
    }
    start_load(&sim, spec);
    StatusCode::NO_CONTENT.into_response()
}

async fn delete_load(State(sim): State<Arc<Sim>>) -> Response {
    if let Some(token) = lock(&sim.load).take() {
        token.cancel();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn get_requests(State(sim): State<Arc<Sim>>) -> Response {
    axum::Json(sim.request_log()).into_response()
}

async fn delete_requests(State(sim): State<Arc<Sim>>) -> Response {
    sim.clear_request_log();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_state(State(sim): State<Arc<Sim>>) -> Response {
    let world = sim.world();
    let users: Vec<serde_json::Value> = world
        .users()
        .iter()
        .map(|u| {
            serde_json::json!({
                "id": u.login_id, "state": u.state, "extension": u.extension,
                "pendingState": u.pending_state, "reasonCodeId": u.reason_code_id,
            })
        })
        .collect();
    let dialogs: Vec<serde_json::Value> = world
        .dialogs()
        .iter()
        .map(|d| {
            serde_json::json!({
                "id": d.id, "state": d.state,
                "callType": d.media_properties.call_type,
                "participants": d.participants.iter().map(|p| serde_json::json!({
                    "mediaAddress": p.media_address, "state": p.state, "actions": p.actions,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    axum::Json(serde_json::json!({ "users": users, "dialogs": dialogs })).into_response()
}

/// Starts (or replaces) the load generator.
pub fn start_load(sim: &Arc<Sim>, spec: LoadSpec) {
    let token = sim.shutdown.child_token();
    if let Some(old) = lock(&sim.load).replace(token.clone()) {
        old.cancel();
    }
    let sim = sim.clone();
    tokio::spawn(async move { run_load(sim, spec, token).await });
}

/// A scheduled action of a simulated agent.
struct Due {
    at: Instant,
    agent: String,
    dialog: String,
    action: switchboard_finesse::DialogAction,
}

async fn run_load(sim: Arc<Sim>, spec: LoadSpec, stop: CancellationToken) {
    let mix = if spec.mix.is_empty() {
        vec![(CallKind::Inbound, 1), (CallKind::Preview, 1)]
    } else {
        spec.mix.clone()
    };
    let total: u32 = mix.iter().map(|(_, w)| *w).sum::<u32>().max(1);
    let period = Duration::from_secs_f64(1.0 / spec.calls_per_second);
    let mut every = tokio::time::interval(
        period
            .min(Duration::from_millis(100))
            .max(Duration::from_micros(100)),
    );
    let mut next_call = Instant::now();
    let mut due: Vec<Due> = Vec::new();
    let mut rng = fastrand::Rng::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = every.tick() => {}
        }
        let now = Instant::now();
        while next_call <= now {
            next_call += period;
            let ready: Vec<(String, String)> = {
                let world = sim.world();
                world
                    .users()
                    .into_iter()
                    .filter(|u| u.state == switchboard_finesse::UserState::Ready)
                    .filter_map(|u| u.extension.clone().map(|e| (u.login_id, e)))
                    .collect()
            };
            if ready.is_empty() {
                continue;
            }
            let (agent, _ext) = ready[rng.usize(..ready.len())].clone();
            let mut pick = rng.u32(..total);
            let kind = mix
                .iter()
                .find(|(_, w)| {
                    if pick < *w {
                        true
                    } else {
                        pick -= *w;
                        false
                    }
                })
                .map_or(CallKind::Inbound, |(k, _)| *k);
            if let Ok(id) = sim.apply(|w| w.start_call(&agent, kind, &CallOptions::default()))
                && let Some(after) = spec.answer_after
                && !spec.manual.contains(&agent)
            {
                let action = if matches!(
                    kind,
                    CallKind::Preview | CallKind::DirectPreview | CallKind::CallbackPreview
                ) {
                    switchboard_finesse::DialogAction::Accept
                } else {
                    switchboard_finesse::DialogAction::Answer
                };
                due.push(Due {
                    at: now + Duration::from_secs_f64(after),
                    agent: agent.clone(),
                    dialog: id,
                    action,
                });
            }
        }
        // Simulated agents act when their time comes.
        let (ready_now, later): (Vec<Due>, Vec<Due>) = due.drain(..).partition(|d| d.at <= now);
        due = later;
        for d in ready_now {
            let Some(ext) = sim.world().user(&d.agent).ok().and_then(|u| u.extension) else {
                continue;
            };
            let req = DialogRequest {
                action: d.action.clone(),
                target_media_address: Some(ext.clone()),
            };
            let answered =
                sim.apply(|w| Ok(((), w.dialog_action(&d.dialog, &d.agent, &req, None)?)));
            if answered.is_err() || d.action == switchboard_finesse::DialogAction::Drop {
                continue;
            }
            // After answering, hang up after the talk time; an accepted reservation
            // became a new customer dialog.
            let dialog = if d.action == switchboard_finesse::DialogAction::Accept {
                sim.world()
                    .dialogs_of(&d.agent)
                    .ok()
                    .and_then(|ds| ds.last().map(|x| x.id.clone()))
            } else {
                Some(d.dialog.clone())
            };
            if let Some(dialog) = dialog {
                due.push(Due {
                    at: now + Duration::from_secs_f64(spec.talk_for),
                    agent: d.agent.clone(),
                    dialog,
                    action: switchboard_finesse::DialogAction::Drop,
                });
            }
        }
    }
}
