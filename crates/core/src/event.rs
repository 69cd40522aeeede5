//! Event mapping: a Finesse object, seen by one signed-in agent, becomes a
//! client event frame in the Acqueon-compatible shape of the seed sample
//! (Acqueon's published "Outbound APIs" page; the full table is in
//! docs/protocol.md).
//!
//! This module owns the JSON shape of the four event kinds: call events
//! (`OutboundCall/OutBoundCallStateChange`, `InboundCall/InBoundCallStateChange`),
//! `Agent/SetAgentState`, `Error/SetAPIError` and `System/SetSystemInfo`. The
//! views here borrow the Finesse objects and serialize straight to JSON, so a
//! notification is encoded with no intermediate `serde_json::Value`. Call and
//! agent state events, the hot path, are written directly (`crate::json`);
//! their `Serialize` impls are the reference that property tests hold the
//! direct writing to, byte for byte.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use switchboard_finesse::{
    ApiError, CallVariable, Dialog, FinesseNode, MediaProperties, Node, Notification, Participant,
    SystemInfo, UpdateData, UpdateEvent, User, is_ba_variable,
};

use std::sync::{Arc, OnceLock};

use crate::actions::{ACTION_TABLE, ActionSpec, action_spec};
use crate::json::{self, Object};

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

/// What an encoded event is about, for routing to topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A call event for dialog `dialog_id`.
    Call {
        /// The dialog.
        dialog_id: String,
    },
    /// An agent state event.
    AgentState {
        /// The agent.
        agent_id: String,
    },
    /// A CTI error, for the dialog named in its source if any.
    ApiError {
        /// The dialog the error is about.
        dialog_id: Option<String>,
        /// Finesse's requestId of the failed request.
        request_id: Option<String>,
    },
    /// Finesse in or out of service.
    SystemInfo,
}

/// One event frame, encoded once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    /// Routing information.
    pub kind: EventKind,
    /// The whole frame as JSON text.
    pub json: String,
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

    /// Encodes the whole frame.
    pub fn encode(&self) -> EncodedEvent {
        self.encode_with(Shared::default())
    }

    /// The actions Finesse allows the agent's participant: what
    /// `ButtonStates` and `ActionsAllowed` show. None when the agent does not
    /// take part, and none for a deleted dialog: Finesse's last view of it
    /// may still list actions (a rejected preview reservation keeps ACCEPT,
    /// REJECT and CLOSE), but a dialog gone from the agent's list can no
    /// longer be acted on.
    pub fn actions(&self) -> &'a [switchboard_finesse::Action] {
        if self.deleted {
            return &[];
        }
        self.participant().map_or(&[][..], |p| &p.actions[..])
    }

    /// Encodes the whole frame, taking parts written before from `shared`
    /// when they were written from this event's own properties and actions
    /// ([`MediaJson::is_of`], [`ActionsJson::is_of`]), and writing them
    /// afresh otherwise: the frame is always the one `encode` writes.
    pub fn encode_with(&self, shared: Shared<'_>) -> EncodedEvent {
        let shared = Shared {
            media: shared
                .media
                .filter(|m| m.is_of(&self.dialog.media_properties)),
            actions: shared.actions.filter(|a| a.is_of(self.actions())),
        };
        EncodedEvent {
            kind: EventKind::Call {
                dialog_id: self.dialog.id.clone(),
            },
            json: self
                .write_json(shared)
                .unwrap_or_else(|_| to_json(self, CALL_EVENT_CAPACITY)),
        }
    }

    /// The frame's JSON, written directly (`crate::json`): byte for byte
    /// what the `Serialize` impls below write (a property test checks), with
    /// no map machinery and no escaping of constant keys. `shared` holds only
    /// parts written from this event's own properties and actions.
    fn write_json(&self, shared: Shared<'_>) -> serde_json::Result<String> {
        let d = self.dialog;
        let rendered_media;
        let media = match shared.media {
            Some(m) => &**m,
            None => {
                rendered_media = MediaJson::render(&d.media_properties)?;
                &rendered_media
            }
        };
        let rendered_actions;
        let actions = match shared.actions {
            Some(a) => &**a,
            None => {
                rendered_actions = ActionsJson::render(self.actions())?;
                &rendered_actions
            }
        };
        // Written once, copied into `ResponseActual.dialog` and `ResponseFields`.
        let mut participants = Vec::with_capacity(PARTICIPANTS_CAPACITY);
        write_participants(&mut participants, &d.participants)?;
        let media_view = media.view().as_bytes();
        let call_state = self.call_state();
        let state_change_time = self.state_change_time();

        let mut out = Vec::with_capacity(CALL_EVENT_CAPACITY);
        let (topic, subtopic) = self.topic();
        let mut frame = Object::open(&mut out);
        frame.str("channel", "Cisco")?;
        frame.str("topic", topic)?;
        frame.str("subtopic", subtopic)?;
        let mut data = Object::open(frame.key("data"));
        data.str("source", self.source.as_str())?;
        let mut call = Object::open(data.key("call"));
        call.raw("ButtonStates", actions.buttons().as_bytes());
        call.raw("ActionsAllowed", actions.allowed().as_bytes());
        call.raw("ResponseType", b"0");
        call.str("ResponseText", "Success")?;
        {
            let mut actual = Object::open(call.key("ResponseActual"));
            let mut dialog = Object::open(actual.key("dialog"));
            dialog.opt("associatedDialogUri", &d.associated_dialog_uri)?;
            dialog.opt("callbackNumber", &d.callback_number)?;
            dialog.opt("fromAddress", &d.from_address)?;
            dialog.str("id", &d.id)?;
            dialog.raw("mediaProperties", media_view);
            dialog.opt("mediaType", &d.media_type)?;
            dialog.raw("participants", &participants);
            if let Some(info) = &d.scheduled_callback_info {
                let mut i = Object::open(dialog.key("scheduledCallbackInfo"));
                i.opt("callbackTime", &info.callback_time)?;
                i.opt("callbackNumber", &info.callback_number)?;
                i.close();
            }
            dialog.opt("secondaryId", &d.secondary_id)?;
            dialog.str("state", d.state.as_str())?;
            dialog.opt("toAddress", &d.to_address)?;
            dialog.opt("uri", &d.uri)?;
            dialog.str("CallState", call_state)?;
            if let Some(t) = state_change_time {
                dialog.str("CallStateChangeTime", t)?;
            }
            dialog.str("Type", self.type_name())?;
            dialog.close();
            let mut user = Object::open(actual.key("user"));
            user.str("extension", &self.agent.extension)?;
            user.str("username", &self.agent.id)?;
            user.close();
            if let Some(id) = self.finesse_request_id {
                actual.str("requestId", id)?;
            }
            actual.close();
        }
        call.raw("CallVariables", media.call_variables().as_bytes());
        call.raw("ExtendedCallVariables", media.extended().as_bytes());
        {
            let mut fields = Object::open(call.key("ResponseFields"));
            fields.raw("Participants", &participants);
            fields.raw("MediaProperties", media_view);
            fields.opt("fromAddress", &d.from_address)?;
            fields.opt("mediaType", &d.media_type)?;
            fields.opt("toAddress", &d.to_address)?;
            fields.str("CallState", call_state)?;
            fields.str("Type", self.type_name())?;
            if let Some(t) = state_change_time {
                fields.str("CallStateChangeTime", t)?;
            }
            if let Some(c) = d.call_variable("BACampaign") {
                fields.str("Campaign", c)?;
            }
            fields.opt("DN", &d.media_properties.dialed_number)?;
            fields.close();
        }
        call.str("id", &d.id)?;
        call.close();
        data.str("event", self.event_name())?;
        data.close();
        frame.close();
        String::from_utf8(out).map_err(serde::ser::Error::custom)
    }
}

