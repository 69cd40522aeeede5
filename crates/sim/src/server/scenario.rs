//! The scenario API (`/sim/...`): what tests and the demo make happen (calls arriving, CTI
//! errors, node status, a node's notifications lost, the load generator) and what they read
//! back (the request log, the world's state).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use switchboard_finesse::SystemStatus;

use super::load::{LoadSpec, start_load};
use super::{Sim, lock};
use crate::world::{ApiFailure, CallKind, CallOptions, Side};

pub(super) fn scenario_router(sim: Arc<Sim>) -> Router {
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
