//! The Switchboard side: WebSocket clients signed in with a JWT and
//! subscribed to one topic, and the driver that causes events through the
//! Finesse simulator's REST API ([`Events`]).
//!
//! - `agent-state`: the driver changes the demo agents' state with
//!   `PUT /finesse/api/User/{id}` on the simulator (Basic auth `id:password`):
//!   NOT_READY with a reason code that names the change ([`Driver`]). Each
//!   change is one Finesse User notification, which the server parses,
//!   applies to its cache and publishes as one `Cisco/Agent/SetAgentState`
//!   event on `agent/<id>`, `team/<team>` and `all`; the client finds the
//!   change's send time by the event's agent and `reasonCodeId`.
//! - `call-data`: each agent first gets a call (a progressive outbound call
//!   from the simulator's scenario API, answered through the REST); each
//!   change is then `UPDATE_CALL_DATA` on that call, setting `callVariable10`
//!   to the number that names the change. That is a Dialog notification of
//!   about 3 KB (17 call variables, two participants), published as one
//!   `Cisco/OutboundCall/OutBoundCallStateChange` event of about 3.7 KB on
//!   `agent/<id>`, `team/<team>`, `dialog/<id>`, `queue/<number>` and `all`;
//!   the client finds the change by the event's `ResponseActual.user.username`
//!   and `CallVariables.callVariable10`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use futures::stream::FuturesUnordered;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use hdrhistogram::Histogram;

use switchboard_finesse::{Dialog, ParticipantState};

use super::board::Board;
use super::client::{
    ClientSetup, ClientStats, Outcome, Stall, StallMode, change_code, reason_code_id, state_key,
};
use super::frame::{self, Frame};
use super::key::AgentIndex;
use super::latency::{self, Clock};
use super::net;
use super::token::{Claims, ClientTopic};
use super::wsclient::{Incoming, WsClient, WsError};

/// The subscription request; resuming, from `since` (the last offset read
/// and its epoch).
fn subscribe_frame(topic: &str, since: Option<&(u64, String)>) -> String {
    let data = match since {
        Some((offset, epoch)) => json!({
            "topics": [topic],
            "since": {topic: {"offset": offset, "epoch": epoch}},
        }),
        None => json!({"topics": [topic]}),
    };
    json!({
        "channel": "Broker",
        "topic": "Subscription",
        "subtopic": "Subscribe",
        "data": data,
        "requestId": "bench-sub",
    })
    .to_string()
}

/// The change that makes each event (Switchboard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Events {
    /// Agent-state changes (User PUTs): `SetAgentState` events of about 0.4 KB.
    #[default]
    AgentState,
    /// `UPDATE_CALL_DATA` on one answered outbound call per agent:
    /// `OutBoundCallStateChange` events of about 3.7 KB.
    CallData,
}

impl Events {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Events::AgentState => "agent-state",
            Events::CallData => "call-data",
        }
    }
}

/// The call variable the `call-data` changes set.
pub const MARK_VARIABLE: &str = "callVariable10";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    SigningIn,
    Subscribing,
    Live,
}

