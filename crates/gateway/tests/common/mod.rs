//! The end-to-end environment of the gateway tests: a private Prosody, the
//! Finesse simulator publishing through it and answering REST over HTTP, the
//! connector's notification sessions, and the gateway on a free port; real
//! WebSocket clients (tokio-tungstenite). Every frame received and every log
//! line are kept so a test can check that no password leaks.

#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_connector::{
    FinesseClient, FinesseNodeAddr, RestConfig, SessionConfig, SessionManager,
};
use switchboard_core::{CacheConfig, StateCache};
use switchboard_finesse::{UserRequest, UserState};
use switchboard_gateway::{FinesseRest, Gateway, GatewayConfig, Parts};
use switchboard_sim::{
    CallKind, CallOptions, NoticeSink, RequestRecord, RunningSim, SimConfig, SimOptions,
    XmppTarget, start,
};
use switchboard_testkit::{Prosody, ProsodyOptions, TlsMode};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// Every user's password in these tests: distinctive, so a leak is found by grep.
pub const PASSWORD: &str = "Pa55-e2e-Zq81-secret";
/// How long a test waits for an expected frame before failing.
pub const WAIT: Duration = Duration::from_secs(15);

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static FRAMES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter("debug,hyper=info,h2=info,tokio_xmpp=info,rustls=info,reqwest=info")
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .init();
    });
}

/// The captured log text so far.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// Every frame any client received so far, as text.
pub fn all_frames() -> Vec<String> {
    FRAMES.lock().unwrap().clone()
}

pub struct Env {
    pub prosody: Prosody,
    pub sim: RunningSim,
    pub gateway: Gateway,
    pub shutdown: CancellationToken,
    pub url: String,
    /// The relay the gateway's REST requests go through, when started with one.
    pub relay: Option<Relay>,
}

/// A TCP relay between the gateway's REST client and the simulator that can
/// hold each request back before passing it on (Finesse answering late: the
/// request still reaches the simulator and is carried out, after the delay).
pub struct Relay {
    pub addr: std::net::SocketAddr,
    delay: Arc<Mutex<Duration>>,
}

impl Relay {
    pub async fn start(upstream: std::net::SocketAddr, shutdown: CancellationToken) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let delay = Arc::new(Mutex::new(Duration::ZERO));
        let held = delay.clone();
        tokio::spawn(async move {
            loop {
                let (client, _) = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => return },
                };
                let held = held.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(upstream) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut ur, mut uw) = upstream.into_split();
                    // Client -> simulator, each chunk held back by the delay
                    // in force when it arrived. The simulator's write half is
                    // kept open after the client goes (a closed half would
                    // cancel the request being held).
                    let up = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let d = *held.lock().unwrap();
                            if !d.is_zero() {
                                tokio::time::sleep(d).await;
                            }
                            if uw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        drop(uw);
                    });
                    let _ = tokio::io::copy(&mut ur, &mut cw).await;
                    up.abort();
                });
            }
        });
        Relay { addr, delay }
    }

    /// Holds every request that arrives from now on back by `d`.
    pub fn delay_requests(&self, d: Duration) {
        *self.delay.lock().unwrap() = d;
    }
}

impl Env {
    /// Starts everything; `tweak` adjusts the gateway's configuration.
    pub async fn start(tweak: impl FnOnce(&mut GatewayConfig)) -> Env {
        Env::start_with(RestConfig::default(), false, tweak).await
    }

    /// Starts everything with `rest` as the REST client's settings and, when
    /// `relay`, the gateway's REST requests through a [`Relay`].
    pub async fn start_with(
        rest: RestConfig,
        relay: bool,
        tweak: impl FnOnce(&mut GatewayConfig),
    ) -> Env {
        Env::start_full(rest, relay, |_| {}, tweak).await
    }

