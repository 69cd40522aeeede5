//! Token sign-in: `Broker/Session/Authenticate {token}` or `?access_token=`
//! on the WebSocket URL (docs/protocol.md §3).
//!
//! The token is either a JWT (claims `sub`, `role`, optional `agentId` and
//! `teams`; verified with the configured HS256 secret or RS256/ES256 public
//! key) or a `resumeToken` from an earlier `Ready` of this server, which
//! restores that identity (Finesse credentials included) without the
//! password. A resume token is single-use; the new `Ready` carries a new one.

use super::sign_in::{admit, establish, failed};
use super::{Conn, Origin};
use std::sync::Arc;

use crate::auth::{Identity, Profile};

/// Signs in with a token; `origin` is `None` for `?access_token=`.
pub(crate) async fn with_token(conn: &mut Conn, token: &str, origin: Option<Origin>) {
    let rid = origin
        .as_ref()
        .and_then(|o| o.request_id().map(str::to_owned));
    let rid = rid.as_deref();
    if !admit(conn, rid).await {
        return;
    }
    let shared = conn.shared.clone();
    if let Some(grant) = shared.auth.take_resume(token) {
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
    match shared.auth.verify(token) {
        Ok((claims, role)) => {
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
            failed(conn, rid, &e.to_string());
        }
    }
}
