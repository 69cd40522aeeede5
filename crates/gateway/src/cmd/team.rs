//! Supervisor commands on a team member: `Cisco/Team/SetTeamAgentNotReadyState
//! {Username, ReasonCodeId}` and `Cisco/Team/SetTeamAgentLogout {Username}` ->
//! `PUT /finesse/api/User/{agent}` with the supervisor's credentials. Refused
//! (5) unless the sender supervises the agent's team.

use switchboard_finesse::{UserRequest, UserState};
use switchboard_protocol::ResponseType;

use super::{Conn, FinesseRequest, Refusal, ReplyTo};

/// `SetTeamAgentNotReadyState`.
pub(crate) fn not_ready(
    conn: &Conn,
    reply_to: ReplyTo,
    agent: String,
    reason_code_id: Option<String>,
) {
    send(conn, reply_to, agent, UserState::NotReady, reason_code_id);
}

/// `SetTeamAgentLogout`.
pub(crate) fn logout(conn: &Conn, reply_to: ReplyTo, agent: String) {
    send(conn, reply_to, agent, UserState::Logout, None);
}

fn send(
    conn: &Conn,
    reply_to: ReplyTo,
    agent: String,
    state: UserState,
    reason_code_id: Option<String>,
) {
    let checked = conn.finesse_identity().and_then(|(identity, credentials)| {
        if !identity.supervises(&agent, &conn.shared.cache) {
            return Err(Refusal::new(
                ResponseType::NotAuthorized,
                format!("only a supervisor of agent {agent}'s team may change its state"),
            ));
        }
        Ok((
            credentials,
            FinesseRequest::User {
                user_id: agent,
                body: UserRequest {
                    state,
                    reason_code_id,
                    extension: None,
                },
            },
        ))
    });
    match checked {
        Ok((credentials, request)) => conn.send_to_finesse(reply_to, credentials, request),
        Err(refusal) => conn.refuse(&reply_to, &refusal),
    }
}
