//! Dialog actions (`PUT /finesse/api/Dialog/{id}`): who may act, the CTI errors of a refused
//! action, and each action's effect, transfer, consult and conference included (Finesse Web
//! Services Developer Guide: Dialog actions).

use switchboard_finesse::{
    ApiError, CallType, CallVariable, Dialog, DialogAction, DialogRequest, DialogState,
    MediaProperties, Node, Participant, ParticipantState, ScheduledCallbackInfo, Update,
    UpdateData, UpdateEvent, UserState,
};

use super::{ApiFailure, Call, Outgoing, Role, World, dialog_uri, now_iso};

/// `YYYY-MM-DDTHH:MM` (Finesse Developer Guide: scheduled callback).
fn valid_callback_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    b.len() == 16
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
        && num(11..13) < 24
        && num(14..16) < 60
}

impl World {
    /// `PUT /finesse/api/Dialog/{id}` by `actor` (Finesse Developer Guide: Dialog actions).
    ///
    /// A request that does not read, or an actor who may not act on the dialog, is refused
    /// synchronously; an action the target participant is not offered (or a scenario's
    /// planned failure) is accepted and answered with a CTI error notification.
    pub fn dialog_action(
        &mut self,
        id: &str,
        actor: &str,
        req: &DialogRequest,
        request_id: Option<&str>,
    ) -> Result<Vec<Outgoing>, ApiFailure> {
        let target = self.action_target(id, actor, req)?;
        // The agent on the target (a supervisor may act on a participant): its CTI errors and
        // state changes.
        let agent = self.agent_on(&target).unwrap_or(actor).to_owned();
        let mut out = Vec::new();
        if let Some(error) = self.refusal(id, &agent, &target, &req.action) {
            self.notify_cti_error(&mut out, &agent, dialog_uri(id), request_id, error);
            return Ok(out);
        }
        self.perform(&mut out, id, &agent, &target, &req.action, request_id)?;
        Ok(out)
    }

    /// The synchronous checks of a dialog action: the dialog exists, the actor is signed in and
    /// a participant (or a supervisor), the request reads. Returns the target's extension.
    fn action_target(
        &self,
        id: &str,
        actor: &str,
        req: &DialogRequest,
    ) -> Result<String, ApiFailure> {
        let call = self
            .calls
            .get(id)
            .ok_or_else(|| ApiFailure::dialog_not_found(id))?;
        let actor_ext = self
            .extension_of(actor)
            .ok_or_else(|| ApiFailure::not_authorized(actor))?;
        let target = match &req.target_media_address {
            Some(t) => t.clone(),
            None if matches!(req.action, DialogAction::UpdateCallData { .. }) => {
                actor_ext.to_owned()
            }
            None => {
                return Err(ApiFailure::new(
                    400,
                    "Parameter Missing",
                    "targetMediaAddress",
                    Some("targetMediaAddress"),
                ));
            }
        };
        let is_participant = call.dialog.participant(actor_ext).is_some();
        let supervisor = self
            .agents
            .get(actor)
            .is_some_and(|a| !a.config.supervised_teams.is_empty());
        if !is_participant && !supervisor {
            return Err(ApiFailure::not_authorized(actor));
        }
        if let DialogAction::UpdateScheduledCallback {
            callback_time: Some(t),
            ..
        } = &req.action
            && !valid_callback_time(t)
        {
            return Err(ApiFailure::invalid(
                "callbackTime must be YYYY-MM-DDTHH:MM",
                Some(t),
            ));
        }
        Ok(target)
    }

    /// The CTI error of an action the target is not offered, or of the failure a scenario
    /// planned for `agent` (consumed here); `None` if the action goes ahead.
    fn refusal(
        &mut self,
        id: &str,
        agent: &str,
        target: &str,
        action: &DialogAction,
    ) -> Option<ApiError> {
        let call = &self.calls[id];
        let name = action.action();
        let allowed = call
            .dialog
            .participant(target)
            .is_some_and(|p| p.allows(&name))
            || (matches!(action, DialogAction::Reclassify { .. }) && call.role == Role::Outbound);
        if !allowed {
            return Some(ApiError {
                error_type: "Generic Error".into(),
                error_message: format!("INVALID_ACTION {} on extension {target}", name.as_str()),
                error_data: Some("4047".into()),
            });
        }
        if self.fail_next.remove(agent) {
            return Some(ApiError {
                error_type: "Call Operation Failure".into(),
                error_message: "CF_RESOURCE_OUT_OF_SERVICE".into(),
                error_data: Some("34".into()),
            });
        }
        None
    }

