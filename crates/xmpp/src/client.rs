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
//! One background task (the driver) owns the stream; [`XmppClient`] handles talk to it over
//! a channel, so every method takes `&self` and the client can be cloned and used from many
//! tasks at once (requests in flight are pipelined).
//!
//! There is no reconnect: a sign-in failure is reported by [`XmppClient::connect`] as
//! [`XmppError::Auth`]; a lost connection ends the session (the item channel closes, pending
//! requests fail with [`XmppError::Disconnected`], [`XmppClient::closed`] returns the reason).
//! (tokio-xmpp's stream worker cannot be told to give up: after a failed sign-in or a lost
//! connection it and one parked task stay idle until the runtime shuts down; harmless in
//! tests.)

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use sasl::common::Credentials;
use tokio::io::{AsyncBufRead, AsyncWrite, BufStream};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::rustls;
use tokio_xmpp::Stanza;
use tokio_xmpp::error::AuthError;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use tokio_xmpp::parsers::starttls;
use tokio_xmpp::parsers::stream_features::StreamFeatures;
use tokio_xmpp::stanzastream::{Connection, Event, StanzaStream, StreamEvent, XmppStream};
use tokio_xmpp::xmlstream::{
    PendingFeaturesRecv, ReadError, StreamHeader, Timeouts, XmppStreamElement, initiate_stream,
};

/// XEP-0060 namespace; also the namespace of Finesse's `<notification>` payload element.
pub const NS_PUBSUB: &str = "http://jabber.org/protocol/pubsub";
/// XEP-0060 event namespace (`<event>` in notification messages).
pub const NS_PUBSUB_EVENT: &str = "http://jabber.org/protocol/pubsub#event";
/// XEP-0060 owner namespace (node deletion, configuration).
pub const NS_PUBSUB_OWNER: &str = "http://jabber.org/protocol/pubsub#owner";

/// The default sign-in and request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Depth of tokio-xmpp's internal queues (each direction).
const QUEUE_DEPTH: usize = 256;
/// Capacity of the command channel from the handles to the driver.
const COMMAND_CAPACITY: usize = 256;
/// How long a graceful close may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors of the XMPP client.
#[derive(Debug, Clone, thiserror::Error)]
pub enum XmppError {
    /// A JID that does not parse, or a bare JID without a user part.
    #[error("invalid JID {jid:?}: {reason}")]
    InvalidJid {
        /// The JID as given.
        jid: String,
        /// Why it was refused.
        reason: String,
    },
    /// The TCP connection or the stream negotiation failed.
    #[error("cannot connect to {addr}: {detail}")]
    Connect {
        /// The server address.
        addr: SocketAddr,
        /// What failed.
        detail: String,
    },
    /// TLS could not be set up: the server does not offer STARTTLS although
    /// [`TlsMode::StartTls`] requires it, the certificate is not trusted (unknown issuer,
    /// wrong name, expired), the handshake failed, or the server requires TLS and the client
    /// is configured with [`TlsMode::Plain`]. Never retried.
    #[error("TLS with {addr} failed: {detail}")]
    Tls {
        /// The server address.
        addr: SocketAddr,
        /// What failed.
        detail: String,
    },
    /// The server refused the credentials (or no SASL mechanism matched).
    #[error("sign-in failed for {jid}: {condition}")]
    Auth {
        /// The bare JID that tried to sign in.
        jid: String,
        /// The SASL failure condition, e.g. `not-authorized`.
        condition: String,
    },
    /// No answer in time.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        after: Duration,
    },
    /// The session ended (server shutdown, socket error, or closed by us).
    #[error("the XMPP session ended: {reason}")]
    Disconnected {
        /// Why.
        reason: String,
    },
    /// The server answered an IQ with an error.
    #[error("{what} failed: <{condition}/>{}", .text.as_deref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Stanza {
        /// The request, e.g. `subscribe to /finesse/api/User/1001001`.
        what: String,
        /// The defined condition, e.g. `item-not-found`, `conflict`, `forbidden`.
        condition: String,
        /// The server's explanation, if any.
        text: Option<String>,
    },
    /// A payload that cannot be sent as XML (control characters, U+FFFE/U+FFFF).
    #[error("invalid payload: {0}")]
    InvalidPayload(String),
}

impl XmppError {
    /// The stanza error condition (`conflict`, `item-not-found`...), for [`XmppError::Stanza`].
    pub fn condition(&self) -> Option<&str> {
        match self {
            Self::Stanza { condition, .. } => Some(condition),
            _ => None,
        }
    }

