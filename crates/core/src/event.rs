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
use serde::ser::{SerializeMap, Serializer};
use switchboard_finesse::{
    Action, ApiError, CallVariable, Dialog, FinesseNode, MediaProperties, Node, Notification,
    Participant, ReasonCode, SystemInfo, SystemStatus, UpdateData, UpdateEvent, User,
    is_ba_variable,
};

use crate::actions::{ActionSpec, action_spec};

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

/// A call event: one dialog as one agent sees it.
#[derive(Debug, Clone, Copy)]
pub struct CallEvent<'a> {
    /// The dialog.
    pub dialog: &'a Dialog,
    /// Whose view.
    pub agent: &'a SignedInAgent,
    /// `data.source`.
    pub source: EventSource,
    /// True when Finesse removed the dialog from the agent's list (`event: "DELETED"`).
    pub deleted: bool,
    /// Finesse's requestId of the request that caused this change, if any.
    pub finesse_request_id: Option<&'a str>,
}

impl<'a> CallEvent<'a> {
    /// The agent's own participant, if the agent takes part.
    pub fn participant(&self) -> Option<&'a Participant> {
        self.dialog.participant(&self.agent.extension)
    }

    /// `CallState`: the agent's participant state, else the dialog state.
    pub fn call_state(&self) -> &'a str {
        match self.participant() {
            Some(p) => p.state.as_str(),
            None => self.dialog.state.as_str(),
        }
    }

    /// `event`: the call state, or `DELETED`.
    pub fn event_name(&self) -> &'a str {
        if self.deleted {
            DELETED
        } else {
            self.call_state()
        }
    }

    fn state_change_time(&self) -> Option<&'a str> {
        self.participant()
            .and_then(|p| p.state_change_time.as_deref())
            .or_else(|| {
                self.dialog
                    .participants
                    .iter()
                    .find_map(|p| p.state_change_time.as_deref())
            })
    }

    /// `(topic, subtopic)` by call type.
    pub fn topic(&self) -> (&'static str, &'static str) {
        if self.dialog.is_outbound() {
            ("OutboundCall", "OutBoundCallStateChange")
        } else {
            ("InboundCall", "InBoundCallStateChange")
        }
    }

    fn type_name(&self) -> &'static str {
        if self.dialog.is_outbound() {
            "outbound"
        } else {
            "inbound"
        }
    }

    /// The actions Finesse allows the agent's participant: what
    /// `ButtonStates` and `ActionsAllowed` show. None when the agent does not
    /// take part, and none for a deleted dialog: Finesse's last view of it
    /// may still list actions (a rejected preview reservation keeps ACCEPT,
    /// REJECT and CLOSE), but a dialog gone from the agent's list can no
    /// longer be acted on.
    pub fn actions(&self) -> &'a [Action] {
        if self.deleted {
            return &[];
        }
        self.participant().map_or(&[][..], |p| &p.actions[..])
    }

    /// The whole frame as JSON text.
    pub fn encode(&self) -> String {
        let d = self.dialog;
        let (topic, subtopic) = self.topic();
        let call_state = self.call_state();
        let state_change_time = self.state_change_time();
        let type_name = self.type_name();
        let variables = &d.media_properties.call_variables[..];
        let actions = self.actions();
        let count = buttons(actions).count();
        let call = Call {
            button_states: Counted {
                items: ButtonStates(actions),
                count,
            },
            actions_allowed: Counted {
                items: ActionsAllowed(actions),
                count,
            },
            response_type: 0,
            response_text: "Success",
            response_actual: ResponseActual {
                dialog: DialogView {
                    associated_dialog_uri: d.associated_dialog_uri.as_deref(),
                    callback_number: d.callback_number.as_deref(),
                    from_address: d.from_address.as_deref(),
                    id: &d.id,
                    media_properties: MediaView::of(&d.media_properties),
                    media_type: d.media_type.as_deref(),
                    participants: Participants::of(&d.participants),
                    scheduled_callback_info: d.scheduled_callback_info.as_ref().map(|info| {
                        CallbackView {
                            callback_time: info.callback_time.as_deref(),
                            callback_number: info.callback_number.as_deref(),
                        }
                    }),
                    secondary_id: d.secondary_id.as_deref(),
                    state: d.state.as_str(),
                    to_address: d.to_address.as_deref(),
                    uri: d.uri.as_deref(),
                    call_state,
                    call_state_change_time: state_change_time,
                    type_name,
                },
                user: UserRef {
                    extension: &self.agent.extension,
                    username: &self.agent.id,
                },
                request_id: self.finesse_request_id,
            },
            call_variables: CallVariables(variables),
            extended_call_variables: ExtendedCallVariables(variables),
            response_fields: ResponseFields {
                participants: Participants::of(&d.participants),
                media_properties: MediaView::of(&d.media_properties),
                from_address: d.from_address.as_deref(),
                media_type: d.media_type.as_deref(),
                to_address: d.to_address.as_deref(),
                call_state,
                type_name,
                call_state_change_time: state_change_time,
                campaign: d.call_variable("BACampaign"),
                dn: d.media_properties.dialed_number.as_deref(),
            },
            id: &d.id,
        };
        to_json(&Frame {
            channel: "Cisco",
            topic,
            subtopic,
            data: CallData {
                source: self.source,
                call,
                event: self.event_name(),
            },
            request_id: None,
        })
    }
}

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

