//! [`WsClient`]: a real WebSocket client of the gateway speaking the
//! client protocol (sign-in, commands, waiting for frames), and helpers that
//! read frames. Every frame any client received is kept (see [`all_frames`])
//! so a test can check that no password leaks.

use std::sync::Mutex;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_sim::CallKind;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::gateway::PASSWORD;

/// How long a client waits for an expected frame before failing.
pub const WAIT: Duration = Duration::from_secs(15);

static FRAMES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Every frame any client received so far, as text.
pub fn all_frames() -> Vec<String> {
    FRAMES.lock().expect("frames").clone()
}

/// A WebSocket client of the gateway (tokio-tungstenite) that keeps every
/// frame it received.
#[derive(Debug)]
pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every frame received, in order.
    pub frames: Vec<Value>,
    /// The close frame received, if any: (code, reason).
    pub closed: Option<(u16, String)>,
    next_id: u64,
}

impl WsClient {
    /// Connects to `url`; panics when the handshake fails.
    pub async fn connect(url: &str) -> WsClient {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        WsClient::from_ws(ws)
    }

    /// Connects from the local address `from` (any 127.x.y.z works on
    /// Linux's loopback) with extra request headers.
    pub async fn connect_with(
        url: &str,
        server: std::net::SocketAddr,
        from: std::net::IpAddr,
        headers: &[(&str, &str)],
    ) -> WsClient {
        WsClient::try_connect_with(url, server, from, headers)
            .await
            .unwrap_or_else(|e| panic!("connect {url} from {from}: {e}"))
    }

    /// As [`WsClient::connect_with`], returning the handshake's error (e.g. a 403).
    pub async fn try_connect_with(
        url: &str,
        server: std::net::SocketAddr,
        from: std::net::IpAddr,
        headers: &[(&str, &str)],
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
        let mut request = url.into_client_request()?;
        for (k, v) in headers {
            request.headers_mut().append(
                HeaderName::from_bytes(k.as_bytes()).expect("test client"),
                HeaderValue::from_bytes(v.as_bytes()).expect("test client"),
            );
        }
        let socket = tokio::net::TcpSocket::new_v4().expect("test client");
        socket
            .bind(std::net::SocketAddr::new(from, 0))
            .expect("test client");
        let tcp = socket.connect(server).await.expect("test client");
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)).await?;
        Ok(WsClient::from_ws(ws))
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
    pub async fn connect_small_buffer(url: &str, addr: std::net::SocketAddr) -> WsClient {
        let socket = tokio::net::TcpSocket::new_v4().expect("test client");
        socket.set_recv_buffer_size(4096).expect("test client");
        let tcp = socket.connect(addr).await.expect("test client");
        let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
            .await
            .expect("test client");
        WsClient::from_ws(ws)
    }

    fn from_ws(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> WsClient {
        WsClient {
            ws,
            frames: Vec::new(),
            closed: None,
            next_id: 0,
        }
    }

    /// Sends `frame` as a text frame.
    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    /// Sends a text frame.
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

    /// Sends any WebSocket message.
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
                    FRAMES.lock().expect("frames").push(t.to_string());
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

    /// The first frame matching `pred`; panics naming `what` after [`WAIT`].
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
        self.closed.as_ref().expect("test client").0
    }

    /// A fresh `requestId` (`t-1`, `t-2`, ...).
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

    /// Closes the connection (a close frame, no wait).
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Whether `v` is a frame of `channel`/`topic`/`subtopic`.
pub fn is(v: &Value, channel: &str, topic: &str, subtopic: &str) -> bool {
    v["channel"] == channel && v["topic"] == topic && v["subtopic"] == subtopic
}

/// The errorType of a SetAPIError frame (None for anything else, e.g. Ready).
pub fn error_type(frame: &Value) -> Option<&str> {
    frame["data"]["data"]["errorType"].as_str()
}

/// The ResponseType of a command's Result frame; panics for anything else.
pub fn response_type(result: &Value) -> u64 {
    result["data"]["ResponseType"]
        .as_u64()
        .unwrap_or_else(|| panic!("not a Result: {result}"))
}

/// The call event offering a new preview reservation to the client, and its id.
pub async fn reservation(c: &mut WsClient) -> (String, Value) {
    let ev = c
        .wait_for("preview reservation", |v| {
            v["subtopic"] == "OutBoundCallStateChange"
                && v["data"]["event"] == "ALERTING"
                && v["data"]["call"]["ActionsAllowed"]["items"]["SetACCEPT"].is_object()
        })
        .await;
    (
        ev["data"]["call"]["id"]
            .as_str()
            .expect("test client")
            .to_owned(),
        ev,
    )
}

/// The kind of call the tests start when any will do.
pub fn simple_call_kind() -> CallKind {
    CallKind::Preview
}