    /// Whether this is a sign-in failure.
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Auth { .. })
    }

    /// Whether this is a TLS failure ([`XmppError::Tls`]).
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls { .. })
    }
}

/// Transport security of the client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// TCP, then STARTTLS (required: a server that does not offer it is refused with
    /// [`XmppError::Tls`]); the certificate must be valid for the JID's domain and chain to
    /// a platform root or to [`XmppConfig::extra_root_cert_pem`]. Finesse's port 5222.
    #[default]
    StartTls,
    /// Plaintext TCP, credentials in the clear: loopback tests only.
    Plain,
}

/// How to connect: address, credentials, resource, timeouts.
#[derive(Clone)]
pub struct XmppConfig {
    /// The server's client port, e.g. [`Prosody::addr`](crate::Prosody::addr).
    pub addr: SocketAddr,
    /// The bare JID to sign in as, `user@domain`.
    pub jid: String,
    /// The password (in the clear with SASL PLAIN unless [`TlsMode::StartTls`]).
    pub password: String,
    /// Transport security (default [`TlsMode::StartTls`]).
    pub tls: TlsMode,
    /// PEM certificates (CAs) trusted in addition to the platform's roots, for
    /// [`TlsMode::StartTls`] (e.g. a test CA); empty by default.
    pub extra_root_cert_pem: Option<Vec<u8>>,
    /// The resource to bind; `None` lets the server choose.
    pub resource: Option<String>,
    /// Sign-in timeout and default request timeout ([`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// Send available presence (priority 0) after binding, as Finesse requires for
    /// notifications to be delivered (default true).
    pub send_presence: bool,
    /// Capacity of the [`ReceivedItem`] channel (default 1024). A full channel never stalls
    /// the session: further items wait in an in-memory backlog, in order.
    pub item_capacity: usize,
}

impl XmppConfig {
    /// A config with the defaults: server-chosen resource, [`DEFAULT_TIMEOUT`], presence sent.
    pub fn new(addr: SocketAddr, jid: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            addr,
            jid: jid.into(),
            password: password.into(),
            tls: TlsMode::default(),
            extra_root_cert_pem: None,
            resource: None,
            timeout: DEFAULT_TIMEOUT,
            send_presence: true,
            item_capacity: 1024,
        }
    }

    /// Sets the resource to bind.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Sets the transport security ([`TlsMode::Plain`] only for loopback tests).
    pub fn tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    /// Trusts the CA certificates in `pem` (PEM, one or more) in addition to the platform's
    /// roots, for [`TlsMode::StartTls`].
    pub fn extra_root_cert_pem(mut self, pem: Vec<u8>) -> Self {
        self.extra_root_cert_pem = Some(pem);
        self
    }

    /// Sets the sign-in and default request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets whether available presence is sent after binding.
    pub fn send_presence(mut self, send: bool) -> Self {
        self.send_presence = send;
        self
    }
}

impl fmt::Debug for XmppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XmppConfig")
            .field("addr", &self.addr)
            .field("jid", &self.jid)
            .field("password", &"<hidden>")
            .field("tls", &self.tls)
            .field(
                "extra_root_cert_pem",
                &self.extra_root_cert_pem.as_ref().map(|p| p.len()),
            )
            .field("resource", &self.resource)
            .field("timeout", &self.timeout)
            .field("send_presence", &self.send_presence)
            .field("item_capacity", &self.item_capacity)
            .finish()
    }
}

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

/// The state of a session, as seen by [`XmppClient::closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum SessionState {
    Online,
    Closed(String),
}

