//! Token sign-in: `Broker/Session/Authenticate {token}` or `?access_token=`
//! on the WebSocket URL (docs/protocol.md §3).
//!
//! The token is either a `resumeToken` from an earlier `Ready` of this server
//! (no dot in it), which restores that identity (Finesse credentials
//! included) without the password, or a JWT (claims `sub`, `role`, optional
//! `agentId` and `teams`; verified with the configured HS256 secret or
//! RS256/ES256 public key). A resume token is single-use; the new `Ready`
//! carries a new one. A resume token this server does not hold (used,
//! expired, or issued before a restart) is answered `Resume Token Unknown`
//! and is not a failed sign-in: the client signs in again with what it
//! holds. Resume tokens are 128 random bits, so they need no throttle; JWTs
//! go through the throttle under the client address.

use super::sign_in::{admit, establish, failed, signed_in_already, too_many_connections};
use super::{Conn, ReplyTo, auth_failure};
use std::sync::Arc;

use switchboard_protocol::{ErrorType, reply};

use crate::auth::{Identity, Profile, TokenError, is_resume_token};
use crate::metrics as m;

/// Signs in with a token; `reply_to` is `None` for `?access_token=`.
pub(crate) async fn with_token(conn: &mut Conn, token: &str, reply_to: Option<ReplyTo>) {
    let rid = reply_to
        .as_ref()
        .and_then(|o| o.request_id().map(str::to_owned));
    let rid = rid.as_deref();
    if signed_in_already(conn, rid) {
        return;
    }
    let shared = conn.shared.clone();
    if is_resume_token(token) {
        let Some(grant) = shared.auth.take_resume(token) else {
            metrics::counter!(m::SIGN_INS_TOTAL, "method" => "resume", "outcome" => "unknown")
                .increment(1);
            tracing::debug!(client = conn.queue.id(), "unknown resume token");
            conn.send(reply::api_error(
                ErrorType::ResumeTokenUnknown,
                "this resume token is unknown to the server (already used, expired, or issued before a restart); sign in again",
                rid,
            ));
            return;
        };
        // Over the user's connections the token is kept: it still works
        // once one of them has closed.
        if shared.users.connections(&grant.profile.user_id)
            >= shared.config.limits.max_connections_per_user
        {
            too_many_connections(conn, &grant.profile.user_id, rid, "resume");
            shared.auth.return_resume(token, grant);
            return;
        }
        let lease = grant
            .profile
            .credentials
            .clone()
            .map(|c| shared.notifications.acquire(&grant.profile.user_id, c));
        let identity = Identity {
            profile: grant.profile,
            lease,
        };
        establish(conn, identity, rid, "resume");
        return;
    }
    if !shared.auth.tokens_enabled() {
        auth_failure(conn, &TokenError::Disabled.to_string(), rid);
        return;
    }
    let Some(attempt) = admit(conn, &shared, None, rid).await else {
        return;
    };
    match shared.auth.verify(token) {
        Ok((claims, role)) => {
            // A valid token lifts nothing: the address's token failures are
            // shared by every client behind it.
            drop(attempt);
            let extension = claims
                .agent_id
                .as_deref()
                .and_then(|a| shared.cache.user(a))
                .and_then(|u| u.extension.clone());
            let identity = Identity {
                profile: Arc::new(Profile {
                    user_id: claims.sub,
                    agent_id: claims.agent_id,
                    extension,
                    role,
                    teams: claims.teams,
                    credentials: None,
                }),
                lease: None,
            };
            establish(conn, identity, rid, "token");
        }
        Err(e) => {
            tracing::info!(client = conn.queue.id(), address = %conn.client, error = %e.detail(), "token refused");
            let locked = attempt.failed();
            failed(conn, rid, &e.to_string(), locked);
        }
    }
}
