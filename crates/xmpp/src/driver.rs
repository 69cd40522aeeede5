//! The background task (the driver) that owns one session's stream: it sends what the
//! [`XmppClient`](crate::XmppClient) handles ask for, matches IQ results to their requests,
//! answers the server's pings, and delivers received pubsub items in order without ever
//! stalling the stream (a full item channel fills an in-memory backlog).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use tokio_xmpp::stanzastream::{Event, StanzaStream, StreamEvent};

use crate::client::{ReceivedItem, pubsub_items};

/// How long a graceful close may take.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The state of a session, as seen by [`XmppClient::closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionState {
    Online,
    Closed(String),
}

pub(crate) enum Command {
    Request { iq: Iq, reply: oneshot::Sender<Iq> },
    Send(Stanza),
    Close(oneshot::Sender<()>),
}

/// What woke the driver up.
enum Wake {
    Stream(Option<Event>),
    Command(Option<Command>),
}

/// The background task owning the stream.
pub(crate) struct Driver {
    stream: StanzaStream,
    commands: mpsc::Receiver<Command>,
    items: mpsc::Sender<ReceivedItem>,
    backlog: VecDeque<ReceivedItem>,
    pending: HashMap<String, oneshot::Sender<Iq>>,
    state: watch::Sender<SessionState>,
}

impl Driver {
    /// Starts the driver of `stream`: it serves `commands`, sends received items on `items`
    /// and reports the session's end on `state`.
    pub(crate) fn spawn(
        stream: StanzaStream,
        commands: mpsc::Receiver<Command>,
        items: mpsc::Sender<ReceivedItem>,
        state: watch::Sender<SessionState>,
    ) {
        let driver = Driver {
            stream,
            commands,
            items,
            backlog: VecDeque::new(),
            pending: HashMap::new(),
            state,
        };
        tokio::spawn(driver.run());
    }

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
