//! The commands of docs/protocol.md §6, one file each (mini-redis style):
//! [`sign_in`], [`authenticate`], [`ping`], [`subscribe`], [`call`],
//! [`call_data`], [`make_call`], [`agent_state`], [`team`].
//!
//! [`handle_text`] parses a frame, refuses what is malformed or not allowed
//! before sign-in, and dispatches. Commands that reach Finesse are checked
//! first (synchronously, against the cache), then sent on a task of their own
//! so the connection keeps reading; at most `max_commands_in_flight` per
//! connection. Every command gets exactly one `...Result` ([`Conn::result`]);
//! a refused one also gets a `SetAPIError` with the same `requestId`.

pub mod agent_state;
pub mod authenticate;
pub mod call;
pub mod call_data;
pub mod make_call;
pub mod ping;
pub mod sign_in;
pub mod subscribe;
pub mod team;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use switchboard_connector::{Credentials, RequestId, RestError};
use switchboard_core::hub::{ClientQueue, Wire};
use switchboard_finesse::{DialogRequest, MakeCallRequest, UserRequest};
use switchboard_protocol::{Command, ErrorType, Frame, FrameError, ResponseType, reply};
use tokio::sync::Semaphore;

use crate::auth::Identity;
use crate::metrics as m;
use crate::rate::{Bucket, Limited};
use crate::state::Shared;

/// One connection as its commands see it.
#[derive(Debug)]
pub struct Conn {
    pub(crate) shared: Arc<Shared>,
    pub(crate) queue: Arc<ClientQueue>,
    /// The client's address: the peer, or what a trusted proxy forwarded
    /// ([`crate::forwarded`]); the sign-in throttle counts by it.
    pub(crate) client: IpAddr,
    pub(crate) identity: Option<Arc<Identity>>,
    pub(crate) resume_token: Option<String>,
    pub(crate) in_flight: Arc<Semaphore>,
    /// The connection's bucket of commands that reach Finesse ([`crate::rate`]).
    pub(crate) commands: Mutex<Bucket>,
}

/// Whom a reply answers and the names it repeats: the command frame's channel, topic, subtopic (as
/// the client spelled them) and `requestId`; and when the frame arrived.
#[derive(Debug, Clone)]
pub struct ReplyTo {
    channel: String,
    topic: String,
    subtopic: String,
    request_id: Option<String>,
    command: &'static str,
    received: std::time::Instant,
}

impl ReplyTo {
    fn of(frame: &Frame, command: &'static str) -> ReplyTo {
        ReplyTo {
            channel: frame.channel.trim().to_owned(),
            topic: frame.topic.trim().to_owned(),
            subtopic: frame.subtopic.trim().to_owned(),
            request_id: frame.request_id.clone(),
            command,
            received: std::time::Instant::now(),
        }
    }

    /// The client's `requestId`.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// A command refused before reaching Finesse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Its ResponseType.
    pub response: ResponseType,
    /// What was wrong, for `ResponseText` and the SetAPIError.
    pub message: String,
}

impl Refusal {
    pub(crate) fn new(response: ResponseType, message: impl Into<String>) -> Refusal {
        Refusal {
            response,
            message: message.into(),
        }
    }
}

/// A checked request, ready for Finesse.
#[derive(Debug, Clone)]
pub enum FinesseRequest {
    /// `PUT /finesse/api/Dialog/{id}`.
    Dialog {
        /// The dialog.
        dialog_id: String,
        /// The body.
        body: DialogRequest,
    },
    /// `PUT /finesse/api/User/{id}`.
    User {
        /// The user.
        user_id: String,
        /// The body.
        body: UserRequest,
    },
    /// `POST /finesse/api/User/{id}/Dialogs` MAKE_CALL.
    MakeCall {
        /// The calling user.
        user_id: String,
        /// The body.
        body: MakeCallRequest,
    },
}

impl Conn {
    /// Queues a reply frame.
    pub(crate) fn send(&self, json: String) {
        let _ = self.queue.push(&Wire::from(json));
    }

    /// Sends a command's one Result (and, when refused, its SetAPIError).
    pub(crate) fn result(
        &self,
        reply_to: &ReplyTo,
        response: ResponseType,
        text: Option<&str>,
        finesse_request_id: Option<&str>,
    ) {
        send_result(&self.queue, reply_to, response, text, finesse_request_id);
    }

    /// Sends the Result and SetAPIError of a refusal.
    pub(crate) fn refuse(&self, reply_to: &ReplyTo, refusal: &Refusal) {
        self.result(reply_to, refusal.response, Some(&refusal.message), None);
    }