    /// An accepted action's effect on dialog `id`: `agent` acts through its extension `target`.
    fn perform(
        &mut self,
        out: &mut Vec<Outgoing>,
        id: &str,
        agent: &str,
        target: &str,
        action: &DialogAction,
        request_id: Option<&str>,
    ) -> Result<(), ApiFailure> {
        match action {
            DialogAction::Answer => self.answer(out, id, request_id),
            DialogAction::Hold => {
                self.hold_or_retrieve(out, id, agent, target, ParticipantState::Held, request_id)
            }
            DialogAction::Retrieve => {
                self.hold_or_retrieve(out, id, agent, target, ParticipantState::Active, request_id)
            }
            DialogAction::Drop => self.leave(out, id, target, request_id),
            DialogAction::Accept => self.accept_reservation(out, id, agent, target, request_id),
            DialogAction::Reject => self.end_reservation(out, id, agent, "Reject", request_id),
            DialogAction::Close => self.end_reservation(out, id, agent, "Reject-Close", request_id),
            DialogAction::TransferSst { to_address } => {
                self.blind_transfer(out, id, target, to_address, request_id)
            }
            DialogAction::ConsultCall { to_address } => {
                self.consult(out, id, agent, target, to_address, request_id)?
            }
            DialogAction::Transfer => {
                self.complete_consult(out, id, agent, target, true, request_id)
            }
            DialogAction::Conference => {
                self.complete_consult(out, id, agent, target, false, request_id)
            }
            DialogAction::UpdateCallData {
                call_variables,
                wrap_up_reason,
            } => self.update_call_data(
                out,
                id,
                call_variables,
                wrap_up_reason.as_deref(),
                request_id,
            )?,
            DialogAction::UpdateScheduledCallback {
                callback_time,
                callback_number,
            } => self.update_scheduled_callback(
                out,
                id,
                callback_time.as_deref(),
                callback_number.as_deref(),
                request_id,
            ),
            DialogAction::CancelScheduledCallback => {
                if let Some(call) = self.calls.get_mut(id) {
                    call.dialog.scheduled_callback_info = None;
                }
                self.set_variable(id, "BAResponse", "");
                self.refresh_actions();
                self.notify_dialog_put(out, id, request_id);
            }
            DialogAction::Reclassify { classification } => {
                if let Some(call) = self.calls.get_mut(id) {
                    call.dialog.media_properties.outbound_classification =
                        Some(classification.clone());
                }
                self.set_variable(id, "BAResponse", &format!("REX_{classification}"));
                self.notify_dialog_put(out, id, request_id);
            }
            DialogAction::SendDtmf { .. }
            | DialogAction::StartRecording
            | DialogAction::ParticipantDrop => {}
        }
        Ok(())
    }

    /// ANSWER: every party connected, every agent on the call TALKING.
    fn answer(&mut self, out: &mut Vec<Outgoing>, id: &str, request_id: Option<&str>) {
        self.connect_all(id);
        self.refresh_actions();
        let everyone = self.agents_in(&self.calls[id].dialog.clone());
        for a in &everyone {
            self.refresh_state(a);
        }
        self.notify_dialog_put(out, id, request_id);
        for a in &everyone {
            self.notify_user(out, a, request_id);
        }
    }

    /// HOLD (`state` HELD) or RETRIEVE (`state` ACTIVE) of the participant on `target`.
    fn hold_or_retrieve(
        &mut self,
        out: &mut Vec<Outgoing>,
        id: &str,
        agent: &str,
        target: &str,
        state: ParticipantState,
        request_id: Option<&str>,
    ) {
        self.set_participant(id, target, state);
        self.refresh_actions();
        self.refresh_state(agent);
        self.notify_dialog_put(out, id, request_id);
        self.notify_user(out, agent, request_id);
    }

