//! Finesse REST (`/finesse/api/...`) on one node: the checks every request passes
//! (service status, credentials), the request log, and one handler per resource.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use headers::authorization::Basic;
use headers::{Authorization, HeaderMapExt};
use switchboard_finesse::{
    ApiError, ApiErrorStyle, Dialog, DialogRequest, Error as XmlError, MakeCallRequest, UserRequest,
};

use super::{RequestRecord, Sim, lock};
use crate::world::{ApiFailure, Outgoing, Side, World};

#[derive(Clone)]
struct RestState {
    sim: Arc<Sim>,
    side: Side,
}

pub(super) fn rest_router(sim: Arc<Sim>, side: Side) -> Router {
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