#[derive(Serialize)]
struct CallData<'a> {
    source: EventSource,
    call: Call<'a>,
    event: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Call<'a> {
    button_states: Counted<ButtonStates<'a>>,
    actions_allowed: Counted<ActionsAllowed<'a>>,
    response_type: u8,
    response_text: &'static str,
    response_actual: ResponseActual<'a>,
    call_variables: CallVariables<'a>,
    extended_call_variables: ExtendedCallVariables<'a>,
    response_fields: ResponseFields<'a>,
    #[serde(rename = "id")]
    id: &'a str,
}

#[derive(Serialize)]
struct ResponseActual<'a> {
    dialog: DialogView<'a>,
    user: UserRef<'a>,
    /// Finesse's requestId of the request that caused the change.
    #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// `ResponseActual.user`: who the event is for. Deliberately has no password field.
#[derive(Serialize)]
struct UserRef<'a> {
    extension: &'a str,
    username: &'a str,
}

/// `ResponseActual.dialog`: the Dialog's fields (by name, as Finesse's XML
/// spells them), then the agent's view of it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DialogView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    associated_dialog_uri: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_address: Option<&'a str>,
    id: &'a str,
    media_properties: MediaView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<&'a str>,
    participants: Participants<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_callback_info: Option<CallbackView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secondary_id: Option<&'a str>,
    state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<&'a str>,
    #[serde(rename = "CallState")]
    call_state: &'a str,
    #[serde(
        rename = "CallStateChangeTime",
        skip_serializing_if = "Option::is_none"
    )]
    call_state_change_time: Option<&'a str>,
    #[serde(rename = "Type")]
    type_name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallbackView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_number: Option<&'a str>,
}

/// `ResponseFields`: the fields the Acqueon shape repeats at the top.
#[derive(Serialize)]
struct ResponseFields<'a> {
    #[serde(rename = "Participants")]
    participants: Participants<'a>,
    #[serde(rename = "MediaProperties")]
    media_properties: MediaView<'a>,
    #[serde(rename = "fromAddress", skip_serializing_if = "Option::is_none")]
    from_address: Option<&'a str>,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none")]
    media_type: Option<&'a str>,
    #[serde(rename = "toAddress", skip_serializing_if = "Option::is_none")]
    to_address: Option<&'a str>,
    #[serde(rename = "CallState")]
    call_state: &'a str,
    #[serde(rename = "Type")]
    type_name: &'static str,
    #[serde(
        rename = "CallStateChangeTime",
        skip_serializing_if = "Option::is_none"
    )]
    call_state_change_time: Option<&'a str>,
    #[serde(rename = "Campaign", skip_serializing_if = "Option::is_none")]
    campaign: Option<&'a str>,
    #[serde(rename = "DN", skip_serializing_if = "Option::is_none")]
    dn: Option<&'a str>,
}

