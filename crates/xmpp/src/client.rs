//! A small XMPP pubsub client: the connector's sessions, the simulator's publisher, tests.
//!
//! This module owns one client session on tokio-xmpp 6.0's [`StanzaStream`] (not its
//! `Client`, which can lose a wake-up and stall on a multi-thread runtime:
//! its receiver returns `Pending` without registering a waker while a send holds the stream's
//! lock): TCP with STARTTLS (rustls, aws-lc-rs provider,
//! the platform's roots plus an optional extra CA; see [`TlsMode`]) or, only when configured,
//! plaintext TCP; SASL (whatever the server offers that tokio-xmpp supports), resource binding, available presence with priority 0,
//! IQ requests matched by id with a timeout, the XEP-0060 calls a Finesse-like setup needs
//! (create node, subscribe, unsubscribe, publish an escaped `<Update>`), ping, and the
//! delivery of pubsub notifications as [`ReceivedItem`]s.
//!
//! One background task (the driver, in `driver.rs`) owns the stream; [`XmppClient`] handles
//! talk to it over a channel, so every method takes `&self` and the client can be cloned and
//! used from many tasks at once (requests in flight are pipelined). Connecting and signing in
//! are in `connect.rs`, the errors in `error.rs`, the configuration in `config.rs`; this module
//! owns the handle, its requests and the pubsub payloads.
//!
//! There is no reconnect: a sign-in failure is reported by [`XmppClient::connect`] as
//! [`XmppError::Auth`]; a lost connection ends the session (the item channel closes, pending
//! requests fail with [`XmppError::Disconnected`], [`XmppClient::closed`] returns the reason).
//! (tokio-xmpp's stream worker cannot be told to give up: after a failed sign-in or a lost
//! connection it and one parked task stay idle until the runtime shuts down; harmless in
//! tests.)

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::stanzastream::{Event, StanzaStream, StreamEvent};

pub use crate::config::{DEFAULT_TIMEOUT, TlsMode, XmppConfig};
use crate::connect::{Transport, one_shot_connector};
use crate::driver::{CLOSE_TIMEOUT, Command, Driver, SessionState};
pub use crate::error::XmppError;
use crate::error::stanza_error;

/// XEP-0060 namespace; also the namespace of Finesse's `<notification>` payload element.
pub const NS_PUBSUB: &str = "http://jabber.org/protocol/pubsub";
/// XEP-0060 event namespace (`<event>` in notification messages).
pub const NS_PUBSUB_EVENT: &str = "http://jabber.org/protocol/pubsub#event";
/// XEP-0060 owner namespace (node deletion, configuration).
pub const NS_PUBSUB_OWNER: &str = "http://jabber.org/protocol/pubsub#owner";

/// Depth of tokio-xmpp's internal queues (each direction).
const QUEUE_DEPTH: usize = 256;
/// Capacity of the command channel from the handles to the driver.
const COMMAND_CAPACITY: usize = 256;

/// One pubsub item received in a notification message (one per `<item>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedItem {
    /// The node, e.g. `/finesse/api/User/1001001/Dialogs`.
    pub node: String,
    /// The item's `id` attribute.
    pub item_id: Option<String>,
    /// The message's `from` (the pubsub service).
    pub from: Option<String>,
    /// The `<Update>` document: the unescaped text of `<notification>`, or, when the payload
    /// was sent inline as elements, those elements serialized. `None` without `<notification>`.
    /// The connector parses it with `switchboard_finesse::parse_item`; the message itself is
    /// not serialized again (that cost a third of the receiving side's CPU).
    pub notification_text: Option<String>,
    /// Whether `<notification>` carried the `<Update>` as child elements rather than as
    /// (escaped) text, the form Finesse sends.
    pub inline_payload: bool,
}

/// The type of an IQ request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IqKind {
    /// `type='get'`.
    Get,
    /// `type='set'`.
    Set,
}

struct Inner {
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<SessionState>,
    bound_jid: String,
    bare_jid: String,
    domain: String,
    timeout: Duration,
    id_prefix: String,
    next_id: AtomicU64,
}

/// A signed-in XMPP session. Cheap to clone; the session ends when every clone is dropped,
/// on [`close`](Self::close), or when the connection is lost.
#[derive(Clone)]
pub struct XmppClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for XmppClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XmppClient")
            .field("bound_jid", &self.inner.bound_jid)
            .field("state", &*self.inner.state.borrow())
            .finish()
    }
}

