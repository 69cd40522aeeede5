//! `Cisco/Agent/WrapUpCall {callID, wrapup}` and
//! `Cisco/Agent/UpdateCallVariables {callID, key, value}`: both are Finesse's
//! `UPDATE_CALL_DATA` on the dialog, with the same checks as call control.

use switchboard_finesse::{Action, CallVariable, DialogAction, DialogRequest};

use super::call::{allowed, participant_of};
use super::{Conn, FinesseRequest, Refusal, ReplyTo};

/// `WrapUpCall`: sets the wrap-up reason.
pub(crate) fn wrap_up(conn: &Conn, reply_to: ReplyTo, call_id: String, wrapup: String) {
    send(
        conn,
        reply_to,
        &call_id,
        DialogAction::UpdateCallData {
            call_variables: Vec::new(),
            wrap_up_reason: Some(wrapup),
        },
    );
}

/// `UpdateCallVariables`: sets one call variable.
pub(crate) fn update_variable(
    conn: &Conn,
    reply_to: ReplyTo,
    call_id: String,
    key: String,
    value: String,
) {
    send(
        conn,
        reply_to,
        &call_id,
        DialogAction::UpdateCallData {
            call_variables: vec![CallVariable { name: key, value }],
            wrap_up_reason: None,
        },
    );
}

fn send(conn: &Conn, reply_to: ReplyTo, call_id: &str, action: DialogAction) {
    let checked = (|| -> Result<_, Refusal> {
        let (identity, credentials) = conn.finesse_identity()?;
        let extension = identity.extension.clone().unwrap_or_default();
        let (dialog, participant) = participant_of(conn, call_id, &extension)?;
        allowed(&participant, &Action::UpdateCallData, call_id)?;
        Ok((
            credentials,
            FinesseRequest::Dialog {
                dialog_id: dialog.id.clone(),
                body: DialogRequest {
                    action,
                    target_media_address: Some(extension),
                },
            },
        ))
    })();
    match checked {
        Ok((credentials, request)) => conn.send_to_finesse(reply_to, credentials, request),
        Err(refusal) => conn.refuse(&reply_to, &refusal),
    }
}
