//! `Cisco/Agent/SetUserInfo {username, password, extension}`: agent or
//! supervisor sign-in with Finesse credentials (docs/protocol.md §3).
//!
//! 1. The throttle ([`crate::throttle`]): recent failures of this user name
//!    from this client address delay the attempt; too many, or too many of
//!    this account from anywhere, refuse it for a while.
//! 2. `GET /finesse/api/User/{username}` with the credentials: 401/404 is an
//!    `Authorization Failure` (the connection stays open to retry).
//! 3. If the user is signed out or on another extension: `PUT User` LOGIN
//!    with the extension, then read the user again.
//! 4. `GET .../Dialogs`, reconciled into the cache (so the snapshot is
//!    Finesse's current state even before the notification session is up).
//!    A supervisor's teams are read too (`GET /finesse/api/Team/{id}`).
//! 5. The user's notification session is opened or joined.
//! 6. [`establish`]: the agent's topic is subscribed with its snapshot
//!    (`SetAgentState`, then one call event per dialog), then `Ready`.
//!
//! The password lives only inside the [`Credentials`] of the identity; it is
//! never logged, echoed or put in a metric.

use std::sync::Arc;

use switchboard_connector::Credentials;
use switchboard_core::hub::Wire;
use switchboard_finesse::{User, UserRequest, UserState};
use switchboard_protocol::{CloseCode, ErrorType, Secret, Topic, reply};

use super::{Conn, ReplyTo, auth_failure, rest_refusal};
use crate::auth::{Identity, Profile, Role, supervised_teams};
use crate::metrics as m;
use crate::state::Shared;
use crate::throttle::{Attempt, Refused};

/// Signs in with Finesse credentials.
pub(crate) async fn run(
    conn: &mut Conn,
    reply_to: ReplyTo,
    username: String,
    password: Secret,
    extension: String,
) {
    let rid = reply_to.request_id().map(str::to_owned);
    let rid = rid.as_deref();
    if signed_in_already(conn, rid) {
        return;
    }
    let shared = conn.shared.clone();
    let Some(attempt) = admit(conn, &shared, Some(&username), rid).await else {
        return;
    };
    let credentials = Credentials::basic(username.clone(), password.expose().to_owned());
    drop(password);

    let user = match shared
        .finesse
        .call(|n| n.user(&credentials, &username))
        .await
    {
        Ok(user) => {
            attempt.succeeded();
            user
        }
        Err(e) if e.is_unauthorized() || e.is_not_found() => {
            let locked = attempt.failed();
            failed(conn, rid, "wrong user name or password", locked);
            return;
        }
        Err(e) => {
            // Finesse did not say: neither a failure nor a success.
            drop(attempt);
            finesse_error(conn, rid, &e);
            return;
        }
    };
    let user = match sign_in_to_extension(conn, &credentials, user, &extension).await {
        Ok(user) => user,
        Err(()) => return,
    };
    let dialogs = match shared
        .finesse
        .call(|n| n.dialogs(&credentials, &user.login_id))
        .await
    {
        Ok(d) => d,
        Err(e) => {
            finesse_error(conn, rid, &e);
            return;
        }
    };
    for change in shared
        .cache
        .reconcile(&user.login_id, user.clone(), dialogs)
    {
        let _ = shared.changes.send(change);
    }
    let role = Role::of_user(&user);
    if role != Role::Agent {
        // The supervised teams' members, so the dashboard's snapshot lists
        // every agent (not only those signed in through Switchboard).
        for team in supervised_teams(&user) {
            match shared.finesse.call(|n| n.team(&credentials, &team)).await {
                Ok(team) => {
                    for change in shared.cache.reconcile_team(&team) {
                        let _ = shared.changes.send(change);
                    }
                }
                Err(e) => tracing::warn!(team = %team, error = %e, "cannot read a supervised team"),
            }
        }
    }
    let lease = shared
        .notifications
        .acquire(&user.login_id, credentials.clone());
    let identity = Identity {
        profile: Arc::new(Profile {
            user_id: user.login_id.clone(),
            agent_id: Some(user.login_id.clone()),
            extension: user.extension.clone().or(Some(extension)),
            role,
            teams: if role == Role::Agent {
                Vec::new()
            } else {
                supervised_teams(&user)
            },
            credentials: Some(credentials),
        }),
        lease: Some(lease),
    };
    tracing::info!(user = %identity.user_id, role = role.as_str(), client = conn.queue.id(), "signed in");
    establish(conn, identity, rid, "password");
}

/// Refuses a second sign-in on a signed-in connection; true when refused.
pub(crate) fn signed_in_already(conn: &Conn, rid: Option<&str>) -> bool {
    if conn.identity.is_some() {
        conn.send(reply::api_error(
            ErrorType::InvalidInput,
            "this connection is already signed in; open another connection to sign in as someone else",
            rid,
        ));
        return true;
    }
    false
}