impl XmppClient {
    /// Connects, signs in, binds a resource and (by default) sends available presence, all
    /// within `config.timeout`. Returns the client and the channel of received pubsub items.
    ///
    /// A wrong password gives [`XmppError::Auth`] as soon as the server says so; nothing is
    /// retried.
    pub async fn connect(
        config: XmppConfig,
    ) -> Result<(Self, mpsc::Receiver<ReceivedItem>), XmppError> {
        let bare = parse_bare(&config.jid)?;
        let identity: Jid = match &config.resource {
            Some(resource) => {
                let full = format!("{bare}/{resource}");
                Jid::new(&full).map_err(|e| XmppError::InvalidJid {
                    jid: full.clone(),
                    reason: e.to_string(),
                })?
            }
            None => bare.clone().into(),
        };
        let what = format!("signing in as {bare} at {}", config.addr);
        let deadline = tokio::time::Instant::now() + config.timeout;

        let (login_tx, mut login_rx) = oneshot::channel();
        let transport = Transport::new(&config)?;
        let connector = one_shot_connector(
            transport,
            identity,
            config.password.clone(),
            config.timeout,
            login_tx,
        );
        let mut stream = StanzaStream::new(connector, QUEUE_DEPTH);

        let bound = tokio::time::timeout_at(deadline, async {
            let mut login_done = false;
            loop {
                tokio::select! {
                    result = &mut login_rx, if !login_done => {
                        login_done = true;
                        if let Ok(Err(e)) = result {
                            return Err(e);
                        }
                    }
                    event = stream.next() => match event {
                        Some(Event::Stream(StreamEvent::Reset { bound_jid, .. })) => return Ok(bound_jid),
                        Some(Event::Stream(StreamEvent::Suspended)) | None => {
                            return Err(XmppError::Connect {
                                addr: config.addr,
                                detail: "the stream closed before a resource was bound".into(),
                            });
                        }
                        Some(_) => {}
                    },
                }
            }
        })
        .await
        .map_err(|_| XmppError::Timeout {
            what: what.clone(),
            after: config.timeout,
        })??;

        let (commands, command_rx) = mpsc::channel(COMMAND_CAPACITY);
        let (items_tx, items_rx) = mpsc::channel(config.item_capacity.max(1));
        let (state_tx, state) = watch::channel(SessionState::Online);
        Driver::spawn(stream, command_rx, items_tx, state_tx);

        let client = Self {
            inner: Arc::new(Inner {
                commands,
                state,
                bound_jid: bound.to_string(),
                bare_jid: bare.to_string(),
                domain: bare.domain().to_string(),
                timeout: config.timeout,
                id_prefix: format!("tk{:08x}", random_u64() as u32),
                next_id: AtomicU64::new(1),
            }),
        };
        if config.send_presence {
            client.send_presence().await?;
            // The round trip proves the server has processed the presence, so notifications
            // published from now on reach this session.
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            client
                .request_with_timeout(
                    IqKind::Get,
                    client.domain(),
                    ping_element(),
                    left.max(Duration::from_millis(1)),
                    "ping after presence",
                )
                .await
                .map_err(|e| match e {
                    XmppError::Timeout { .. } => XmppError::Timeout {
                        what,
                        after: config.timeout,
                    },
                    other => other,
                })?;
        }
        Ok((client, items_rx))
    }

    /// The full JID the server bound, `user@domain/resource`.
    pub fn bound_jid(&self) -> &str {
        &self.inner.bound_jid
    }

    /// The bare JID signed in, `user@domain`.
    pub fn bare_jid(&self) -> &str {
        &self.inner.bare_jid
    }

    /// The server's domain.
    pub fn domain(&self) -> &str {
        &self.inner.domain
    }

    /// Whether the session is still up.
    pub fn is_connected(&self) -> bool {
        *self.inner.state.borrow() == SessionState::Online
    }

    /// Waits until the session ends and returns why (returns at once if it has ended).
    pub async fn closed(&self) -> String {
        let mut state = self.inner.state.clone();
        loop {
            if let SessionState::Closed(reason) = &*state.borrow_and_update() {
                return reason.clone();
            }
            if state.changed().await.is_err() {
                return match &*state.borrow() {
                    SessionState::Closed(reason) => reason.clone(),
                    SessionState::Online => "the session driver stopped".to_owned(),
                };
            }
        }
    }

