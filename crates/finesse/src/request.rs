//! REST request bodies: Dialog actions (`PUT /finesse/api/Dialog/{id}`),
//! MAKE_CALL (`POST /finesse/api/User/{id}/Dialogs`) and user state changes
//! (`PUT /finesse/api/User/{id}`) (Finesse Developer Guide: REST APIs). Each can be written (the
//! connector sends it) and parsed (the simulator receives it).

use crate::Error;
use crate::dialog::CallVariable;
use crate::enums::{Action, UserState};
use crate::xml::{Elem, XmlReader, XmlWriter};

/// A requested Dialog action with the parameters it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogAction {
    /// Answer a ringing call.
    Answer,
    /// Put on hold.
    Hold,
    /// Take off hold.
    Retrieve,
    /// Hang up.
    Drop,
    /// Accept a preview reservation.
    Accept,
    /// Reject a preview reservation.
    Reject,
    /// Reject and close the outbound record.
    Close,
    /// Complete a consult as a transfer.
    Transfer,
    /// Complete a consult as a conference.
    Conference,
    /// Cancel a scheduled callback.
    CancelScheduledCallback,
    /// Start recording (UCCX).
    StartRecording,
    /// Supervisor drops the participant at `targetMediaAddress`.
    ParticipantDrop,
    /// Blind transfer to `to_address`.
    TransferSst {
        /// Destination.
        to_address: String,
    },
    /// Consult call to `to_address`.
    ConsultCall {
        /// Destination.
        to_address: String,
    },
    /// Send DTMF digits.
    SendDtmf {
        /// Digits (`0-9 * # A-D`).
        dtmf: String,
    },
    /// Change call variables and/or the wrap-up reason.
    UpdateCallData {
        /// Variables to set.
        call_variables: Vec<CallVariable>,
        /// Wrap-up reason to set.
        wrap_up_reason: Option<String>,
    },
    /// Schedule or update a callback.
    UpdateScheduledCallback {
        /// `YYYY-MM-DDTHH:MM`.
        callback_time: Option<String>,
        /// The number to call back.
        callback_number: Option<String>,
    },
    /// Reclassify an outbound call (VOICE, FAX, ANS_MACHINE, INVALID, DO_NOT_CALL, BUSY).
    Reclassify {
        /// The classification.
        classification: String,
    },
}

impl DialogAction {
    /// The Finesse action this request asks for.
    pub fn action(&self) -> Action {
        match self {
            DialogAction::Answer => Action::Answer,
            DialogAction::Hold => Action::Hold,
            DialogAction::Retrieve => Action::Retrieve,
            DialogAction::Drop => Action::Drop,
            DialogAction::Accept => Action::Accept,
            DialogAction::Reject => Action::Reject,
            DialogAction::Close => Action::Close,
            DialogAction::Transfer => Action::Transfer,
            DialogAction::Conference => Action::Conference,
            DialogAction::CancelScheduledCallback => Action::CancelScheduledCallback,
            DialogAction::StartRecording => Action::StartRecording,
            DialogAction::ParticipantDrop => Action::ParticipantDrop,
            DialogAction::TransferSst { .. } => Action::TransferSst,
            DialogAction::ConsultCall { .. } => Action::ConsultCall,
            DialogAction::SendDtmf { .. } => Action::SendDtmf,
            DialogAction::UpdateCallData { .. } => Action::UpdateCallData,
            DialogAction::UpdateScheduledCallback { .. } => Action::UpdateScheduledCallback,
            DialogAction::Reclassify { .. } => Action::Reclassify,
        }
    }
}

/// The body of `PUT /finesse/api/Dialog/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogRequest {
    /// What to do.
    pub action: DialogAction,
    /// The extension of the participant acting (or acted on).
    pub target_media_address: Option<String>,
}

