//! The Switchboard side: WebSocket clients signed in with a JWT and
//! subscribed to one topic, and the driver that causes agent-state events
//! through the Finesse simulator's REST API.
//!
//! The driver changes the demo agents' state with `PUT /finesse/api/User/{id}`
//! on the simulator (Basic auth `id:password`): NOT_READY with a reason code
//! that names the change ([`Driver`]). Each change is one Finesse
//! notification, which the server parses, applies to its cache and publishes
//! as one `Cisco/Agent/SetAgentState` event on `agent/<id>`, `team/<team>` and
//! `all`; the client finds the change's send time by the event's agent and
//! `reasonCodeId`.

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

use super::board::Board;
use super::client::{ClientSetup, ClientStats, Outcome, change_code, reason_code_id, state_key};
use super::frame::{self, Frame};
use super::latency::{self, Clock};
use super::net;
use super::token::{Claims, ClientTopic};
use super::wsclient::{Incoming, WsClient, WsError};

/// The subscription request.
fn subscribe_frame(topic: &str) -> String {
    json!({
        "channel": "Broker",
        "topic": "Subscription",
        "subtopic": "Subscribe",
        "data": {"topics": [topic]},
        "requestId": "bench-sub",
    })
    .to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    SigningIn,
    Subscribing,
    Live,
}

/// One client: connects, signs in with its token, subscribes, then counts
/// every frame until the run stops.
pub async fn client(
    index: usize,
    source: Option<IpAddr>,
    setup: Arc<ClientSetup>,
    board: Arc<Board>,
) -> ClientStats {
    let mut st = ClientStats::default();
    let (kind, place) = setup.population.place(index);
    let topic = ClientTopic::for_client(kind, place, &setup.agents, &setup.team);
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
    let deadline = Instant::now() + setup.setup_timeout;
    let mut ws = match WsClient::connect(
        &url,
        setup.target,
        source,
        setup.read_buffer,
        setup.connect_timeout,
    )
    .await
    {
        Ok(ws) => ws,
        Err(e) => {
            st.fail(Outcome::ConnectError, e);
            board.client_failed();
            return st;
        }
    };
    // Made once: a new `cancelled()` per read costs a registration each time.
    let stop = board.stop.cancelled();
    tokio::pin!(stop);
    let setup_deadline = tokio::time::sleep_until(deadline);
    tokio::pin!(setup_deadline);
    let mut gate = Some(gate);
    let mut phase = Phase::SigningIn;
    // Per driven agent: the last state seen (state and reason code).
    let mut last_state = vec![0u64; setup.agents.len()];
    let mut failure: Option<String> = None;
    let mut closed: Option<Option<u16>> = None;
    // The driven agents by id, sorted: a few comparisons per frame, cheaper
    // than hashing the id.
    let mut agent_index: Vec<(&str, usize)> = setup
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), i))
        .collect();
    agent_index.sort_unstable();
    let agent_of = |id: &str| {
        agent_index
            .binary_search_by(|(a, _)| (*a).cmp(id))
            .ok()
            .map(|at| agent_index[at].1)
    };
    loop {
        let live = phase == Phase::Live;
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
            let Ok(text) = std::str::from_utf8(bytes) else {
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
                    match (e.subtopic, agent, e.state) {
                        ("SetAgentState", Some(a), Some(state)) => {
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
                                    Some(sent) => {
                                        board.delivered(a, sent, now);
                                        if let Some(created) = e
                                            .state_change_time
                                            .and_then(latency::rfc3339_unix_micros)
                                        {
                                            let wall = *wall.get_or_insert_with(unix_micros);
                                            latency::record_from(
                                                Clock::Created,
                                                wall.saturating_sub(created),
                                            );
                                        }
                                    }
                                    None => st.unmatched += 1,
                                }
                            }
                        }
                        _ => st.unmatched += 1,
                    }
                }
                Frame::Event(e) => {
                    // A snapshot (or replay): the position live events continue from.
                    st.offsets.start(e.stream, e.offset);
                    if let (Some(a), Some(state)) = (e.agent_id.and_then(agent_of), e.state) {
                        last_state[a] = state_key(state, e.reason_code_id);
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
                        st.outcome = Outcome::Ready;
                        board.client_ready(|a| topic.covers(a));
                        gate = None;
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
            _ = &mut stop => break,
            _ = &mut setup_deadline, if !live => {
                st.fail(Outcome::Failed, format!("not subscribed after {:?}", setup.setup_timeout));
                board.client_failed();
                break;
            }
            result = read => result,
        };
        if let Some(why) = failure.take() {
            st.fail(Outcome::Failed, why);
            board.client_failed();
            break;
        }
        if let Some(code) = closed {
            st.close_code = code;
            end_early(&mut st, phase, &board, code, "closed by the server");
            break;
        }
        match result {
            Ok(true) => {}
            Ok(false) if phase == Phase::Subscribing && st.outcome != Outcome::Ready => {
                if let Err(e) = ws.send_text(&subscribe_frame(&topic.topic)).await {
                    st.fail(Outcome::Failed, format!("sending Subscribe: {e}"));
                    board.client_failed();
                    break;
                }
            }
            Ok(false) => {}
            Err(WsError::Eof) => {
                end_early(&mut st, phase, &board, None, "connection ended");
                break;
            }
            Err(e) => {
                end_early(&mut st, phase, &board, None, e);
                break;
            }
        }
    }
    drop(gate);
    if st.outcome == Outcome::Ready && !board.stop.is_cancelled() {
        st.dropped = true;
    }
    // Close without waiting for the server's answer: the run is over.
    let _ = tokio::time::timeout(Duration::from_millis(200), ws.close()).await;
    st
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
/// Every change the driver makes is `NOT_READY` with a reason code of its
/// own ([`reason_code_id`]): change k of an agent sets reason `10000 + k`, so
/// each PUT is a change whatever the order in which concurrent PUTs are
/// applied, and the event names the change it comes from. Before each run the
/// agents are set READY (a state none of the changes has).
#[derive(Debug)]
pub struct Driver {
    http: reqwest::Client,
    sim: String,
    password: String,
    agents: Vec<String>,
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

impl Driver {
    /// Prepares `agents`: signs each in to Switchboard with its Finesse
    /// credentials (`sign_in`; this opens its notification session and logs
    /// it in to Finesse on `extension_base + i`), or logs it in through the
    /// simulator's REST.
    pub async fn start(
        sim: &str,
        url: &str,
        target: SocketAddr,
        agents: Vec<String>,
        password: &str,
        extension_base: u32,
        sign_in: bool,
    ) -> anyhow::Result<Driver> {
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
        Ok(driver)
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
            stop: CancellationToken::new(),
            sessions: Vec::new(),
        })
    }

    /// Sets every agent READY (before the clients of a run connect).
    pub async fn reset(&self) -> anyhow::Result<()> {
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
        let url = format!("{}/finesse/api/User/{agent}", self.sim);
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
        user_state(&body)
            .map(str::to_owned)
            .with_context(|| format!("GET {url}: no <state> in {body}"))
    }

    async fn put(&self, agent: &str, body: String) -> anyhow::Result<()> {
        let url = format!("{}/finesse/api/User/{agent}", self.sim);
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

    /// Records change of agent `a` on the board, then makes it; returns the
    /// PUT's round trip in microseconds.
    async fn change(&self, a: usize, board: &Board) -> anyhow::Result<u64> {
        let (_, k) = board.publish(a).context("unknown agent")?;
        let sent = Instant::now();
        self.put(&self.agents[a], change_body(k)).await?;
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

    /// Closes the agents' connections.
    pub async fn stop(self) {
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