/// `{"participant":[...]}` written directly, as [`Participants`] serializes.
fn write_participants(out: &mut Vec<u8>, list: &[Participant]) -> serde_json::Result<()> {
    out.extend_from_slice(br#"{"participant":["#);
    for (i, p) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut o = Object::open(out);
        {
            let actions = o.key("actions");
            actions.push(b'[');
            for (j, a) in p.actions.iter().enumerate() {
                if j > 0 {
                    actions.push(b',');
                }
                json::string(actions, a.as_str())?;
            }
            actions.push(b']');
        }
        o.str("mediaAddress", &p.media_address)?;
        o.opt("mediaAddressType", &p.media_address_type)?;
        o.opt("startTime", &p.start_time)?;
        o.str("state", p.state.as_str())?;
        o.opt("stateCause", &p.state_cause)?;
        o.opt("stateChangeTime", &p.state_change_time)?;
        o.close();
    }
    out.extend_from_slice(b"]}");
    Ok(())
}

/// The reference rendering of a call event, through serde: what
/// [`CallEvent::encode_with`] writes directly, byte for byte (property tests
/// check), and what it falls back to should the direct writing fail.
impl Serialize for CallEvent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (topic, subtopic) = self.topic();
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("channel", "Cisco")?;
        m.serialize_entry("topic", topic)?;
        m.serialize_entry("subtopic", subtopic)?;
        m.serialize_entry("data", &CallData(self))?;
        m.end()
    }
}

/// Parts of call events that many events have in common, written before:
/// see [`CallEvent::encode_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Shared<'s> {
    /// The JSON of the dialog's media properties.
    pub media: Option<&'s Arc<MediaJson>>,
    /// The JSON of the agent's buttons and allowed actions.
    pub actions: Option<&'s Arc<ActionsJson>>,
}

struct CallData<'e, 'a>(&'e CallEvent<'a>);

impl Serialize for CallData<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("source", &e.source)?;
        m.serialize_entry("call", &Call(e))?;
        m.serialize_entry("event", e.event_name())?;
        m.end()
    }
}

struct Call<'e, 'a>(&'e CallEvent<'a>);

impl Serialize for Call<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let variables = &e.dialog.media_properties.call_variables;
        let mut m = s.serialize_map(Some(9))?;
        m.serialize_entry("ButtonStates", &ButtonStates(e.actions()))?;
        m.serialize_entry("ActionsAllowed", &ActionsAllowed(e.actions()))?;
        m.serialize_entry("ResponseType", &0)?;
        m.serialize_entry("ResponseText", "Success")?;
        m.serialize_entry("ResponseActual", &ResponseActual(e))?;
        m.serialize_entry("CallVariables", &CallVariables(variables))?;
        m.serialize_entry("ExtendedCallVariables", &ExtendedCallVariables(variables))?;
        m.serialize_entry("ResponseFields", &ResponseFields(e))?;
        m.serialize_entry("id", &e.dialog.id)?;
        m.end()
    }
}

/// The distinct actions that have a button, in the participant's order.
fn buttons(
    actions: &[switchboard_finesse::Action],
) -> impl Iterator<Item = &'static crate::actions::ActionSpec> {
    actions
        .iter()
        .enumerate()
        .filter(|(i, a)| !actions[..*i].contains(a))
        .filter_map(|(_, a)| action_spec(a))
}

struct ButtonStates<'a>(&'a [switchboard_finesse::Action]);

