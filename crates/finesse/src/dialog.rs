//! The Dialog: one call as Finesse describes it (Finesse Developer Guide: Dialog API parameters),
//! with its
//! media properties, call variables, participants and scheduled callback.
//!
//! Optional text fields are `None` when the element is absent *or empty*:
//! Finesse writes empty elements freely (`<stateCause></stateCause>`), and
//! nothing distinguishes the two.

use std::sync::Arc;

use serde::Serialize;

use crate::Error;
use crate::enums::{Action, CallType, DialogState, ParticipantState};
use crate::xml::{Elem, XmlReader, XmlWriter};

/// Whether `text` starts with the end tag of an element named `lower_name`
/// (its name in lower case, as [`Elem::name`] gives it): `</`, the name in
/// any case, optional whitespace, `>`.
fn closes(text: &str, lower_name: &[u8]) -> bool {
    let Some(rest) = text.strip_prefix("</") else {
        return false;
    };
    let b = rest.as_bytes();
    if b.len() < lower_name.len() || !b[..lower_name.len()].eq_ignore_ascii_case(lower_name) {
        return false;
    }
    b[lower_name.len()..]
        .iter()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|&c| c == b'>')
}

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
    /// Call type, numbers, queue and call variables. Shared: Finesse repeats
    /// them unchanged in every notification about the dialog, and a
    /// [`DialogMemo`] hands back the ones it read before, so successive
    /// versions of a dialog (and the cache's copy) hold the same allocation.
    /// Change them with [`Arc::make_mut`].
    pub media_properties: Arc<MediaProperties>,
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
                b"mediaproperties" => {
                    d.media_properties = MediaProperties::read_memo(r, &c, &d.id)?
                }
                b"participants" => {
                    while let Some(p) = r.child(&c)? {
                        if p.name().as_bytes() == b"participant" {
                            let at = d.participants.len();
                            d.participants
                                .push(Participant::read_memo(r, &p, &d.id, at)?);
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

/// The `<mediaProperties>` and `<Participant>`s last read for each of a few
/// dialogs: their text, exactly as it came, and what it was read as (and
/// where each `<CallVariable>` lies in the media properties' text).
///
/// Finesse sends the whole Dialog in every notification about it (each
/// participant's state change, each action). Its media properties, with the
/// call variables, are most of the document and change far less often, and
/// of its participants usually one changes at a time (the agent holds; the
/// customer's participant comes back as it was).
/// [`parse_item_with`](crate::parse_item_with) passes over a
/// `<mediaProperties>` whose content is byte for byte the one last read for
/// the same dialog id, and over a `<Participant>` whose content is byte for
/// byte the one last read at the same place in the same dialog's list, and
/// takes what was read then: the same bytes read the same. When media
/// properties are read again (a call variable changed), each
/// `<CallVariable>` that is the one in the same place before is passed over
/// the same way. One memo per
/// notification stream (the connector keeps one per agent session); it holds
/// the last [`DialogMemo::CAPACITY`] dialogs, the oldest forgotten first, and
/// forgets a dialog when a DELETE removes it from the agent's list.
#[derive(Debug, Clone, Default)]
pub struct DialogMemo {
    /// Most recently read last.
    entries: Vec<MemoEntry>,
    hits: u64,
    participant_hits: u64,
    call_variable_hits: u64,
}

#[derive(Debug, Clone, Default)]
struct MemoEntry {
    dialog_id: String,
    /// The `<mediaProperties>` last read.
    media: Option<MediaSeen>,
    /// The content of the dialog's `<Participant>`s by place in the list
    /// (the first [`DialogMemo::PARTICIPANTS`]), and what each was read as.
    participants: Vec<(String, Participant)>,
}

/// A `<mediaProperties>` as read: its content (from after its start tag to
/// its end tag), what it was read as, and where each `<CallVariable>`'s
/// content lies in it.
#[derive(Debug, Clone)]
struct MediaSeen {
    content: String,
    media: Arc<MediaProperties>,
    variables: Vec<VariableSpan>,
}

/// One `<CallVariable>` of a [`MediaSeen`]: its content is
/// `content[start..end]`, and it was read as `media.call_variables[index]`
/// (`None`: it had no name and was dropped).
#[derive(Debug, Clone, Copy)]
struct VariableSpan {
    start: usize,
    end: usize,
    index: Option<usize>,
}

impl DialogMemo {
    /// Dialogs remembered at most: an agent has one to three at a time (a
    /// call, a consult, a conference), and a dialog is forgotten when its
    /// Dialogs DELETE comes.
    pub const CAPACITY: usize = 4;

    /// Participants remembered per dialog at most (a conference has a
    /// handful); the others are always read.
    pub const PARTICIPANTS: usize = 8;

    /// How many `<mediaProperties>` were passed over, not read.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// How many `<Participant>`s were passed over, not read.
    pub fn participant_hits(&self) -> u64 {
        self.participant_hits
    }

    /// How many `<CallVariable>`s were passed over, not read, in media
    /// properties that were read (some call variable changed, these not).
    pub fn call_variable_hits(&self) -> u64 {
        self.call_variable_hits
    }

    /// How many dialogs it remembers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it remembers no dialog.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets the dialog `dialog_id` (it ended: a Dialogs DELETE).
    pub fn forget(&mut self, dialog_id: &str) {
        self.entries.retain(|e| e.dialog_id != dialog_id);
    }

    fn entry(&self, dialog_id: &str) -> Option<&MemoEntry> {
        self.entries.iter().find(|e| e.dialog_id == dialog_id)
    }

    /// The entry of `dialog_id`, made the most recent (created, and the
    /// oldest forgotten, if there is none).
    fn entry_mut(&mut self, dialog_id: &str) -> &mut MemoEntry {
        let entry = match self.entries.iter().rposition(|e| e.dialog_id == dialog_id) {
            // Already the most recent: the dialog being read.
            Some(at) if at + 1 == self.entries.len() => return &mut self.entries[at],
            Some(at) => self.entries.remove(at),
            None => {
                if self.entries.len() >= Self::CAPACITY {
                    self.entries.remove(0);
                }
                MemoEntry {
                    dialog_id: dialog_id.to_owned(),
                    ..MemoEntry::default()
                }
            }
        };
        self.entries.push(entry);
        let last = self.entries.len() - 1;
        &mut self.entries[last]
    }
}

/// Whether `unread` starts with `content` and then the end tag of an element
/// named `lower_name`: an element whose content was read before as `content`.
fn same_content(unread: &str, content: &str, lower_name: &[u8]) -> bool {
    unread
        .strip_prefix(content)
        .is_some_and(|after| closes(after, lower_name))
}

/// Passes over the `len` bytes of `el`'s content, known to be followed by its
/// end tag ([`same_content`]), reads that end tag, and counts the hit in the
/// memo's counter that `hits` picks.
fn pass_over<'a>(
    r: &mut XmlReader<'a>,
    el: &Elem<'a>,
    len: usize,
    hits: fn(&mut DialogMemo) -> &mut u64,
) -> Result<(), Error> {
    let start = r.position();
    r.jump(len);
    if r.child(el)?.is_some() {
        return Err(Error::Xml {
            position: (start + len) as u64,
            message: format!("expected the end of <{}>", el.raw_name()),
        });
    }
    if let Some(memo) = r.memo.as_mut() {
        *hits(memo) += 1;
    }
    Ok(())
}

/// The content of the element read from `start` on: up to its end tag, the last `</`.
fn content_since<'a>(r: &XmlReader<'a>, start: usize) -> Option<&'a str> {
    let read = r.read_since(start);
    read.rfind("</").map(|end| &read[..end])
}

