//! The `<Update>` envelope of every Finesse notification, and the XMPP pubsub
//! message that carries it (Finesse Developer Guide: notification format; Notification Parameters).
//!
//! [`parse_notification`] takes either a whole XMPP `<message>` (what arrives
//! on the wire) or a bare `<Update>` (what logs and captures often show). In
//! the message, the `<Update>` inside `<notification>` may be escaped text
//! (what Finesse sends), CDATA, or inline elements: all three are accepted.
//!
//! [`parse_item`] takes what an XMPP client has already read out of such a
//! message: the `<Update>` text of one pubsub item with the item's node, id
//! and sender. It gives the same [`Notification`] as [`parse_notification`] of
//! the whole message without reading the message a second time (the
//! connector's path: the XMPP client has parsed and unescaped it already).

use crate::Error;
use crate::api_error::{ApiError, ApiErrorStyle};
use crate::dialog::Dialog;
use crate::enums::UpdateEvent;
use crate::node::Node;
use crate::system_info::SystemInfo;
use crate::user::User;
use crate::xml::{Elem, XmlReader, XmlWriter};

/// One Finesse notification document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// POST (added), PUT (changed), DELETE (removed).
    pub event: UpdateEvent,
    /// The `requestId` header of the REST request that caused it; `None` when unsolicited.
    pub request_id: Option<String>,
    /// The REST URI of the object that changed.
    pub source: String,
    /// The object itself.
    pub data: UpdateData,
}

/// What an Update carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UpdateData {
    /// No `<data>` (e.g. a deleted user).
    #[default]
    None,
    /// `<dialog>`: one dialog changed (source `/finesse/api/Dialog/{id}`).
    Dialog(Box<Dialog>),
    /// `<dialogs>`: dialogs added to or removed from the agent's list.
    Dialogs(Vec<Dialog>),
    /// `<user>`: the user (or a team member) changed.
    User(Box<User>),
    /// `<apiErrors>`: a CTI error for a request.
    ApiErrors(Vec<ApiError>),
    /// `<SystemInfo>`: Finesse went in or out of service.
    SystemInfo(Box<SystemInfo>),
    /// A kind this version does not read (Queue, Media...), by element name.
    Unknown(String),
}

/// An Update with where it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    /// The pubsub node (`items/@node`); `None` for a bare `<Update>`.
    pub node: Option<String>,
    /// The pubsub item id.
    pub item_id: Option<String>,
    /// The sender (the pubsub service).
    pub from: Option<String>,
    /// The document.
    pub update: Update,
}

impl Notification {
    /// The node, parsed; falls back to the Update's `source`.
    pub fn node(&self) -> Node {
        Node::parse(self.node.as_deref().unwrap_or(&self.update.source))
    }
}

/// Parses a notification: an XMPP `<message>` with a pubsub event, or a bare `<Update>`.
pub fn parse_notification(xml: &str) -> Result<Notification, Error> {
    let mut r = XmlReader::new(xml);
    let root = r.root()?;
    let n = match root.name().as_bytes() {
        b"update" => Notification {
            update: Update::read(&mut r, &root)?,
            ..Notification::default()
        },
        b"message" => read_message(&mut r, &root)?,
        _ => {
            return Err(Error::UnexpectedRoot {
                expected: "an XMPP <message> or an <Update>",
                found: root.raw_name(),
            });
        }
    };
    r.finish()?;
    Ok(n)
}

/// Parses one pubsub item as an XMPP client delivers it: `update_xml` is the
/// `<Update>` document (the text of `<notification>`, unescaped), `node`,
/// `item_id` and `from` are the item's `items/@node`, `item/@id` and the
/// message's sender. The result and the errors are those of
/// [`parse_notification`] on the whole message.
pub fn parse_item(
    update_xml: &str,
    node: Option<String>,
    item_id: Option<String>,
    from: Option<String>,
) -> Result<Notification, Error> {
    Ok(Notification {
        node,
        item_id,
        from,
        update: payload_update(update_xml)?,
    })
}

/// Parses a bare `<Update>` document.
pub fn parse_update(xml: &str) -> Result<Update, Error> {
    read_update(&mut XmlReader::new(xml))
}

fn read_update(r: &mut XmlReader<'_>) -> Result<Update, Error> {
    let root = r.root()?;
    if root.name().as_bytes() != b"update" {
        return Err(Error::UnexpectedRoot {
            expected: "<Update>",
            found: root.raw_name(),
        });
    }
    let u = Update::read(r, &root)?;
    r.finish()?;
    Ok(u)
}

