//! The Dialog: one call as Finesse describes it (Finesse Developer Guide: Dialog API parameters),
//! with its
//! media properties, call variables, participants and scheduled callback.
//!
//! Optional text fields are `None` when the element is absent *or empty*:
//! Finesse writes empty elements freely (`<stateCause></stateCause>`), and
//! nothing distinguishes the two.

use serde::Serialize;

use crate::Error;
use crate::enums::{Action, CallType, DialogState, ParticipantState};
use crate::xml::{Elem, XmlReader, XmlWriter};

/// A Finesse Dialog (a voice call, a consult leg, a preview reservation...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dialog {
    /// The CTI call id; the key of the dialog everywhere.
    pub id: String,
    /// `/finesse/api/Dialog/{id}`.
    pub uri: Option<String>,
    /// Link to a related dialog (consult and original, monitor and barge).
    pub associated_dialog_uri: Option<String>,
    /// After a transfer or conference, the id of the call that was merged in.
    pub secondary_id: Option<String>,
    /// `Voice` for calls.
    pub media_type: Option<String>,
    /// Calling party.
    pub from_address: Option<String>,
    /// Called party.
    pub to_address: Option<String>,
    /// Direct-preview callback number (CCE).
    pub callback_number: Option<String>,
    /// State of the dialog as a whole.
    pub state: DialogState,
    /// Call type, numbers, queue and call variables.
    pub media_properties: MediaProperties,
    /// The parties of the call, agents and customers.
    pub participants: Vec<Participant>,
    /// The callback scheduled on this outbound call, if any.
    pub scheduled_callback_info: Option<ScheduledCallbackInfo>,
}

/// `mediaProperties`: what the call is and the data attached to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaProperties {
    /// 1 for voice.
    pub media_id: Option<String>,
    /// The number dialed.
    pub dialed_number: Option<String>,
    /// The call type; `None` when Finesse sends it empty (UCCX after failover).
    pub call_type: Option<CallType>,
    /// Dialed number identification.
    pub dnis: Option<String>,
    /// Queue (skill group / CSQ) number.
    pub queue_number: Option<String>,
    /// Queue name.
    pub queue_name: Option<String>,
    /// UCCE call key: call id.
    pub call_key_call_id: Option<String>,
    /// UCCE call key: sequence number.
    pub call_key_sequence_num: Option<String>,
    /// UCCE call key: prefix (day).
    pub call_key_prefix: Option<String>,
    /// Global call id (newer releases).
    pub call_guid: Option<String>,
    /// Wrap-up reason set on the call.
    pub wrap_up_reason: Option<String>,
    /// Wrap-up items (UCCX).
    pub wrap_up_items: Vec<String>,
    /// Outbound reclassification result.
    pub outbound_classification: Option<String>,
    /// `callVariable1..10`, ECC (`user.*`) and outbound `BA*` variables, in
    /// the order Finesse sent them.
    pub call_variables: Vec<CallVariable>,
}

/// One `CallVariable` (name and value; the value is kept exactly, spaces included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallVariable {
    /// `callVariable1`, `user.account`, `BACampaign`...
    pub name: String,
    /// The value, possibly empty.
    pub value: String,
}

/// One party of a dialog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Participant {
    /// What this participant may do now; the only actions Finesse accepts from it.
    pub actions: Vec<Action>,
    /// Extension or external number.
    pub media_address: String,
    /// `AGENT_DEVICE` for agent phones, `None` for external parties.
    pub media_address_type: Option<String>,
    /// When the participant joined.
    pub start_time: Option<String>,
    /// The participant's state.
    pub state: ParticipantState,
    /// Why it failed (`BUSY`, `BAD_DESTINATION`...).
    pub state_cause: Option<String>,
    /// When `state` last changed.
    pub state_change_time: Option<String>,
}

/// `scheduledCallbackInfo`: the callback scheduled on an outbound call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduledCallbackInfo {
    /// `YYYY-MM-DDTHH:MM`.
    pub callback_time: Option<String>,
    /// The number to call back.
    pub callback_number: Option<String>,
}

