//! Event mapping: a Finesse object, seen by one signed-in agent, becomes a
//! client event frame in the Acqueon-compatible shape of the seed sample
//! (Acqueon's published "Outbound APIs" page; the full table is in
//! docs/protocol.md).
//!
//! This module owns the JSON shape of the four event kinds: call events
//! (`OutboundCall/OutBoundCallStateChange`, `InboundCall/InBoundCallStateChange`),
//! `Agent/SetAgentState`, `Error/SetAPIError` and `System/SetSystemInfo`. An
//! event is its JSON text: the views here borrow the Finesse objects and
//! serde_json writes them, one writer per shape. Plain records derive
//! `Serialize` (absent fields are left out); only the maps computed from the
//! call's actions and variables (`ButtonStates`, `ActionsAllowed`,
//! `CallVariables`, `ExtendedCallVariables`) are written by hand. The golden
//! tests (`tests/golden.rs`, `switchboard translate` on the captures) hold
//! the bytes.

use serde::Serialize;
use switchboard_finesse::{ApiError, FinesseNode, ReasonCode, SystemInfo, SystemStatus, User};

mod call;

pub use call::CallEvent;

/// The agent an event is rendered for: buttons come from this agent's
/// participant, and `ResponseActual.user` names it. Never holds a password.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignedInAgent {
    /// The Finesse user id (`loginId`), sent as `username` as in the seed.
    pub id: String,
    /// The extension the agent is signed in on.
    pub extension: String,
}

/// Why an event is sent: `data.source` of every event frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    /// A live change from Finesse.
    Event,
    /// The current state, sent on sign-in or subscribe.
    Snapshot,
    /// A past event replayed on resume.
    Replay,
    /// A change found by resync after a reconnect.
    Resync,
}

impl EventSource {
    /// The name written in `data.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Event => "event",
            EventSource::Snapshot => "snapshot",
            EventSource::Replay => "replay",
            EventSource::Resync => "resync",
        }
    }
}

/// The `event` value of a call event whose dialog left the agent's list.
pub const DELETED: &str = "DELETED";

/// The envelope of every event frame.
#[derive(Serialize)]
struct Frame<'a, D> {
    channel: &'static str,
    topic: &'static str,
    subtopic: &'static str,
    data: D,
    /// The client's requestId (CTI errors only, once matched to a request).
    #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// `Agent/SetAgentState`: the Finesse user's state.
#[derive(Debug, Clone, Copy)]
pub struct AgentStateEvent<'a> {
    /// The user.
    pub user: &'a User,
    /// `data.source`.
    pub source: EventSource,
    /// True when Finesse deleted the user (`event: "DELETED"`).
    pub deleted: bool,
}