enum Command {
    Request { iq: Iq, reply: oneshot::Sender<Iq> },
    Send(Stanza),
    Close(oneshot::Sender<()>),
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
        let driver = Driver {
            stream,
            commands: command_rx,
            items: items_tx,
            backlog: VecDeque::new(),
            pending: HashMap::new(),
            state: state_tx,
        };
        tokio::spawn(driver.run());

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

/// What woke the driver up.
enum Wake {
    Stream(Option<Event>),
    Command(Option<Command>),
}

/// The background task owning the stream.
struct Driver {
    stream: StanzaStream,
    commands: mpsc::Receiver<Command>,
    items: mpsc::Sender<ReceivedItem>,
    backlog: VecDeque<ReceivedItem>,
    pending: HashMap<String, oneshot::Sender<Iq>>,
    state: watch::Sender<SessionState>,
}

impl Driver {
    async fn run(mut self) {
        let mut close_ack = None;
        let mut graceful = false;
        let reason = loop {
            let wake = tokio::select! {
                event = self.stream.next() => Wake::Stream(event),
                command = self.commands.recv() => Wake::Command(command),
                permit = self.items.reserve(), if !self.backlog.is_empty() => {
                    match permit {
                        Ok(permit) => {
                            if let Some(item) = self.backlog.pop_front() {
                                permit.send(item);
                            }
                        }
                        Err(_) => self.backlog.clear(),
                    }
                    continue;
                }
            };
            match wake {
                Wake::Stream(Some(Event::Stanza(stanza))) => self.on_stanza(stanza).await,
                Wake::Stream(Some(Event::Stream(StreamEvent::Resumed))) => {}
                Wake::Stream(Some(Event::Stream(StreamEvent::Suspended))) => {
                    break "the connection was lost (server shutdown or socket error)".to_owned();
                }
                Wake::Stream(Some(Event::Stream(StreamEvent::Reset { .. }))) => {
                    break "the stream was reset".to_owned();
                }
                Wake::Stream(None) => break "the stream ended".to_owned(),
                Wake::Command(Some(Command::Request { iq, reply })) => {
                    if self.pending.len() >= 1024 {
                        // Drop the entries whose requester gave up (timed out).
                        self.pending.retain(|_, tx| !tx.is_closed());
                    }
                    self.pending.insert(iq.id().to_owned(), reply);
                    self.stream.send(Box::new(iq.into())).await;
                }
                Wake::Command(Some(Command::Send(stanza))) => {
                    self.stream.send(Box::new(stanza)).await;
                }
                Wake::Command(Some(Command::Close(ack))) => {
                    close_ack = Some(ack);
                    graceful = true;
                    break "closed by the client".to_owned();
                }
                Wake::Command(None) => {
                    graceful = true;
                    break "all client handles were dropped".to_owned();
                }
            }
        };
        tracing::debug!("XMPP session ends: {reason}");
        let _ = self.state.send(SessionState::Closed(reason));
        // Failing the pending requests: dropping their reply senders.
        self.pending.clear();
        // Items already received are still delivered; then the channel closes.
        let backlog = std::mem::take(&mut self.backlog);
        let items = self.items;
        tokio::spawn(async move {
            for item in backlog {
                if items.send(item).await.is_err() {
                    break;
                }
            }
        });
        if graceful {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.stream.close()).await;
        }
        if let Some(ack) = close_ack {
            let _ = ack.send(());
        }
    }

    async fn on_stanza(&mut self, stanza: Stanza) {
        match stanza {
            Stanza::Iq(iq) => match iq {
                Iq::Result { .. } | Iq::Error { .. } => {
                    if let Some(reply) = self.pending.remove(iq.id()) {
                        let _ = reply.send(iq);
                    }
                }
                Iq::Get {
                    from, id, payload, ..
                } => self.answer_request(from, id, &payload).await,
                Iq::Set {
                    from, id, payload, ..
                } => self.answer_request(from, id, &payload).await,
            },
            Stanza::Message(message) => {
                for item in pubsub_items(&message) {
                    self.deliver(item);
                }
            }
            Stanza::Presence(_) => {}
        }
    }

    /// Answers a request from the server: pings get a result, anything else an error.
    async fn answer_request(&mut self, from: Option<Jid>, id: String, payload: &Element) {
        let answer = if payload.is("ping", ns::PING) {
            Iq::Result {
                from: None,
                to: from,
                id,
                payload: None,
            }
        } else {
            Iq::Error {
                from: None,
                to: from,
                id,
                error: StanzaError::new(
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    "en",
                    "not supported by this test client",
                ),
                payload: None,
            }
        };
        self.stream.send(Box::new(answer.into())).await;
    }