/// Outbound Option variables (Finesse Developer Guide: Dialog API parameters), in documentation
/// order.
pub const BA_VARIABLES: &[&str] = &[
    "BACampaign",
    "BAAccountNumber",
    "BAResponse",
    "BAStatus",
    "BADialedListID",
    "BATimeZone",
    "BABuddyName",
    "BACustomerNumber",
];

/// True for an outbound Option variable name (`BA` followed by a capital).
pub fn is_ba_variable(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 2 && b[0] == b'B' && b[1] == b'A' && b[2].is_ascii_uppercase()
}

impl Dialog {
    /// Parses a `<Dialog>` (or `<dialog>`) document, as `GET /finesse/api/Dialog/{id}` returns it.
    pub fn from_xml(xml: &str) -> Result<Dialog, Error> {
        let mut r = XmlReader::new(xml);
        let root = r.root()?;
        if root.name().as_bytes() != b"dialog" {
            return Err(Error::UnexpectedRoot {
                expected: "<Dialog>",
                found: root.raw_name(),
            });
        }
        let dialog = Dialog::read(&mut r, &root)?;
        r.finish()?;
        Ok(dialog)
    }

    /// Writes the dialog as a `<Dialog>` document (the REST form).
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::with_capacity(2048);
        self.write(&mut w, "Dialog");
        w.finish()
    }

    /// Parses a `<Dialogs>` list, as `GET /finesse/api/User/{id}/Dialogs` returns it.
    pub fn list_from_xml(xml: &str) -> Result<Vec<Dialog>, Error> {
        let mut r = XmlReader::new(xml);
        let root = r.root()?;
        if root.name().as_bytes() != b"dialogs" {
            return Err(Error::UnexpectedRoot {
                expected: "<Dialogs>",
                found: root.raw_name(),
            });
        }
        let mut list = Vec::new();
        while let Some(c) = r.child(&root)? {
            if c.name().as_bytes() == b"dialog" {
                list.push(Dialog::read(&mut r, &c)?);
            } else {
                r.skip(&c)?;
            }
        }
        r.finish()?;
        Ok(list)
    }

    /// Writes a `<Dialogs>` list document.
    pub fn list_to_xml(dialogs: &[Dialog]) -> String {
        let mut w = XmlWriter::with_capacity(64 + 2048 * dialogs.len());
        w.open("Dialogs");
        for d in dialogs {
            d.write(&mut w, "Dialog");
        }
        w.close("Dialogs");
        w.finish()
    }

    /// The participant on extension `media_address`, if it takes part.
    pub fn participant(&self, media_address: &str) -> Option<&Participant> {
        self.participants
            .iter()
            .find(|p| p.media_address == media_address)
    }

    /// The value of call variable `name` (exact name).
    pub fn call_variable(&self, name: &str) -> Option<&str> {
        self.media_properties
            .call_variables
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.value.as_str())
    }

    /// True for an Outbound Option call: an `OUTBOUND*` call type, or any `BA*`
    /// variable present (docs/protocol.md §5).
    pub fn is_outbound(&self) -> bool {
        self.media_properties
            .call_type
            .as_ref()
            .is_some_and(CallType::is_outbound)
            || self
                .media_properties
                .call_variables
                .iter()
                .any(|v| is_ba_variable(&v.name))
    }

    /// True for a preview reservation (accepted with ACCEPT rather than ANSWER):
    /// a `*PREVIEW` outbound call type, or a `BAStatus` ending in `_RESERVATION`.
    pub fn is_preview_reservation(&self) -> bool {
        self.media_properties
            .call_type
            .as_ref()
            .is_some_and(CallType::is_preview_reservation)
            || self
                .call_variable("BAStatus")
                .is_some_and(|s| s.ends_with("_RESERVATION"))
    }

    pub(crate) fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<Dialog, Error> {
        let mut d = Dialog::default();
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"id" => d.id = r.trimmed(&c)?,
                b"uri" => d.uri = r.opt(&c)?,
                b"associateddialoguri" => d.associated_dialog_uri = r.opt(&c)?,
                b"secondaryid" => d.secondary_id = r.opt(&c)?,
                b"mediatype" => d.media_type = r.opt(&c)?,
                b"fromaddress" => d.from_address = r.opt(&c)?,
                b"toaddress" => d.to_address = r.opt(&c)?,
                b"callbacknumber" => d.callback_number = r.opt(&c)?,
                b"state" => d.state = DialogState::parse(&r.trimmed_cow(&c)?),
                b"mediaproperties" => d.media_properties = MediaProperties::read(r, &c)?,
                b"participants" => {
                    while let Some(p) = r.child(&c)? {
                        if p.name().as_bytes() == b"participant" {
                            d.participants.push(Participant::read(r, &p)?);
                        } else {
                            r.skip(&p)?;
                        }
                    }
                }
                b"scheduledcallbackinfo" => {
                    let info = ScheduledCallbackInfo::read(r, &c)?;
                    if info.callback_time.is_some() || info.callback_number.is_some() {
                        d.scheduled_callback_info = Some(info);
                    }
                }
                _ => r.skip(&c)?,
            }
        }
        if d.id.is_empty() {
            return Err(Error::Missing {
                element: "id",
                parent: "Dialog",
            });
        }
        Ok(d)
    }

    pub(crate) fn write(&self, w: &mut XmlWriter, root: &str) {
        w.open(root);
        w.leaf_opt("associatedDialogUri", self.associated_dialog_uri.as_deref());
        w.leaf_opt("callbackNumber", self.callback_number.as_deref());
        w.leaf_opt("fromAddress", self.from_address.as_deref());
        w.leaf("id", &self.id);
        self.media_properties.write(w);
        w.leaf_opt("mediaType", self.media_type.as_deref());
        w.open("participants");
        for p in &self.participants {
            p.write(w);
        }
        w.close("participants");
        if let Some(info) = &self.scheduled_callback_info {
            info.write(w);
        }
        w.leaf_opt("secondaryId", self.secondary_id.as_deref());
        w.leaf("state", self.state.as_str());
        w.leaf_opt("toAddress", self.to_address.as_deref());
        w.leaf_opt("uri", self.uri.as_deref());
        w.close(root);
    }
}