impl DialogRequest {
    /// Writes the `<Dialog>` request body.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::with_capacity(256);
        w.open("Dialog");
        w.leaf("requestedAction", self.action.action().as_str());
        w.leaf_opt("targetMediaAddress", self.target_media_address.as_deref());
        match &self.action {
            DialogAction::TransferSst { to_address } | DialogAction::ConsultCall { to_address } => {
                w.leaf("toAddress", to_address);
            }
            DialogAction::SendDtmf { dtmf } => write_params(&mut w, &[("dtmfString", dtmf)]),
            DialogAction::Reclassify { classification } => {
                write_params(&mut w, &[("outboundClassification", classification)]);
            }
            DialogAction::UpdateScheduledCallback {
                callback_time,
                callback_number,
            } => {
                let mut params = Vec::new();
                if let Some(t) = callback_time {
                    params.push(("callbackTime", t.as_str()));
                }
                if let Some(n) = callback_number {
                    params.push(("callbackNumber", n.as_str()));
                }
                write_params(&mut w, &params);
            }
            DialogAction::UpdateCallData {
                call_variables,
                wrap_up_reason,
            } => {
                w.open("mediaProperties");
                w.leaf_opt("wrapUpReason", wrap_up_reason.as_deref());
                if !call_variables.is_empty() {
                    w.open("callvariables");
                    for v in call_variables {
                        v.write(&mut w);
                    }
                    w.close("callvariables");
                }
                w.close("mediaProperties");
            }
            _ => {}
        }
        w.close("Dialog");
        w.finish()
    }

    /// Parses a `<Dialog>` request body; a missing parameter is an error naming it.
    pub fn from_xml(xml: &str) -> Result<DialogRequest, Error> {
        let mut r = XmlReader::new(xml);
        let root = expect_root(&mut r, b"dialog", "<Dialog>")?;
        let mut action = None;
        let mut target = None;
        let mut to_address = None;
        let mut params: Vec<(String, String)> = Vec::new();
        let mut call_variables = Vec::new();
        let mut wrap_up_reason = None;
        while let Some(c) = r.child(&root)? {
            match c.name().as_bytes() {
                b"requestedaction" => action = r.opt(&c)?,
                b"targetmediaaddress" => target = r.opt(&c)?,
                b"toaddress" => to_address = r.opt(&c)?,
                b"actionparams" => params.extend(read_params(&mut r, &c)?),
                b"mediaproperties" => {
                    while let Some(m) = r.child(&c)? {
                        match m.name().as_bytes() {
                            b"wrapupreason" => wrap_up_reason = r.opt(&m)?,
                            b"callvariables" => {
                                call_variables.extend(CallVariable::read_list(&mut r, &m)?);
                            }
                            _ => r.skip(&m)?,
                        }
                    }
                }
                _ => r.skip(&c)?,
            }
        }
        r.finish()?;
        let action = action.ok_or(Error::Missing {
            element: "requestedAction",
            parent: "Dialog",
        })?;
        let param = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let need_to = |to: Option<String>| {
            to.ok_or(Error::Missing {
                element: "toAddress",
                parent: "Dialog",
            })
        };
        let action = match Action::parse(&action) {
            Action::Answer => DialogAction::Answer,
            Action::Hold => DialogAction::Hold,
            Action::Retrieve => DialogAction::Retrieve,
            Action::Drop => DialogAction::Drop,
            Action::Accept => DialogAction::Accept,
            Action::Reject => DialogAction::Reject,
            Action::Close => DialogAction::Close,
            Action::Transfer => DialogAction::Transfer,
            Action::Conference => DialogAction::Conference,
            Action::CancelScheduledCallback => DialogAction::CancelScheduledCallback,
            Action::StartRecording => DialogAction::StartRecording,
            Action::ParticipantDrop => DialogAction::ParticipantDrop,
            Action::TransferSst => DialogAction::TransferSst {
                to_address: need_to(to_address)?,
            },
            Action::ConsultCall => DialogAction::ConsultCall {
                to_address: need_to(to_address)?,
            },
            Action::SendDtmf => DialogAction::SendDtmf {
                dtmf: param("dtmfString").ok_or(Error::Missing {
                    element: "actionParams/dtmfString",
                    parent: "Dialog",
                })?,
            },
            Action::Reclassify => DialogAction::Reclassify {
                classification: param("outboundClassification").ok_or(Error::Missing {
                    element: "actionParams/outboundClassification",
                    parent: "Dialog",
                })?,
            },
            Action::UpdateScheduledCallback => {
                let callback_time = param("callbackTime");
                let callback_number = param("callbackNumber");
                if callback_time.is_none() && callback_number.is_none() {
                    return Err(Error::Missing {
                        element: "actionParams/callbackTime",
                        parent: "Dialog",
                    });
                }
                DialogAction::UpdateScheduledCallback {
                    callback_time,
                    callback_number,
                }
            }
            Action::UpdateCallData => DialogAction::UpdateCallData {
                call_variables,
                wrap_up_reason,
            },
            other => {
                return Err(Error::invalid(
                    "requestedAction",
                    other.as_str(),
                    "not an action of PUT /finesse/api/Dialog/{id}",
                ));
            }
        };
        Ok(DialogRequest {
            action,
            target_media_address: target,
        })
    }
}

/// The body of `POST /finesse/api/User/{id}/Dialogs` (MAKE_CALL).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MakeCallRequest {
    /// The extension the user is signed in on.
    pub from_address: String,
    /// The number to call.
    pub to_address: String,
    /// Call variables 1-10 and ECC (UCCE only).
    pub call_variables: Vec<CallVariable>,
}