impl Serialize for ButtonStates<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Items<'a>(&'a [switchboard_finesse::Action]);
        impl Serialize for Items<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                for spec in buttons(self.0) {
                    m.serialize_entry(spec.button, "Enable")?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("items", &Items(self.0))?;
        m.serialize_entry("count", &buttons(self.0).count())?;
        m.end()
    }
}

struct ActionsAllowed<'a>(&'a [switchboard_finesse::Action]);

impl Serialize for ActionsAllowed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Items<'a>(&'a [switchboard_finesse::Action]);
        impl Serialize for Items<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                for spec in buttons(self.0) {
                    m.serialize_entry(spec.subtopic, &AllowedEntry(spec))?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("items", &Items(self.0))?;
        m.serialize_entry("count", &buttons(self.0).count())?;
        m.end()
    }
}

/// `ButtonStates` and `ActionsAllowed` for one list of allowed actions,
/// written directly (`crate::json`) as the `Serialize` impls above write
/// them. They depend on that list alone, and a contact center sees a few
/// dozen lists (one per participant state and call type), so the state cache
/// keeps the recent ones and each is written once.
#[derive(Debug)]
pub struct ActionsJson {
    /// The actions it was written from.
    of: Vec<switchboard_finesse::Action>,
    /// `ButtonStates` then `ActionsAllowed`.
    text: String,
    /// Where `ButtonStates` ends in `text`.
    buttons_end: usize,
}

impl ActionsJson {
    /// Writes the parts of `actions`.
    pub fn render(
        actions: &[switchboard_finesse::Action],
    ) -> Result<ActionsJson, serde_json::Error> {
        fn items(
            out: &mut Vec<u8>,
            actions: &[switchboard_finesse::Action],
            mut write: impl FnMut(&mut Object<'_>, &'static ActionSpec) -> serde_json::Result<()>,
        ) -> serde_json::Result<()> {
            let mut list = Object::open(out);
            let mut items = Object::open(list.key("items"));
            let mut count = 0;
            for spec in buttons(actions) {
                write(&mut items, spec)?;
                count += 1;
            }
            items.close();
            list.raw("count", itoa::Buffer::new().format(count).as_bytes());
            list.close();
            Ok(())
        }
        let mut out = Vec::with_capacity(ACTIONS_CAPACITY);
        items(&mut out, actions, |items, spec| {
            items.str(spec.button, "Enable")
        })?;
        let buttons_end = out.len();
        items(&mut out, actions, |items, spec| {
            let entry = match rendered_entry(spec) {
                Some(entry) => entry.as_bytes(),
                None => &serde_json::to_vec(&AllowedEntry(spec))?,
            };
            items.raw(spec.subtopic, entry);
            Ok(())
        })?;
        Ok(ActionsJson {
            of: actions.to_vec(),
            text: String::from_utf8(out).map_err(serde::ser::Error::custom)?,
            buttons_end,
        })
    }

    /// Whether it was written from `actions` (the same list, in the same order).
    pub fn is_of(&self, actions: &[switchboard_finesse::Action]) -> bool {
        self.of == actions
    }

    fn buttons(&self) -> &str {
        self.text.get(..self.buttons_end).unwrap_or_default()
    }

    fn allowed(&self) -> &str {
        self.text.get(self.buttons_end..).unwrap_or_default()
    }
}

/// One `ActionsAllowed` entry: the same for every event with that button.
struct AllowedEntry(&'static ActionSpec);

impl Serialize for AllowedEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
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
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("VariableName", self.0.variable)?;
        m.serialize_entry("VariableType", &3)?;
        m.serialize_entry("ButtonName", self.0.button)?;
        m.serialize_entry("VariableStructure", &Template(self.0.fields))?;
        m.end()
    }
}