impl MediaProperties {
    fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<MediaProperties, Error> {
        let mut m = MediaProperties::default();
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"mediaid" => m.media_id = r.opt(&c)?,
                b"dialednumber" => m.dialed_number = r.opt(&c)?,
                b"calltype" => {
                    let s = r.trimmed_cow(&c)?;
                    m.call_type = (!s.is_empty()).then(|| CallType::parse(&s));
                }
                b"dnis" => m.dnis = r.opt(&c)?,
                b"queuenumber" => m.queue_number = r.opt(&c)?,
                b"queuename" => m.queue_name = r.opt(&c)?,
                b"callkeycallid" => m.call_key_call_id = r.opt(&c)?,
                b"callkeysequencenum" => m.call_key_sequence_num = r.opt(&c)?,
                b"callkeyprefix" => m.call_key_prefix = r.opt(&c)?,
                b"callguid" => m.call_guid = r.opt(&c)?,
                b"wrapupreason" => m.wrap_up_reason = r.opt(&c)?,
                b"outboundclassification" => m.outbound_classification = r.opt(&c)?,
                b"wrapupitems" => {
                    while let Some(i) = r.child(&c)? {
                        if i.name().as_bytes() == b"wrapupitem" {
                            if let Some(v) = r.opt(&i)? {
                                m.wrap_up_items.push(v);
                            }
                        } else {
                            r.skip(&i)?;
                        }
                    }
                }
                b"callvariables" => m.call_variables.extend(CallVariable::read_list(r, &c)?),
                _ => r.skip(&c)?,
            }
        }
        Ok(m)
    }

    fn write(&self, w: &mut XmlWriter) {
        w.open("mediaProperties");
        w.leaf_opt("DNIS", self.dnis.as_deref());
        w.leaf_opt("callGUID", self.call_guid.as_deref());
        w.leaf_opt("callKeyCallId", self.call_key_call_id.as_deref());
        w.leaf_opt("callKeyPrefix", self.call_key_prefix.as_deref());
        w.leaf_opt("callKeySequenceNum", self.call_key_sequence_num.as_deref());
        w.leaf_opt("callType", self.call_type.as_ref().map(CallType::as_str));
        w.leaf_opt("dialedNumber", self.dialed_number.as_deref());
        w.leaf_opt("mediaId", self.media_id.as_deref());
        w.leaf_opt(
            "outboundClassification",
            self.outbound_classification.as_deref(),
        );
        w.leaf_opt("queueName", self.queue_name.as_deref());
        w.leaf_opt("queueNumber", self.queue_number.as_deref());
        w.leaf_opt("wrapUpReason", self.wrap_up_reason.as_deref());
        if !self.wrap_up_items.is_empty() {
            w.open("wrapUpItems");
            for item in &self.wrap_up_items {
                w.leaf("wrapUpItem", item);
            }
            w.close("wrapUpItems");
        }
        w.open("callvariables");
        for v in &self.call_variables {
            v.write(w);
        }
        w.close("callvariables");
        w.close("mediaProperties");
    }
}

