//! The simulated Finesse: users, agent states, dialogs and their participants,
//! the two nodes' service status, and the notifications every change causes.
//!
//! Pure and deterministic but for the wall-clock timestamps it writes: every
//! operation returns the notifications ([`Outgoing`]) it causes, in the order
//! Finesse sends them, and the server publishes them. The behaviour follows
//! the Cisco Finesse Web Services Developer Guide (notification sequences,
//! dialog states, call types and BAStatus, user states, REST actions and
//! errors); docs/simulator.md lists where it is simpler than Finesse.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};
use switchboard_finesse::{
    Action, ApiError, CallType, CallVariable, Dialog, DialogAction, DialogRequest, DialogState,
    FinesseNode, MakeCallRequest, MediaProperties, Node, Participant, ParticipantState,
    ScheduledCallbackInfo, SystemInfo, SystemStatus, Team, TeamRef, Update, UpdateData,
    UpdateEvent, User, UserRequest, UserState,
};

use crate::config::{SimConfig, UserConfig};

/// One notification to publish: the node and the `<Update>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The pubsub node.
    pub node: Node,
    /// The document.
    pub update: Update,
}

/// A synchronous REST error: the HTTP status and the `ApiErrors` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// HTTP status (400, 401, 404, 409, 503...).
    pub status: u16,
    /// The errors of the body.
    pub errors: Vec<ApiError>,
}

impl ApiFailure {
    /// One error with the given status, type, message and data.
    pub fn new(status: u16, error_type: &str, message: &str, data: Option<&str>) -> ApiFailure {
        ApiFailure {
            status,
            errors: vec![ApiError {
                error_type: error_type.into(),
                error_message: message.into(),
                error_data: data.map(str::to_owned),
            }],
        }
    }

    /// 404 Dialog Not Found.
    fn dialog_not_found(id: &str) -> ApiFailure {
        ApiFailure::new(404, "Not Found", "Dialog Not Found", Some(id))
    }

    /// 404 User Not Found.
    fn user_not_found(id: &str) -> ApiFailure {
        ApiFailure::new(404, "User Not Found", "UNKNOWN_USER", Some(id))
    }

    /// 400 Invalid Input naming what is wrong.
    fn invalid(message: &str, data: Option<&str>) -> ApiFailure {
        ApiFailure::new(400, "Invalid Input", message, data)
    }

    /// 401 for a user acting on what is not theirs.
    pub fn not_authorized(user: &str) -> ApiFailure {
        ApiFailure::new(
            401,
            "Invalid Authorization User Specified",
            "UNAUTHORIZED",
            Some(user),
        )
    }
}

/// The kinds of call the scenario API can start (Finesse Developer Guide: Dialog API parameter
/// values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// A routed inbound call (ACD_IN) ringing at the agent.
    Inbound,
    /// An Outbound Option preview reservation (OUTBOUND_PREVIEW).
    Preview,
    /// A direct preview reservation (OUTBOUND_DIRECT_PREVIEW).
    DirectPreview,
    /// A callback preview reservation (OUTBOUND_CALLBACK_PREVIEW).
    CallbackPreview,
    /// A progressive customer call (OUTBOUND, PROGRESSIVE_OUTBOUND).
    Progressive,
    /// A predictive customer call (OUTBOUND, PREDICTIVE_OUTBOUND).
    Predictive,
}

impl CallKind {
    /// Every kind.
    pub const ALL: [CallKind; 6] = [
        CallKind::Inbound,
        CallKind::Preview,
        CallKind::DirectPreview,
        CallKind::CallbackPreview,
        CallKind::Progressive,
        CallKind::Predictive,
    ];

    fn is_reservation(self) -> bool {
        matches!(
            self,
            CallKind::Preview | CallKind::DirectPreview | CallKind::CallbackPreview
        )
    }
}