/// One client: connects, signs in with its token, subscribes, then counts
/// every frame until the run stops.
///
/// A stalled client ([`ClientSetup::stall`]) also stops reading when the
/// board says so ([`Board::stall`]), for the stall's duration; if the server
/// closed it meanwhile (4408, or the connection ended), it reconnects with
/// the same token and resumes its stream from the last offset it read
/// (`since`), once. It takes no part in completion or latency: those are the
/// other clients', which the stall must not disturb.
pub async fn client(
    index: usize,
    source: Option<IpAddr>,
    setup: Arc<ClientSetup>,
    board: Arc<Board>,
) -> ClientStats {
    let mut st = ClientStats::default();
    let (kind, place) = setup.population.place(index);
    let topic = ClientTopic::for_client(kind, place, &setup.agents, &setup.team);
    let stall = setup.stall.filter(|s| s.covers(index));
    st.stalled = stall.is_some();
    let gate = tokio::select! {
        permit = setup.gate.clone().acquire_owned() => permit.ok(),
        _ = board.stop.cancelled() => None,
    };
    let Some(gate) = gate else {
        return st;
    };
    let claims = Claims::for_client(
        kind,
        place,
        &setup.agents,
        &setup.team,
        Duration::from_secs(24 * 3600),
    );
    let signed = match &setup.signer {
        Some(signer) => signer.sign(&claims).map_err(|e| e.to_string()),
        None => Err("no token signer (--jwt-secret)".to_owned()),
    };
    let token = match signed {
        Ok(t) => t,
        Err(e) => {
            st.fail(Outcome::Failed, format!("signing the token: {e}"));
            board.client_failed();
            return st;
        }
    };
    let url = format!("{}?access_token={token}", setup.url);
    let mut session = Session {
        gate: Some(gate),
        last_state: vec![0u64; setup.agents.len()],
        last_mark: vec![u64::MAX; setup.agents.len()],
        epoch: None,
        resume_from: None,
        stall,
        away: false,
    };
    loop {
        let end = session
            .run(&url, source, &setup, &board, &topic, &mut st)
            .await;
        match end {
            SessionEnd::ClosedAfterStall(code) if st.resumed.is_none() => {
                if !st.reconnected {
                    st.stall_closed = Some(code);
                }
                session.stall = None;
                session.set_away(&board, true);
                session.resume_from = Some(
                    st.offsets
                        .position(&topic.topic)
                        .map(|o| (o, session.epoch.clone().unwrap_or_default())),
                );
            }
            SessionEnd::Over => break,
            SessionEnd::ClosedAfterStall(code) => {
                // Closed again after its resume: counted as dropped.
                st.close_code = code;
                if !board.stop.is_cancelled() {
                    st.dropped = true;
                }
                break;
            }
        }
    }
    session.set_away(&board, false);
    st
}

/// How one connection of a client ended.
enum SessionEnd {
    /// The run is over for this client (stopped, failed or dropped).
    Over,
    /// A stalled client's connection ended after its stall (the close code,
    /// if a close frame came): it reconnects and resumes.
    ClosedAfterStall(Option<u16>),
}

/// What a client keeps from one connection to the next.
struct Session {
    /// The setup permit, held until the first subscription is live.
    gate: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Per driven agent: the last state seen (state and reason code).
    last_state: Vec<u64>,
    /// Per driven agent: the last change mark seen on its call (`u64::MAX`: none yet).
    last_mark: Vec<u64>,
    /// The epoch of the client's stream, from its snapshot or replay.
    epoch: Option<String>,
    /// Resuming: the offset and epoch to resume from (`None` inside: the
    /// stream was never reached, so a plain subscription).
    resume_from: Option<Option<(u64, String)>>,
    /// The stall still to come.
    stall: Option<Stall>,
    /// Whether the board counts this client as away (stalled, or closed and
    /// not yet resumed).
    away: bool,
}

impl Session {
    fn set_away(&mut self, board: &Board, away: bool) {
        if self.away != away {
            self.away = away;
            board.stalled_away(away);
        }
    }