impl CallVariable {
    /// Reads one `<CallVariable>`; one without a name is dropped.
    fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<Option<CallVariable>, Error> {
        let mut name = String::new();
        let mut value = String::new();
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"name" => name = r.trimmed(&c)?,
                b"value" => value = r.text(&c)?,
                _ => r.skip(&c)?,
            }
        }
        Ok(if name.is_empty() {
            None
        } else {
            Some(CallVariable { name, value })
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.open("CallVariable");
        w.leaf("name", &self.name);
        w.leaf("value", &self.value);
        w.close("CallVariable");
    }

    /// Reads the `<CallVariable>` children of a `<callvariables>` element.
    pub(crate) fn read_list<'a>(
        r: &mut XmlReader<'a>,
        el: &Elem<'a>,
    ) -> Result<Vec<CallVariable>, Error> {
        let mut out = Vec::new();
        while let Some(v) = r.child(el)? {
            if v.name().as_bytes() == b"callvariable" {
                if let Some(var) = CallVariable::read(r, &v)? {
                    out.push(var);
                }
            } else {
                r.skip(&v)?;
            }
        }
        Ok(out)
    }
}

impl Participant {
    fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<Participant, Error> {
        let mut p = Participant::default();
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"actions" => {
                    while let Some(a) = r.child(&c)? {
                        if a.name().as_bytes() == b"action" {
                            let s = r.trimmed_cow(&a)?;
                            if !s.is_empty() {
                                p.actions.push(Action::parse(&s));
                            }
                        } else {
                            r.skip(&a)?;
                        }
                    }
                }
                b"mediaaddress" => p.media_address = r.trimmed(&c)?,
                b"mediaaddresstype" => p.media_address_type = r.opt(&c)?,
                b"starttime" => p.start_time = r.opt(&c)?,
                b"state" => p.state = ParticipantState::parse(&r.trimmed_cow(&c)?),
                b"statecause" => p.state_cause = r.opt(&c)?,
                b"statechangetime" => p.state_change_time = r.opt(&c)?,
                _ => r.skip(&c)?,
            }
        }
        Ok(p)
    }

    fn write(&self, w: &mut XmlWriter) {
        w.open("Participant");
        w.open("actions");
        for a in &self.actions {
            w.leaf("action", a.as_str());
        }
        w.close("actions");
        w.leaf("mediaAddress", &self.media_address);
        w.leaf(
            "mediaAddressType",
            self.media_address_type.as_deref().unwrap_or(""),
        );
        w.leaf_opt("startTime", self.start_time.as_deref());
        w.leaf("state", self.state.as_str());
        w.leaf("stateCause", self.state_cause.as_deref().unwrap_or(""));
        w.leaf_opt("stateChangeTime", self.state_change_time.as_deref());
        w.close("Participant");
    }

    /// True if Finesse currently allows `action` for this participant.
    pub fn allows(&self, action: &Action) -> bool {
        self.actions.contains(action)
    }
}

impl ScheduledCallbackInfo {
    fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<ScheduledCallbackInfo, Error> {
        let mut info = ScheduledCallbackInfo::default();
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"callbacktime" => info.callback_time = r.opt(&c)?,
                b"callbacknumber" => info.callback_number = r.opt(&c)?,
                _ => r.skip(&c)?,
            }
        }
        Ok(info)
    }

    fn write(&self, w: &mut XmlWriter) {
        w.open("scheduledCallbackInfo");
        w.leaf_opt("callbackTime", self.callback_time.as_deref());
        w.leaf_opt("callbackNumber", self.callback_number.as_deref());
        w.close("scheduledCallbackInfo");
    }
}