/// Options of a scenario call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallOptions {
    /// Use the `BLENDED_` BAStatus values (an agent in inbound and outbound skill groups).
    pub blended: bool,
    /// The customer's number (default: generated).
    pub customer_number: Option<String>,
    /// The campaign name (default `Renewals`).
    pub campaign: Option<String>,
    /// Extra call variables, `callVariable1..10` or ECC `user.*`.
    pub call_variables: BTreeMap<String, String>,
}

/// One of the two Finesse nodes of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Side A.
    Primary,
    /// Side B.
    Secondary,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::Primary => 0,
            Side::Secondary => 1,
        }
    }
}

/// What the simulator knows about a call beyond the Finesse Dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A routed inbound call.
    Inbound,
    /// A preview reservation (ACCEPT/REJECT/CLOSE).
    Reservation,
    /// An Outbound Option customer call.
    Outbound,
    /// A call an agent placed (MAKE_CALL).
    AgentCall,
    /// A consult call placed from another dialog.
    Consult,
}

#[derive(Debug, Clone)]
struct Call {
    dialog: Dialog,
    role: Role,
    /// The scenario kind, for reservations turning into customer calls.
    kind: Option<CallKind>,
    /// For a consult: the dialog it was placed from.
    consult_of: Option<String>,
}

#[derive(Debug, Clone)]
struct Agent {
    config: UserConfig,
    user: User,
    /// When wrap-up (WORK_READY) ends.
    wrap_until: Option<Instant>,
    /// The agent went into its current call from NOT_READY (its own call, or
    /// one it answered while not ready): it returns to NOT_READY, with the
    /// same reason code, when its last call ends (Finesse Developer Guide:
    /// User—Change Agent State, TALKING -> NOT_READY).
    not_ready_before_call: bool,
}

/// The whole simulated deployment.
#[derive(Debug)]
pub struct World {
    config: SimConfig,
    agents: BTreeMap<String, Agent>,
    calls: BTreeMap<String, Call>,
    next_id: u64,
    status: [SystemStatus; 2],
    status_reason: [Option<String>; 2],
    /// Agents whose next dialog action fails with a CTI error (scenario).
    fail_next: BTreeSet<String>,
}

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