    /// The identity, credentials and extension a Finesse command needs, or the
    /// refusal when the connection signed in with a token.
    pub(crate) fn finesse_identity(&self) -> Result<(Arc<Identity>, Credentials), Refusal> {
        let Some(identity) = self.identity.clone() else {
            return Err(Refusal::new(ResponseType::NotSignedIn, "sign in first"));
        };
        let Some(credentials) = identity.credentials.clone() else {
            return Err(Refusal::new(
                ResponseType::NotAuthorized,
                "this connection signed in with a token, which carries no Finesse credentials: \
                 sign in with Cisco/Agent/SetUserInfo for call control",
            ));
        };
        Ok((identity, credentials))
    }

    /// Sends a checked request to Finesse on a task of its own; its Result
    /// follows when Finesse answers. Refuses with ResponseType 11 over the
    /// connection's or the user's command rate, and with ResponseType 9 when
    /// the connection has too many commands in flight.
    pub(crate) fn send_to_finesse(
        &self,
        reply_to: ReplyTo,
        credentials: Credentials,
        request: FinesseRequest,
    ) {
        let limits = &self.shared.config.limits;
        let user = self.identity.as_ref().map_or("", |i| i.user_id.as_str());
        if let Err(limited) = self.shared.users.admit(user, &self.commands) {
            let message = match limited {
                Limited::Connection => format!(
                    "too many commands on this connection (at most {} per second, {} at once); wait and send again",
                    limits.commands_per_second, limits.command_burst
                ),
                Limited::User => format!(
                    "too many commands from user {user} over all its connections (at most {} per second, {} at once); wait and send again",
                    limits.user_commands_per_second, limits.user_command_burst
                ),
            };
            self.refuse(&reply_to, &Refusal::new(ResponseType::RateLimited, message));
            return;
        }
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            self.refuse(
                &reply_to,
                &Refusal::new(
                    ResponseType::TooManyInFlight,
                    format!(
                        "too many commands waiting for Finesse (at most {}); wait for their Results",
                        self.shared.config.limits.max_commands_in_flight
                    ),
                ),
            );
            return;
        };
        let shared = self.shared.clone();
        let queue = self.queue.clone();
        tokio::spawn(async move {
            let request_id = RequestId::generate();
            shared.pending.insert(
                request_id.as_str(),
                reply_to.request_id.clone(),
                queue.clone(),
            );
            let timeout = shared.config.limits.command_timeout;
            let outcome = tokio::time::timeout(
                timeout,
                execute(&shared, &credentials, &request, request_id.clone()),
            )
            .await;
            match outcome {
                Ok(Ok(id)) => {
                    send_result(
                        &queue,
                        &reply_to,
                        ResponseType::Success,
                        None,
                        Some(id.as_str()),
                    );
                }
                Ok(Err(e)) => {
                    let (response, text) = rest_refusal(&e);
                    tracing::info!(command = reply_to.command, finesse_request_id = %request_id, error = %e, "a command's Finesse request failed");
                    // A request that may have reached Finesse (no answer in
                    // time, or the connection broke) may still be carried out
                    // or fail later: its Result names its requestId and its
                    // pending entry stays for a late CTI error.
                    let maybe_sent =
                        matches!(e, RestError::Timeout { .. } | RestError::Connect { .. });
                    if !maybe_sent {
                        shared.pending.remove(request_id.as_str());
                    }
                    send_result(
                        &queue,
                        &reply_to,
                        response,
                        Some(&text),
                        maybe_sent.then_some(request_id.as_str()),
                    );
                }
                Err(_) => {
                    // The REST timeout is shorter (configuration checks it), so
                    // this is a failover that took too long. Finesse may still
                    // carry it out: keep the pending entry.
                    tracing::info!(command = reply_to.command, finesse_request_id = %request_id, "a command's Finesse request took longer than limits.command_timeout");
                    send_result(
                        &queue,
                        &reply_to,
                        ResponseType::Timeout,
                        Some(TIMEOUT_TEXT),
                        Some(request_id.as_str()),
                    );
                }
            }
            drop(permit);
        });
    }

    /// Cleans up after the connection closed.
    pub(crate) fn leave(&mut self) {
        let id = self.queue.id();
        self.shared.hub.disconnect(id);
        self.shared.watchers.remove(&id);
        if let Some(identity) = &self.identity {
            self.shared.users.leave(&identity.user_id);
        }
        if let Some(identity) = self.identity.take()
            && let Some(agent) = identity.agent_id.as_deref()
        {
            let mut empty = false;
            if let Some(mut list) = self.shared.agents.get_mut(agent) {
                list.retain(|q| q.id() != id);
                empty = list.is_empty();
            }
            if empty {
                self.shared.agents.remove_if(agent, |_, l| l.is_empty());
            }
        }
        if let Some(token) = self.resume_token.take() {
            self.shared.auth.release_resume(&token);
        }
    }
}