    /// REJECT or CLOSE of a preview reservation: it is removed with `response` as its
    /// BAResponse, and the agent is READY again.
    fn end_reservation(
        &mut self,
        out: &mut Vec<Outgoing>,
        id: &str,
        agent: &str,
        response: &str,
        request_id: Option<&str>,
    ) {
        self.set_variable(id, "BAResponse", response);
        if let Some(dialog) = self.calls.remove(id).map(|c| c.dialog) {
            self.notify_dialogs(out, agent, UpdateEvent::Delete, &dialog, request_id);
        }
        self.set_state(agent, UserState::Ready, None);
        self.notify_user(out, agent, request_id);
    }

    /// UPDATE_CALL_DATA: call variables (never the protected `BA*`) and the wrap-up reason.
    fn update_call_data(
        &mut self,
        out: &mut Vec<Outgoing>,
        id: &str,
        call_variables: &[CallVariable],
        wrap_up_reason: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<(), ApiFailure> {
        if let Some(v) = call_variables.iter().find(|v| v.name.starts_with("BA")) {
            return Err(ApiFailure::invalid(
                "Call Variable is protected",
                Some(&v.name),
            ));
        }
        for v in call_variables {
            self.set_variable(id, &v.name, &v.value);
        }
        if let Some(reason) = wrap_up_reason
            && let Some(call) = self.calls.get_mut(id)
        {
            call.dialog.media_properties.wrap_up_reason = Some(reason.to_owned());
        }
        self.notify_dialog_put(out, id, request_id);
        Ok(())
    }

    /// UPDATE_SCHEDULED_CALLBACK: the callback's time and number, and the BAResponse that
    /// says so.
    fn update_scheduled_callback(
        &mut self,
        out: &mut Vec<Outgoing>,
        id: &str,
        callback_time: Option<&str>,
        callback_number: Option<&str>,
        request_id: Option<&str>,
    ) {
        if let Some(call) = self.calls.get_mut(id) {
            let info = call
                .dialog
                .scheduled_callback_info
                .get_or_insert_with(ScheduledCallbackInfo::default);
            if let Some(t) = callback_time {
                info.callback_time = Some(t.to_owned());
            }
            if let Some(n) = callback_number {
                info.callback_number = Some(n.to_owned());
            }
        }
        if let Some(t) = callback_time {
            // BAResponse "Callback mmddyyyy hh:mm" (Cisco's outbound ECC convention).
            let response = format!(
                "Callback {}{}{} {}",
                &t[5..7],
                &t[8..10],
                &t[0..4],
                &t[11..16]
            );
            self.set_variable(id, "BAResponse", &response);
        }
        self.refresh_actions();
        self.notify_dialog_put(out, id, request_id);
    }

    /// ACCEPT of a preview reservation: the reservation is ACCEPTED and removed,
    /// and the customer call arrives as an OUTBOUND dialog (Finesse Developer Guide: Outbound
    /// Option preview reservation).
    fn accept_reservation(
        &mut self,
        out: &mut Vec<Outgoing>,
        id: &str,
        agent: &str,
        ext: &str,
        request_id: Option<&str>,
    ) {
        self.set_participant(id, ext, ParticipantState::Accepted);
        self.set_variable(id, "BAResponse", "Accept");
        let Some(mut call) = self.calls.remove(id) else {
            return;
        };
        call.dialog.state = DialogState::Accepted;
        for p in &mut call.dialog.participants {
            p.actions.clear();
        }
        let reservation = call.dialog.clone();
        // Dialog PUT (ACCEPTED), then Dialogs DELETE of the reservation.
        out.push(Outgoing {
            node: Node::Dialogs(agent.to_owned()),
            update: Update {
                event: UpdateEvent::Put,
                request_id: request_id.map(str::to_owned),
                source: dialog_uri(id),
                data: UpdateData::Dialog(Box::new(reservation.clone())),
            },
        });
        self.notify_dialogs(out, agent, UpdateEvent::Delete, &reservation, request_id);
        // The customer call: Dialogs POST (INITIATED), User TALKING, Dialog PUT (ACTIVE).
        let new_id = self.next_dialog_id();
        let now = now_iso();
        let customer = reservation
            .call_variable("BACustomerNumber")
            .unwrap_or("6175550000")
            .to_owned();
        let mut dialog = reservation;
        dialog.id = new_id.clone();
        dialog.uri = Some(dialog_uri(&new_id));
        dialog.state = DialogState::Initiated;
        dialog.from_address = Some(ext.to_owned());
        dialog.to_address = Some(customer.clone());
        let media = &mut dialog.media_properties;
        media.call_type = Some(CallType::Outbound);
        media.dialed_number = Some(customer.clone());
        media.dnis = Some(customer.clone());
        for v in &mut media.call_variables {
            if v.name == "BAStatus" {
                v.value = v.value.trim_end_matches("_RESERVATION").to_owned();
            }
        }
        dialog.participants = vec![
            Participant {
                actions: Vec::new(),
                media_address: ext.to_owned(),
                media_address_type: Some("AGENT_DEVICE".into()),
                start_time: Some(now.clone()),
                state: ParticipantState::Initiated,
                state_cause: None,
                state_change_time: Some(now.clone()),
            },
            Participant {
                actions: Vec::new(),
                media_address: customer,
                media_address_type: None,
                start_time: Some(now.clone()),
                state: ParticipantState::Alerting,
                state_cause: None,
                state_change_time: Some(now),
            },
        ];
        self.calls.insert(
            new_id.clone(),
            Call {
                dialog,
                role: Role::Outbound,
                kind: call.kind,
                consult_of: None,
            },
        );
        self.refresh_actions();
        let posted = self.calls[&new_id].dialog.clone();
        self.notify_dialogs(out, agent, UpdateEvent::Post, &posted, request_id);
        self.connect_all(&new_id);
        self.refresh_actions();
        self.refresh_state(agent);
        self.notify_user(out, agent, request_id);
        self.notify_dialog_put(out, &new_id, request_id);
    }

    fn blind_transfer(
        &mut self,
        out: &mut Vec<Outgoing>,
        id: &str,
        ext: &str,
        to: &str,
        request_id: Option<&str>,
    ) {
        let target_agent = self.agent_on(to).map(str::to_owned);
        match target_agent {
            Some(target) => {
                let now = now_iso();
                if let Some(call) = self.calls.get_mut(id) {
                    call.dialog.media_properties.call_type = Some(CallType::Transfer);
                    call.dialog.participants.push(Participant {
                        actions: Vec::new(),
                        media_address: to.to_owned(),
                        media_address_type: Some("AGENT_DEVICE".into()),
                        start_time: Some(now.clone()),
                        state: ParticipantState::Alerting,
                        state_cause: None,
                        state_change_time: Some(now),
                    });
                }
                self.leave(out, id, ext, request_id);
                self.refresh_actions();
                if let Some(dialog) = self.calls.get(id).map(|c| c.dialog.clone()) {
                    self.notify_dialogs(out, &target, UpdateEvent::Post, &dialog, None);
                    if self.agents[&target].user.state == UserState::Ready {
                        self.set_state(&target, UserState::Reserved, None);
                        self.notify_user(out, &target, None);
                    }
                }
            }
            // To an outside number: the call leaves the contact center.
            None => self.leave(out, id, ext, request_id),
        }
    }

    fn consult(
        &mut self,
        out: &mut Vec<Outgoing>,
        id: &str,
        agent: &str,
        ext: &str,
        to: &str,
        request_id: Option<&str>,
    ) -> Result<(), ApiFailure> {
        if to == ext {
            return Err(ApiFailure::new(
                400,
                "Invalid Destination",
                "toAddress is the agent's own extension",
                Some(to),
            ));
        }
        self.set_participant(id, ext, ParticipantState::Held);
        let consult_id = self.next_dialog_id();
        let now = now_iso();
        let target_agent = self.agent_on(to).map(str::to_owned);
        let participant = |addr: &str, agent_device: bool, state: ParticipantState| Participant {
            actions: Vec::new(),
            media_address: addr.to_owned(),
            media_address_type: agent_device.then(|| "AGENT_DEVICE".to_owned()),
            start_time: Some(now.clone()),
            state,
            state_cause: None,
            state_change_time: Some(now.clone()),
        };
        let dialog = Dialog {
            id: consult_id.clone(),
            uri: Some(dialog_uri(&consult_id)),
            associated_dialog_uri: Some(dialog_uri(id)),
            media_type: Some("Voice".into()),
            from_address: Some(ext.to_owned()),
            to_address: Some(to.to_owned()),
            state: DialogState::Initiated,
            media_properties: MediaProperties {
                media_id: Some("1".into()),
                dialed_number: Some(to.to_owned()),
                call_type: Some(CallType::Consult),
                dnis: Some(to.to_owned()),
                ..MediaProperties::default()
            },
            participants: vec![
                participant(ext, true, ParticipantState::Initiated),
                participant(to, target_agent.is_some(), ParticipantState::Alerting),
            ],
            ..Dialog::default()
        };
        if let Some(call) = self.calls.get_mut(id) {
            call.dialog.associated_dialog_uri = Some(dialog_uri(&consult_id));
        }
        self.calls.insert(
            consult_id.clone(),
            Call {
                dialog,
                role: Role::Consult,
                kind: None,
                consult_of: Some(id.to_owned()),
            },
        );
        self.refresh_actions();
        self.refresh_state(agent);
        self.notify_dialog_put(out, id, request_id);
        self.notify_user(out, agent, request_id);
        let posted = self.calls[&consult_id].dialog.clone();
        self.notify_dialogs(out, agent, UpdateEvent::Post, &posted, request_id);
        match target_agent {
            Some(target) => {
                self.notify_dialogs(out, &target, UpdateEvent::Post, &posted, None);
                if self.agents[&target].user.state == UserState::Ready {
                    self.set_state(&target, UserState::Reserved, None);
                    self.notify_user(out, &target, None);
                }
            }
            None => {
                self.connect_all(&consult_id);
                self.refresh_actions();
                self.refresh_state(agent);
                self.notify_dialog_put(out, &consult_id, request_id);
                self.notify_dialog_put(out, id, request_id);
            }
        }
        Ok(())
    }

    /// TRANSFER or CONFERENCE, sent on either the original or the consult dialog.
    fn complete_consult(
        &mut self,
        out: &mut Vec<Outgoing>,
        id: &str,
        agent: &str,
        ext: &str,
        transfer: bool,
        request_id: Option<&str>,
    ) {
        let (original, consult) = match self.calls.get(id).and_then(|c| c.consult_of.clone()) {
            Some(orig) => (orig, id.to_owned()),
            None => match self
                .calls
                .values()
                .find(|c| c.consult_of.as_deref() == Some(id))
            {
                Some(c) => (id.to_owned(), c.dialog.id.clone()),
                None => {
                    self.notify_cti_error(
                        out,
                        agent,
                        dialog_uri(id),
                        request_id,
                        ApiError {
                            error_type: "Invalid State".into(),
                            error_message: "No Active call available on agent for TRANSFER".into(),
                            error_data: None,
                        },
                    );
                    return;
                }
            },
        };
        let Some(consult_call) = self.calls.remove(&consult) else {
            return;
        };
        let now = now_iso();
        let others: Vec<Participant> = consult_call
            .dialog
            .participants
            .iter()
            .filter(|p| p.media_address != ext)
            .cloned()
            .collect();
        for a in self.agents_in(&consult_call.dialog) {
            self.notify_dialogs(
                out,
                &a,
                UpdateEvent::Delete,
                &consult_call.dialog,
                request_id,
            );
        }
        if let Some(call) = self.calls.get_mut(&original) {
            call.dialog.secondary_id = Some(consult.clone());
            call.dialog.associated_dialog_uri = None;
            call.dialog.media_properties.call_type = Some(if transfer {
                CallType::Transfer
            } else {
                CallType::Conference
            });
            for mut p in others {
                p.state = ParticipantState::Active;
                p.state_change_time = Some(now.clone());
                call.dialog.participants.push(p);
            }
        }
        let joined: Vec<String> = self
            .agents_in(&consult_call.dialog)
            .into_iter()
            .filter(|a| a != agent)
            .collect();
        self.connect_all(&original);
        self.refresh_actions();
        if let Some(dialog) = self.calls.get(&original).map(|c| c.dialog.clone()) {
            for a in &joined {
                self.notify_dialogs(out, a, UpdateEvent::Post, &dialog, None);
            }
        }
        if transfer {
            self.leave(out, &original, ext, request_id);
        } else {
            self.refresh_state(agent);
            self.notify_dialog_put(out, &original, request_id);
            self.notify_user(out, agent, request_id);
        }
        for a in &joined {
            self.refresh_state(a);
            self.notify_user(out, a, None);
        }
    }
}
