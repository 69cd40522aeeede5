//! Agent state: sign-in and state changes (`PUT /finesse/api/User/{id}`), pending states,
//! wrap-up, and the TALKING/HOLD an agent's calls put it in.

use std::time::Instant;

use switchboard_finesse::{ApiError, ParticipantState, UserRequest, UserState};

use super::{ApiFailure, Outgoing, World, now_iso};

impl World {
    pub(super) fn set_state(&mut self, agent: &str, state: UserState, reason: Option<String>) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.user.state = state;
            a.user.reason_code_id = reason;
            a.user.pending_state = None;
            a.user.state_change_time = Some(now_iso());
            a.wrap_until = None;
            a.not_ready_before_call = false;
        }
    }

    pub(super) fn calls_of(&self, agent: &str) -> usize {
        let Some(ext) = self.extension_of(agent) else {
            return 0;
        };
        self.calls
            .values()
            .filter(|c| c.dialog.participant(ext).is_some())
            .count()
    }

    /// The agent's last call ended: pending state, wrap-up or READY.
    pub(super) fn call_ended(
        &mut self,
        out: &mut Vec<Outgoing>,
        agent: &str,
        request_id: Option<&str>,
    ) {
        if self.calls_of(agent) > 0 {
            self.refresh_state(agent);
            self.notify_user(out, agent, request_id);
            return;
        }
        let Some(a) = self.agents.get(agent) else {
            return;
        };
        let pending = a.user.pending_state.clone();
        let reason = a.user.reason_code_id.clone();
        let not_ready_before = a.not_ready_before_call;
        match pending {
            Some(UserState::NotReady) => self.set_state(agent, UserState::NotReady, reason),
            // Back to the state before the call: NOT_READY, same reason, no wrap-up.
            None if not_ready_before => self.set_state(agent, UserState::NotReady, reason),
            Some(UserState::Logout) => {
                self.set_state(agent, UserState::Logout, reason);
                if let Some(a) = self.agents.get_mut(agent) {
                    a.user.extension = None;
                }
            }
            _ if !self.config.wrap_up.is_zero() => {
                self.set_state(agent, UserState::WorkReady, None);
                if let Some(a) = self.agents.get_mut(agent) {
                    a.wrap_until = Some(Instant::now() + self.config.wrap_up);
                }
            }
            _ => self.set_state(agent, UserState::Ready, None),
        }
        self.notify_user(out, agent, request_id);
    }

    /// TALKING or HOLD from the agent's participants (pending state kept).
    pub(super) fn refresh_state(&mut self, agent: &str) {
        let Some(ext) = self.extension_of(agent) else {
            return;
        };
        let states: Vec<ParticipantState> = self
            .calls
            .values()
            .filter_map(|c| c.dialog.participant(ext).map(|p| p.state.clone()))
            .collect();
        let state = if states.contains(&ParticipantState::Active) {
            UserState::Talking
        } else if states.contains(&ParticipantState::Held) {
            UserState::Hold
        } else {
            return;
        };
        if let Some(a) = self.agents.get_mut(agent)
            && a.user.state != state
        {
            if a.user.state == UserState::NotReady {
                a.not_ready_before_call = true;
            }
            a.user.state = state;
            a.user.state_change_time = Some(now_iso());
        }
    }

    /// `PUT /finesse/api/User/{target}` by `actor` (Finesse Developer Guide: User: sign in and
    /// change state).
    pub fn put_user(
        &mut self,
        target: &str,
        actor: &str,
        req: &UserRequest,
        request_id: Option<&str>,
    ) -> Result<Vec<Outgoing>, ApiFailure> {
        self.agent(target)?;
        if !self.may_act_on_user(actor, target) {
            return Err(ApiFailure::not_authorized(actor));
        }
        let supervisor_acting = actor != target;
        if supervisor_acting
            && (req.reason_code_id.is_some()
                || !matches!(
                    req.state,
                    UserState::Ready | UserState::NotReady | UserState::Logout
                ))
        {
            return Err(ApiFailure::invalid(
                "Supervisors may set READY, NOT_READY or LOGOUT on team members, without a reason code",
                Some(req.state.as_str()),
            ));
        }
        let mut out = Vec::new();
        let current = self.agents[target].user.state.clone();
        let invalid_state = |out: &mut Vec<Outgoing>, world: &World| {
            world.notify_cti_error(
                out,
                target,
                format!("/finesse/api/User/{target}"),
                request_id,
                ApiError {
                    error_type: "Invalid State".into(),
                    error_message: "CF_INVALID_AGENT_WORKMODE".into(),
                    error_data: Some("265".into()),
                },
            );
        };
        match &req.state {
            UserState::Login => {
                let ext = req.extension.as_deref().ok_or_else(|| {
                    ApiFailure::new(400, "Parameter Missing", "extension", Some("extension"))
                })?;
                if ext.is_empty() || ext.len() > 16 || !ext.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ApiFailure::invalid("Invalid extension", Some(ext)));
                }
                if let Some(other) = self.agent_on(ext)
                    && other != target
                {
                    return Err(ApiFailure::invalid("Device Busy", Some(ext)));
                }
                if current == UserState::Logout {
                    self.set_state(target, UserState::NotReady, None);
                }
                if let Some(a) = self.agents.get_mut(target) {
                    a.user.extension = Some(ext.to_owned());
                }
                self.notify_user(&mut out, target, request_id);
            }
            state @ (UserState::Ready | UserState::NotReady | UserState::Logout) => {
                if current == UserState::Logout {
                    if *state == UserState::Logout {
                        self.notify_user(&mut out, target, request_id);
                    } else {
                        invalid_state(&mut out, self);
                    }
                    return Ok(out);
                }
                if self.calls_of(target) > 0 {
                    if let Some(a) = self.agents.get_mut(target) {
                        a.user.pending_state = Some(state.clone());
                        if req.reason_code_id.is_some() {
                            a.user.reason_code_id = req.reason_code_id.clone();
                        }
                    }
                    self.notify_user(&mut out, target, request_id);
                    return Ok(out);
                }
                if *state == UserState::Logout
                    && self.config.deployment_type == "UCCE"
                    && current != UserState::NotReady
                {
                    invalid_state(&mut out, self);
                    return Ok(out);
                }
                let reason = match state {
                    UserState::NotReady if supervisor_acting => Some("999".into()),
                    UserState::Ready => None,
                    _ => req.reason_code_id.clone(),
                };
                self.set_state(target, state.clone(), reason);
                if *state == UserState::Logout
                    && let Some(a) = self.agents.get_mut(target)
                {
                    a.user.extension = None;
                }
                self.notify_user(&mut out, target, request_id);
            }
            other => {
                return Err(ApiFailure::invalid(
                    "state must be LOGIN, READY, NOT_READY or LOGOUT",
                    Some(other.as_str()),
                ));
            }
        }
        Ok(out)
    }
}
