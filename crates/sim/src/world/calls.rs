//! Calls arriving and placed: the scenario's calls (`start_call`), MAKE_CALL, a party leaving,
//! and the `actions` every participant is offered (Finesse Web Services Developer Guide:
//! Dialog API, call types and BAStatus).

use std::collections::BTreeSet;

use switchboard_finesse::{
    Action, ApiError, CallType, CallVariable, Dialog, DialogState, MakeCallRequest,
    MediaProperties, Participant, ParticipantState, UpdateEvent, UserState,
};

use super::{ApiFailure, Call, CallKind, CallOptions, Outgoing, Role, World, dialog_uri, now_iso};

const OUTBOUND_ACTIVE: &[Action] = &[
    Action::TransferSst,
    Action::ConsultCall,
    Action::Hold,
    Action::UpdateCallData,
    Action::SendDtmf,
    Action::Drop,
    Action::UpdateScheduledCallback,
];

const ACTIVE: &[Action] = &[
    Action::TransferSst,
    Action::ConsultCall,
    Action::Hold,
    Action::UpdateCallData,
    Action::SendDtmf,
    Action::Drop,
];

impl World {
    /// Recomputes every participant's `actions` of every call.
    pub(super) fn refresh_actions(&mut self) {
        let held: BTreeSet<String> = self
            .calls
            .values()
            .flat_map(|c| {
                c.dialog
                    .participants
                    .iter()
                    .filter(|p| p.state == ParticipantState::Held)
                    .map(|p| p.media_address.clone())
            })
            .collect();
        let consulting: BTreeSet<String> = self
            .calls
            .values()
            .filter(|c| c.role == Role::Consult)
            .filter_map(|c| c.dialog.from_address.clone())
            .collect();
        for call in self.calls.values_mut() {
            let role = call.role;
            let scheduled = call.dialog.scheduled_callback_info.is_some();
            let two_parties_active = call
                .dialog
                .participants
                .iter()
                .filter(|p| p.state == ParticipantState::Active)
                .count()
                >= 2;
            for p in &mut call.dialog.participants {
                if p.media_address_type.as_deref() != Some("AGENT_DEVICE") {
                    p.actions.clear();
                    continue;
                }
                let in_consult =
                    consulting.contains(&p.media_address) && held.contains(&p.media_address);
                p.actions = match (&p.state, role) {
                    (ParticipantState::Alerting, Role::Reservation) => {
                        vec![Action::Accept, Action::Reject, Action::Close]
                    }
                    (ParticipantState::Alerting, _) => vec![Action::Answer],
                    (ParticipantState::Initiating | ParticipantState::Initiated, _) => {
                        vec![Action::Drop]
                    }
                    (ParticipantState::Active, _) if in_consult && two_parties_active => vec![
                        Action::Transfer,
                        Action::Conference,
                        Action::Hold,
                        Action::UpdateCallData,
                        Action::SendDtmf,
                        Action::Drop,
                    ],
                    (ParticipantState::Active, Role::Outbound) => {
                        let mut a = OUTBOUND_ACTIVE.to_vec();
                        if scheduled {
                            a.push(Action::CancelScheduledCallback);
                        }
                        a
                    }
                    (ParticipantState::Active, _) => ACTIVE.to_vec(),
                    (ParticipantState::Held, _) => {
                        let mut a = vec![Action::Retrieve, Action::UpdateCallData, Action::Drop];
                        if in_consult {
                            a = vec![
                                Action::Transfer,
                                Action::Conference,
                                Action::UpdateCallData,
                                Action::Drop,
                            ];
                        }
                        if role == Role::Outbound {
                            a.push(Action::UpdateScheduledCallback);
                            if scheduled {
                                a.push(Action::CancelScheduledCallback);
                            }
                        }
                        a
                    }
                    _ => Vec::new(),
                };
            }
        }
    }