/// The `ActionsAllowed` entry of `spec` (an entry of [`ACTION_TABLE`]) as
/// JSON text, written by serde_json once per process and then copied as is
/// (a quarter of a golden call event is these constant entries).
fn rendered_entry(spec: &'static ActionSpec) -> Option<&'static str> {
    static ENTRIES: OnceLock<Vec<Option<String>>> = OnceLock::new();
    let entries = ENTRIES.get_or_init(|| {
        ACTION_TABLE
            .iter()
            .map(|spec| serde_json::to_string(&AllowedEntry(spec)).ok())
            .collect()
    });
    let i = ACTION_TABLE.iter().position(|s| std::ptr::eq(s, spec))?;
    entries.get(i)?.as_deref()
}

/// The parts of a call event that come from the dialog's media properties
/// alone (`mediaProperties` in `ResponseActual.dialog` and `ResponseFields`,
/// `CallVariables`, `ExtendedCallVariables`), written directly. Finesse
/// repeats a dialog's media properties unchanged in most notifications about
/// it, and the dialog memo then hands back the same `Arc`; the state cache
/// keeps this JSON with the dialog for as long as that `Arc` stays, so the
/// properties are written once, not once per event.
#[derive(Debug)]
pub struct MediaJson {
    /// The properties it was written from.
    of: Arc<MediaProperties>,
    /// `mediaProperties`, `CallVariables` and `ExtendedCallVariables`, one
    /// after the other.
    text: String,
    /// Where the first two end in `text`.
    ends: [usize; 2],
}

impl MediaJson {
    /// Writes the parts of `p`, directly (`crate::json`), as `MediaView`,
    /// `CallVariables` and `ExtendedCallVariables` serialize.
    pub fn render(p: &Arc<MediaProperties>) -> Result<MediaJson, serde_json::Error> {
        let mut out = Vec::with_capacity(MEDIA_CAPACITY);
        let mut view = Object::open(&mut out);
        view.opt("DNIS", &p.dnis)?;
        if let Some(t) = &p.call_type {
            view.str("callType", t.as_str())?;
        }
        view.opt("dialedNumber", &p.dialed_number)?;
        view.raw("callvariables", b"{}");
        view.raw("eccvariables", b"{}");
        view.opt("queueNumber", &p.queue_number)?;
        view.opt("queueName", &p.queue_name)?;
        view.opt("callKeyCallId", &p.call_key_call_id)?;
        view.opt("callKeyPrefix", &p.call_key_prefix)?;
        view.opt("callKeySequenceNum", &p.call_key_sequence_num)?;
        view.opt("callGUID", &p.call_guid)?;
        view.opt("mediaId", &p.media_id)?;
        view.opt("outboundClassification", &p.outbound_classification)?;
        view.opt("wrapUpReason", &p.wrap_up_reason)?;
        if !p.wrap_up_items.is_empty() {
            let items = view.key("wrapUpItems");
            items.push(b'[');
            for (i, item) in p.wrap_up_items.iter().enumerate() {
                if i > 0 {
                    items.push(b',');
                }
                json::string(items, item)?;
            }
            items.push(b']');
        }
        view.close();
        let view_end = out.len();

        let variables = &p.call_variables;
        let mut numbered = Object::open(&mut out);
        for name in NUMBERED {
            let value = variables
                .iter()
                .find(|v| v.name == name)
                .map_or("", |v| v.value.as_str());
            numbered.str(name, value)?;
        }
        for v in variables.iter().filter(|v| is_ba_variable(&v.name)) {
            json::string(numbered.any_key(&v.name)?, &v.value)?;
        }
        numbered.close();
        let call_variables_end = out.len();

        let mut extended = Object::open(&mut out);
        for v in variables {
            if is_ba_variable(&v.name) || NUMBERED.contains(&v.name.as_str()) {
                continue;
            }
            let name = v.name.strip_prefix("user.").unwrap_or(&v.name);
            json::string(extended.any_key(name)?, &v.value)?;
        }
        extended.close();
        Ok(MediaJson {
            of: p.clone(),
            text: String::from_utf8(out).map_err(serde::ser::Error::custom)?,
            ends: [view_end, call_variables_end],
        })
    }

    fn view(&self) -> &str {
        self.text.get(..self.ends[0]).unwrap_or_default()
    }

    fn call_variables(&self) -> &str {
        self.text
            .get(self.ends[0]..self.ends[1])
            .unwrap_or_default()
    }

    fn extended(&self) -> &str {
        self.text.get(self.ends[1]..).unwrap_or_default()
    }

    /// Whether it was written from `p` itself (the same allocation, so the
    /// same content: a dialog's properties change only through a new `Arc`
    /// or `Arc::make_mut`, which copies a shared one).
    pub fn is_of(&self, p: &Arc<MediaProperties>) -> bool {
        Arc::ptr_eq(&self.of, p)
    }
}

struct ResponseActual<'e, 'a>(&'e CallEvent<'a>);

impl Serialize for ResponseActual<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("dialog", &DialogView(e))?;
        m.serialize_entry(
            "user",
            &UserRef {
                extension: &e.agent.extension,
                username: &e.agent.id,
            },
        )?;
        if let Some(id) = e.finesse_request_id {
            m.serialize_entry("requestId", id)?;
        }
        m.end()
    }
}

/// `ResponseActual.user`: who the event is for. Deliberately has no password field.
#[derive(Serialize)]
struct UserRef<'a> {
    extension: &'a str,
    username: &'a str,
}

struct DialogView<'e, 'a>(&'e CallEvent<'a>);

impl Serialize for DialogView<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let d = e.dialog;
        let mut m = s.serialize_map(None)?;
        entry_opt(&mut m, "associatedDialogUri", &d.associated_dialog_uri)?;
        entry_opt(&mut m, "callbackNumber", &d.callback_number)?;
        entry_opt(&mut m, "fromAddress", &d.from_address)?;
        m.serialize_entry("id", &d.id)?;
        m.serialize_entry("mediaProperties", &MediaView(&d.media_properties))?;
        entry_opt(&mut m, "mediaType", &d.media_type)?;
        m.serialize_entry("participants", &Participants(&d.participants))?;
        if let Some(info) = &d.scheduled_callback_info {
            struct Info<'a>(&'a switchboard_finesse::ScheduledCallbackInfo);
            impl Serialize for Info<'_> {
                fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let mut m = s.serialize_map(None)?;
                    entry_opt(&mut m, "callbackTime", &self.0.callback_time)?;
                    entry_opt(&mut m, "callbackNumber", &self.0.callback_number)?;
                    m.end()
                }
            }
            m.serialize_entry("scheduledCallbackInfo", &Info(info))?;
        }
        entry_opt(&mut m, "secondaryId", &d.secondary_id)?;
        m.serialize_entry("state", &d.state)?;
        entry_opt(&mut m, "toAddress", &d.to_address)?;
        entry_opt(&mut m, "uri", &d.uri)?;
        m.serialize_entry("CallState", e.call_state())?;
        if let Some(t) = e.state_change_time() {
            m.serialize_entry("CallStateChangeTime", t)?;
        }
        m.serialize_entry("Type", e.type_name())?;
        m.end()
    }
}

fn entry_opt<M: SerializeMap>(
    m: &mut M,
    key: &str,
    value: &Option<String>,
) -> Result<(), M::Error> {
    match value {
        Some(v) => m.serialize_entry(key, v),
        None => Ok(()),
    }
}