impl AgentStateEvent<'_> {
    /// The whole frame as JSON text.
    pub fn encode(&self) -> String {
        let u = self.user;
        to_json(&Frame {
            channel: "Cisco",
            topic: "Agent",
            subtopic: "SetAgentState",
            data: AgentData {
                source: self.source,
                agent_id: &u.login_id,
                login_name: u.login_name.as_deref(),
                first_name: u.first_name.as_deref(),
                last_name: u.last_name.as_deref(),
                extension: u.extension.as_deref(),
                state: u.state.as_str(),
                pending_state: u.pending_state.as_ref().map(|p| p.as_str()),
                reason_code_id: u.reason(),
                reason_code: u.reason_code.as_ref().map(ReasonView::of),
                state_change_time: u.state_change_time.as_deref(),
                roles: &u.roles,
                team_id: u.team_id.as_deref(),
                team_name: u.team_name.as_deref(),
                teams: u
                    .teams
                    .iter()
                    .map(|t| TeamView {
                        id: &t.id,
                        name: t.name.as_deref(),
                    })
                    .collect(),
                event: if self.deleted {
                    DELETED
                } else {
                    u.state.as_str()
                },
            },
            request_id: None,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AgentData<'a> {
    source: EventSource,
    agent_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    login_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension: Option<&'a str>,
    state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_code_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_code: Option<ReasonView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_change_time: Option<&'a str>,
    roles: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    team_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    teams: Vec<TeamView<'a>>,
    event: &'a str,
}

#[derive(Serialize)]
struct ReasonView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
}

impl<'a> ReasonView<'a> {
    fn of(rc: &'a ReasonCode) -> Self {
        ReasonView {
            id: rc.id.as_deref(),
            code: rc.code.as_deref(),
            label: rc.label.as_deref(),
            category: rc.category.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct TeamView<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

/// `Error/SetAPIError` for a Finesse CTI error notification.
#[derive(Debug, Clone, Copy)]
pub struct ApiErrorEvent<'a> {
    /// The error.
    pub error: &'a ApiError,
    /// The dialog it is about (from the Update's source), if any.
    pub dialog_id: Option<&'a str>,
    /// Finesse's requestId of the failed request.
    pub finesse_request_id: Option<&'a str>,
    /// The client's requestId, once the gateway has matched the request.
    pub client_request_id: Option<&'a str>,
}

impl ApiErrorEvent<'_> {
    /// A one-line message for people.
    pub fn message(&self) -> String {
        let e = self.error;
        let mut msg = format!("Finesse reported {}", e.error_type);
        if !e.error_message.is_empty() {
            msg.push_str(": ");
            msg.push_str(&e.error_message);
        }
        if let Some(data) = &e.error_data {
            msg.push_str(" (");
            msg.push_str(data);
            msg.push(')');
        }
        if let Some(id) = self.dialog_id {
            msg.push_str(" on call ");
            msg.push_str(id);
        }
        msg
    }

    /// The whole frame as JSON text.
    pub fn encode(&self) -> String {
        let e = self.error;
        to_json(&Frame {
            channel: "Cisco",
            topic: "Error",
            subtopic: "SetAPIError",
            data: ApiErrorData {
                source: EventSource::Event,
                packet: "apierror",
                data: ApiErrorView {
                    error_type: &e.error_type,
                    error_message: &e.error_message,
                    error_data: e.error_data.as_deref(),
                    msg: self.message(),
                    dialog_id: self.dialog_id,
                    finesse_request_id: self.finesse_request_id,
                },
            },
            request_id: self.client_request_id,
        })
    }
}

#[derive(Serialize)]
struct ApiErrorData<'a> {
    source: EventSource,
    packet: &'static str,
    data: ApiErrorView<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiErrorView<'a> {
    error_type: &'a str,
    error_message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_data: Option<&'a str>,
    msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    dialog_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finesse_request_id: Option<&'a str>,
}

/// `System/SetSystemInfo`: Finesse in or out of service.
#[derive(Debug, Clone, Copy)]
pub struct SystemInfoEvent<'a> {
    /// The SystemInfo.
    pub info: &'a SystemInfo,
    /// `data.source`.
    pub source: EventSource,
}

impl SystemInfoEvent<'_> {
    /// The whole frame as JSON text.
    pub fn encode(&self) -> String {
        let i = self.info;
        to_json(&Frame {
            channel: "Cisco",
            topic: "System",
            subtopic: "SetSystemInfo",
            data: SystemData {
                source: self.source,
                status: &i.status,
                status_reason: i.status_reason.as_deref(),
                deployment_type: i.deployment_type.as_deref(),
                current_timestamp: i.current_timestamp.as_deref(),
                xmpp_domain: i.xmpp_domain.as_deref(),
                xmpp_pub_sub_domain: i.xmpp_pub_sub_domain.as_deref(),
                primary_node: i.primary_node.as_ref().map(NodeView::of),
                secondary_node: i.secondary_node.as_ref().map(NodeView::of),
                event: &i.status,
            },
            request_id: None,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SystemData<'a> {
    source: EventSource,
    status: &'a SystemStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_timestamp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xmpp_domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xmpp_pub_sub_domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_node: Option<NodeView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secondary_node: Option<NodeView<'a>>,
    event: &'a SystemStatus,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeView<'a> {
    host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    https_port: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xmpp_port: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xmpp_secure_port: Option<&'a str>,
}

impl<'a> NodeView<'a> {
    fn of(n: &'a FinesseNode) -> Self {
        NodeView {
            host: &n.host,
            https_port: n.https_port.as_deref(),
            xmpp_port: n.xmpp_port.as_deref(),
            xmpp_secure_port: n.xmpp_secure_port.as_deref(),
        }
    }
}

fn to_json<T: Serialize>(frame: &T) -> String {
    // The views above serialize only strings, numbers, sequences and maps with
    // string keys, which serde_json cannot fail to write.
    serde_json::to_string(frame).unwrap_or_else(|e| {
        format!(
            r#"{{"channel":"Cisco","topic":"Error","subtopic":"SetAPIError","data":{{"packet":"apierror","data":{{"errorType":"Internal","errorMessage":{:?}}}}}}}"#,
            e.to_string()
        )
    })
}