    /// Closes the stream cleanly (`</stream:stream>`) after the stanzas already queued, and
    /// waits (at most 5 s) until it is closed.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.inner.commands.send(Command::Close(done)).await.is_ok() {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT + Duration::from_secs(1), wait).await;
        }
    }

    /// Queues any stanza for sending (no answer awaited).
    pub async fn send(&self, stanza: impl Into<Stanza>) -> Result<(), XmppError> {
        self.inner
            .commands
            .send(Command::Send(stanza.into()))
            .await
            .map_err(|_| self.disconnected())
    }

    /// Sends available presence with priority 0 (without it, a Finesse-like server does not
    /// deliver notifications to this session).
    pub async fn send_presence(&self) -> Result<(), XmppError> {
        self.send(Presence::available().with_priority(0)).await
    }

    /// Sends an IQ `get`/`set` with `payload` to `to` and waits for the answer with the
    /// default timeout. Returns the result's payload; an IQ error becomes
    /// [`XmppError::Stanza`].
    pub async fn request(
        &self,
        kind: IqKind,
        to: &str,
        payload: Element,
    ) -> Result<Option<Element>, XmppError> {
        let what = format!("IQ {} {} to {to}", kind_name(kind), payload.name());
        self.request_with_timeout(kind, to, payload, self.inner.timeout, &what)
            .await
    }

    /// Like [`request`](Self::request) with an explicit timeout and a description used in
    /// errors.
    pub async fn request_with_timeout(
        &self,
        kind: IqKind,
        to: &str,
        payload: Element,
        timeout: Duration,
        what: &str,
    ) -> Result<Option<Element>, XmppError> {
        let to = parse_jid(to)?;
        let id = format!(
            "{}-{}",
            self.inner.id_prefix,
            self.inner.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let iq = match kind {
            IqKind::Get => Iq::Get {
                from: None,
                to: Some(to),
                id,
                payload,
            },
            IqKind::Set => Iq::Set {
                from: None,
                to: Some(to),
                id,
                payload,
            },
        };
        let (reply, answer) = oneshot::channel();
        let exchange = async {
            self.inner
                .commands
                .send(Command::Request { iq, reply })
                .await
                .map_err(|_| self.disconnected())?;
            answer.await.map_err(|_| self.disconnected())
        };
        let response = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| XmppError::Timeout {
                what: what.to_owned(),
                after: timeout,
            })??;
        match response {
            Iq::Result { payload, .. } => Ok(payload),
            Iq::Error { error, .. } => Err(stanza_error(what, error)),
            Iq::Get { .. } | Iq::Set { .. } => Err(XmppError::Stanza {
                what: what.to_owned(),
                condition: "bad-request".into(),
                text: Some("the answer was a request".into()),
            }),
        }
    }

    /// XEP-0199 ping to the server; returns the round-trip time.
    pub async fn ping(&self) -> Result<Duration, XmppError> {
        let start = Instant::now();
        self.request_with_timeout(
            IqKind::Get,
            self.domain(),
            ping_element(),
            self.inner.timeout,
            "ping",
        )
        .await?;
        Ok(start.elapsed())
    }

    /// Creates `node` on `pubsub_jid` with `pubsub#persist_items=0` and `pubsub#max_items=1`
    /// (persisted items make Prosody ~15x slower). Returns `true` if it was created, `false`
    /// if it already existed (`conflict`). Only an admin may create nodes on the test server.
    pub async fn create_node(&self, pubsub_jid: &str, node: &str) -> Result<bool, XmppError> {
        let form = Element::builder("x", ns::DATA_FORMS)
            .attr("type".try_into().map_err(xml_name)?, "submit")
            .append(form_field(
                "FORM_TYPE",
                Some("hidden"),
                "http://jabber.org/protocol/pubsub#node_config",
            )?)
            .append(form_field("pubsub#persist_items", None, "0")?)
            .append(form_field("pubsub#max_items", None, "1")?)
            .build();
        let payload = Element::builder("pubsub", NS_PUBSUB)
            .append(
                Element::builder("create", NS_PUBSUB)
                    .attr(name("node")?, node)
                    .build(),
            )
            .append(
                Element::builder("configure", NS_PUBSUB)
                    .append(form)
                    .build(),
            )
            .build();
        let what = format!("create node {node} on {pubsub_jid}");
        match self
            .request_with_timeout(IqKind::Set, pubsub_jid, payload, self.inner.timeout, &what)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.condition() == Some("conflict") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes `node` (owner only). Missing nodes give `item-not-found`.
    pub async fn delete_node(&self, pubsub_jid: &str, node: &str) -> Result<(), XmppError> {
        let payload = Element::builder("pubsub", NS_PUBSUB_OWNER)
            .append(
                Element::builder("delete", NS_PUBSUB_OWNER)
                    .attr(name("node")?, node)
                    .build(),
            )
            .build();
        let what = format!("delete node {node} on {pubsub_jid}");
        self.request_with_timeout(IqKind::Set, pubsub_jid, payload, self.inner.timeout, &what)
            .await
            .map(drop)
    }

    /// Subscribes `jid` (usually the agent's bare JID, as Finesse does) to `node`. The node
    /// must exist (else `item-not-found`); subscribing another entity's JID needs the owner.
    pub async fn subscribe(
        &self,
        pubsub_jid: &str,
        node: &str,
        jid: &str,
    ) -> Result<(), XmppError> {
        self.subscription("subscribe", pubsub_jid, node, jid).await
    }

    /// Removes the subscription of `jid` to `node`.
    pub async fn unsubscribe(
        &self,
        pubsub_jid: &str,
        node: &str,
        jid: &str,
    ) -> Result<(), XmppError> {
        self.subscription("unsubscribe", pubsub_jid, node, jid)
            .await
    }

    async fn subscription(
        &self,
        verb: &str,
        pubsub_jid: &str,
        node: &str,
        jid: &str,
    ) -> Result<(), XmppError> {
        parse_jid(jid)?;
        let payload = Element::builder("pubsub", NS_PUBSUB)
            .append(
                Element::builder(verb, NS_PUBSUB)
                    .attr(name("node")?, node)
                    .attr(name("jid")?, jid)
                    .build(),
            )
            .build();
        let what = format!("{verb} {jid} to {node} on {pubsub_jid}");
        self.request_with_timeout(IqKind::Set, pubsub_jid, payload, self.inner.timeout, &what)
            .await
            .map(drop)
    }

    /// Publishes one item whose payload is `<notification xmlns='http://jabber.org/protocol/pubsub'>`
    /// holding `payload_text` as escaped text, exactly like Finesse (Finesse Developer Guide:
    /// notification format):
    /// `<Update>` goes on the wire as `&lt;Update&gt;`. Waits for the server's answer; run
    /// several publishes concurrently to pipeline them. Subscribers get the text back exactly,
    /// except that a carriage return arrives as a line feed (Prosody re-serializes it raw and
    /// XML parsers normalize line ends).
    pub async fn publish(
        &self,
        pubsub_jid: &str,
        node: &str,
        item_id: &str,
        payload_text: &str,
    ) -> Result<(), XmppError> {
        let payload = Element::builder("pubsub", NS_PUBSUB)
            .append(
                Element::builder("publish", NS_PUBSUB)
                    .attr(name("node")?, node)
                    .append(
                        Element::builder("item", NS_PUBSUB)
                            .attr(name("id")?, item_id)
                            .append(notification_element(payload_text)?)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let what = format!("publish {item_id} to {node} on {pubsub_jid}");
        self.request_with_timeout(IqKind::Set, pubsub_jid, payload, self.inner.timeout, &what)
            .await
            .map(drop)
    }

    fn disconnected(&self) -> XmppError {
        let reason = match &*self.inner.state.borrow() {
            SessionState::Closed(reason) => reason.clone(),
            SessionState::Online => "the session driver stopped".to_owned(),
        };
        XmppError::Disconnected { reason }
    }
}

/// Builds `<notification xmlns='http://jabber.org/protocol/pubsub'>` with `text` as its
/// (escaped on the wire) text content, refusing characters XML cannot carry.
pub fn notification_element(text: &str) -> Result<Element, XmppError> {
    if let Some(c) = text.chars().find(|&c| !is_xml_char(c)) {
        return Err(XmppError::InvalidPayload(format!(
            "character U+{:04X} cannot appear in XML",
            u32::from(c)
        )));
    }
    Ok(Element::builder("notification", NS_PUBSUB)
        .append(text)
        .build())
}

/// Extracts the pubsub items of a notification message (one [`ReceivedItem`] per `<item>`
/// with a payload or an id); empty for any other message.
pub fn pubsub_items(message: &Message) -> Vec<ReceivedItem> {
    let Some(event) = message
        .payloads
        .iter()
        .find(|p| p.is("event", NS_PUBSUB_EVENT))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for items in event.children().filter(|c| c.is("items", NS_PUBSUB_EVENT)) {
        let node = items.attr("node").unwrap_or_default().to_owned();
        for item in items.children().filter(|c| c.is("item", NS_PUBSUB_EVENT)) {
            let notification = item.children().find(|c| c.name() == "notification");
            let inline_payload = notification.is_some_and(|n| n.children().next().is_some());
            let notification_text = notification.map(|n| {
                if inline_payload {
                    n.children().map(serialize).collect::<String>()
                } else {
                    n.text()
                }
            });
            out.push(ReceivedItem {
                node: node.clone(),
                item_id: item.attr("id").map(str::to_owned),
                from: message.from.as_ref().map(ToString::to_string),
                notification_text,
                inline_payload,
            });
        }
    }
    out
}

fn parse_bare(jid: &str) -> Result<BareJid, XmppError> {
    let bare = BareJid::new(jid).map_err(|e| XmppError::InvalidJid {
        jid: jid.to_owned(),
        reason: e.to_string(),
    })?;
    if bare.node().is_none() {
        return Err(XmppError::InvalidJid {
            jid: jid.to_owned(),
            reason: "a user part (user@domain) is needed to sign in".into(),
        });
    }
    Ok(bare)
}

fn parse_jid(jid: &str) -> Result<Jid, XmppError> {
    Jid::new(jid).map_err(|e| XmppError::InvalidJid {
        jid: jid.to_owned(),
        reason: e.to_string(),
    })
}

fn ping_element() -> Element {
    Element::builder("ping", ns::PING).build()
}

fn form_field(var: &str, kind: Option<&str>, value: &str) -> Result<Element, XmppError> {
    let mut field = Element::builder("field", ns::DATA_FORMS).attr(name("var")?, var);
    if let Some(kind) = kind {
        field = field.attr(name("type")?, kind);
    }
    Ok(field
        .append(
            Element::builder("value", ns::DATA_FORMS)
                .append(value)
                .build(),
        )
        .build())
}

/// An attribute name for minidom's builder.
fn name(n: &'static str) -> Result<tokio_xmpp::minidom::rxml::NcName, XmppError> {
    n.try_into().map_err(xml_name)
}

fn xml_name(e: impl fmt::Display) -> XmppError {
    XmppError::InvalidPayload(format!("bad XML name: {e}"))
}

fn kind_name(kind: IqKind) -> &'static str {
    match kind {
        IqKind::Get => "get",
        IqKind::Set => "set",
    }
}

fn serialize(element: &Element) -> String {
    let mut out = Vec::new();
    match element.write_to(&mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => {
            tracing::warn!("cannot serialize a received <{}>: {e}", element.name());
            String::new()
        }
    }
}

/// XML 1.0 `Char`: what a text node may contain.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_text_is_escaped_on_the_wire() {
        let el = notification_element("<Update><event>PUT</event></Update>").expect("valid");
        let xml = serialize(&el);
        assert!(
            xml.contains("&lt;Update&gt;&lt;event&gt;PUT&lt;/event&gt;&lt;/Update&gt;"),
            "{xml}"
        );
        assert!(xml.contains("http://jabber.org/protocol/pubsub"), "{xml}");
        assert!(notification_element("a\u{1}b").is_err());
    }

    #[test]
    fn pubsub_items_reads_escaped_and_inline_payloads() {
        let xml = "<message xmlns='jabber:client' from='pubsub.finesse.local' to='1001001@finesse.local'>\
            <event xmlns='http://jabber.org/protocol/pubsub#event'><items node='/finesse/api/User/1001001/Dialogs'>\
            <item id='a'><notification xmlns='http://jabber.org/protocol/pubsub'>&lt;Update&gt;&lt;event&gt;PUT&lt;/event&gt;&lt;/Update&gt;</notification></item>\
            <item id='b'><notification xmlns='http://jabber.org/protocol/pubsub'><Update><event>POST</event></Update></notification></item>\
            </items></event></message>";
        let element: Element = xml.parse().expect("parses");
        let message = Message::try_from(element).expect("a message");
        let items = pubsub_items(&message);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].node, "/finesse/api/User/1001001/Dialogs");
        assert_eq!(items[0].item_id.as_deref(), Some("a"));
        assert_eq!(
            items[0].notification_text.as_deref(),
            Some("<Update><event>PUT</event></Update>")
        );
        assert!(!items[0].inline_payload);
        assert!(items[1].inline_payload);
        assert!(
            items[1]
                .notification_text
                .as_deref()
                .is_some_and(|t| t.contains("<event>POST</event>"))
        );
        assert_eq!(items[0].from.as_deref(), Some("pubsub.finesse.local"));
    }

    #[test]
    fn helpers() {
        assert!(is_xml_char('é') && !is_xml_char('\u{FFFE}') && !is_xml_char('\u{0}'));
        assert!(parse_bare("finesse.local").is_err());
        assert!(parse_bare("1001001@finesse.local").is_ok());
    }
}