/// `mediaProperties`, as the seed shows it: the call variables are carried in
/// `CallVariables` / `ExtendedCallVariables`, so `callvariables` and
/// `eccvariables` stay empty objects here (the seed's rendering).
struct MediaView<'a>(&'a MediaProperties);

impl Serialize for MediaView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Empty;
        impl Serialize for Empty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_map(Some(0))?.end()
            }
        }
        let p = self.0;
        let mut m = s.serialize_map(None)?;
        entry_opt(&mut m, "DNIS", &p.dnis)?;
        if let Some(t) = &p.call_type {
            m.serialize_entry("callType", t)?;
        }
        entry_opt(&mut m, "dialedNumber", &p.dialed_number)?;
        m.serialize_entry("callvariables", &Empty)?;
        m.serialize_entry("eccvariables", &Empty)?;
        entry_opt(&mut m, "queueNumber", &p.queue_number)?;
        entry_opt(&mut m, "queueName", &p.queue_name)?;
        entry_opt(&mut m, "callKeyCallId", &p.call_key_call_id)?;
        entry_opt(&mut m, "callKeyPrefix", &p.call_key_prefix)?;
        entry_opt(&mut m, "callKeySequenceNum", &p.call_key_sequence_num)?;
        entry_opt(&mut m, "callGUID", &p.call_guid)?;
        entry_opt(&mut m, "mediaId", &p.media_id)?;
        entry_opt(&mut m, "outboundClassification", &p.outbound_classification)?;
        entry_opt(&mut m, "wrapUpReason", &p.wrap_up_reason)?;
        if !p.wrap_up_items.is_empty() {
            m.serialize_entry("wrapUpItems", &p.wrap_up_items)?;
        }
        m.end()
    }
}

/// `{"participant": [...]}`.
struct Participants<'a>(&'a [Participant]);

impl Serialize for Participants<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct List<'a>(&'a [Participant]);
        impl Serialize for List<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for p in self.0 {
                    seq.serialize_element(&ParticipantView(p))?;
                }
                seq.end()
            }
        }
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("participant", &List(self.0))?;
        m.end()
    }
}

struct ParticipantView<'a>(&'a Participant);

impl Serialize for ParticipantView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("actions", &p.actions)?;
        m.serialize_entry("mediaAddress", &p.media_address)?;
        entry_opt(&mut m, "mediaAddressType", &p.media_address_type)?;
        entry_opt(&mut m, "startTime", &p.start_time)?;
        m.serialize_entry("state", &p.state)?;
        entry_opt(&mut m, "stateCause", &p.state_cause)?;
        entry_opt(&mut m, "stateChangeTime", &p.state_change_time)?;
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

struct ResponseFields<'e, 'a>(&'e CallEvent<'a>);