    /// One connection: connect, sign in, subscribe (resuming when asked),
    /// then count frames until the run stops or the connection ends.
    async fn run(
        &mut self,
        url: &str,
        source: Option<IpAddr>,
        setup: &ClientSetup,
        board: &Board,
        topic: &ClientTopic,
        st: &mut ClientStats,
    ) -> SessionEnd {
        let resuming = self.resume_from.is_some();
        let deadline = Instant::now() + setup.setup_timeout;
        let receive_buffer = self.stall.map(|s| s.receive_buffer);
        let mut ws = match WsClient::connect(
            url,
            setup.target,
            source,
            setup.read_buffer,
            receive_buffer,
            setup.connect_timeout,
        )
        .await
        {
            Ok(ws) => ws,
            Err(e) if resuming => {
                st.dropped = true;
                st.error.get_or_insert_with(|| format!("reconnecting: {e}"));
                return SessionEnd::Over;
            }
            Err(e) => {
                st.fail(Outcome::ConnectError, e);
                board.client_failed();
                return SessionEnd::Over;
            }
        };
        // Made once: a new `cancelled()` per read costs a registration each time.
        let stop = board.stop.cancelled();
        tokio::pin!(stop);
        let stall_signal = board.stall.cancelled();
        tokio::pin!(stall_signal);
        let setup_deadline = tokio::time::sleep_until(deadline);
        tokio::pin!(setup_deadline);
        let mut phase = Phase::SigningIn;
        let mut subscribe_sent = false;
        // Whether this connection has had its stall.
        let mut stalled = false;
        let mut failure: Option<String> = None;
        let mut closed: Option<Option<u16>> = None;
        // A stalled client's deliveries count towards neither completion nor latency.
        let counted = !st.stalled;
        // The driven agents by id: a few integer comparisons per frame.
        let agent_index = AgentIndex::new(&setup.agents);
        let agent_of = |id: &str| agent_index.get(id);
        let Session {
            gate,
            last_state,
            last_mark,
            epoch,
            resume_from,
            stall,
            away,
        } = self;
        let mut latencies = latency::Batch::default();
        let end = loop {
            let live = phase == Phase::Live;
            let stall_now = live && stall.is_some() && !stalled;
            // The frames of one read arrived together: one reading of each
            // clock for them (the board's, and the wall clock in microseconds
            // since the Unix epoch for the notifications' creation times).
            let mut now: Option<u64> = None;
            let mut wall: Option<u64> = None;
            // Every complete frame of one read, handled in place.
            let read = ws.read_frames(|incoming| {
                let bytes = match incoming {
                    Incoming::Text(bytes) => bytes,
                    Incoming::Close(code) => {
                        closed = Some(code);
                        return false;
                    }
                    Incoming::Binary(_) => return true,
                };
                let Some(text) = frame::text(bytes) else {
                    failure = Some("a text frame that is not UTF-8".into());
                    return false;
                };
                match frame::scan(text) {
                    Frame::Event(e) if e.is_live() => {
                        let now = *now.get_or_insert_with(|| board.now_nanos());
                        st.deliveries += 1;
                        st.bytes += text.len() as u64;
                        st.offsets.event(e.stream, e.offset);
                        let agent = e.agent_id.and_then(agent_of);
                        match (e.subtopic, agent, e.state, e.call_mark) {
                            ("SetAgentState", Some(a), Some(state), _) => {
                                let key = state_key(state, e.reason_code_id);
                                if last_state[a] == key {
                                    st.repeats += 1;
                                } else {
                                    last_state[a] = key;
                                    let sent = e
                                        .reason_code_id
                                        .and_then(|r| change_code(r, board.codes()))
                                        .and_then(|k| board.lookup(a, k));
                                    match sent {
                                        Some(_) if !counted => {}
                                        Some(sent) => {
                                            let us = board.delivered(a, sent, now);
                                            latencies.push(Clock::Sent, us);
                                            if let Some(created) = e
                                                .state_change_time
                                                .and_then(latency::rfc3339_unix_micros)
                                            {
                                                let wall = *wall.get_or_insert_with(unix_micros);
                                                latencies.push(
                                                    Clock::Created,
                                                    wall.saturating_sub(created),
                                                );
                                            }
                                        }
                                        None => st.unmatched += 1,
                                    }
                                }
                            }
                            (_, Some(a), _, Some(mark)) if e.is_call() => {
                                // A call event: the change is named by its mark; the
                                // Dialog carries no time of the notification's creation.
                                let key = mark_key(mark);
                                if last_mark[a] == key {
                                    st.repeats += 1;
                                } else {
                                    last_mark[a] = key;
                                    match change_code(mark, board.codes())
                                        .and_then(|k| board.lookup(a, k))
                                    {
                                        Some(_) if !counted => {}
                                        Some(sent) => {
                                            let us = board.delivered(a, sent, now);
                                            latencies.push(Clock::Sent, us);
                                        }
                                        None => st.unmatched += 1,
                                    }
                                }
                            }
                            _ => st.unmatched += 1,
                        }
                    }
                    Frame::Event(e) => {
                        let stamped = frame::epoch(text);
                        if epoch.as_deref() != stamped {
                            *epoch = stamped.map(str::to_owned);
                        }
                        if e.source == "replay" {
                            // Missed while stalled, replayed on resume: the
                            // offsets go on from where the client was.
                            st.replayed += 1;
                            st.offsets.event(e.stream, e.offset);
                        } else {
                            // A snapshot: the position live events continue
                            // from. After a resume that could not replay,
                            // what it skips is counted apart from losses.
                            if resume_from.is_some()
                                && let Some(pos) = st.offsets.position(e.stream)
                            {
                                st.skipped += e.offset.saturating_sub(pos);
                            }
                            st.offsets.start(e.stream, e.offset);
                        }
                        if let Some(a) = e.agent_id.and_then(agent_of) {
                            if e.is_call() {
                                if let Some(mark) = e.call_mark {
                                    last_mark[a] = mark_key(mark);
                                }
                            } else if let Some(state) = e.state {
                                last_state[a] = state_key(state, e.reason_code_id);
                            }
                        }
                    }
                    Frame::Control { subtopic } => match (phase, subtopic) {
                        (Phase::SigningIn, "Ready") => {
                            // Subscribed after this read (sending needs the socket).
                            phase = Phase::Subscribing;
                            return false;
                        }
                        (Phase::Subscribing, "Subscribed") => {
                            phase = Phase::Live;
                            if resume_from.is_some() {
                                st.resumed = Some(frame::recovered(text).unwrap_or(false));
                                *away = false;
                                board.stalled_away(false);
                            } else {
                                st.outcome = Outcome::Ready;
                                board.client_ready(|a| counted && topic.covers(a));
                                *gate = None;
                            }
                        }
                        (Phase::SigningIn | Phase::Subscribing, "SetAPIError") => {
                            failure = Some(format!("refused: {text}"));
                            return false;
                        }
                        _ => {}
                    },
                }
                true
            });
            let result = tokio::select! {
                biased;
                _ = &mut stop => break SessionEnd::Over,
                _ = &mut setup_deadline, if !live => {
                    if resuming {
                        st.dropped = true;
                        st.error.get_or_insert_with(|| {
                            format!("not resumed after {:?}", setup.setup_timeout)
                        });
                    } else {
                        st.fail(
                            Outcome::Failed,
                            format!("not subscribed after {:?}", setup.setup_timeout),
                        );
                        board.client_failed();
                    }
                    break SessionEnd::Over;
                }
                _ = &mut stall_signal, if stall_now => {
                    stalled = true;
                    *away = true;
                    board.stalled_away(true);
                    if stall.is_some_and(|s| s.mode == StallMode::Reconnect) {
                        // A network blip: the connection is gone (no close
                        // handshake); the client reconnects at once.
                        *stall = None;
                        st.reconnected = true;
                        break SessionEnd::ClosedAfterStall(None);
                    }
                    // Stop reading, as a frozen client does: the server's
                    // queue for it grows until the stall ends or it closes
                    // the connection (4408).
                    let pause = stall.map_or(Duration::ZERO, |s| s.duration);
                    tokio::select! {
                        _ = &mut stop => break SessionEnd::Over,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    // Reading again; if the server closed the connection
                    // meanwhile, the client is away again until it resumes.
                    *away = false;
                    board.stalled_away(false);
                    *stall = None;
                    continue;
                }
                result = read => result,
            };
            // The frames of a read are handled when it completes.
            latencies.record();
            if let Some(why) = failure.take() {
                if resuming {
                    st.dropped = true;
                    st.error.get_or_insert(why);
                } else {
                    st.fail(Outcome::Failed, why);
                    board.client_failed();
                }
                break SessionEnd::Over;
            }
            let ended = match (closed, &result) {
                (Some(code), _) => Some((code, "closed by the server")),
                (None, Err(WsError::Eof)) => Some((None, "connection ended")),
                _ => None,
            };
            if let Some((code, why)) = ended {
                if stalled && phase == Phase::Live {
                    break SessionEnd::ClosedAfterStall(code);
                }
                st.close_code = code;
                if !resuming {
                    end_early(st, phase, board, code, why);
                } else {
                    st.dropped = true;
                    st.error.get_or_insert_with(|| match code {
                        Some(c) => format!("resuming: {why} (code {c})"),
                        None => format!("resuming: {why}"),
                    });
                }
                break SessionEnd::Over;
            }
            match result {
                Ok(true) => {}
                Ok(false) if phase == Phase::Subscribing && !subscribe_sent => {
                    subscribe_sent = true;
                    let since = resume_from.as_ref().and_then(Option::as_ref);
                    if let Err(e) = ws.send_text(&subscribe_frame(&topic.topic, since)).await {
                        if resuming {
                            st.dropped = true;
                            st.error
                                .get_or_insert_with(|| format!("sending Subscribe: {e}"));
                        } else {
                            st.fail(Outcome::Failed, format!("sending Subscribe: {e}"));
                            board.client_failed();
                        }
                        break SessionEnd::Over;
                    }
                }
                Ok(false) => {}
                Err(WsError::Eof) => unreachable!("handled above"),
                Err(e) => {
                    if stalled && phase == Phase::Live {
                        break SessionEnd::ClosedAfterStall(None);
                    }
                    if !resuming {
                        end_early(st, phase, board, None, e);
                    } else {
                        st.dropped = true;
                        st.error.get_or_insert_with(|| format!("resuming: {e}"));
                    }
                    break SessionEnd::Over;
                }
            }
        };
        if matches!(end, SessionEnd::Over) {
            *gate = None;
            if st.outcome == Outcome::Ready && !board.stop.is_cancelled() {
                st.dropped = true;
            }
        }
        // A dropped connection just goes (the server sees the TCP end, no
        // close frame). Otherwise close without waiting for the server's
        // answer: the run is over, or the server already closed it.
        if !matches!(end, SessionEnd::ClosedAfterStall(None)) || !st.reconnected {
            let _ = tokio::time::timeout(Duration::from_millis(200), ws.close()).await;
        }
        end
    }
}

/// A key for a call's change mark: equal keys mean the event repeats the
/// mark the client already had.
fn mark_key(mark: &str) -> u64 {
    mark.parse().unwrap_or(u64::MAX - 1)
}

/// The wall clock, microseconds since the Unix epoch.
fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The connection ended before the run did.
fn end_early(
    st: &mut ClientStats,
    phase: Phase,
    board: &Board,
    code: Option<u16>,
    why: impl std::fmt::Display,
) {
    if phase == Phase::Live {
        st.dropped = true;
        if st.error.is_none() {
            st.error = Some(match code {
                Some(c) => format!("{why} (code {c})"),
                None => why.to_string(),
            });
        }
        return;
    }
    let outcome = if code == Some(4429) {
        Outcome::Refused
    } else {
        Outcome::Failed
    };
    match code {
        Some(c) => st.fail(outcome, format!("{why} (code {c}) before being subscribed")),
        None => st.fail(outcome, format!("{why} before being subscribed")),
    }
    board.client_failed();
}

/// The driver: the simulator's REST API, and one signed-in connection per
/// driven agent.
///
/// Every change the driver makes carries a number of its own
/// ([`reason_code_id`]): change k of an agent is `10000 + k`, so each PUT is a
/// change whatever the order in which concurrent PUTs are applied, and the
/// event names the change it comes from.
/// - `agent-state`: `NOT_READY` with that reason code. Before each run the
///   agents are set READY (a state none of the changes has).
/// - `call-data`: `UPDATE_CALL_DATA` setting [`MARK_VARIABLE`] to that number
///   on the agent's call, which [`Driver::start`] opens (or finds) and
///   [`Driver::stop`] drops.
#[derive(Debug)]
pub struct Driver {
    http: reqwest::Client,
    sim: String,
    password: String,
    agents: Vec<String>,
    events: Events,
    /// `call-data`: each agent's extension and answered call.
    calls: Vec<(String, String)>,
    stop: CancellationToken,
    sessions: Vec<JoinHandle<()>>,
}

/// The `<state>` of a User document.
pub fn user_state(xml: &str) -> Option<&str> {
    let start = xml.find("<state>")? + "<state>".len();
    let end = xml[start..].find("</state>")? + start;
    Some(xml[start..end].trim())
}

/// The body of change `k`: NOT_READY with reason code `10000 + k`.
pub fn change_body(k: usize) -> String {
    format!(
        "<User><state>NOT_READY</state><reasonCodeId>{}</reasonCodeId></User>",
        reason_code_id(k)
    )
}

/// The body of call change `k`: `UPDATE_CALL_DATA` setting [`MARK_VARIABLE`]
/// to `10000 + k`.
pub fn call_change_body(k: usize) -> String {
    format!(
        "<Dialog><requestedAction>UPDATE_CALL_DATA</requestedAction><mediaProperties>\
         <callvariables><CallVariable><name>{MARK_VARIABLE}</name><value>{}</value>\
         </CallVariable></callvariables></mediaProperties></Dialog>",
        reason_code_id(k)
    )
}

/// The id of a dialog in `dialogs` where the agent on `extension` is on an
/// answered call that takes call data.
pub fn answered_call(dialogs: &[Dialog], extension: &str) -> Option<String> {
    dialogs
        .iter()
        .find(|d| {
            d.participant(extension).is_some_and(|p| {
                p.state == ParticipantState::Active
                    && p.actions
                        .contains(&switchboard_finesse::Action::UpdateCallData)
            })
        })
        .map(|d| d.id.clone())
}

/// The agents a [`Driver`] drives, and how.
#[derive(Debug, Clone)]
pub struct Driven {
    /// Their Finesse user ids.
    pub agents: Vec<String>,
    /// Their Finesse password.
    pub password: String,
    /// The extension of the first agent; the others follow.
    pub extension_base: u32,
    /// Sign each in to Switchboard with its Finesse credentials (this opens
    /// its notification session); otherwise log it in through the
    /// simulator's REST only.
    pub sign_in: bool,
    /// The change that makes each event.
    pub events: Events,
}

impl Driver {
    /// Prepares the agents: signs each in to Switchboard with its Finesse
    /// credentials (`sign_in`; this opens its notification session and logs
    /// it in to Finesse on `extension_base + i`), or logs it in through the
    /// simulator's REST; for `call-data`, gives each its call.
    pub async fn start(
        sim: &str,
        url: &str,
        target: SocketAddr,
        driven: Driven,
    ) -> anyhow::Result<Driver> {
        let Driven {
            agents,
            password,
            extension_base,
            sign_in,
            events,
        } = driven;
        let password = password.as_str();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("HTTP client")?;
        let stop = CancellationToken::new();
        let mut driver = Driver {
            http,
            sim: sim.trim_end_matches('/').to_owned(),
            password: password.to_owned(),
            agents: agents.clone(),
            events,
            calls: Vec::new(),
            stop: stop.clone(),
            sessions: Vec::new(),
        };
        for (i, agent) in agents.iter().enumerate() {
            let extension = (extension_base + i as u32).to_string();
            if sign_in {
                let ws = sign_in_agent(url, target, agent, password, &extension)
                    .await
                    .with_context(|| format!("signing in agent {agent} on {url}"))?;
                driver.sessions.push(tokio::spawn(drain(ws, stop.clone())));
            } else if driver.get_state(agent).await? == "LOGOUT" {
                driver
                    .put(
                        agent,
                        format!(
                            "<User><state>LOGIN</state><extension>{extension}</extension></User>"
                        ),
                    )
                    .await?;
            }
        }
        if events == Events::CallData {
            for (i, agent) in agents.iter().enumerate() {
                let extension = (extension_base + i as u32).to_string();
                let call = driver
                    .open_call(agent, &extension)
                    .await
                    .with_context(|| format!("giving agent {agent} a call"))?;
                driver.calls.push((extension, call));
            }
        }
        Ok(driver)
    }