fn send_result(
    queue: &Arc<ClientQueue>,
    reply_to: &ReplyTo,
    response: ResponseType,
    text: Option<&str>,
    finesse_request_id: Option<&str>,
) {
    metrics::counter!(
        m::COMMANDS_TOTAL,
        "command" => reply_to.command,
        "response_type" => response.code().to_string(),
    )
    .increment(1);
    metrics::histogram!(m::COMMAND_SECONDS, "command" => reply_to.command)
        .record(reply_to.received.elapsed().as_secs_f64());
    let _ = queue.push(&Wire::from(reply::command_result(
        &reply_to.channel,
        &reply_to.topic,
        &reply_to.subtopic,
        reply_to.request_id.as_deref(),
        response,
        text,
        finesse_request_id,
    )));
    if let Some(error_type) = response.error_type() {
        let message = text.unwrap_or_else(|| response.text());
        let _ = queue.push(&Wire::from(reply::api_error(
            error_type,
            message,
            reply_to.request_id.as_deref(),
        )));
    }
}

async fn execute(
    shared: &Shared,
    credentials: &Credentials,
    request: &FinesseRequest,
    request_id: RequestId,
) -> Result<RequestId, RestError> {
    let rest = &shared.finesse;
    match request {
        FinesseRequest::Dialog { dialog_id, body } => {
            rest.call(|n| n.dialog_action_with_id(credentials, dialog_id, body, request_id.clone()))
                .await
        }
        FinesseRequest::User { user_id, body } => {
            rest.call(|n| n.put_user_with_id(credentials, user_id, body, request_id.clone()))
                .await
        }
        FinesseRequest::MakeCall { user_id, body } => {
            rest.call(|n| n.make_call_with_id(credentials, user_id, body, request_id.clone()))
                .await
        }
    }
}

/// The `ResponseText` of a command Finesse did not answer in time.
const TIMEOUT_TEXT: &str = "Timeout: Finesse did not answer in time; the request may still be carried out (a CTI error for it would still arrive)";