impl Serialize for ResponseFields<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let d = e.dialog;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("Participants", &Participants(&d.participants))?;
        m.serialize_entry("MediaProperties", &MediaView(&d.media_properties))?;
        entry_opt(&mut m, "fromAddress", &d.from_address)?;
        entry_opt(&mut m, "mediaType", &d.media_type)?;
        entry_opt(&mut m, "toAddress", &d.to_address)?;
        m.serialize_entry("CallState", e.call_state())?;
        m.serialize_entry("Type", e.type_name())?;
        if let Some(t) = e.state_change_time() {
            m.serialize_entry("CallStateChangeTime", t)?;
        }
        if let Some(c) = d.call_variable("BACampaign") {
            m.serialize_entry("Campaign", c)?;
        }
        entry_opt(&mut m, "DN", &d.media_properties.dialed_number)?;
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
    /// Encodes the whole frame.
    pub fn encode(&self) -> EncodedEvent {
        EncodedEvent {
            kind: EventKind::AgentState {
                agent_id: self.user.login_id.clone(),
            },
            json: self
                .write_json()
                .unwrap_or_else(|_| to_json(self, SMALL_EVENT_CAPACITY)),
        }
    }

    /// The frame's JSON, written directly: keys and punctuation as constant
    /// bytes, every value through [`json::string`] (escaped as serde_json
    /// escapes it). Byte for byte
    /// what the `Serialize` impl below writes (a property test checks); it
    /// saves serde_json escaping the keys and the map machinery, about half of
    /// the cost of rendering a User change.
    fn write_json(&self) -> serde_json::Result<String> {
        /// `,"key":` then the value.
        fn entry(out: &mut Vec<u8>, key: &[u8], value: &str) -> serde_json::Result<()> {
            out.extend_from_slice(key);
            json::string(out, value)
        }
        fn entry_opt(
            out: &mut Vec<u8>,
            key: &[u8],
            value: &Option<String>,
        ) -> serde_json::Result<()> {
            match value {
                Some(v) => entry(out, key, v),
                None => Ok(()),
            }
        }
        let u = self.user;
        let mut out = Vec::with_capacity(SMALL_EVENT_CAPACITY);
        out.extend_from_slice(
            br#"{"channel":"Cisco","topic":"Agent","subtopic":"SetAgentState","data":{"source":""#,
        );
        // Source names have nothing to escape.
        out.extend_from_slice(self.source.as_str().as_bytes());
        out.push(b'"');
        entry(&mut out, br#","agentId":"#, &u.login_id)?;
        entry_opt(&mut out, br#","loginName":"#, &u.login_name)?;
        entry_opt(&mut out, br#","firstName":"#, &u.first_name)?;
        entry_opt(&mut out, br#","lastName":"#, &u.last_name)?;
        entry_opt(&mut out, br#","extension":"#, &u.extension)?;
        entry(&mut out, br#","state":"#, u.state.as_str())?;
        if let Some(p) = &u.pending_state {
            entry(&mut out, br#","pendingState":"#, p.as_str())?;
        }
        if let Some(id) = u.reason() {
            entry(&mut out, br#","reasonCodeId":"#, id)?;
        }
        if let Some(rc) = &u.reason_code {
            out.extend_from_slice(br#","reasonCode":{"#);
            let mut first = true;
            for (key, value) in [
                (br#""id":"#.as_slice(), &rc.id),
                (br#""code":"#, &rc.code),
                (br#""label":"#, &rc.label),
                (br#""category":"#, &rc.category),
            ] {
                if let Some(v) = value {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    entry(&mut out, key, v)?;
                }
            }
            out.push(b'}');
        }
        entry_opt(&mut out, br#","stateChangeTime":"#, &u.state_change_time)?;
        out.extend_from_slice(br#","roles":["#);
        for (i, role) in u.roles.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::string(&mut out, role)?;
        }
        out.push(b']');
        entry_opt(&mut out, br#","teamId":"#, &u.team_id)?;
        entry_opt(&mut out, br#","teamName":"#, &u.team_name)?;
        if !u.teams.is_empty() {
            out.extend_from_slice(br#","teams":["#);
            for (i, t) in u.teams.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                entry(&mut out, br#"{"id":"#, &t.id)?;
                entry_opt(&mut out, br#","name":"#, &t.name)?;
                out.push(b'}');
            }
            out.push(b']');
        }
        let event = if self.deleted {
            DELETED
        } else {
            u.state.as_str()
        };
        entry(&mut out, br#","event":"#, event)?;
        out.extend_from_slice(b"}}");
        String::from_utf8(out).map_err(serde::ser::Error::custom)
    }
}

impl Serialize for AgentStateEvent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Data<'e, 'a>(&'e AgentStateEvent<'a>);
        impl Serialize for Data<'_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let u = self.0.user;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("source", &self.0.source)?;
                m.serialize_entry("agentId", &u.login_id)?;
                entry_opt(&mut m, "loginName", &u.login_name)?;
                entry_opt(&mut m, "firstName", &u.first_name)?;
                entry_opt(&mut m, "lastName", &u.last_name)?;
                entry_opt(&mut m, "extension", &u.extension)?;
                m.serialize_entry("state", &u.state)?;
                if let Some(p) = &u.pending_state {
                    m.serialize_entry("pendingState", p)?;
                }
                if let Some(id) = u.reason() {
                    m.serialize_entry("reasonCodeId", id)?;
                }
                if let Some(rc) = &u.reason_code {
                    struct Rc<'a>(&'a switchboard_finesse::ReasonCode);
                    impl Serialize for Rc<'_> {
                        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                            let mut m = s.serialize_map(None)?;
                            entry_opt(&mut m, "id", &self.0.id)?;
                            entry_opt(&mut m, "code", &self.0.code)?;
                            entry_opt(&mut m, "label", &self.0.label)?;
                            entry_opt(&mut m, "category", &self.0.category)?;
                            m.end()
                        }
                    }
                    m.serialize_entry("reasonCode", &Rc(rc))?;
                }
                entry_opt(&mut m, "stateChangeTime", &u.state_change_time)?;
                m.serialize_entry("roles", &u.roles)?;
                entry_opt(&mut m, "teamId", &u.team_id)?;
                entry_opt(&mut m, "teamName", &u.team_name)?;
                if !u.teams.is_empty() {
                    #[derive(Serialize)]
                    struct Team<'a> {
                        id: &'a str,
                        #[serde(skip_serializing_if = "Option::is_none")]
                        name: Option<&'a str>,
                    }
                    let teams: Vec<Team<'_>> = u
                        .teams
                        .iter()
                        .map(|t| Team {
                            id: &t.id,
                            name: t.name.as_deref(),
                        })
                        .collect();
                    m.serialize_entry("teams", &teams)?;
                }
                let event = if self.0.deleted {
                    DELETED
                } else {
                    u.state.as_str()
                };
                m.serialize_entry("event", event)?;
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("channel", "Cisco")?;
        m.serialize_entry("topic", "Agent")?;
        m.serialize_entry("subtopic", "SetAgentState")?;
        m.serialize_entry("data", &Data(self))?;
        m.end()
    }
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

    /// Encodes the whole frame.
    pub fn encode(&self) -> EncodedEvent {
        EncodedEvent {
            kind: EventKind::ApiError {
                dialog_id: self.dialog_id.map(str::to_owned),
                request_id: self.finesse_request_id.map(str::to_owned),
            },
            json: to_json(self, SMALL_EVENT_CAPACITY),
        }
    }
}

impl Serialize for ApiErrorEvent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Inner<'e, 'a>(&'e ApiErrorEvent<'a>);
        impl Serialize for Inner<'_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let e = self.0;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("errorType", &e.error.error_type)?;
                m.serialize_entry("errorMessage", &e.error.error_message)?;
                entry_opt(&mut m, "errorData", &e.error.error_data)?;
                m.serialize_entry("msg", &e.message())?;
                if let Some(id) = e.dialog_id {
                    m.serialize_entry("dialogId", id)?;
                }
                if let Some(id) = e.finesse_request_id {
                    m.serialize_entry("finesseRequestId", id)?;
                }
                m.end()
            }
        }
        struct Data<'e, 'a>(&'e ApiErrorEvent<'a>);
        impl Serialize for Data<'_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("source", &EventSource::Event)?;
                m.serialize_entry("packet", "apierror")?;
                m.serialize_entry("data", &Inner(self.0))?;
                m.end()
            }
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("channel", "Cisco")?;
        m.serialize_entry("topic", "Error")?;
        m.serialize_entry("subtopic", "SetAPIError")?;
        m.serialize_entry("data", &Data(self))?;
        if let Some(id) = self.client_request_id {
            m.serialize_entry("requestId", id)?;
        }
        m.end()
    }
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
    /// Encodes the whole frame.
    pub fn encode(&self) -> EncodedEvent {
        EncodedEvent {
            kind: EventKind::SystemInfo,
            json: to_json(self, SMALL_EVENT_CAPACITY),
        }
    }
}

impl Serialize for SystemInfoEvent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct NodeView<'a>(&'a FinesseNode);
        impl Serialize for NodeView<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("host", &self.0.host)?;
                entry_opt(&mut m, "httpsPort", &self.0.https_port)?;
                entry_opt(&mut m, "xmppPort", &self.0.xmpp_port)?;
                entry_opt(&mut m, "xmppSecurePort", &self.0.xmpp_secure_port)?;
                m.end()
            }
        }
        struct Data<'e, 'a>(&'e SystemInfoEvent<'a>);
        impl Serialize for Data<'_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let i = self.0.info;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("source", &self.0.source)?;
                m.serialize_entry("status", &i.status)?;
                entry_opt(&mut m, "statusReason", &i.status_reason)?;
                entry_opt(&mut m, "deploymentType", &i.deployment_type)?;
                entry_opt(&mut m, "currentTimestamp", &i.current_timestamp)?;
                entry_opt(&mut m, "xmppDomain", &i.xmpp_domain)?;
                entry_opt(&mut m, "xmppPubSubDomain", &i.xmpp_pub_sub_domain)?;
                if let Some(n) = &i.primary_node {
                    m.serialize_entry("primaryNode", &NodeView(n))?;
                }
                if let Some(n) = &i.secondary_node {
                    m.serialize_entry("secondaryNode", &NodeView(n))?;
                }
                m.serialize_entry("event", &i.status)?;
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("channel", "Cisco")?;
        m.serialize_entry("topic", "System")?;
        m.serialize_entry("subtopic", "SetSystemInfo")?;
        m.serialize_entry("data", &Data(self))?;
        m.end()
    }
}

/// The buffer a call event is written into: a golden call event is 3.8 KB, so
/// the text is written without growing (and copying) the buffer on the way.
const CALL_EVENT_CAPACITY: usize = 4096;

/// The buffer of a dialog's media JSON (the golden call's is 600 bytes).
const MEDIA_CAPACITY: usize = 1024;

/// The buffer of one list's `ButtonStates` and `ActionsAllowed` (the golden
/// call's take 1,055 bytes).
const ACTIONS_CAPACITY: usize = 1536;

/// The buffer the participants of a call event are written into (the two
/// parties of the golden call take 536 bytes).
const PARTICIPANTS_CAPACITY: usize = 1024;

/// The buffer of the other events (an agent state event is about 400 bytes).
const SMALL_EVENT_CAPACITY: usize = 512;

fn to_json<T: Serialize>(frame: &T, capacity: usize) -> String {
    // The views above serialize only strings, numbers, sequences and maps with
    // string keys, which serde_json cannot fail to write; what it writes is UTF-8.
    let mut buf = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut buf, frame)
        .map_err(|e| e.to_string())
        .and_then(|()| String::from_utf8(buf).map_err(|e| e.to_string()))
        .unwrap_or_else(|e| {
            format!(
                r#"{{"channel":"Cisco","topic":"Error","subtopic":"SetAPIError","data":{{"packet":"apierror","data":{{"errorType":"Internal","errorMessage":{e:?}}}}}}}"#
            )
        })
}

/// Maps one notification, as seen by `agent`, to its event frames.
///
/// This is the whole of the "events" stage for one agent's view; the state
/// cache calls the same views with its own copies of the objects.
pub fn map_notification(n: &Notification, agent: &SignedInAgent) -> Vec<EncodedEvent> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use switchboard_finesse::{
        Action, CallType, DialogState, ParticipantState, ReasonCode, ScheduledCallbackInfo,
        TeamRef, UserState,
    };

    /// Text with what JSON must escape: quotes, backslashes, control
    /// characters, and non-ASCII.
    fn text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 _/\\\"\u{0}-\u{1f}\u{7f}é中-]{0,12}"
    }

    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    fn user_state() -> impl Strategy<Value = UserState> {
        prop_oneof![
            proptest::sample::select(UserState::KNOWN.to_vec()),
            text().prop_map(UserState::Other),
        ]
    }

    prop_compose! {
        fn user()(
            login_id in text(),
            names in (opt_text(), opt_text(), opt_text(), opt_text()),
            state in user_state(),
            pending_state in proptest::option::of(user_state()),
            reason_code_id in prop_oneof![Just(Some("-1".to_owned())), opt_text()],
            reason_code in proptest::option::of(
                (opt_text(), opt_text(), opt_text(), opt_text(), opt_text()).prop_map(
                    |(id, code, label, category, uri)| ReasonCode { id, code, label, category, uri },
                ),
            ),
            rest in (opt_text(), proptest::collection::vec(text(), 0..3), opt_text(), opt_text()),
            teams in proptest::collection::vec(
                (text(), opt_text()).prop_map(|(id, name)| TeamRef { id, name, uri: None }),
                0..3,
            ),
        ) -> User {
            let (login_name, first_name, last_name, extension) = names;
            let (state_change_time, roles, team_id, team_name) = rest;
            User {
                login_id,
                login_name,
                first_name,
                last_name,
                extension,
                state,
                pending_state,
                reason_code_id,
                reason_code,
                state_change_time,
                roles,
                team_id,
                team_name,
                teams,
                uri: None,
                dialogs: None,
            }
        }
    }

    proptest! {
        /// The agent state event written directly is what serde_json writes
        /// from the `Serialize` impl.
        #[test]
        fn agent_state_json_is_what_serde_json_writes(
            user in user(),
            source in proptest::sample::select(vec![
                EventSource::Event, EventSource::Snapshot, EventSource::Replay, EventSource::Resync,
            ]),
            deleted in any::<bool>(),
        ) {
            let event = AgentStateEvent { user: &user, source, deleted };
            let direct = event.write_json().expect("writes");
            prop_assert_eq!(&direct, &serde_json::to_string(&event).expect("serializes"));
            prop_assert_eq!(event.encode().json, direct);
        }
    }

    fn known<T: Clone + std::fmt::Debug + 'static>(
        known: &'static [T],
        other: fn(String) -> T,
    ) -> impl Strategy<Value = T> {
        prop_oneof![
            4 => proptest::sample::select(known.to_vec()),
            1 => text().prop_map(other),
        ]
    }

    fn participant() -> impl Strategy<Value = Participant> {
        (
            proptest::collection::vec(known(Action::KNOWN, Action::Other), 0..6),
            prop_oneof![Just("5068".to_owned()), text()],
            (opt_text(), opt_text(), opt_text(), opt_text()),
            known(ParticipantState::KNOWN, ParticipantState::Other),
        )
            .prop_map(|(actions, media_address, rest, state)| {
                let (media_address_type, start_time, state_cause, state_change_time) = rest;
                Participant {
                    actions,
                    media_address,
                    media_address_type,
                    start_time,
                    state,
                    state_cause,
                    state_change_time,
                }
            })
    }

    fn media_properties() -> impl Strategy<Value = MediaProperties> {
        let variable = (
            prop_oneof![
                Just("callVariable1".to_owned()),
                Just("BACampaign".to_owned()),
                Just("user.account".to_owned()),
                text(),
            ],
            text(),
        )
            .prop_map(|(name, value)| CallVariable { name, value });
        (
            (opt_text(), opt_text(), opt_text(), opt_text()),
            proptest::option::of(known(CallType::KNOWN, CallType::Other)),
            proptest::collection::vec(variable, 0..5),
            proptest::collection::vec(text(), 0..2),
        )
            .prop_map(
                |((media_id, dialed_number, dnis, queue_name), call_type, vars, items)| {
                    MediaProperties {
                        media_id,
                        dialed_number,
                        call_type,
                        dnis,
                        queue_name,
                        call_variables: vars,
                        wrap_up_items: items,
                        ..MediaProperties::default()
                    }
                },
            )
    }

    prop_compose! {
        fn dialog()(
            id in text(),
            links in (opt_text(), opt_text(), opt_text(), opt_text()),
            addresses in (opt_text(), opt_text(), opt_text()),
            state in known(DialogState::KNOWN, DialogState::Other),
            media in media_properties(),
            participants in proptest::collection::vec(participant(), 0..4),
            callback in proptest::option::of((opt_text(), opt_text()).prop_map(
                |(callback_time, callback_number)| ScheduledCallbackInfo {
                    callback_time,
                    callback_number,
                },
            )),
        ) -> Dialog {
            let (uri, associated_dialog_uri, secondary_id, media_type) = links;
            let (from_address, to_address, callback_number) = addresses;
            Dialog {
                id,
                uri,
                associated_dialog_uri,
                secondary_id,
                media_type,
                from_address,
                to_address,
                callback_number,
                state,
                media_properties: Arc::new(media),
                participants,
                scheduled_callback_info: callback,
            }
        }
    }

    proptest! {
        /// The call event written directly is what serde_json writes from the
        /// `Serialize` impls, with and without parts written before.
        #[test]
        fn call_event_json_is_what_serde_json_writes(
            dialog in dialog(),
            agent in (prop_oneof![Just("5068".to_owned()), text()], text())
                .prop_map(|(extension, id)| SignedInAgent { id, extension }),
            source in proptest::sample::select(vec![
                EventSource::Event, EventSource::Snapshot, EventSource::Replay, EventSource::Resync,
            ]),
            deleted in any::<bool>(),
            finesse_request_id in opt_text(),
        ) {
            let event = CallEvent {
                dialog: &dialog,
                agent: &agent,
                source,
                deleted,
                finesse_request_id: finesse_request_id.as_deref(),
            };
            let reference = serde_json::to_string(&event).expect("serializes");
            let direct = event.write_json(Shared::default()).expect("writes");
            prop_assert_eq!(&direct, &reference);
            let media = Arc::new(MediaJson::render(&dialog.media_properties).expect("renders"));
            let actions = Arc::new(ActionsJson::render(event.actions()).expect("renders"));
            let shared = Shared { media: Some(&media), actions: Some(&actions) };
            prop_assert_eq!(&event.write_json(shared).expect("writes"), &reference);
            prop_assert_eq!(event.encode_with(shared).json, reference);
        }
    }

    #[test]
    fn rendered_entries_are_what_serde_json_writes() {
        for spec in ACTION_TABLE {
            let direct = serde_json::to_string(&AllowedEntry(spec)).expect("serializes");
            let rendered = rendered_entry(spec).expect("rendered");
            assert_eq!(rendered, direct, "{}", spec.subtopic);
            assert!(direct.starts_with(r#"{"VariableName":""#));
        }
    }
}