    /// The agent's answered call: one it is already on, or a progressive
    /// outbound call started through the simulator's scenario API and
    /// answered through the REST.
    async fn open_call(&self, agent: &str, extension: &str) -> anyhow::Result<String> {
        if let Some(id) = answered_call(&self.dialogs(agent).await?, extension) {
            return Ok(id);
        }
        let state = self.get_state(agent).await?;
        if state == "NOT_READY" {
            self.put(agent, "<User><state>READY</state></User>".to_owned())
                .await?;
        } else {
            ensure!(
                state == "READY",
                "agent {agent} is {state}: a call can be started in READY or NOT_READY only"
            );
        }
        let url = format!("{}/sim/calls", self.sim);
        let resp = self
            .http
            .post(&url)
            .json(&json!({"agent": agent, "kind": "progressive"}))
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = resp.status();
        let body = resp.text().await.with_context(|| format!("POST {url}"))?;
        ensure!(
            status.is_success(),
            "POST {url}: HTTP {status}: {body} (the simulator's scenario API is on the \
             demo's --sim-listen address)"
        );
        let started: serde_json::Value =
            serde_json::from_str(&body).with_context(|| format!("POST {url}: {body}"))?;
        let id = started["dialogId"]
            .as_str()
            .with_context(|| format!("POST {url}: no dialogId in {body}"))?
            .to_owned();
        self.put_dialog(
            agent,
            &id,
            format!(
                "<Dialog><requestedAction>ANSWER</requestedAction>\
                 <targetMediaAddress>{extension}</targetMediaAddress></Dialog>"
            ),
        )
        .await?;
        ensure!(
            answered_call(&self.dialogs(agent).await?, extension).as_deref() == Some(&id),
            "agent {agent}: call {id} is not active after ANSWER"
        );
        Ok(id)
    }