impl MediaProperties {
    /// Reads `el`, or passes over it when the reader's memo has its content
    /// for `dialog_id` (the Dialog's `<id>` comes first in Finesse's
    /// documents; without it, the memo is not used).
    fn read_memo<'a>(
        r: &mut XmlReader<'a>,
        el: &Elem<'a>,
        dialog_id: &str,
    ) -> Result<Arc<MediaProperties>, Error> {
        if el.is_empty() || dialog_id.is_empty() || r.memo.is_none() {
            return MediaProperties::read(r, el, None).map(Arc::new);
        }
        let unread = r.unread();
        let remembered = r.memo.as_ref().and_then(|memo| {
            let seen = memo.entry(dialog_id)?.media.as_ref()?;
            same_content(unread, &seen.content, el.name().as_bytes())
                .then(|| (seen.content.len(), seen.media.clone()))
        });
        if let Some((len, media)) = remembered {
            pass_over(r, el, len, |m| &mut m.hits)?;
            return Ok(media);
        }
        // Read, passing over the call variables that are the ones last
        // read in the same places.
        let before = r
            .memo
            .as_mut()
            .and_then(|memo| memo.entries.iter_mut().find(|e| e.dialog_id == dialog_id))
            .and_then(|entry| entry.media.take());
        let start = r.position();
        let mut variables = Vec::new();
        let media = Arc::new(MediaProperties::read(
            r,
            el,
            Some(Variables {
                before: before.as_ref(),
                start,
                spans: &mut variables,
            }),
        )?);
        if let (Some(content), Some(memo)) = (content_since(r, start), r.memo.as_mut()) {
            memo.entry_mut(dialog_id).media = Some(MediaSeen {
                content: content.to_owned(),
                media: media.clone(),
                variables,
            });
        }
        Ok(media)
    }

    /// Reads `el`; with `variables`, a `<CallVariable>` whose content is the
    /// one in the same place of the media properties read before is passed
    /// over, and where each lies is noted.
    fn read<'a>(
        r: &mut XmlReader<'a>,
        el: &Elem<'a>,
        mut variables: Option<Variables<'_>>,
    ) -> Result<MediaProperties, Error> {
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
                b"callvariables" => match variables.as_mut() {
                    Some(v) => v.read_list(r, &c, &mut m.call_variables)?,
                    None => m.call_variables.extend(CallVariable::read_list(r, &c)?),
                },
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

/// The call variables of media properties being read with a memo: the
/// properties read before for the same dialog, and where the new ones lie.
struct Variables<'s> {
    before: Option<&'s MediaSeen>,
    /// Where the `<mediaProperties>` content starts in the document.
    start: usize,
    spans: &'s mut Vec<VariableSpan>,
}

