//! The simulated Finesse: users, agent states, dialogs and their participants,
//! the two nodes' service status, and the notifications every change causes.
//!
//! Pure and deterministic but for the wall-clock timestamps it writes: every
//! operation returns the notifications ([`Outgoing`]) it causes, in the order
//! Finesse sends them, and the server publishes them. The behaviour follows
//! the Cisco Finesse Web Services Developer Guide (notification sequences,
//! dialog states, call types and BAStatus, user states, REST actions and
//! errors); docs/simulator.md lists where it is simpler than Finesse.
//!
//! This module owns the `World` itself, its REST errors and the read-only
//! queries (User, Team, Dialogs, SystemInfo). The changes are in:
//! - `users`: sign-in and agent state (`PUT /User`), wrap-up;
//! - `calls`: calls arriving (scenario), MAKE_CALL, a party leaving, the
//!   `actions` each participant is offered;
//! - `actions`: dialog actions (`PUT /Dialog`), transfer, consult and
//!   conference;
//! - `notify`: the notifications each change causes.

mod actions;
mod calls;
mod notify;
mod users;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};
use switchboard_finesse::{
    ApiError, Dialog, FinesseNode, Node, SystemInfo, SystemStatus, Team, TeamRef, Update,
    UpdateData, UpdateEvent, User, UserState,
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

fn now_iso() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn dialog_uri(id: &str) -> String {
    format!("/finesse/api/Dialog/{id}")
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
        self.agent(agent)?;
        self.fail_next.insert(agent.to_owned());
        Ok(())
    }

    /// `GET /finesse/api/User/{id}`.
    pub fn user(&self, id: &str) -> Result<User, ApiFailure> {
        self.agent(id).map(|a| a.user.clone())
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
        let Some(ext) = self.agent(id)?.user.extension.as_deref() else {
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

    /// The agent `id`, or 404 User Not Found.
    fn agent(&self, id: &str) -> Result<&Agent, ApiFailure> {
        self.agents
            .get(id)
            .ok_or_else(|| ApiFailure::user_not_found(id))
    }

    /// The extension `agent` is signed in on (`None`: no such agent, or signed out).
    fn extension_of(&self, agent: &str) -> Option<&str> {
        self.agents
            .get(agent)
            .and_then(|a| a.user.extension.as_deref())
    }

    /// The agent signed in on `extension`.
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