    async fn dialogs(&self, agent: &str) -> anyhow::Result<Vec<Dialog>> {
        let (url, body) = self
            .get_xml(agent, &format!("User/{agent}/Dialogs"))
            .await?;
        Dialog::list_from_xml(&body).with_context(|| format!("GET {url}: {body}"))
    }

    async fn put_dialog(&self, agent: &str, dialog: &str, body: String) -> anyhow::Result<()> {
        self.put_xml(agent, &format!("Dialog/{dialog}"), body).await
    }

    /// `GET /finesse/api/{path}` on the simulator as `agent`: the URL and the
    /// body of a successful answer.
    async fn get_xml(&self, agent: &str, path: &str) -> anyhow::Result<(String, String)> {
        let url = format!("{}/finesse/api/{path}", self.sim);
        let resp = self
            .http
            .get(&url)
            .basic_auth(agent, Some(&self.password))
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        let body = resp.text().await.with_context(|| format!("GET {url}"))?;
        ensure!(status.is_success(), "GET {url}: HTTP {status}: {body}");
        Ok((url, body))
    }

    /// `PUT /finesse/api/{path}` on the simulator as `agent`; Finesse answers
    /// a change with 202.
    async fn put_xml(&self, agent: &str, path: &str, body: String) -> anyhow::Result<()> {
        let url = format!("{}/finesse/api/{path}", self.sim);
        let resp = self
            .http
            .put(&url)
            .basic_auth(agent, Some(&self.password))
            .header("Content-Type", "application/xml")
            .body(body)
            .send()
            .await
            .with_context(|| format!("PUT {url}"))?;
        let status = resp.status();
        if status.as_u16() != 202 {
            let body = resp.text().await.unwrap_or_default();
            bail!("PUT {url}: HTTP {status} (expected 202): {body}");
        }
        Ok(())
    }

