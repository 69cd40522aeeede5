//! `SetMakeCall {toAddress}`: `POST /finesse/api/User/{id}/Dialogs` MAKE_CALL
//! from the signed-in extension.

use switchboard_finesse::MakeCallRequest;
use switchboard_protocol::ResponseType;

use super::{Conn, FinesseRequest, Refusal, ReplyTo};

/// Places a call.
pub(crate) fn run(conn: &Conn, reply_to: ReplyTo, to_address: String) {
    let checked = conn.finesse_identity().and_then(|(identity, credentials)| {
        let Some(extension) = identity.extension.clone() else {
            return Err(Refusal::new(
                ResponseType::NotAuthorized,
                "this connection has no extension to call from",
            ));
        };
        Ok((
            credentials,
            FinesseRequest::MakeCall {
                user_id: identity.user_id.clone(),
                body: MakeCallRequest {
                    from_address: extension,
                    to_address,
                    call_variables: Vec::new(),
                },
            },
        ))
    });
    match checked {
        Ok((credentials, request)) => conn.send_to_finesse(reply_to, credentials, request),
        Err(refusal) => conn.refuse(&reply_to, &refusal),
    }
}