/// The throttle for a password (`user`) or token (`None`) sign-in from the
/// connection's client address: waits its delay, then admits the attempt
/// or tells the client why not.
pub(crate) async fn admit<'a>(
    conn: &Conn,
    shared: &'a Shared,
    user: Option<&str>,
    rid: Option<&str>,
) -> Option<Attempt<'a>> {
    let refused = match shared.auth.throttle.admit(user, conn.client).await {
        Ok(attempt) => return Some(attempt),
        Err(refused) => refused,
    };
    metrics::counter!(m::SIGN_INS_TOTAL, "method" => "any", "outcome" => "locked").increment(1);
    tracing::info!(client = conn.queue.id(), address = %conn.client, ?refused, "sign-in throttled");
    let secs = |left: std::time::Duration| left.as_secs().max(1);
    let text = match (refused, user) {
        (Refused::Pair(left), Some(_)) => format!(
            "too many failed sign-ins for this user from this address; try again in {} s",
            secs(left)
        ),
        (Refused::Pair(left), None) => format!(
            "too many failed token sign-ins from this address; try again in {} s",
            secs(left)
        ),
        (Refused::Account(left), _) => format!(
            "too many failed sign-ins for this account; try again in {} s",
            secs(left)
        ),
        (Refused::Busy, Some(_)) => {
            "too many sign-in attempts in progress for this account; try again later".to_owned()
        }
        (Refused::Busy, None) => {
            "too many token sign-ins in progress from this address; try again later".to_owned()
        }
    };
    conn.send(reply::api_error(ErrorType::TooManyRequests, &text, rid));
    None
}

/// Tells the client a sign-in failed (its attempt already recorded;
/// `locked`: this failure locked the user name or the account).
pub(crate) fn failed(conn: &Conn, rid: Option<&str>, why: &str, locked: bool) {
    metrics::counter!(m::SIGN_INS_TOTAL, "method" => "any", "outcome" => "refused").increment(1);
    tracing::info!(client = conn.queue.id(), address = %conn.client, "sign-in refused");
    let message = if locked {
        format!("{why}; too many failures: further sign-ins are refused for a while")
    } else {
        why.to_owned()
    };
    auth_failure(conn, &message, rid);
}

fn finesse_error(conn: &Conn, rid: Option<&str>, e: &switchboard_connector::RestError) {
    let (response, text) = rest_refusal(e);
    tracing::warn!(client = conn.queue.id(), error = %e, "sign-in failed: Finesse");
    conn.send(reply::api_error(
        response.error_type().unwrap_or(ErrorType::FinesseError),
        &text,
        rid,
    ));
}

/// Signs the user in to `extension` when it is signed out or elsewhere.
async fn sign_in_to_extension(
    conn: &Conn,
    credentials: &Credentials,
    user: User,
    extension: &str,
) -> Result<User, ()> {
    let rid = None;
    if user.state != UserState::Logout && user.extension.as_deref() == Some(extension) {
        return Ok(user);
    }
    let request = UserRequest {
        state: UserState::Login,
        reason_code_id: None,
        extension: Some(extension.to_owned()),
    };
    let finesse = &conn.shared.finesse;
    if let Err(e) = finesse
        .call(|n| n.put_user(credentials, &user.login_id, &request))
        .await
    {
        finesse_error(conn, rid, &e);
        return Err(());
    }
    finesse
        .call(|n| n.user(credentials, &user.login_id))
        .await
        .map_err(|e| finesse_error(conn, rid, &e))
}

/// Refuses a sign-in of `user`, who has `limits.max_connections_per_user`
/// connections already: `Too Many Requests`, then the close with 4429.
pub(crate) fn too_many_connections(
    conn: &Conn,
    user: &str,
    rid: Option<&str>,
    method: &'static str,
) {
    let most = conn.shared.config.limits.max_connections_per_user;
    metrics::counter!(m::SIGN_INS_TOTAL, "method" => method, "outcome" => "too_many_connections")
        .increment(1);
    tracing::info!(user = %user, client = conn.queue.id(), "sign-in refused: too many connections for the user");
    conn.send(reply::api_error(
        ErrorType::TooManyRequests,
        &format!("too many connections for user {user} (at most {most}); close another one first"),
        rid,
    ));
    conn.queue.close(CloseCode::TooManyConnections);
}

/// Completes a sign-in: subscribes the agent's own topic with its snapshot,
/// then sends `Ready` (in that order, before any live event). A user who
/// already has `limits.max_connections_per_user` connections is refused
/// (`Too Many Requests`) and the connection closed with 4429.
pub(crate) fn establish(
    conn: &mut Conn,
    identity: Identity,
    rid: Option<&str>,
    method: &'static str,
) {
    if !conn.shared.users.join(&identity.user_id) {
        too_many_connections(conn, &identity.user_id, rid, method);
        return;
    }
    let identity = Arc::new(identity);
    let resume = conn.shared.auth.issue_resume(&identity);
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let ready = reply::ready(
        &session_id,
        identity.agent_id.as_deref(),
        identity.extension.as_deref(),
        &[identity.role.as_str()],
        &identity.teams,
        &resume,
        rid,
    );
    let own_topic = identity
        .agent_id
        .as_deref()
        .and_then(|a| format!("agent/{a}").parse::<Topic>().ok());
    match own_topic {
        Some(topic) => {
            let shared = conn.shared.clone();
            let mut ready = Some(ready);
            let _ = conn
                .shared
                .hub
                .subscribe(&conn.queue, &[(topic, None)], &mut |found| {
                    let mut frames: Vec<Wire> = found
                        .iter()
                        .flat_map(|r| super::subscribe::snapshot_frames(&shared, r))
                        .collect();
                    frames.extend(ready.take().map(Wire::from));
                    frames
                });
            if let Some(agent) = identity.agent_id.clone() {
                conn.shared
                    .agents
                    .entry(agent)
                    .or_default()
                    .push(conn.queue.clone());
            }
        }
        None => conn.send(ready),
    }
    metrics::counter!(m::SIGN_INS_TOTAL, "method" => method, "outcome" => "ok").increment(1);
    conn.identity = Some(identity);
    conn.resume_token = Some(resume);
}