    /// A copy that only makes the REST calls (no agent connections), with an
    /// HTTP client of its own: the driver of a run works on a thread of its
    /// own, so that its requests do not wait behind thousands of client
    /// tasks (which would count the load tool's own queueing as latency).
    pub fn rest_copy(&self) -> anyhow::Result<Driver> {
        Ok(Driver {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .context("HTTP client")?,
            sim: self.sim.clone(),
            password: self.password.clone(),
            agents: self.agents.clone(),
            events: self.events,
            calls: self.calls.clone(),
            stop: CancellationToken::new(),
            sessions: Vec::new(),
        })
    }

    /// Before the clients of a run connect: `agent-state` sets every agent
    /// READY; `call-data` checks that every agent's call is still up.
    pub async fn reset(&self) -> anyhow::Result<()> {
        if self.events == Events::CallData {
            for (agent, (_, call)) in self.agents.iter().zip(&self.calls) {
                let listed = self.dialogs(agent).await?;
                ensure!(
                    listed.iter().any(|d| &d.id == call),
                    "agent {agent}'s call {call} has ended (run the server with --call-rate 0)"
                );
            }
            return Ok(());
        }
        for agent in &self.agents {
            let mut state = self.get_state(agent).await?;
            let waited = Instant::now();
            while state != "READY" && state != "NOT_READY" {
                ensure!(
                    waited.elapsed() < Duration::from_secs(10),
                    "agent {agent} is {state}: the benchmark needs agents in READY or \
                     NOT_READY (run the server with --call-rate 0)"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
                state = self.get_state(agent).await?;
            }
            if state != "READY" {
                self.put(agent, "<User><state>READY</state></User>".to_owned())
                    .await?;
            }
        }
        Ok(())
    }

    async fn get_state(&self, agent: &str) -> anyhow::Result<String> {
        let (url, body) = self.get_xml(agent, &format!("User/{agent}")).await?;
        user_state(&body)
            .map(str::to_owned)
            .with_context(|| format!("GET {url}: no <state> in {body}"))
    }

    async fn put(&self, agent: &str, body: String) -> anyhow::Result<()> {
        self.put_xml(agent, &format!("User/{agent}"), body).await
    }

    /// Records change of agent `a` on the board, then makes it; returns the
    /// PUT's round trip in microseconds.
    async fn change(&self, a: usize, board: &Board) -> anyhow::Result<u64> {
        let (_, k) = board.publish(a).context("unknown agent")?;
        let sent = Instant::now();
        match self.events {
            Events::AgentState => self.put(&self.agents[a], change_body(k)).await?,
            Events::CallData => {
                let (_, call) = self.calls.get(a).context("agent without a call")?;
                self.put_dialog(&self.agents[a], call, call_change_body(k))
                    .await?;
            }
        }
        Ok(sent.elapsed().as_micros() as u64)
    }

    /// s1: `window` workers (spread over the `driven` agents), each taking a
    /// permit of the board's window before every change, until `until`.
    /// Returns the changes made and the PUT round trips (microseconds).
    pub async fn drive_window(
        &self,
        board: &Board,
        driven: &[usize],
        window: usize,
        until: Instant,
    ) -> anyhow::Result<(u64, Histogram<u64>)> {
        let w = board.window.as_ref().context("no window")?;
        let worker = |i: usize| async move {
            let a = driven[i % driven.len()];
            let mut made = 0u64;
            let mut rtt = latency::new_histogram();
            loop {
                tokio::select! {
                    permit = w.acquire() => permit.context("window closed")?.forget(),
                    _ = tokio::time::sleep_until(until) => break,
                }
                rtt.saturating_record(self.change(a, board).await?);
                made += 1;
            }
            anyhow::Ok((made, rtt))
        };
        let results = futures::future::join_all((0..window).map(worker)).await;
        let mut made = 0;
        let mut rtt = latency::new_histogram();
        for r in results {
            let (m, h) = r?;
            made += m;
            let _ = rtt.add(&h);
        }
        Ok((made, rtt))
    }

    /// s2: one change every `interval` (open loop: a change is sent on time
    /// whatever the PUTs still in flight; late ticks catch up), round-robin
    /// over the `driven` agents, until `until`.
    pub async fn drive_rate(
        &self,
        board: &Board,
        driven: &[usize],
        interval: Duration,
        until: Instant,
    ) -> anyhow::Result<(u64, Histogram<u64>)> {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut in_flight = FuturesUnordered::new();
        let mut rtt = latency::new_histogram();
        let mut made = 0u64;
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    if Instant::now() >= until {
                        break;
                    }
                    let a = driven[made as usize % driven.len()];
                    made += 1;
                    in_flight.push(self.change(a, board));
                }
                Some(done) = in_flight.next() => {
                    rtt.saturating_record(done?);
                }
            }
        }
        while let Some(done) = in_flight.next().await {
            rtt.saturating_record(done?);
        }
        Ok((made, rtt))
    }

    /// Agents driven.
    pub fn agents(&self) -> &[String] {
        &self.agents
    }

    /// Drops the calls it opened (`call-data`; the agents go back to READY)
    /// and closes the agents' connections.
    pub async fn stop(self) {
        for (agent, (extension, call)) in self.agents.iter().zip(&self.calls) {
            let dropped = self
                .put_dialog(
                    agent,
                    call,
                    format!(
                        "<Dialog><requestedAction>DROP</requestedAction>\
                         <targetMediaAddress>{extension}</targetMediaAddress></Dialog>"
                    ),
                )
                .await;
            if let Err(e) = dropped {
                eprintln!("fanout: dropping agent {agent}'s call {call}: {e:#}");
            }
        }
        self.stop.cancel();
        for s in self.sessions {
            let _ = s.await;
        }
    }
}