/// `mediaProperties`, as the seed shows it: the call variables are carried in
/// `CallVariables` / `ExtendedCallVariables`, so `callvariables` and
/// `eccvariables` stay empty objects here (the seed's rendering).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MediaView<'a> {
    #[serde(rename = "DNIS", skip_serializing_if = "Option::is_none")]
    dnis: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dialed_number: Option<&'a str>,
    callvariables: Empty,
    eccvariables: Empty,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_key_call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_key_prefix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_key_sequence_num: Option<&'a str>,
    #[serde(rename = "callGUID", skip_serializing_if = "Option::is_none")]
    call_guid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outbound_classification: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrap_up_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    wrap_up_items: &'a [String],
}

impl<'a> MediaView<'a> {
    fn of(p: &'a MediaProperties) -> Self {
        MediaView {
            dnis: p.dnis.as_deref(),
            call_type: p.call_type.as_ref().map(|t| t.as_str()),
            dialed_number: p.dialed_number.as_deref(),
            callvariables: Empty {},
            eccvariables: Empty {},
            queue_number: p.queue_number.as_deref(),
            queue_name: p.queue_name.as_deref(),
            call_key_call_id: p.call_key_call_id.as_deref(),
            call_key_prefix: p.call_key_prefix.as_deref(),
            call_key_sequence_num: p.call_key_sequence_num.as_deref(),
            call_guid: p.call_guid.as_deref(),
            media_id: p.media_id.as_deref(),
            outbound_classification: p.outbound_classification.as_deref(),
            wrap_up_reason: p.wrap_up_reason.as_deref(),
            wrap_up_items: &p.wrap_up_items,
        }
    }
}

/// `{}`.
#[derive(Serialize)]
struct Empty {}

/// `{"participant": [...]}`.
#[derive(Serialize)]
struct Participants<'a> {
    participant: Vec<ParticipantView<'a>>,
}

impl<'a> Participants<'a> {
    fn of(list: &'a [Participant]) -> Self {
        Participants {
            participant: list
                .iter()
                .map(|p| ParticipantView {
                    actions: &p.actions,
                    media_address: &p.media_address,
                    media_address_type: p.media_address_type.as_deref(),
                    start_time: p.start_time.as_deref(),
                    state: p.state.as_str(),
                    state_cause: p.state_cause.as_deref(),
                    state_change_time: p.state_change_time.as_deref(),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParticipantView<'a> {
    actions: &'a [Action],
    media_address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_address_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<&'a str>,
    state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_cause: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_change_time: Option<&'a str>,
}

/// The distinct actions that have a button, in the participant's order.
fn buttons(actions: &[Action]) -> impl Iterator<Item = &'static ActionSpec> {
    actions
        .iter()
        .enumerate()
        .filter(|(i, a)| !actions[..*i].contains(a))
        .filter_map(|(_, a)| action_spec(a))
}

/// `{"items": ..., "count": ...}`: `ButtonStates` and `ActionsAllowed`.
#[derive(Serialize)]
struct Counted<T> {
    items: T,
    count: usize,
}

/// `ButtonStates.items`: each button of the allowed actions, `"Enable"`.
struct ButtonStates<'a>(&'a [Action]);

impl Serialize for ButtonStates<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for spec in buttons(self.0) {
            m.serialize_entry(spec.button, "Enable")?;
        }
        m.end()
    }
}

