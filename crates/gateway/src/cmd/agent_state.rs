//! The agent's own state: `Cisco/Agent/SetReadyState`,
//! `Cisco/Agent/SetNotReadyState {ReasonCodeId}`, `Cisco/Connection/Logout
//! {ReasonCodeId}` -> `PUT /finesse/api/User/{id}`. Finesse decides whether the
//! change is allowed now (e.g. READY while TALKING becomes a pending state);
//! the outcome arrives as `SetAgentState`.

use switchboard_finesse::{UserRequest, UserState};

use super::{Conn, FinesseRequest, ReplyTo};

/// `SetReadyState`.
pub(crate) fn ready(conn: &Conn, reply_to: ReplyTo) {
    send(conn, reply_to, UserState::Ready, None);
}

/// `SetNotReadyState`.
pub(crate) fn not_ready(conn: &Conn, reply_to: ReplyTo, reason_code_id: Option<String>) {
    send(conn, reply_to, UserState::NotReady, reason_code_id);
}

/// `Logout`.
pub(crate) fn logout(conn: &Conn, reply_to: ReplyTo, reason_code_id: Option<String>) {
    send(conn, reply_to, UserState::Logout, reason_code_id);
}

fn send(conn: &Conn, reply_to: ReplyTo, state: UserState, reason_code_id: Option<String>) {
    match conn.finesse_identity() {
        Ok((identity, credentials)) => conn.send_to_finesse(
            reply_to,
            credentials,
            FinesseRequest::User {
                user_id: identity.user_id.clone(),
                body: UserRequest {
                    state,
                    reason_code_id,
                    extension: None,
                },
            },
        ),
        Err(refusal) => conn.refuse(&reply_to, &refusal),
    }
}