/// Signs `agent` in with its Finesse credentials and waits for `Ready`.
async fn sign_in_agent(
    url: &str,
    target: SocketAddr,
    agent: &str,
    password: &str,
    extension: &str,
) -> anyhow::Result<WebSocketStream<TcpStream>> {
    let mut ws = net::ws_connect(
        url,
        target,
        None,
        net::client_ws_config(64 * 1024),
        Duration::from_secs(10),
    )
    .await?;
    let frame = json!({
        "channel": "Cisco", "topic": "Agent", "subtopic": "SetUserInfo",
        "data": {"username": agent, "password": password, "extension": extension},
        "requestId": "bench-sign-in",
    });
    ws.send(Message::text(frame.to_string())).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .context("no Ready within 20 s")?;
        match msg {
            Some(Ok(Message::Text(t))) => match frame::scan(t.as_str()) {
                Frame::Control { subtopic: "Ready" } => return Ok(ws),
                Frame::Control {
                    subtopic: "SetAPIError",
                } => bail!("sign-in refused: {}", t.as_str()),
                _ => {}
            },
            Some(Ok(Message::Close(c))) => bail!("closed during sign-in: {c:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection ended during sign-in"),
        }
    }
}

/// Reads (and drops) everything an agent's connection receives until `stop`.
async fn drain(mut ws: WebSocketStream<TcpStream>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            msg = ws.next() => match msg {
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), ws.close(None)).await;
}