    /// Starts a call of `kind` at `agent`, who must be signed in and READY.
    /// Returns the new dialog id.
    pub fn start_call(
        &mut self,
        agent: &str,
        kind: CallKind,
        opts: &CallOptions,
    ) -> Result<(String, Vec<Outgoing>), ApiFailure> {
        let a = self.agent(agent)?;
        let ext = a.user.extension.clone().ok_or_else(|| {
            ApiFailure::new(409, "Invalid State", "agent is not signed in", Some(agent))
        })?;
        if a.user.state != UserState::Ready {
            return Err(ApiFailure::new(
                409,
                "Invalid State",
                "agent is not READY",
                Some(a.user.state.as_str()),
            ));
        }
        let id = self.next_dialog_id();
        let customer = opts
            .customer_number
            .clone()
            .unwrap_or_else(|| format!("617555{:04}", self.next_id % 10_000));
        let campaign = opts.campaign.clone().unwrap_or_else(|| "Renewals".into());
        let now = now_iso();
        let blended = if opts.blended { "BLENDED_" } else { "" };
        let mut vars: Vec<CallVariable> = (1..=10)
            .map(|i| CallVariable {
                name: format!("callVariable{i}"),
                value: opts
                    .call_variables
                    .get(&format!("callVariable{i}"))
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect();
        vars.extend(
            opts.call_variables
                .iter()
                .filter(|(k, _)| !k.starts_with("callVariable"))
                .map(|(k, v)| CallVariable {
                    name: k.clone(),
                    value: v.clone(),
                }),
        );
        let (call_type, ba_status, role, from, state) = match kind {
            CallKind::Inbound => (
                CallType::AcdIn,
                None,
                Role::Inbound,
                customer.clone(),
                UserState::Reserved,
            ),
            CallKind::Preview => (
                CallType::OutboundPreview,
                Some(format!("{blended}PREVIEW_OUTBOUND_RESERVATION")),
                Role::Reservation,
                "7001".to_owned(),
                UserState::ReservedOutboundPreview,
            ),
            CallKind::DirectPreview => (
                CallType::OutboundDirectPreview,
                Some(format!("{blended}DIRECT_PREVIEW_OUTBOUND_RESERVATION")),
                Role::Reservation,
                "7001".to_owned(),
                UserState::ReservedOutboundPreview,
            ),
            CallKind::CallbackPreview => (
                CallType::OutboundCallbackPreview,
                Some(format!("{blended}PREVIEW_OUTBOUND_RESERVATION")),
                Role::Reservation,
                "7001".to_owned(),
                UserState::ReservedOutboundPreview,
            ),
            CallKind::Progressive => (
                CallType::Outbound,
                Some(format!("{blended}PROGRESSIVE_OUTBOUND")),
                Role::Outbound,
                ext.clone(),
                UserState::ReservedOutbound,
            ),
            CallKind::Predictive => (
                CallType::Outbound,
                Some(format!("{blended}PREDICTIVE_OUTBOUND")),
                Role::Outbound,
                ext.clone(),
                UserState::ReservedOutbound,
            ),
        };
        if let Some(status) = &ba_status {
            for (name, value) in [
                ("BACampaign", campaign.clone()),
                ("BAStatus", status.clone()),
                ("BAResponse", String::new()),
                ("BAAccountNumber", format!("ACC-{id}")),
                ("BADialedListID", "2071".into()),
                ("BATimeZone", "-00300".into()),
                ("BABuddyName", "Customer,Simulated".into()),
                ("BACustomerNumber", customer.clone()),
            ] {
                vars.push(CallVariable {
                    name: name.into(),
                    value,
                });
            }
        }
        let (dialed, to) = match role {
            Role::Outbound => (customer.clone(), customer.clone()),
            Role::Inbound => ("8005550100".to_owned(), ext.clone()),
            _ => (ext.clone(), ext.clone()),
        };
        let mut participants = vec![Participant {
            actions: Vec::new(),
            media_address: ext.clone(),
            media_address_type: Some("AGENT_DEVICE".into()),
            start_time: Some(now.clone()),
            state: ParticipantState::Alerting,
            state_cause: None,
            state_change_time: Some(now.clone()),
        }];
        if role != Role::Reservation {
            participants.push(Participant {
                actions: Vec::new(),
                media_address: customer.clone(),
                media_address_type: None,
                start_time: Some(now.clone()),
                state: if role == Role::Inbound {
                    ParticipantState::Initiated
                } else {
                    ParticipantState::Active
                },
                state_cause: None,
                state_change_time: Some(now.clone()),
            });
        }
        let dialog = Dialog {
            id: id.clone(),
            uri: Some(dialog_uri(&id)),
            associated_dialog_uri: None,
            secondary_id: None,
            media_type: Some("Voice".into()),
            from_address: Some(from),
            to_address: Some(to),
            callback_number: None,
            state: DialogState::Alerting,
            media_properties: MediaProperties {
                media_id: Some("1".into()),
                dialed_number: Some(dialed.clone()),
                call_type: Some(call_type),
                dnis: Some(dialed),
                queue_number: Some(if ba_status.is_some() { "5620" } else { "5010" }.into()),
                queue_name: Some(if ba_status.is_some() {
                    campaign.clone()
                } else {
                    "Support".into()
                }),
                call_key_call_id: Some((self.next_id % 1000).to_string()),
                call_key_sequence_num: Some("1".into()),
                call_key_prefix: Some("153001".into()),
                call_variables: vars,
                ..MediaProperties::default()
            },
            participants,
            scheduled_callback_info: None,
        };
        self.calls.insert(
            id.clone(),
            Call {
                dialog,
                role,
                kind: Some(kind),
                consult_of: None,
            },
        );
        self.refresh_actions();
        self.set_state(agent, state, None);
        let mut out = Vec::new();
        self.notify_user(&mut out, agent, None);
        let dialog = self.calls[&id].dialog.clone();
        self.notify_dialogs(&mut out, agent, UpdateEvent::Post, &dialog, None);
        debug_assert!(kind.is_reservation() == (role == Role::Reservation));
        Ok((id, out))
    }

    /// `POST /finesse/api/User/{user}/Dialogs` (MAKE_CALL, Finesse Developer Guide: Dialog: make a
    /// call).
    pub fn make_call(
        &mut self,
        user: &str,
        req: &MakeCallRequest,
        request_id: Option<&str>,
    ) -> Result<Vec<Outgoing>, ApiFailure> {
        let ext = self.agent(user)?.user.extension.clone().ok_or_else(|| {
            ApiFailure::new(400, "Invalid State", "user is not signed in", Some(user))
        })?;
        if req.from_address != ext {
            return Err(ApiFailure::invalid(
                "fromAddress is not the user's extension",
                Some(&req.from_address),
            ));
        }
        if req.to_address == req.from_address {
            return Err(ApiFailure::new(
                400,
                "Invalid Destination",
                "toAddress equals fromAddress",
                Some(&req.to_address),
            ));
        }
        if req.call_variables.iter().any(|v| v.name.starts_with("BA")) {
            return Err(ApiFailure::invalid(
                "BA variables may not be set on MAKE_CALL",
                None,
            ));
        }
        let mut out = Vec::new();
        if self.calls_of(user) > 0 {
            self.notify_cti_error(
                &mut out,
                user,
                format!("/finesse/api/User/{user}/Dialogs"),
                request_id,
                ApiError {
                    error_type: "Invalid State".into(),
                    error_message: "CF_INVALID_AGENT_STATE".into(),
                    error_data: Some("4047".into()),
                },
            );
            return Ok(out);
        }
        let id = self.next_dialog_id();
        let now = now_iso();
        let target_agent = self.agent_on(&req.to_address).map(str::to_owned);
        let mut vars: Vec<CallVariable> = req.call_variables.clone();
        if vars.is_empty() {
            vars = (1..=10)
                .map(|i| CallVariable {
                    name: format!("callVariable{i}"),
                    value: String::new(),
                })
                .collect();
        }
        let agent_participant = |address: &str, state: ParticipantState| Participant {
            actions: Vec::new(),
            media_address: address.to_owned(),
            media_address_type: Some("AGENT_DEVICE".into()),
            start_time: Some(now.clone()),
            state,
            state_cause: None,
            state_change_time: Some(now.clone()),
        };
        let mut participants = vec![agent_participant(&ext, ParticipantState::Initiated)];
        participants.push(match &target_agent {
            Some(_) => agent_participant(&req.to_address, ParticipantState::Alerting),
            None => Participant {
                media_address_type: None,
                ..agent_participant(&req.to_address, ParticipantState::Alerting)
            },
        });
        let dialog = Dialog {
            id: id.clone(),
            uri: Some(dialog_uri(&id)),
            media_type: Some("Voice".into()),
            from_address: Some(ext.clone()),
            to_address: Some(req.to_address.clone()),
            state: DialogState::Initiated,
            media_properties: MediaProperties {
                media_id: Some("1".into()),
                dialed_number: Some(req.to_address.clone()),
                call_type: Some(if target_agent.is_some() {
                    CallType::AgentInside
                } else {
                    CallType::AgentOut
                }),
                dnis: Some(req.to_address.clone()),
                call_variables: vars,
                ..MediaProperties::default()
            },
            participants,
            ..Dialog::default()
        };
        self.calls.insert(
            id.clone(),
            Call {
                dialog,
                role: Role::AgentCall,
                kind: None,
                consult_of: None,
            },
        );
        self.refresh_actions();
        let posted = self.calls[&id].dialog.clone();
        self.notify_dialogs(&mut out, user, UpdateEvent::Post, &posted, request_id);
        if let Some(target) = target_agent {
            // Ringing at another agent: it answers with ANSWER.
            self.notify_dialogs(&mut out, &target, UpdateEvent::Post, &posted, None);
            if self.agents[&target].user.state == UserState::Ready {
                self.set_state(&target, UserState::Reserved, None);
                self.notify_user(&mut out, &target, None);
            }
        } else {
            // An external party answers at once.
            self.connect_all(&id);
            self.refresh_actions();
            self.refresh_state(user);
            self.notify_user(&mut out, user, request_id);
            self.notify_dialog_put(&mut out, &id, request_id);
        }
        Ok(out)
    }

    /// Every participant of `id` ACTIVE, the dialog ACTIVE.
    pub(super) fn connect_all(&mut self, id: &str) {
        let now = now_iso();
        if let Some(call) = self.calls.get_mut(id) {
            call.dialog.state = DialogState::Active;
            for p in &mut call.dialog.participants {
                if p.state != ParticipantState::Active {
                    p.state = ParticipantState::Active;
                    p.state_change_time = Some(now.clone());
                }
            }
        }
    }

    pub(super) fn set_participant(&mut self, id: &str, ext: &str, state: ParticipantState) {
        let now = now_iso();
        if let Some(p) = self.calls.get_mut(id).and_then(|c| {
            c.dialog
                .participants
                .iter_mut()
                .find(|p| p.media_address == ext)
        }) {
            p.state = state;
            p.state_change_time = Some(now);
        }
    }

    pub(super) fn set_variable(&mut self, id: &str, name: &str, value: &str) {
        if let Some(call) = self.calls.get_mut(id) {
            let vars = &mut call.dialog.media_properties.call_variables;
            match vars.iter_mut().find(|v| v.name == name) {
                Some(v) => v.value = value.to_owned(),
                None => vars.push(CallVariable {
                    name: name.into(),
                    value: value.into(),
                }),
            }
        }
    }

    /// Removes the agent on `ext` from dialog `id`: the agent gets the final
    /// Dialog PUT and a Dialogs DELETE; the call ends when fewer than two parties remain.
    pub(super) fn leave(
        &mut self,
        out: &mut Vec<Outgoing>,
        id: &str,
        ext: &str,
        request_id: Option<&str>,
    ) {
        let Some(agent) = self.agent_on(ext).map(str::to_owned) else {
            return;
        };
        self.set_participant(id, ext, ParticipantState::Dropped);
        let remaining = self.calls.get(id).map_or(0, |c| {
            c.dialog
                .participants
                .iter()
                .filter(|p| p.state != ParticipantState::Dropped)
                .count()
        });
        if remaining < 2 {
            let now = now_iso();
            if let Some(call) = self.calls.get_mut(id) {
                call.dialog.state = DialogState::Dropped;
                for p in &mut call.dialog.participants {
                    if p.state != ParticipantState::Dropped {
                        p.state = ParticipantState::Dropped;
                        p.state_change_time = Some(now.clone());
                    }
                }
            }
        }
        self.refresh_actions();
        self.notify_dialog_put(out, id, request_id);
        let Some(call) = self.calls.get(id) else {
            return;
        };
        let dialog = call.dialog.clone();
        let everyone = self.agents_in(&dialog);
        if remaining < 2 {
            self.calls.remove(id);
            for a in everyone {
                self.notify_dialogs(out, &a, UpdateEvent::Delete, &dialog, request_id);
            }
        } else {
            if let Some(call) = self.calls.get_mut(id) {
                call.dialog.participants.retain(|p| p.media_address != ext);
            }
            self.notify_dialogs(out, &agent, UpdateEvent::Delete, &dialog, request_id);
            // The parties still on the call see it without the one who left.
            self.refresh_actions();
            self.notify_dialog_put(out, id, request_id);
        }
        self.refresh_actions();
        // Everyone whose call just ended goes to wrap-up or READY.
        let affected: Vec<String> = self
            .agents
            .values()
            .filter(|a| {
                a.user.extension.is_some()
                    && matches!(
                        a.user.state,
                        UserState::Talking
                            | UserState::Hold
                            | UserState::Reserved
                            | UserState::ReservedOutbound
                            | UserState::ReservedOutboundPreview
                    )
            })
            .map(|a| a.config.id.clone())
            .collect();
        for a in affected {
            if self.calls_of(&a) == 0 || a == agent {
                self.call_ended(out, &a, request_id);
            }
        }
    }
}