    fn deliver(&mut self, item: ReceivedItem) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(item);
            return;
        }
        match self.items.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(item)) => self.backlog.push_back(item),
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// The connector handed to [`StanzaStream::new`]: signs in once and reports the outcome on
/// `login`; later calls (reconnects after a lost connection) are parked until the stream is
/// dropped, so the session ends instead of reconnecting.
fn one_shot_connector(
    transport: Transport,
    identity: Jid,
    password: String,
    timeout: Duration,
    login: oneshot::Sender<Result<(), XmppError>>,
) -> Box<dyn FnMut(Option<String>, oneshot::Sender<Connection>) + Send + 'static> {
    let mut login = Some(login);
    Box::new(move |_location, mut slot: oneshot::Sender<Connection>| {
        let Some(login) = login.take() else {
            tokio::spawn(async move { slot.closed().await });
            return;
        };
        let identity = identity.clone();
        let password = password.clone();
        let transport = transport.clone();
        tokio::spawn(async move {
            let result = tokio::select! {
                result = sign_in(&transport, &identity, &password, timeout) => result,
                () = slot.closed() => return,
            };
            match result {
                Ok((features, stream)) => {
                    let _ = login.send(Ok(()));
                    let _ = slot.send(Connection {
                        stream,
                        features,
                        identity,
                    });
                }
                Err(e) => {
                    let _ = login.send(Err(e));
                    slot.closed().await;
                }
            }
        });
    })
}