impl Variables<'_> {
    /// Reads the `<CallVariable>` children of `el` (a `<callvariables>`) into
    /// `out`, passing over each whose content is the one in the same place
    /// before (the places count over every `<callvariables>` of the media
    /// properties), and notes where each lies.
    fn read_list<'a>(
        &mut self,
        r: &mut XmlReader<'a>,
        el: &Elem<'a>,
        out: &mut Vec<CallVariable>,
    ) -> Result<(), Error> {
        while let Some(v) = r.child(el)? {
            if v.name().as_bytes() != b"callvariable" {
                r.skip(&v)?;
                continue;
            }
            let from = r.position();
            let unread = r.unread();
            // An empty `<CallVariable/>` has no content to compare.
            let same = self.before.filter(|_| !v.is_empty()).and_then(|b| {
                let span = b.variables.get(self.spans.len())?;
                let content = b.content.get(span.start..span.end)?;
                if !same_content(unread, content, b"callvariable") {
                    return None;
                }
                let var = match span.index {
                    Some(i) => Some(b.media.call_variables.get(i)?),
                    None => None,
                };
                Some((content.len(), var))
            });
            let var = match same {
                Some((len, var)) => {
                    pass_over(r, &v, len, |m| &mut m.call_variable_hits)?;
                    var.cloned()
                }
                None => CallVariable::read(r, &v)?,
            };
            let len = if v.is_empty() {
                0
            } else {
                content_since(r, from).map_or(0, str::len)
            };
            self.spans.push(VariableSpan {
                start: from - self.start,
                end: from - self.start + len,
                index: var.as_ref().map(|_| out.len()),
            });
            out.extend(var);
        }
        Ok(())
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
    /// Reads `el`, the `at`th participant of dialog `dialog_id`, or passes
    /// over it when the reader's memo has its content at that place in that
    /// dialog's list.
    fn read_memo<'a>(
        r: &mut XmlReader<'a>,
        el: &Elem<'a>,
        dialog_id: &str,
        at: usize,
    ) -> Result<Participant, Error> {
        if el.is_empty()
            || dialog_id.is_empty()
            || at >= DialogMemo::PARTICIPANTS
            || r.memo.is_none()
        {
            return Participant::read(r, el);
        }
        let unread = r.unread();
        let remembered = r.memo.as_ref().and_then(|memo| {
            let (content, p) = memo.entry(dialog_id)?.participants.get(at)?;
            same_content(unread, content, el.name().as_bytes()).then(|| (content.len(), p.clone()))
        });
        if let Some((len, p)) = remembered {
            pass_over(r, el, len, |m| &mut m.participant_hits)?;
            return Ok(p);
        }
        let start = r.position();
        let p = Participant::read(r, el)?;
        if let (Some(content), Some(memo)) = (content_since(r, start), r.memo.as_mut()) {
            let list = &mut memo.entry_mut(dialog_id).participants;
            let remembered = (content.to_owned(), p.clone());
            if at < list.len() {
                list[at] = remembered;
            } else if at == list.len() {
                list.push(remembered);
            }
            // Else a place before this one was never remembered (an empty
            // `<Participant/>`): this one is not either.
        }
        Ok(p)
    }

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