/// The ResponseType and text of a failed Finesse request (docs/protocol.md
/// §7.1). The text says what happened without the request's URL (the
/// Finesse node's internal address): the caller logs the whole error.
pub(crate) fn rest_refusal(e: &RestError) -> (ResponseType, String) {
    let response = match e {
        RestError::Timeout { .. } => ResponseType::Timeout,
        RestError::Connect { .. } => ResponseType::FinesseUnavailable,
        e if e.is_unavailable() => ResponseType::FinesseUnavailable,
        e if e.is_unauthorized() => ResponseType::NotAuthorized,
        _ => ResponseType::FinesseRefused,
    };
    let detail = e
        .api_errors()
        .iter()
        .map(|a| {
            if a.error_message.is_empty() {
                a.error_type.clone()
            } else {
                format!("{}: {}", a.error_type, a.error_message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let text = if detail.is_empty() {
        match e {
            RestError::Timeout { .. } => TIMEOUT_TEXT.to_owned(),
            RestError::Connect { .. } => format!("{}: cannot reach Finesse", response.text()),
            RestError::Finesse { status, .. } => {
                format!("{}: Finesse answered HTTP {status}", response.text())
            }
            RestError::BadResponse { .. } => {
                format!("{}: unusable answer from Finesse", response.text())
            }
            _ => format!("{}: the request could not be sent", response.text()),
        }
    } else {
        format!("{}: {detail}", response.text())
    };
    (response, text)
}

/// Handles one text frame.
pub(crate) async fn handle_text(conn: &mut Conn, text: &str) {
    let frame = match Frame::parse(text) {
        Ok(f) => f,
        Err(e) => {
            invalid(
                conn,
                &e,
                switchboard_protocol::request_id_hint(text).as_deref(),
            );
            return;
        }
    };
    let command = match Command::from_frame(&frame) {
        Ok(c) => c,
        Err(e) => {
            // A known command with a bad field still gets its one Result.
            if e.field().is_some() && !matches!(e, FrameError::RequestIdTooLong { .. }) {
                let reply_to = ReplyTo::of(&frame, "invalid");
                conn.result(
                    &reply_to,
                    ResponseType::InvalidInput,
                    Some(&e.to_string()),
                    None,
                );
                metrics::counter!(m::FRAMES_TOTAL, "outcome" => "invalid").increment(1);
            } else {
                invalid(conn, &e, frame.request_id.as_deref());
            }
            return;
        }
    };
    metrics::counter!(m::FRAMES_TOTAL, "outcome" => "ok").increment(1);
    let reply_to = ReplyTo::of(&frame, command.name());
    if command.needs_sign_in() && conn.identity.is_none() {
        conn.refuse(
            &reply_to,
            &Refusal::new(
                ResponseType::NotSignedIn,
                format!(
                    "{} needs a signed-in connection: send Cisco/Agent/SetUserInfo or Broker/Session/Authenticate first",
                    command.name()
                ),
            ),
        );
        return;
    }
    dispatch(conn, reply_to, command).await;
}

fn invalid(conn: &Conn, e: &FrameError, request_id: Option<&str>) {
    metrics::counter!(m::FRAMES_TOTAL, "outcome" => "invalid").increment(1);
    conn.send(reply::frame_error(e, request_id));
}

async fn dispatch(conn: &mut Conn, reply_to: ReplyTo, command: Command) {
    match command {
        Command::SignIn {
            username,
            password,
            extension,
        } => sign_in::run(conn, reply_to, username, password, extension).await,
        Command::Authenticate { token } => {
            authenticate::with_token(conn, token.expose(), Some(reply_to)).await;
        }
        Command::Ping { data } => ping::run(conn, &reply_to, &data),
        Command::Subscribe {
            topics,
            since,
            rejected,
        } => subscribe::subscribe(conn, &reply_to, topics, since, rejected),
        Command::Unsubscribe { topics, rejected } => {
            subscribe::unsubscribe(conn, &reply_to, topics, rejected);
        }
        Command::Call(call) => call::run(conn, reply_to, call),
        Command::MakeCall { to_address } => make_call::run(conn, reply_to, to_address),
        Command::SetReady => agent_state::ready(conn, reply_to),
        Command::SetNotReady { reason_code_id } => {
            agent_state::not_ready(conn, reply_to, reason_code_id);
        }
        Command::Logout { reason_code_id } => agent_state::logout(conn, reply_to, reason_code_id),
        Command::WrapUp { call_id, wrapup } => call_data::wrap_up(conn, reply_to, call_id, wrapup),
        Command::UpdateCallVariable {
            call_id,
            key,
            value,
        } => call_data::update_variable(conn, reply_to, call_id, key, value),
        Command::TeamAgentNotReady {
            username,
            reason_code_id,
        } => team::not_ready(conn, reply_to, username, reason_code_id),
        Command::TeamAgentLogout { username } => team::logout(conn, reply_to, username),
    }
}

/// An error for a frame refused as a whole (used by sign-in failures).
pub(crate) fn auth_failure(conn: &Conn, message: &str, request_id: Option<&str>) {
    conn.send(reply::api_error(
        ErrorType::AuthorizationFailure,
        message,
        request_id,
    ));
}

#[cfg(test)]
mod tests {
    use switchboard_finesse::ApiError;

    use super::*;

    #[test]
    fn refusal_texts_never_name_the_finesse_url() {
        let what =
            || "PUT https://finesse-internal.corp:8445/finesse/api/Dialog/42 (HOLD)".to_owned();
        let request_id = Some("f-1".to_owned());
        for (e, response) in [
            (
                RestError::Timeout {
                    what: what(),
                    request_id: request_id.clone(),
                },
                ResponseType::Timeout,
            ),
            (
                RestError::Finesse {
                    what: what(),
                    status: 500,
                    errors: vec![ApiError {
                        error_type: String::new(),
                        error_message: String::new(),
                        error_data: None,
                    }],
                    request_id: request_id.clone(),
                },
                ResponseType::FinesseRefused,
            ),
            (
                RestError::Finesse {
                    what: what(),
                    status: 400,
                    errors: vec![ApiError {
                        error_type: "Invalid State".into(),
                        error_message: "HOLD not valid now".into(),
                        error_data: None,
                    }],
                    request_id,
                },
                ResponseType::FinesseRefused,
            ),
            (
                RestError::BadResponse {
                    what: what(),
                    reason: "not a Dialog".into(),
                },
                ResponseType::FinesseRefused,
            ),
        ] {
            let (got, text) = rest_refusal(&e);
            assert_eq!(got, response, "{e}");
            assert!(e.to_string().contains("finesse-internal"), "the log has it");
            for internal in ["finesse-internal", "8445", "/finesse/api", "https"] {
                assert!(!text.contains(internal), "{internal} in {text:?}");
            }
        }
    }
}