fn now_iso() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn dialog_uri(id: &str) -> String {
    format!("/finesse/api/Dialog/{id}")
}

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
    /// A deployment with every user signed out and both nodes in service.
    pub fn new(config: SimConfig) -> World {
        let agents = config
            .users
            .iter()
            .map(|u| {
                let team_name = config
                    .teams
                    .iter()
                    .find(|t| t.id == u.team_id)
                    .map(|t| t.name.clone());
                let user = User {
                    login_id: u.id.clone(),
                    login_name: Some(u.id.clone()),
                    first_name: Some(u.first_name.clone()).filter(|s| !s.is_empty()),
                    last_name: Some(u.last_name.clone()).filter(|s| !s.is_empty()),
                    extension: None,
                    state: UserState::Logout,
                    pending_state: None,
                    reason_code_id: None,
                    reason_code: None,
                    state_change_time: Some(now_iso()),
                    roles: u.roles.clone(),
                    team_id: Some(u.team_id.clone()),
                    team_name,
                    teams: u
                        .supervised_teams
                        .iter()
                        .map(|t| TeamRef {
                            id: t.clone(),
                            name: config
                                .teams
                                .iter()
                                .find(|x| &x.id == t)
                                .map(|x| x.name.clone()),
                            uri: Some(format!("/finesse/api/Team/{t}")),
                        })
                        .collect(),
                    uri: Some(format!("/finesse/api/User/{}", u.id)),
                    dialogs: Some(format!("/finesse/api/User/{}/Dialogs", u.id)),
                };
                (
                    u.id.clone(),
                    Agent {
                        config: u.clone(),
                        user,
                        wrap_until: None,
                        not_ready_before_call: false,
                    },
                )
            })
            .collect();
        World {
            config,
            agents,
            calls: BTreeMap::new(),
            next_id: 20_000_001,
            status: [SystemStatus::InService, SystemStatus::InService],
            status_reason: [None, None],
            fail_next: BTreeSet::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// True if `user` exists and `password` is its password.
    pub fn check_password(&self, user: &str, password: &str) -> bool {
        self.agents
            .get(user)
            .is_some_and(|a| a.config.password == password)
    }

    /// True while `side` is OUT_OF_SERVICE or PARTIAL_SERVICE (every request gets 503).
    pub fn is_out_of_service(&self, side: Side) -> bool {
        self.status[side.index()] != SystemStatus::InService
    }

    /// `GET /finesse/api/SystemInfo` as `side` answers it.
    pub fn system_info(&self, side: Side) -> SystemInfo {
        let node = |host: &str| FinesseNode {
            host: host.into(),
            https_port: Some("8445".into()),
            xmpp_port: Some("5222".into()),
            xmpp_secure_port: Some("5223".into()),
        };
        SystemInfo {
            status: self.status[side.index()].clone(),
            status_reason: self.status_reason[side.index()].clone(),
            xmpp_domain: Some(self.config.domain.clone()),
            xmpp_pub_sub_domain: Some(format!("pubsub.{}", self.config.domain)),
            deployment_type: Some(self.config.deployment_type.clone()),
            current_timestamp: Some(now_iso()),
            timezone_offset: Some("0".into()),
            system_auth_mode: Some("NON_SSO".into()),
            primary_node: Some(node("finesse-a.local")),
            secondary_node: Some(node("finesse-b.local")),
            uri: Some("/finesse/api/SystemInfo".into()),
        }
    }

    /// Puts `side` in or out of service; the SystemInfo notification says so.
    pub fn set_status(
        &mut self,
        side: Side,
        status: SystemStatus,
        reason: Option<String>,
    ) -> Vec<Outgoing> {
        self.status[side.index()] = status;
        self.status_reason[side.index()] = reason;
        vec![Outgoing {
            node: Node::SystemInfo,
            update: Update {
                event: UpdateEvent::Put,
                request_id: None,
                source: "/finesse/api/SystemInfo".into(),
                data: UpdateData::SystemInfo(Box::new(self.system_info(side))),
            },
        }]
    }

    /// The next dialog action of `agent` is accepted and then fails with a CTI error.
    pub fn fail_next_action(&mut self, agent: &str) -> Result<(), ApiFailure> {
        if !self.agents.contains_key(agent) {
            return Err(ApiFailure::user_not_found(agent));
        }
        self.fail_next.insert(agent.to_owned());
        Ok(())
    }

    /// `GET /finesse/api/User/{id}`.
    pub fn user(&self, id: &str) -> Result<User, ApiFailure> {
        self.agents
            .get(id)
            .map(|a| a.user.clone())
            .ok_or_else(|| ApiFailure::user_not_found(id))
    }

    /// Every user (tests compare the connector's cache with this).
    pub fn users(&self) -> Vec<User> {
        self.agents.values().map(|a| a.user.clone()).collect()
    }

    /// Every live dialog.
    pub fn dialogs(&self) -> Vec<Dialog> {
        self.calls.values().map(|c| c.dialog.clone()).collect()
    }

    /// `GET /finesse/api/Team/{id}`.
    pub fn team(&self, id: &str) -> Result<Team, ApiFailure> {
        let team = self
            .config
            .teams
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| ApiFailure::new(404, "Not Found", "Team Not Found", Some(id)))?;
        Ok(Team {
            id: team.id.clone(),
            name: Some(team.name.clone()),
            uri: Some(format!("/finesse/api/Team/{id}")),
            users: self
                .agents
                .values()
                .filter(|a| a.config.team_id == id)
                .map(|a| team_summary(&a.user))
                .collect(),
        })
    }

    /// May `actor` read or act on `target`'s user (self, or a supervisor of its team)?
    pub fn may_act_on_user(&self, actor: &str, target: &str) -> bool {
        actor == target
            || self.agents.get(actor).is_some_and(|a| {
                self.agents
                    .get(target)
                    .is_some_and(|t| a.config.supervised_teams.contains(&t.config.team_id))
            })
    }

    /// May `actor` read `team`?
    pub fn may_read_team(&self, actor: &str, team: &str) -> bool {
        self.agents.get(actor).is_some_and(|a| {
            a.config.supervised_teams.iter().any(|t| t == team) || a.config.team_id == team
        })
    }

    /// `GET /finesse/api/User/{id}/Dialogs`.
    pub fn dialogs_of(&self, id: &str) -> Result<Vec<Dialog>, ApiFailure> {
        let agent = self
            .agents
            .get(id)
            .ok_or_else(|| ApiFailure::user_not_found(id))?;
        let Some(ext) = agent.user.extension.as_deref() else {
            return Ok(Vec::new());
        };
        Ok(self
            .calls
            .values()
            .filter(|c| c.dialog.participant(ext).is_some())
            .map(|c| c.dialog.clone())
            .collect())
    }

    /// `GET /finesse/api/Dialog/{id}`.
    pub fn dialog(&self, id: &str) -> Result<Dialog, ApiFailure> {
        self.calls
            .get(id)
            .map(|c| c.dialog.clone())
            .ok_or_else(|| ApiFailure::dialog_not_found(id))
    }

    fn agent_on(&self, extension: &str) -> Option<&str> {
        self.agents
            .values()
            .find(|a| a.user.extension.as_deref() == Some(extension))
            .map(|a| a.config.id.as_str())
    }

    fn next_dialog_id(&mut self) -> String {
        let id = self.next_id;
        self.next_id += 1;
        id.to_string()
    }

    // ----- notifications -----

    fn notify_user(&self, out: &mut Vec<Outgoing>, agent: &str, request_id: Option<&str>) {
        let Some(a) = self.agents.get(agent) else {
            return;
        };
        out.push(Outgoing {
            node: Node::User(agent.to_owned()),
            update: Update {
                event: UpdateEvent::Put,
                request_id: request_id.map(str::to_owned),
                source: format!("/finesse/api/User/{agent}"),
                data: UpdateData::User(Box::new(a.user.clone())),
            },
        });
        out.push(Outgoing {
            node: Node::TeamUsers(a.config.team_id.clone()),
            update: Update {
                event: UpdateEvent::Put,
                request_id: None,
                source: format!("/finesse/api/User/{agent}"),
                data: UpdateData::User(Box::new(team_summary(&a.user))),
            },
        });
    }

    /// The agents (by id) that take part in `dialog`.
    fn agents_in(&self, dialog: &Dialog) -> Vec<String> {
        dialog
            .participants
            .iter()
            .filter_map(|p| self.agent_on(&p.media_address))
            .map(str::to_owned)
            .collect()
    }

    fn notify_dialogs(
        &self,
        out: &mut Vec<Outgoing>,
        agent: &str,
        event: UpdateEvent,
        dialog: &Dialog,
        request_id: Option<&str>,
    ) {
        out.push(Outgoing {
            node: Node::Dialogs(agent.to_owned()),
            update: Update {
                event,
                request_id: request_id.map(str::to_owned),
                source: format!("/finesse/api/User/{agent}/Dialogs"),
                data: UpdateData::Dialogs(vec![dialog.clone()]),
            },
        });
    }

    fn notify_dialog_put(&self, out: &mut Vec<Outgoing>, id: &str, request_id: Option<&str>) {
        let Some(call) = self.calls.get(id) else {
            return;
        };
        for agent in self.agents_in(&call.dialog) {
            out.push(Outgoing {
                node: Node::Dialogs(agent),
                update: Update {
                    event: UpdateEvent::Put,
                    request_id: request_id.map(str::to_owned),
                    source: dialog_uri(id),
                    data: UpdateData::Dialog(Box::new(call.dialog.clone())),
                },
            });
        }
    }

    fn notify_cti_error(
        &self,
        out: &mut Vec<Outgoing>,
        agent: &str,
        source: String,
        request_id: Option<&str>,
        error: ApiError,
    ) {
        let node = if source.starts_with("/finesse/api/Dialog/") {
            Node::Dialogs(agent.to_owned())
        } else {
            Node::User(agent.to_owned())
        };
        out.push(Outgoing {
            node,
            update: Update {
                event: UpdateEvent::Put,
                request_id: request_id.map(str::to_owned),
                source,
                data: UpdateData::ApiErrors(vec![error]),
            },
        });
    }

    // ----- agent state -----

    fn set_state(&mut self, agent: &str, state: UserState, reason: Option<String>) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.user.state = state;
            a.user.reason_code_id = reason;
            a.user.pending_state = None;
            a.user.state_change_time = Some(now_iso());
            a.wrap_until = None;
            a.not_ready_before_call = false;
        }
    }

    fn calls_of(&self, agent: &str) -> usize {
        let Some(ext) = self
            .agents
            .get(agent)
            .and_then(|a| a.user.extension.clone())
        else {
            return 0;
        };
        self.calls
            .values()
            .filter(|c| c.dialog.participant(&ext).is_some())
            .count()
    }

    /// The agent's last call ended: pending state, wrap-up or READY.
    fn call_ended(&mut self, out: &mut Vec<Outgoing>, agent: &str, request_id: Option<&str>) {
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
    fn refresh_state(&mut self, agent: &str) {
        let Some(ext) = self
            .agents
            .get(agent)
            .and_then(|a| a.user.extension.clone())
        else {
            return;
        };
        let states: Vec<ParticipantState> = self
            .calls
            .values()
            .filter_map(|c| c.dialog.participant(&ext).map(|p| p.state.clone()))
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

    /// Recomputes every participant's `actions` of every call.
    fn refresh_actions(&mut self) {
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

    // ----- REST: User -----

    /// `PUT /finesse/api/User/{target}` by `actor` (Finesse Developer Guide: User: sign in and
    /// change state).
    pub fn put_user(
        &mut self,
        target: &str,
        actor: &str,
        req: &UserRequest,
        request_id: Option<&str>,
    ) -> Result<Vec<Outgoing>, ApiFailure> {
        if !self.agents.contains_key(target) {
            return Err(ApiFailure::user_not_found(target));
        }
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

    // ----- scenario: calls arriving -----

    /// Starts a call of `kind` at `agent`, who must be signed in and READY.
    /// Returns the new dialog id.
    pub fn start_call(
        &mut self,
        agent: &str,
        kind: CallKind,
        opts: &CallOptions,
    ) -> Result<(String, Vec<Outgoing>), ApiFailure> {
        let a = self
            .agents
            .get(agent)
            .ok_or_else(|| ApiFailure::user_not_found(agent))?;
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
            media_properties: Arc::new(MediaProperties {
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
            }),
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

    // ----- REST: Dialogs -----

    /// `POST /finesse/api/User/{user}/Dialogs` (MAKE_CALL, Finesse Developer Guide: Dialog: make a
    /// call).
    pub fn make_call(
        &mut self,
        user: &str,
        req: &MakeCallRequest,
        request_id: Option<&str>,
    ) -> Result<Vec<Outgoing>, ApiFailure> {
        let a = self
            .agents
            .get(user)
            .ok_or_else(|| ApiFailure::user_not_found(user))?;
        let ext = a.user.extension.clone().ok_or_else(|| {
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
            media_properties: Arc::new(MediaProperties {
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
            }),
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
    fn connect_all(&mut self, id: &str) {
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

    fn set_participant(&mut self, id: &str, ext: &str, state: ParticipantState) {
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

    fn set_variable(&mut self, id: &str, name: &str, value: &str) {
        if let Some(call) = self.calls.get_mut(id) {
            let vars = &mut Arc::make_mut(&mut call.dialog.media_properties).call_variables;
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
    fn leave(&mut self, out: &mut Vec<Outgoing>, id: &str, ext: &str, request_id: Option<&str>) {
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

    /// `PUT /finesse/api/Dialog/{id}` by `actor` (Finesse Developer Guide: Dialog actions).
    pub fn dialog_action(
        &mut self,
        id: &str,
        actor: &str,
        req: &DialogRequest,
        request_id: Option<&str>,
    ) -> Result<Vec<Outgoing>, ApiFailure> {
        let call = self
            .calls
            .get(id)
            .ok_or_else(|| ApiFailure::dialog_not_found(id))?;
        let actor_ext = self
            .agents
            .get(actor)
            .and_then(|a| a.user.extension.clone())
            .ok_or_else(|| ApiFailure::not_authorized(actor))?;
        let target = match &req.target_media_address {
            Some(t) => t.clone(),
            None if matches!(req.action, DialogAction::UpdateCallData { .. }) => actor_ext.clone(),
            None => {
                return Err(ApiFailure::new(
                    400,
                    "Parameter Missing",
                    "targetMediaAddress",
                    Some("targetMediaAddress"),
                ));
            }
        };
        let is_participant = call.dialog.participant(&actor_ext).is_some();
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
        let mut out = Vec::new();
        let action = req.action.action();
        let allowed = call
            .dialog
            .participant(&target)
            .is_some_and(|p| p.allows(&action))
            || (matches!(req.action, DialogAction::Reclassify { .. })
                && call.role == Role::Outbound);
        let agent_for_errors = self.agent_on(&target).unwrap_or(actor).to_owned();
        if !allowed {
            self.notify_cti_error(
                &mut out,
                &agent_for_errors,
                dialog_uri(id),
                request_id,
                ApiError {
                    error_type: "Generic Error".into(),
                    error_message: format!(
                        "INVALID_ACTION {} on extension {target}",
                        action.as_str()
                    ),
                    error_data: Some("4047".into()),
                },
            );
            return Ok(out);
        }
        if self.fail_next.remove(&agent_for_errors) {
            self.notify_cti_error(
                &mut out,
                &agent_for_errors,
                dialog_uri(id),
                request_id,
                ApiError {
                    error_type: "Call Operation Failure".into(),
                    error_message: "CF_RESOURCE_OUT_OF_SERVICE".into(),
                    error_data: Some("34".into()),
                },
            );
            return Ok(out);
        }
        let agent = agent_for_errors;
        match &req.action {
            DialogAction::Answer => {
                self.connect_all(id);
                self.refresh_actions();
                let everyone = self.agents_in(&self.calls[id].dialog.clone());
                for a in &everyone {
                    self.refresh_state(a);
                }
                self.notify_dialog_put(&mut out, id, request_id);
                for a in &everyone {
                    self.notify_user(&mut out, a, request_id);
                }
            }
            DialogAction::Hold | DialogAction::Retrieve => {
                let state = if req.action == DialogAction::Hold {
                    ParticipantState::Held
                } else {
                    ParticipantState::Active
                };
                self.set_participant(id, &target, state);
                self.refresh_actions();
                self.refresh_state(&agent);
                self.notify_dialog_put(&mut out, id, request_id);
                self.notify_user(&mut out, &agent, request_id);
            }
            DialogAction::Drop => self.leave(&mut out, id, &target, request_id),
            DialogAction::Accept => {
                self.accept_reservation(&mut out, id, &agent, &target, request_id)
            }
            DialogAction::Reject | DialogAction::Close => {
                let response = if req.action == DialogAction::Reject {
                    "Reject"
                } else {
                    "Reject-Close"
                };
                self.set_variable(id, "BAResponse", response);
                if let Some(dialog) = self.calls.remove(id).map(|c| c.dialog) {
                    self.notify_dialogs(&mut out, &agent, UpdateEvent::Delete, &dialog, request_id);
                }
                self.set_state(&agent, UserState::Ready, None);
                self.notify_user(&mut out, &agent, request_id);
            }
            DialogAction::TransferSst { to_address } => {
                self.blind_transfer(&mut out, id, &target, to_address, request_id);
            }
            DialogAction::ConsultCall { to_address } => {
                self.consult(&mut out, id, &agent, &target, to_address, request_id)?;
            }
            DialogAction::Transfer | DialogAction::Conference => {
                self.complete_consult(
                    &mut out,
                    id,
                    &agent,
                    &target,
                    req.action == DialogAction::Transfer,
                    request_id,
                );
            }
            DialogAction::UpdateCallData {
                call_variables,
                wrap_up_reason,
            } => {
                for v in call_variables {
                    if v.name.starts_with("BA") {
                        return Err(ApiFailure::invalid(
                            "Call Variable is protected",
                            Some(&v.name),
                        ));
                    }
                }
                for v in call_variables {
                    self.set_variable(id, &v.name, &v.value);
                }
                if let Some(reason) = wrap_up_reason
                    && let Some(call) = self.calls.get_mut(id)
                {
                    Arc::make_mut(&mut call.dialog.media_properties).wrap_up_reason =
                        Some(reason.clone());
                }
                self.notify_dialog_put(&mut out, id, request_id);
            }
            DialogAction::UpdateScheduledCallback {
                callback_time,
                callback_number,
            } => {
                if let Some(call) = self.calls.get_mut(id) {
                    let info = call
                        .dialog
                        .scheduled_callback_info
                        .get_or_insert_with(ScheduledCallbackInfo::default);
                    if callback_time.is_some() {
                        info.callback_time = callback_time.clone();
                    }
                    if callback_number.is_some() {
                        info.callback_number = callback_number.clone();
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
                self.notify_dialog_put(&mut out, id, request_id);
            }
            DialogAction::CancelScheduledCallback => {
                if let Some(call) = self.calls.get_mut(id) {
                    call.dialog.scheduled_callback_info = None;
                }
                self.set_variable(id, "BAResponse", "");
                self.refresh_actions();
                self.notify_dialog_put(&mut out, id, request_id);
            }
            DialogAction::Reclassify { classification } => {
                if let Some(call) = self.calls.get_mut(id) {
                    Arc::make_mut(&mut call.dialog.media_properties).outbound_classification =
                        Some(classification.clone());
                }
                self.set_variable(id, "BAResponse", &format!("REX_{classification}"));
                self.notify_dialog_put(&mut out, id, request_id);
            }
            DialogAction::SendDtmf { .. }
            | DialogAction::StartRecording
            | DialogAction::ParticipantDrop => {}
        }
        Ok(out)
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
        let media = Arc::make_mut(&mut dialog.media_properties);
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
                    Arc::make_mut(&mut call.dialog.media_properties).call_type =
                        Some(CallType::Transfer);
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
            media_properties: Arc::new(MediaProperties {
                media_id: Some("1".into()),
                dialed_number: Some(to.to_owned()),
                call_type: Some(CallType::Consult),
                dnis: Some(to.to_owned()),
                ..MediaProperties::default()
            }),
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
            Arc::make_mut(&mut call.dialog.media_properties).call_type = Some(if transfer {
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

    /// Timed transitions: wrap-up ending (WORK_READY -> READY).
    pub fn tick(&mut self, now: Instant) -> Vec<Outgoing> {
        let due: Vec<String> = self
            .agents
            .values()
            .filter(|a| a.wrap_until.is_some_and(|t| t <= now))
            .map(|a| a.config.id.clone())
            .collect();
        let mut out = Vec::new();
        for agent in due {
            self.set_state(&agent, UserState::Ready, None);
            self.notify_user(&mut out, &agent, None);
        }
        out
    }
}

/// The summary of a user that Team notifications and `GET /Team` carry.
fn team_summary(u: &User) -> User {
    User {
        login_id: u.login_id.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        extension: u.extension.clone(),
        state: u.state.clone(),
        pending_state: u.pending_state.clone(),
        reason_code_id: u.reason_code_id.clone(),
        state_change_time: u.state_change_time.clone(),
        uri: u.uri.clone(),
        ..User::default()
    }
}