/// `ActionsAllowed.items`: each allowed action's command template, by subtopic.
struct ActionsAllowed<'a>(&'a [Action]);

impl Serialize for ActionsAllowed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for spec in buttons(self.0) {
            m.serialize_entry(
                spec.subtopic,
                &AllowedEntry {
                    variable_name: spec.variable,
                    variable_type: 3,
                    button_name: spec.button,
                    variable_structure: Template(spec.fields),
                },
            )?;
        }
        m.end()
    }
}

/// One `ActionsAllowed` entry: the same for every event with that button.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AllowedEntry {
    variable_name: &'static str,
    variable_type: u8,
    button_name: &'static str,
    variable_structure: Template,
}

/// A command's fields, each with an empty value.
struct Template(&'static [&'static str]);

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for f in self.0 {
            m.serialize_entry(f, "")?;
        }
        m.end()
    }
}

/// The ten numbered call variables every call event lists, empty when absent.
const NUMBERED: [&str; 10] = [
    "callVariable1",
    "callVariable2",
    "callVariable3",
    "callVariable4",
    "callVariable5",
    "callVariable6",
    "callVariable7",
    "callVariable8",
    "callVariable9",
    "callVariable10",
];

/// `CallVariables`: `callVariable1..10` (always) then every `BA*` variable by name.
struct CallVariables<'a>(&'a [CallVariable]);

impl Serialize for CallVariables<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for name in NUMBERED {
            let value = self
                .0
                .iter()
                .find(|v| v.name == name)
                .map_or("", |v| v.value.as_str());
            m.serialize_entry(name, value)?;
        }
        for v in self.0.iter().filter(|v| is_ba_variable(&v.name)) {
            m.serialize_entry(&v.name, &v.value)?;
        }
        m.end()
    }
}

/// `ExtendedCallVariables`: the other (ECC) variables, `user.` prefix removed.
struct ExtendedCallVariables<'a>(&'a [CallVariable]);

impl Serialize for ExtendedCallVariables<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for v in self.0 {
            if is_ba_variable(&v.name) || NUMBERED.contains(&v.name.as_str()) {
                continue;
            }
            let name = v.name.strip_prefix("user.").unwrap_or(&v.name);
            m.serialize_entry(name, &v.value)?;
        }
        m.end()
    }
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

/// Maps one notification, as seen by `agent`, to its event frames.
///
/// This is the whole of the "events" stage for one agent's view; the state
/// cache calls the same views with its own copies of the objects.
pub fn map_notification(n: &Notification, agent: &SignedInAgent) -> Vec<String> {
    let u = &n.update;
    let deleted = u.event == UpdateEvent::Delete;
    let request_id = u.request_id.as_deref();
    let call = |dialog| {
        CallEvent {
            dialog,
            agent,
            source: EventSource::Event,
            deleted,
            finesse_request_id: request_id,
        }
        .encode()
    };
    match &u.data {
        UpdateData::Dialog(d) => vec![call(d)],
        UpdateData::Dialogs(list) => list.iter().map(call).collect(),
        UpdateData::User(user) => vec![
            AgentStateEvent {
                user,
                source: EventSource::Event,
                deleted,
            }
            .encode(),
        ],
        UpdateData::ApiErrors(errors) => {
            let dialog_id = match Node::parse(&u.source) {
                Node::Dialog(id) => Some(id),
                _ => None,
            };
            errors
                .iter()
                .map(|error| {
                    ApiErrorEvent {
                        error,
                        dialog_id: dialog_id.as_deref(),
                        finesse_request_id: request_id,
                        client_request_id: None,
                    }
                    .encode()
                })
                .collect()
        }
        UpdateData::SystemInfo(info) => vec![
            SystemInfoEvent {
                info,
                source: EventSource::Event,
            }
            .encode(),
        ],
        UpdateData::None | UpdateData::Unknown(_) => Vec::new(),
    }
}