/// Where and how to connect: the address and, for STARTTLS, the rustls client config.
#[derive(Clone)]
struct Transport {
    addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Transport {
    fn new(config: &XmppConfig) -> Result<Self, XmppError> {
        let tls = match config.tls {
            TlsMode::Plain => None,
            TlsMode::StartTls => Some(tls_config(
                config.addr,
                config.extra_root_cert_pem.as_deref(),
            )?),
        };
        Ok(Self {
            addr: config.addr,
            tls,
        })
    }
}

/// The platform's root certificates (rustls-native-certs: the system store, or
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`), loaded once per process.
fn platform_roots() -> &'static rustls::RootCertStore {
    static ROOTS: std::sync::OnceLock<rustls::RootCertStore> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::warn!("platform root certificates: {e}");
        }
        let mut roots = rustls::RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!("platform root certificates: {added} loaded, {ignored} ignored");
        roots
    })
}

/// The rustls client config: aws-lc-rs, the platform's roots plus `extra_pem`. Without
/// `extra_pem`, one config is shared by every session of the process.
fn tls_config(
    addr: SocketAddr,
    extra_pem: Option<&[u8]>,
) -> Result<Arc<rustls::ClientConfig>, XmppError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    static SHARED: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    let tls_error = |detail: String| XmppError::Tls { addr, detail };
    if extra_pem.is_none()
        && let Some(shared) = SHARED.get()
    {
        return Ok(Arc::clone(shared));
    }
    let mut roots = platform_roots().clone();
    if let Some(pem) = extra_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| tls_error(format!("bad extra root certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| tls_error(format!("bad extra root certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(tls_error(
                "no certificate in the extra root certificate PEM".into(),
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    if extra_pem.is_none() {
        return Ok(Arc::clone(SHARED.get_or_init(|| config)));
    }
    Ok(config)
}

/// TCP connect, stream header, STARTTLS (unless plain), SASL, stream restart: the stream
/// ready for resource binding.
async fn sign_in(
    transport: &Transport,
    identity: &Jid,
    password: &str,
    timeout: Duration,
) -> Result<(StreamFeatures, XmppStream), XmppError> {
    let addr = transport.addr;
    let connect_error = |detail: String| XmppError::Connect { addr, detail };
    let tls_error = |detail: String| XmppError::Tls { addr, detail };
    let timeouts = Timeouts {
        read_timeout: Duration::from_secs(60),
        response_timeout: timeout.max(Duration::from_secs(2)),
    };
    let domain = identity.domain().as_str();
    let header = || StreamHeader {
        to: Some(Cow::Borrowed(domain)),
        from: None,
        id: None,
    };
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let pending = initiate_stream(BufStream::new(tcp), ns::JABBER_CLIENT, header(), timeouts)
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let Some(tls) = &transport.tls else {
        return login(
            pending,
            sasl::common::ChannelBinding::None,
            identity,
            password,
            addr,
            true,
        )
        .await;
    };
    let (features, mut stream) = pending
        .recv_features::<tokio_xmpp::xmlstream::FallibleStreamElement>()
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    if !features.can_starttls() {
        return Err(tls_error(
            "the server does not offer STARTTLS, which is required (TlsMode::StartTls)".into(),
        ));
    }
    stream
        .send(&XmppStreamElement::Starttls(starttls::Nonza::Request(
            starttls::Request,
        )))
        .await
        .map_err(|e| tls_error(format!("sending <starttls/>: {e}")))?;
    loop {
        match stream
            .next()
            .await
            .map(|v| v.and_then(|v| v.into_read_error()))
        {
            Some(Ok(XmppStreamElement::Starttls(starttls::Nonza::Proceed(_)))) => break,
            Some(Ok(XmppStreamElement::Starttls(_))) => {
                return Err(tls_error("the server refused STARTTLS (<failure/>)".into()));
            }
            Some(Ok(_)) | Some(Err(ReadError::SoftTimeout)) => {}
            Some(Err(e)) => return Err(tls_error(format!("during STARTTLS: {e}"))),
            None => {
                return Err(tls_error(
                    "the server closed the stream during STARTTLS".into(),
                ));
            }
        }
    }
    let tcp = stream.into_inner().into_inner();
    let server_name = rustls::pki_types::ServerName::try_from(domain.to_owned())
        .map_err(|e| tls_error(format!("{domain:?} is not a valid server name: {e}")))?;
    let tls_stream = tokio_rustls::TlsConnector::from(Arc::clone(tls))
        .connect(server_name, tcp)
        .await
        .map_err(|e| tls_error(e.to_string()))?;
    let (_, connection) = tls_stream.get_ref();
    // Channel binding as tokio-xmpp does it: tls-exporter on TLS 1.3 only.
    let binding = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => connection
            .export_keying_material(vec![0u8; 32], b"EXPORTER-Channel-Binding", None)
            .map(sasl::common::ChannelBinding::TlsExporter)
            .unwrap_or(sasl::common::ChannelBinding::None),
        _ => sasl::common::ChannelBinding::None,
    };
    let pending = initiate_stream(
        BufStream::new(tls_stream),
        ns::JABBER_CLIENT,
        header(),
        timeouts,
    )
    .await
    .map_err(|e| connect_error(e.to_string()))?;
    login(pending, binding, identity, password, addr, false).await
}

/// Stream features, SASL, stream restart, stream features again.
async fn login<S: AsyncBufRead + AsyncWrite + Unpin + Send + 'static>(
    pending: PendingFeaturesRecv<S>,
    binding: sasl::common::ChannelBinding,
    identity: &Jid,
    password: &str,
    addr: SocketAddr,
    plain: bool,
) -> Result<(StreamFeatures, XmppStream), XmppError> {
    let connect_error = |detail: String| XmppError::Connect { addr, detail };
    let (features, stream) = pending
        .recv_features()
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    if plain
        && features.sasl_mechanisms.is_empty()
        && features.starttls.as_ref().is_some_and(|s| s.required)
    {
        return Err(XmppError::Tls {
            addr,
            detail: "the server requires STARTTLS and offers no sign-in without it, \
                     but the client is configured with TlsMode::Plain"
                .into(),
        });
    }
    let user = identity
        .node()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    let credentials = Credentials::default()
        .with_username(user)
        .with_password(password)
        .with_channel_binding(binding);
    let stream = tokio_xmpp::client_login(stream, features.sasl_mechanisms, credentials)
        .await
        .map_err(|e| match e {
            tokio_xmpp::Error::Auth(AuthError::Fail(condition)) => XmppError::Auth {
                jid: identity.to_bare().to_string(),
                condition: kebab(&format!("{condition:?}")),
            },
            tokio_xmpp::Error::Auth(other) => XmppError::Auth {
                jid: identity.to_bare().to_string(),
                condition: other.to_string(),
            },
            other => connect_error(other.to_string()),
        })?;
    let stream = stream
        .send_header(StreamHeader {
            to: Some(Cow::Borrowed(identity.domain().as_str())),
            from: None,
            id: None,
        })
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let (features, stream) = stream
        .recv_features()
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    Ok((features, stream.box_stream()))
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

fn stanza_error(what: &str, error: StanzaError) -> XmppError {
    let text = error
        .texts
        .values()
        .next()
        .cloned()
        .filter(|t| !t.is_empty());
    let element = Element::from(error);
    let condition = element
        .children()
        .find(|c| c.ns() == ns::XMPP_STANZAS && c.name() != "text")
        .map(|c| c.name().to_owned())
        .unwrap_or_else(|| "undefined-condition".to_owned());
    XmppError::Stanza {
        what: what.to_owned(),
        condition,
        text,
    }
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

/// `NotAuthorized` -> `not-authorized`.
fn kebab(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
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
        assert_eq!(kebab("NotAuthorized"), "not-authorized");
        assert!(is_xml_char('é') && !is_xml_char('\u{FFFE}') && !is_xml_char('\u{0}'));
        assert!(parse_bare("finesse.local").is_err());
        assert!(parse_bare("1001001@finesse.local").is_ok());
    }
}