    /// As [`Env::start_with`], with `users` adjusting the simulator's users
    /// and teams first.
    pub async fn start_full(
        rest: RestConfig,
        relay: bool,
        users: impl FnOnce(&mut SimConfig),
        tweak: impl FnOnce(&mut GatewayConfig),
    ) -> Env {
        init_logs();
        let mut sim_config = SimConfig::default();
        users(&mut sim_config);
        for u in &mut sim_config.users {
            u.password = PASSWORD.into();
        }
        let accounts: Vec<(String, String)> = sim_config
            .users
            .iter()
            .map(|u| (u.id.clone(), u.password.clone()))
            .collect();
        let prosody = Prosody::start_async(ProsodyOptions::with_accounts(accounts))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let sim = start(SimOptions {
            config: sim_config,
            primary: "127.0.0.1:0".parse().unwrap(),
            secondary: None,
            scenario: None,
            sink: NoticeSink::Xmpp(XmppTarget {
                addr: prosody.addr(),
                domain: prosody.domain().into(),
                user: "admin".into(),
                password: prosody.admin_password().into(),
                auto_subscribe: false,
            }),
        })
        .await
        .expect("simulator");
        let shutdown = CancellationToken::new();
        let relay = if relay {
            Some(Relay::start(sim.primary, shutdown.clone()).await)
        } else {
            None
        };
        let rest_addr = relay.as_ref().map_or(sim.primary, |r| r.addr);
        let rest = FinesseClient::new(&format!("http://{rest_addr}"), rest).expect("REST client");
        let session_config = Arc::new(SessionConfig {
            nodes: vec![FinesseNodeAddr {
                rest: rest.clone(),
                xmpp: prosody.addr(),
                domain: prosody.domain().into(),
                pubsub: prosody.pubsub_jid(),
            }],
            resource: "switchboard-e2e".into(),
            ping_interval: Duration::from_secs(20),
            timeout: Duration::from_secs(5),
            explicit_subscribe: true,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(500),
            prefer_primary: false,
            failover_spread: switchboard_connector::Spread::new(Duration::ZERO),
            tls: TlsMode::Plain,
        });
        let cache = Arc::new(StateCache::new(CacheConfig::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        let sessions = SessionManager::new(
            session_config,
            cache.clone(),
            tx.clone(),
            Duration::from_secs(5),
            &shutdown,
        );
        let mut config = GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            readiness_probe_interval: Duration::from_millis(200),
            ..GatewayConfig::default()
        };
        tweak(&mut config);
        let gateway = Gateway::start(
            config,
            Parts {
                cache,
                finesse: FinesseRest::new(vec![rest]),
                notifications: Arc::new(sessions),
                changes_tx: tx,
                changes_rx: rx,
                metrics: switchboard_gateway::metrics::install(),
            },
            &shutdown,
        )
        .await
        .expect("gateway");
        let url = format!("ws://{}/ws", gateway.local_addr());
        Env {
            prosody,
            sim,
            gateway,
            shutdown,
            url,
            relay,
        }
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway.local_addr())
    }

    /// Starts a call of `kind` at `agent` (READY) in the simulator; its dialog id.
    pub fn start_call(&self, agent: &str, kind: CallKind) -> String {
        self.sim
            .sim
            .apply(|w| w.start_call(agent, kind, &CallOptions::default()))
            .unwrap_or_else(|e| panic!("start_call: {e:?}"))
    }

    /// Changes an agent's state directly in the simulator (as Finesse would on its own).
    pub fn set_state(&self, agent: &str, state: UserState) {
        self.sim
            .sim
            .apply(|w| {
                let out = w.put_user(
                    agent,
                    agent,
                    &UserRequest {
                        state,
                        reason_code_id: None,
                        extension: None,
                    },
                    None,
                )?;
                Ok(((), out))
            })
            .unwrap_or_else(|e| panic!("set_state: {e:?}"));
    }

