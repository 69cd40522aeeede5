//! The call event (`OutboundCall/OutBoundCallStateChange`,
//! `InboundCall/InBoundCallStateChange`): one dialog as one agent sees it, and
//! the views of its frame.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use switchboard_finesse::{
    Action, CallVariable, Dialog, MediaProperties, Participant, is_ba_variable,
};

use super::{DELETED, EventSource, Frame, SignedInAgent, to_json};
use crate::actions::{ActionSpec, action_spec};

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