impl MakeCallRequest {
    /// Writes the `<Dialog>` MAKE_CALL body.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::with_capacity(256);
        w.open("Dialog");
        w.leaf("requestedAction", Action::MakeCall.as_str());
        w.leaf("fromAddress", &self.from_address);
        w.leaf("toAddress", &self.to_address);
        if !self.call_variables.is_empty() {
            w.open("mediaProperties");
            w.open("callvariables");
            for v in &self.call_variables {
                v.write(&mut w);
            }
            w.close("callvariables");
            w.close("mediaProperties");
        }
        w.close("Dialog");
        w.finish()
    }

    /// Parses a MAKE_CALL body.
    pub fn from_xml(xml: &str) -> Result<MakeCallRequest, Error> {
        let mut r = XmlReader::new(xml);
        let root = expect_root(&mut r, b"dialog", "<Dialog>")?;
        let mut req = MakeCallRequest::default();
        let mut action = String::new();
        while let Some(c) = r.child(&root)? {
            match c.name().as_bytes() {
                b"requestedaction" => action = r.trimmed(&c)?,
                b"fromaddress" => req.from_address = r.trimmed(&c)?,
                b"toaddress" => req.to_address = r.trimmed(&c)?,
                b"mediaproperties" => {
                    while let Some(m) = r.child(&c)? {
                        if m.name().as_bytes() == b"callvariables" {
                            req.call_variables
                                .extend(CallVariable::read_list(&mut r, &m)?);
                        } else {
                            r.skip(&m)?;
                        }
                    }
                }
                _ => r.skip(&c)?,
            }
        }
        r.finish()?;
        if Action::parse(&action) != Action::MakeCall {
            return Err(Error::invalid(
                "requestedAction",
                &action,
                "POST /finesse/api/User/{id}/Dialogs takes MAKE_CALL",
            ));
        }
        for (value, element) in [
            (&req.from_address, "fromAddress"),
            (&req.to_address, "toAddress"),
        ] {
            if value.is_empty() {
                return Err(Error::Missing {
                    element,
                    parent: "Dialog",
                });
            }
        }
        Ok(req)
    }
}

/// The body of `PUT /finesse/api/User/{id}`: sign in, state change, sign out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserRequest {
    /// LOGIN, READY, NOT_READY, LOGOUT.
    pub state: UserState,
    /// Reason code id for NOT_READY / LOGOUT.
    pub reason_code_id: Option<String>,
    /// Extension, for LOGIN.
    pub extension: Option<String>,
}

impl UserRequest {
    /// Writes the `<User>` request body.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::with_capacity(128);
        w.open("User");
        w.leaf("state", self.state.as_str());
        w.leaf_opt("extension", self.extension.as_deref());
        w.leaf_opt("reasonCodeId", self.reason_code_id.as_deref());
        w.close("User");
        w.finish()
    }

    /// Parses a `<User>` request body.
    pub fn from_xml(xml: &str) -> Result<UserRequest, Error> {
        let mut r = XmlReader::new(xml);
        let root = expect_root(&mut r, b"user", "<User>")?;
        let mut req = UserRequest::default();
        let mut state = String::new();
        while let Some(c) = r.child(&root)? {
            match c.name().as_bytes() {
                b"state" => state = r.trimmed(&c)?,
                b"reasoncodeid" => req.reason_code_id = r.opt(&c)?,
                b"extension" => req.extension = r.opt(&c)?,
                _ => r.skip(&c)?,
            }
        }
        r.finish()?;
        if state.is_empty() {
            return Err(Error::Missing {
                element: "state",
                parent: "User",
            });
        }
        req.state = UserState::parse(&state);
        Ok(req)
    }
}

fn expect_root<'a>(
    r: &mut XmlReader<'a>,
    name: &[u8],
    expected: &'static str,
) -> Result<Elem<'a>, Error> {
    let root = r.root()?;
    if root.name().as_bytes() != name {
        return Err(Error::UnexpectedRoot {
            expected,
            found: root.raw_name(),
        });
    }
    Ok(root)
}

fn write_params(w: &mut XmlWriter, params: &[(&str, &str)]) {
    w.open("actionParams");
    for (name, value) in params {
        w.open("ActionParam");
        w.leaf("name", name);
        w.leaf("value", value);
        w.close("ActionParam");
    }
    w.close("actionParams");
}

fn read_params<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    while let Some(p) = r.child(el)? {
        if p.name().as_bytes() != b"actionparam" {
            r.skip(&p)?;
            continue;
        }
        let (mut name, mut value) = (String::new(), String::new());
        while let Some(c) = r.child(&p)? {
            match c.name().as_bytes() {
                b"name" => name = r.trimmed(&c)?,
                b"value" => value = r.trimmed(&c)?,
                _ => r.skip(&c)?,
            }
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
    Ok(out)
}