fn read_message<'a>(r: &mut XmlReader<'a>, msg: &Elem<'a>) -> Result<Notification, Error> {
    let mut found: Option<Notification> = None;
    let mut from = msg.attr("from");
    while let Some(event) = r.child(msg)? {
        if event.name().as_bytes() != b"event" || found.is_some() {
            r.skip(&event)?;
            continue;
        }
        while let Some(items) = r.child(&event)? {
            if items.name().as_bytes() != b"items" || found.is_some() {
                r.skip(&items)?;
                continue;
            }
            let mut node = items.attr("node");
            while let Some(item) = r.child(&items)? {
                if item.name().as_bytes() != b"item" || found.is_some() {
                    r.skip(&item)?;
                    continue;
                }
                let mut item_id = item.attr("id");
                while let Some(payload) = r.child(&item)? {
                    if payload.name().as_bytes() != b"notification" || found.is_some() {
                        r.skip(&payload)?;
                        continue;
                    }
                    let update = read_payload(r, &payload)?;
                    // The first notification is the one kept: the rest are skipped.
                    found = Some(Notification {
                        node: node.take(),
                        item_id: item_id.take(),
                        from: from.take(),
                        update,
                    });
                }
            }
        }
    }
    found.ok_or(Error::NoNotification)
}

/// The `<Update>` inside `<notification>`: escaped text, CDATA or inline.
fn read_payload<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<Update, Error> {
    payload_update(&r.content(el)?)
}

/// The `<Update>` carried by `<notification>`, its text given.
fn payload_update(inner: &str) -> Result<Update, Error> {
    if inner.trim().is_empty() {
        return Err(Error::EmptyNotification);
    }
    parse_update(inner).map_err(|e| Error::Payload(Box::new(e)))
}

impl Update {
    fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<Update, Error> {
        let mut u = Update::default();
        let mut has_event = false;
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"event" => {
                    let e = r.trimmed_cow(&c)?;
                    has_event = !e.is_empty();
                    u.event = UpdateEvent::parse(&e);
                }
                b"requestid" => u.request_id = r.opt(&c)?,
                b"source" => u.source = r.trimmed(&c)?,
                b"data" => u.data = read_data(r, &c)?,
                _ => r.skip(&c)?,
            }
        }
        if !has_event {
            return Err(Error::Missing {
                element: "event",
                parent: "Update",
            });
        }
        Ok(u)
    }

    /// Writes the `<Update>` document (unescaped), in the order of the real capture.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::with_capacity(4096);
        w.open("Update");
        w.open("data");
        match &self.data {
            UpdateData::None => {}
            UpdateData::Dialog(d) => d.write(&mut w, "dialog"),
            UpdateData::Dialogs(list) => {
                w.open("dialogs");
                for d in list {
                    d.write(&mut w, "Dialog");
                }
                w.close("dialogs");
            }
            UpdateData::User(u) => u.write(&mut w, "user"),
            UpdateData::ApiErrors(errors) => {
                ApiError::write_list(errors, &mut w, ApiErrorStyle::Notification);
            }
            UpdateData::SystemInfo(s) => s.write(&mut w, "SystemInfo"),
            UpdateData::Unknown(name) => {
                w.open(name);
                w.close(name);
            }
        }
        w.close("data");
        w.leaf("event", self.event.as_str());
        w.leaf("requestId", self.request_id.as_deref().unwrap_or(""));
        w.leaf("source", &self.source);
        w.close("Update");
        w.finish()
    }

    /// The whole XMPP pubsub message Finesse would send for this Update:
    /// the Update escaped as text inside `<notification>` (Finesse Developer Guide: notification
    /// format).
    pub fn to_stanza_xml(&self, from: &str, to: &str, node: &str, item_id: &str) -> String {
        let mut w = XmlWriter::with_capacity(8192);
        w.raw("<message from='");
        w.attr_value(from);
        w.raw("' to='");
        w.attr_value(to);
        w.raw("'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='");
        w.attr_value(node);
        w.raw("'><item id='");
        w.attr_value(item_id);
        w.raw("'>");
        w.leaf_ns(
            "notification",
            "http://jabber.org/protocol/pubsub",
            &self.to_xml(),
        );
        w.raw("</item></items></event></message>");
        w.finish()
    }
}

fn read_data<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<UpdateData, Error> {
    let mut data = UpdateData::None;
    while let Some(c) = r.child(el)? {
        if !matches!(data, UpdateData::None) {
            r.skip(&c)?;
            continue;
        }
        data = match c.name().as_bytes() {
            b"dialog" => UpdateData::Dialog(Box::new(Dialog::read(r, &c)?)),
            b"dialogs" => {
                let mut list = Vec::new();
                while let Some(d) = r.child(&c)? {
                    if d.name().as_bytes() == b"dialog" {
                        list.push(Dialog::read(r, &d)?);
                    } else {
                        r.skip(&d)?;
                    }
                }
                UpdateData::Dialogs(list)
            }
            b"user" => UpdateData::User(Box::new(User::read(r, &c)?)),
            b"apierrors" => UpdateData::ApiErrors(ApiError::read_list(r, &c)?),
            b"systeminfo" => UpdateData::SystemInfo(Box::new(SystemInfo::read(r, &c)?)),
            _ => {
                let name = c.raw_name();
                r.skip(&c)?;
                UpdateData::Unknown(name)
            }
        };
    }
    Ok(data)
}
