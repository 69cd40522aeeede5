//! Call control on one dialog (`SetANSWER`, `SetACCEPT`, `SetREJECT`,
//! `SetCLOSE`, `SetHOLD`, ..., `SetUPDATE_SCHEDULED_CALLBACK`): the checks of
//! docs/protocol.md §6 against the cache, then `PUT /finesse/api/Dialog/{id}`.
//!
//! Checks, in order, each refused without any Finesse call: the dialog is
//! known (2), the sender's extension is one of its participants (3), the
//! `MediaAddress`, when given, is that extension (5: it names the leg Finesse
//! acts on), the Finesse action is in that participant's current `actions` (4).
//! `SetANSWER` on a preview reservation is sent as `ACCEPT`.

use switchboard_finesse::{Action, CallVariable, Dialog, DialogAction, DialogRequest, Participant};
use switchboard_protocol::{CallAction, CallCommand, ResponseType};

use super::{Conn, FinesseRequest, Refusal, ReplyTo};

/// Runs a call-control command.
pub(crate) fn run(conn: &Conn, reply_to: ReplyTo, call: CallCommand) {
    match check(conn, &call) {
        Ok((credentials, request)) => conn.send_to_finesse(reply_to, credentials, request),
        Err(refusal) => conn.refuse(&reply_to, &refusal),
    }
}

fn check(
    conn: &Conn,
    call: &CallCommand,
) -> Result<(switchboard_connector::Credentials, FinesseRequest), Refusal> {
    let (identity, credentials) = conn.finesse_identity()?;
    let extension = identity.extension.clone().unwrap_or_default();
    let (dialog, participant) = participant_of(conn, &call.call_id, &extension)?;
    own_leg(call.media_address.as_deref(), &extension, &call.call_id)?;
    let action = dialog_action(&call.action, &dialog);
    allowed(&participant, &action.action(), &call.call_id)?;
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
}

/// Refuses (5) a `MediaAddress` other than the sender's extension. It is the
/// leg Finesse acts on (`targetMediaAddress`): every call command acts on the
/// sender's own leg, and none of them is a supervisor action that Finesse
/// allows on another participant's leg.
fn own_leg(media_address: Option<&str>, extension: &str, call_id: &str) -> Result<(), Refusal> {
    match media_address {
        Some(target) if target != extension => Err(Refusal::new(
            ResponseType::NotAuthorized,
            format!(
                "MediaAddress {target} is not this connection's extension {extension}: a call command acts only on the sender's own leg of dialog {call_id}"
            ),
        )),
        _ => Ok(()),
    }
}

/// The dialog and the sender's participant in it, or the refusal (2 or 3).
pub(crate) fn participant_of(
    conn: &Conn,
    call_id: &str,
    extension: &str,
) -> Result<(std::sync::Arc<Dialog>, Participant), Refusal> {
    let Some(dialog) = conn.shared.cache.dialog(call_id) else {
        return Err(Refusal::new(
            ResponseType::UnknownDialog,
            format!("dialog {call_id} is not known (ended, or never offered to this agent)"),
        ));
    };
    let Some(participant) = dialog
        .participants
        .iter()
        .find(|p| !extension.is_empty() && p.media_address == extension)
        .cloned()
    else {
        return Err(Refusal::new(
            ResponseType::NotParticipant,
            format!("extension {extension} does not take part in dialog {call_id}"),
        ));
    };
    Ok((dialog, participant))
}

/// Refuses (4) an action not in the participant's current `actions`.
pub(crate) fn allowed(
    participant: &Participant,
    action: &Action,
    call_id: &str,
) -> Result<(), Refusal> {
    if participant.actions.contains(action) {
        return Ok(());
    }
    let offered: Vec<&str> = participant.actions.iter().map(Action::as_str).collect();
    Err(Refusal::new(
        ResponseType::ActionNotAllowed,
        format!(
            "{} is not allowed on dialog {call_id} now (participant state {}; allowed: {})",
            action.as_str(),
            participant.state.as_str(),
            if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(", ")
            }
        ),
    ))
}

/// The Finesse request for a client action on this dialog.
fn dialog_action(action: &CallAction, dialog: &Dialog) -> DialogAction {
    match action {
        CallAction::Answer if dialog.is_preview_reservation() => DialogAction::Accept,
        CallAction::Answer => DialogAction::Answer,
        CallAction::Accept => DialogAction::Accept,
        CallAction::Reject => DialogAction::Reject,
        CallAction::Close => DialogAction::Close,
        CallAction::Hold => DialogAction::Hold,
        CallAction::Retrieve => DialogAction::Retrieve,
        CallAction::Drop => DialogAction::Drop,
        CallAction::TransferSst { to_address } => DialogAction::TransferSst {
            to_address: to_address.clone(),
        },
        CallAction::ConsultCall { to_address } => DialogAction::ConsultCall {
            to_address: to_address.clone(),
        },
        CallAction::Transfer => DialogAction::Transfer,
        CallAction::Conference => DialogAction::Conference,
        CallAction::SendDtmf { dtmf } => DialogAction::SendDtmf { dtmf: dtmf.clone() },
        CallAction::UpdateCallData {
            call_variables,
            wrap_up_reason,
        } => DialogAction::UpdateCallData {
            call_variables: call_variables
                .iter()
                .map(|(name, value)| CallVariable {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            wrap_up_reason: wrap_up_reason.clone(),
        },
        CallAction::UpdateScheduledCallback {
            callback_time,
            callback_number,
        } => DialogAction::UpdateScheduledCallback {
            callback_time: Some(callback_time.clone()),
            callback_number: callback_number.clone(),
        },
        CallAction::CancelScheduledCallback => DialogAction::CancelScheduledCallback,
    }
}