    /// Waits until `n` notification sessions are online (and resynced), as
    /// `/readyz` reports, so that later changes arrive as notifications and not
    /// mixed with a session's first resync.
    pub async fn sessions_online(&self, n: u64) {
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(self.http("/readyz")).await
                && let Ok(v) = r.json::<Value>().await
                && v["sessionsOnline"].as_u64() >= Some(n)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} notification sessions were not online within 15 s");
    }

    /// The simulator's REST request log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.sim.sim.request_log()
    }

    /// Dialog PUTs (call control) the simulator received.
    pub fn dialog_puts(&self) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/Dialog/"))
            .collect()
    }

    /// A signed-in client.
    pub async fn agent(&self, id: &str, extension: &str) -> Client {
        let mut c = Client::connect(&self.url).await;
        c.sign_in(id, extension).await;
        c
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every frame received, in order.
    pub frames: Vec<Value>,
    /// The close frame received, if any: (code, reason).
    pub closed: Option<(u16, String)>,
    next_id: u64,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        Client::from_ws(ws)
    }

    /// Connects from the local address `from` (any 127.x.y.z works on
    /// Linux's loopback) with extra request headers.
    pub async fn connect_with(
        url: &str,
        server: std::net::SocketAddr,
        from: std::net::IpAddr,
        headers: &[(&str, &str)],
    ) -> Client {
        Client::try_connect_with(url, server, from, headers)
            .await
            .unwrap_or_else(|e| panic!("connect {url} from {from}: {e}"))
    }

    /// As [`Client::connect_with`], returning the handshake's error (e.g. a 403).
    pub async fn try_connect_with(
        url: &str,
        server: std::net::SocketAddr,
        from: std::net::IpAddr,
        headers: &[(&str, &str)],
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
        let mut request = url.into_client_request()?;
        for (k, v) in headers {
            request.headers_mut().append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(std::net::SocketAddr::new(from, 0)).unwrap();
        let tcp = socket.connect(server).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)).await?;
        Ok(Client::from_ws(ws))
    }

    /// Sends `SetUserInfo` with `password`; returns the reply (Ready or SetAPIError).
    pub async fn try_sign_in(&mut self, id: &str, password: &str, extension: &str) -> Value {
        let rid = self.request_id();
        self.send(
            json!({"channel":"Cisco","topic":"Agent","subtopic":"SetUserInfo",
            "data":{"username":id,"password":password,"extension":extension},"requestId":rid}),
        )
        .await;
        self.wait_for("sign-in reply", |v| {
            v["requestId"] == rid.as_str()
                && (is(v, "Broker", "Session", "Ready") || v["subtopic"] == "SetAPIError")
        })
        .await
    }

    /// Sends `Authenticate {token}`; returns the reply (Ready or SetAPIError).
    pub async fn try_authenticate(&mut self, token: &str) -> Value {
        let rid = self.request_id();
        self.send(json!({"channel":"Broker","topic":"Session","subtopic":"Authenticate","data":{"token":token},"requestId":rid}))
            .await;
        self.wait_for("authenticate reply", |v| {
            v["requestId"] == rid.as_str()
                && (is(v, "Broker", "Session", "Ready") || v["subtopic"] == "SetAPIError")
        })
        .await
    }

    /// Connects with a small kernel receive buffer (for a client that stops reading).
    pub async fn connect_small_buffer(url: &str, addr: std::net::SocketAddr) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = socket.connect(addr).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
            .await
            .unwrap();
        Client::from_ws(ws)
    }

    fn from_ws(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Client {
        Client {
            ws,
            frames: Vec::new(),
            closed: None,
            next_id: 0,
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text))
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
    }

    /// Sends a text frame; false when the connection is gone.
    pub async fn try_send_text(&mut self, text: &str) -> bool {
        self.ws.send(Message::text(text)).await.is_ok()
    }

    pub async fn send_message(&mut self, m: Message) {
        self.ws
            .send(m)
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
    }

    /// Reads one frame (None when the connection closed or `wait` elapsed).
    pub async fn read(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let next = tokio::time::timeout(wait, self.ws.next()).await.ok()??;
            match next {
                Ok(Message::Text(t)) => {
                    FRAMES.lock().unwrap().push(t.to_string());
                    let v: Value = serde_json::from_str(t.as_str())
                        .unwrap_or_else(|e| panic!("server sent invalid JSON {t}: {e}"));
                    self.frames.push(v.clone());
                    return Some(v);
                }
                Ok(Message::Close(frame)) => {
                    self.closed = Some(
                        frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new())),
                    );
                    return None;
                }
                Ok(_) => continue,
                Err(_) => {
                    if self.closed.is_none() {
                        self.closed = Some((1006, String::new()));
                    }
                    return None;
                }
            }
        }
    }

    /// The first frame (already received or not) matching `pred`, searching
    /// from index `from`; panics naming `what` after [`WAIT`].
    pub async fn wait_from(
        &mut self,
        from: usize,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> (usize, Value) {
        if let Some(i) = self.frames.iter().skip(from).position(&pred) {
            return (from + i, self.frames[from + i].clone());
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read(left).await {
                Some(v) if pred(&v) => return (self.frames.len() - 1, v),
                Some(_) => {}
                None => panic!(
                    "waiting for {what}: {} (closed: {:?}); last frames: {:#?}",
                    if left.is_zero() {
                        "timed out"
                    } else {
                        "connection ended"
                    },
                    self.closed,
                    self.frames.iter().rev().take(5).collect::<Vec<_>>()
                ),
            }
        }
    }

    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_from(0, what, pred).await.1
    }

    /// Waits for the close frame; returns its code.
    pub async fn wait_close(&mut self) -> u16 {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                panic!("no close frame within {WAIT:?}");
            }
            self.read(left).await;
        }
        self.closed.as_ref().unwrap().0
    }

    pub fn request_id(&mut self) -> String {
        self.next_id += 1;
        format!("t-{}", self.next_id)
    }

    /// Sends `Broker/Session/Ping` and waits for its `Pong`: the connection
    /// is served.
    pub async fn ping(&mut self) -> Value {
        let rid = self.request_id();
        self.send(json!({"channel":"Broker","topic":"Session","subtopic":"Ping","data":{},"requestId":rid}))
            .await;
        self.wait_for("pong", |v| {
            v["subtopic"] == "Pong" && v["requestId"] == rid.as_str()
        })
        .await
    }

    /// Signs in with the test password; returns the Ready data.
    pub async fn sign_in(&mut self, id: &str, extension: &str) -> Value {
        let rid = self.request_id();
        self.send(
            json!({"channel":"Cisco","topic":"Agent","subtopic":"SetUserInfo",
            "data":{"username":id,"password":PASSWORD,"extension":extension},"requestId":rid}),
        )
        .await;
        self.wait_for("Ready", |v| {
            is(v, "Broker", "Session", "Ready") && v["requestId"] == rid.as_str()
        })
        .await["data"]
            .clone()
    }

    /// Sends a command and returns its Result frame.
    pub async fn command(
        &mut self,
        channel: &str,
        topic: &str,
        subtopic: &str,
        data: Value,
    ) -> Value {
        let rid = self.request_id();
        self.send(json!({"channel":channel,"topic":topic,"subtopic":subtopic,"data":data,"requestId":rid}))
            .await;
        let result = format!("{subtopic}Result");
        self.wait_for(&result, |v| {
            v["subtopic"] == result.as_str() && v["requestId"] == rid.as_str()
        })
        .await
    }

    /// A call-control command on `call_id`.
    pub async fn call(&mut self, subtopic: &str, data: Value) -> Value {
        self.command("Cisco", "OutboundCall", subtopic, data).await
    }

    /// The first call event for `dialog` whose `event` is `state`.
    pub async fn call_event(&mut self, dialog: &str, state: &str) -> Value {
        let what = format!("call event {dialog} {state}");
        self.wait_for(&what, |v| {
            v["data"]["call"]["id"] == dialog && v["data"]["event"] == state
        })
        .await
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

pub fn is(v: &Value, channel: &str, topic: &str, subtopic: &str) -> bool {
    v["channel"] == channel && v["topic"] == topic && v["subtopic"] == subtopic
}

/// The errorType of a SetAPIError frame (None for anything else, e.g. Ready).
pub fn error_type(frame: &Value) -> Option<&str> {
    frame["data"]["data"]["errorType"].as_str()
}

pub fn response_type(result: &Value) -> u64 {
    result["data"]["ResponseType"]
        .as_u64()
        .unwrap_or_else(|| panic!("not a Result: {result}"))
}

/// The call event offering a new preview reservation to the client, and its id.
pub async fn reservation(c: &mut Client) -> (String, Value) {
    let ev = c
        .wait_for("preview reservation", |v| {
            v["subtopic"] == "OutBoundCallStateChange"
                && v["data"]["event"] == "ALERTING"
                && v["data"]["call"]["ActionsAllowed"]["items"]["SetACCEPT"].is_object()
        })
        .await;
    (ev["data"]["call"]["id"].as_str().unwrap().to_owned(), ev)
}

pub fn simple_call_kind() -> CallKind {
    CallKind::Preview
}
