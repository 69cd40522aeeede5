//! The HTTP server: one port for the WebSocket (`/ws`), health (`/healthz`,
//! `/readyz`), metrics (`/metrics`, or on a port of its own with
//! `metrics_listen`) and the web pages (the landing page `/` only when one is
//! configured: the demo's); plain or TLS (rustls, certificate and key from PEM
//! files); graceful shutdown.
//!
//! Connections are accepted by our own loop over hyper (HTTP/1.1 with
//! upgrades) so that each TLS handshake runs on the connection's own task and
//! the peer address reaches the handlers. Each socket is bounded from its
//! accept: counted among the connections not signed in (`admission`; over a
//! cap it is answered 503 and closed before a byte is read), its TLS
//! handshake and its request head within `limits.header_read_timeout`, a
//! head of at most 32 KiB, and closed at shutdown once its request is done.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::FutureExt;
use futures::future::Either;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use switchboard_core::hub::{Hub, MemoryBroker};
use switchboard_core::{Change, StateCache};
use switchboard_finesse::SystemStatus;
use switchboard_protocol::CloseCode;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::admission::{Admission, Tickets};
use crate::auth::Auth;
use crate::config::{GatewayConfig, TlsFiles};
use crate::connection::{self, ConnectionInfo};
use crate::finesse::{FinesseRest, SessionPool};
use crate::pending::Pending;
use crate::rate::Users;
use crate::state::Shared;

/// What the gateway is wired to (built by the binary or a test).
#[derive(Debug)]
pub struct Parts {
    /// The state cache the sessions fill.
    pub cache: Arc<StateCache>,
    /// Finesse REST.
    pub finesse: FinesseRest,
    /// The notification sessions.
    pub notifications: Arc<dyn SessionPool>,
    /// Sender of cache changes (the gateway's own resyncs go here too).
    pub changes_tx: mpsc::UnboundedSender<Change>,
    /// Receiver of every cache change, drained by the gateway's pipeline.
    pub changes_rx: mpsc::UnboundedReceiver<Change>,
    /// The Prometheus recorder's handle for `/metrics` (`None`: 404).
    pub metrics: Option<PrometheusHandle>,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS files could not be read or used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The token key did not parse.
    #[error("auth: {0}")]
    Auth(#[from] crate::auth::TokenError),
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    accepting: CancellationToken,
    tasks: CancellationToken,
}

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    metrics: Option<PrometheusHandle>,
    landing_page: Option<Arc<str>>,
    shutting_down: Arc<AtomicBool>,
}

impl Gateway {
    /// Binds, then serves until [`Gateway::shutdown`] (or `shutdown` is cancelled,
    /// which stops accepting).
    pub async fn start(
        config: GatewayConfig,
        parts: Parts,
        shutdown: &CancellationToken,
    ) -> Result<Gateway, GatewayError> {
        let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
        let listener = listen(config.listen, config.limits.listen_backlog).map_err(|source| {
            GatewayError::Bind {
                addr: config.listen,
                source,
            }
        })?;
        let addr = listener.local_addr().map_err(|source| GatewayError::Bind {
            addr: config.listen,
            source,
        })?;
        let metrics_listener = match config.metrics_listen {
            Some(addr) => {
                let bind = |source| GatewayError::Bind { addr, source };
                let listener = listen(addr, 128).map_err(bind)?;
                let bound = listener.local_addr().map_err(bind)?;
                Some((listener, bound))
            }
            None => None,
        };
        let tasks = shutdown.child_token();
        let accepting = tasks.child_token();
        let landing_page = config.landing_page.as_deref().map(Arc::from);
        let shared = Arc::new(Shared {
            auth: Auth::new(&config.auth, config.limits)?,
            hub: Hub::new(Arc::new(MemoryBroker::new(config.hub.history()))),
            cache: parts.cache,
            finesse: parts.finesse,
            notifications: parts.notifications,
            changes: parts.changes_tx,
            pending: Pending::new(config.limits.cti_error_window),
            users: Users::new(
                config.limits.user_commands_per_second,
                config.limits.user_command_burst,
                config.limits.max_connections_per_user,
            ),
            watchers: dashmap::DashMap::new(),
            agents: dashmap::DashMap::new(),
            next_client: AtomicU64::new(1),
            connections: AtomicUsize::new(0),
            admission: Arc::new(Admission::new(&config.limits)),
            finesse_ready: AtomicBool::new(false),
            shutdown: accepting.clone(),
            config,
        });
        tokio::spawn(crate::pipeline::run(
            shared.clone(),
            parts.changes_rx,
            tasks.clone(),
        ));
        tokio::spawn(crate::pipeline::maintain(
            shared.clone(),
            Duration::from_secs(10),
            tasks.clone(),
        ));
        tokio::spawn(probe_finesse(shared.clone(), tasks.clone()));
        tokio::spawn(ping_sweep(shared.clone(), tasks.clone()));
        let app = App {
            shared: shared.clone(),
            metrics: parts.metrics,
            landing_page,
            shutting_down: Arc::new(AtomicBool::new(false)),
        };
        let metrics_addr = match metrics_listener {
            Some((listener, bound)) => {
                // Served until the very end (like `/healthz`), on plain HTTP.
                let metrics_router = Router::new()
                    .route("/metrics", get(metrics))
                    .with_state(app.clone());
                tokio::spawn(accept_loop(
                    listener,
                    None,
                    metrics_router,
                    shared.clone(),
                    None,
                    tasks.clone(),
                ));
                tracing::info!(addr = %bound, "metrics listening");
                Some(bound)
            }
            None => None,
        };
        let router = router(app, metrics_addr.is_none());
        tokio::spawn(accept_loop(
            listener,
            tls,
            router,
            shared.clone(),
            shared.config.limits.socket_send_buffer,
            accepting.clone(),
        ));
        tracing::info!(%addr, tls = shared.config.tls.is_some(), "gateway listening");
        Ok(Gateway {
            addr,
            metrics_addr,
            shared,
            accepting,
            tasks,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address `/metrics` has of its own (`metrics_listen`), if any.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Open WebSocket connections.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Acquire)
    }

    /// Accepted sockets that are not (yet) a WebSocket.
    pub fn pre_upgrade_sockets(&self) -> usize {
        self.shared.admission.pre_upgrade()
    }

    /// Connections that have not signed in, from their accept (sockets not
    /// upgraded included).
    pub fn unauthenticated(&self) -> usize {
        self.shared.admission.unauthenticated()
    }

    /// The hub's counters.
    pub fn hub_stats(&self) -> switchboard_core::hub::HubStats {
        self.shared.hub.stats()
    }

    /// Graceful shutdown: stop accepting, close every client with 4000 after
    /// its queued frames, wait for them (at most the configured grace), then
    /// stop the gateway's tasks. The caller then stops the Finesse sessions.
    pub async fn shutdown(&self) {
        self.accepting.cancel();
        self.shared.hub.close_all(CloseCode::Shutdown);
        let grace = self.shared.config.shutdown_grace;
        let drained = tokio::time::timeout(grace, async {
            while self.connections() > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = self.connections(),
                "shutdown grace elapsed with connections still open"
            );
        }
        self.tasks.cancel();
    }
}

/// The main port's routes; `/metrics` among them unless it has a port of its own.
fn router(app: App, with_metrics: bool) -> Router {
    let router = Router::new()
        .route("/ws", get(ws))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz));
    let router = if with_metrics {
        router.route("/metrics", get(metrics))
    } else {
        router
    };
    router
        .fallback(get(|State(app): State<App>, uri: Uri| async move {
            match (uri.path(), &app.landing_page) {
                ("/" | "/index" | "/index.html", Some(page)) => {
                    crate::assets::html(page.to_string())
                }
                (path, _) => crate::assets::serve(path),
            }
        }))
        .with_state(app)
}

#[derive(Debug, Deserialize)]
struct WsQuery {
    access_token: Option<String>,
}

async fn ws(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<WsQuery>,
    mut request: Request,
) -> Response {
    // The socket's tickets go with the connection it becomes.
    let tickets = request
        .extensions()
        .get::<Tickets>()
        .and_then(Tickets::take);
    let config = &app.shared.config;
    let headers = request.headers();
    if !origin_allowed(&config.allowed_origins, headers) {
        metrics::counter!(crate::metrics::CONNECTIONS_TOTAL, "outcome" => "origin_refused")
            .increment(1);
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    let client = crate::forwarded::client_addr(peer.ip(), headers, &config.trusted_proxies);
    // The RFC 6455 opening handshake, done here (rather than by axum's
    // WebSocketUpgrade) so the connection speaks tungstenite's own types: the
    // hub's frames go to the socket without a copy or a UTF-8 check per client.
    let has = |name: header::HeaderName, token: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned();
    let valid = request.method() == Method::GET
        && has(header::CONNECTION, "upgrade")
        && has(header::UPGRADE, "websocket")
        && has(header::SEC_WEBSOCKET_VERSION, "13");
    let (true, Some(key)) = (valid, key) else {
        return (
            StatusCode::BAD_REQUEST,
            [(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            )],
            "a WebSocket upgrade request (version 13) is expected here\n",
        )
            .into_response();
    };
    let Some(on_upgrade) = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
    else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "connection cannot be upgraded\n",
        )
            .into_response();
    };
    let shared = app.shared.clone();
    let info = ConnectionInfo {
        peer,
        client,
        access_token: query.access_token,
        tickets,
    };
    // Combinators rather than an async block: once upgraded, the connection's
    // task holds the connection's future and nothing else (an async block would
    // keep its captures beside it for the connection's life).
    tokio::spawn(on_upgrade.then(move |upgraded| match upgraded {
        Ok(upgraded) => Either::Left(serve_upgraded(upgraded, shared, info)),
        Err(e) => {
            tracing::debug!(%peer, error = %e, "WebSocket upgrade failed");
            Either::Right(std::future::ready(()))
        }
    }));
    let accept = derive_accept_key(key.as_bytes());
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    response
}

/// Takes the socket back from hyper and returns the future that serves the
/// WebSocket on it: a plain TCP socket is split into owned halves (the writer
/// writes to it directly, without a lock); a TLS stream or anything else
/// through a split with a lock. The rarer kinds are boxed so that the common
/// one's task stays small, and this is a plain function, not an `async fn`,
/// so that the connection's task holds none of its locals while the
/// connection lasts (an idle connection's task was about half of its memory
/// when measured).
fn serve_upgraded(
    upgraded: Upgraded,
    shared: Arc<Shared>,
    info: ConnectionInfo,
) -> Either<impl Future<Output = ()> + Send, Pin<Box<dyn Future<Output = ()> + Send>>> {
    match take_socket(upgraded) {
        Socket::Tcp(read, write, pre_read) => {
            Either::Left(connection::serve(read, write, pre_read, shared, info))
        }
        Socket::Tls(read, write, pre_read) => Either::Right(Box::pin(connection::serve(
            read, write, pre_read, shared, info,
        ))),
        Socket::Other(read, write) => Either::Right(Box::pin(connection::serve(
            read,
            write,
            Vec::new(),
            shared,
            info,
        ))),
    }
}

/// An upgraded connection's socket, split, with the bytes hyper read past
/// the upgrade request (copied: hyper's read buffer is released).
enum Socket {
    Tcp(OwnedReadHalf, OwnedWriteHalf, Vec<u8>),
    Tls(
        ReadHalf<TlsStream<TcpStream>>,
        WriteHalf<TlsStream<TcpStream>>,
        Vec<u8>,
    ),
    Other(ReadHalf<TokioIo<Upgraded>>, WriteHalf<TokioIo<Upgraded>>),
}

fn take_socket(upgraded: Upgraded) -> Socket {
    let upgraded = match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            let (read, write) = parts.io.into_inner().into_split();
            return Socket::Tcp(read, write, parts.read_buf.to_vec());
        }
        Err(upgraded) => upgraded,
    };
    let upgraded = match upgraded.downcast::<TokioIo<TlsStream<TcpStream>>>() {
        Ok(parts) => {
            let (read, write) = tokio::io::split(parts.io.into_inner());
            return Socket::Tls(read, write, parts.read_buf.to_vec());
        }
        Err(upgraded) => upgraded,
    };
    let (read, write) = tokio::io::split(TokioIo::new(upgraded));
    Socket::Other(read, write)
}

/// Browsers send `Origin`; it must be listed, or equal to the `Host` when the
/// list is empty. Other clients send none and are allowed. More than one
/// `Origin`, or one that is not a serialized origin (`scheme://host[:port]`
/// in visible ASCII, or `null`), is refused: a check that let them through
/// as absent would be walked around by sending them.
fn origin_allowed(allowed: &[String], headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::ORIGIN).iter();
    let Some(origin) = values.next() else {
        return true;
    };
    if values.next().is_some() {
        return false;
    }
    let Some(origin) = origin.to_str().ok().filter(|o| well_formed_origin(o)) else {
        return false;
    };
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    if !allowed.is_empty() {
        return false;
    }
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or(origin);
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| host.eq_ignore_ascii_case(authority))
}

/// `null`, or `scheme://host[:port]` (RFC 6454 §6.1): a scheme of letters,
/// digits, `+`, `-`, `.`; a host without `/`, `?`, `#`, `@`, spaces or
/// control characters; a port of digits.
fn well_formed_origin(origin: &str) -> bool {
    if origin == "null" {
        return true;
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let (host, port) = match rest.rsplit_once(':') {
        // An IPv6 literal has colons inside its brackets.
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '?' | '#' | '@' | '\\'));
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    scheme_ok && host_ok && port_ok
}

async fn readyz(State(app): State<App>) -> Response {
    let shared = &app.shared;
    let finesse = shared.finesse_ready.load(Ordering::Acquire);
    let stopping = shared.shutdown.is_cancelled() || app.shutting_down.load(Ordering::Acquire);
    let health = shared.notifications.health();
    let ready = finesse && !stopping;
    let body = serde_json::json!({
        "ready": ready,
        "finesse": if finesse { "in service" } else { "unreachable or out of service" },
        "shuttingDown": stopping,
        "sessions": health.sessions,
        "sessionsOnline": health.online,
        "sessionsAuthFailed": health.auth_failed,
        "connections": shared.connections.load(Ordering::Acquire),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    match &app.metrics {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            crate::metrics::render(handle),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response(),
    }
}

/// Every `ping_interval`, asks every connection's writer to send a ping: one
/// timer for the whole server instead of one per connection.
async fn ping_sweep(shared: Arc<Shared>, stop: CancellationToken) {
    let every = shared.config.limits.ping_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => shared.hub.ping_all(),
        }
    }
}

/// Asks each Finesse node for SystemInfo every probe interval; `/readyz` is
/// ready when one is in service, and REST requests move to that node when the
/// active one is not (Finesse Developer Guide: failover).
async fn probe_finesse(shared: Arc<Shared>, stop: CancellationToken) {
    let every = shared.config.readiness_probe_interval;
    loop {
        let rest = &shared.finesse;
        let active = rest.active_index();
        let mut in_service = Vec::new();
        for (i, node) in rest.nodes().iter().enumerate() {
            match node.system_info().await {
                Ok(info) if info.status == SystemStatus::InService => in_service.push(i),
                Ok(info) => {
                    tracing::debug!(node = i, status = ?info.status, "readiness probe: node not in service")
                }
                Err(e) => {
                    tracing::debug!(node = i, error = %e, "readiness probe: node unreachable")
                }
            }
        }
        if !in_service.contains(&active)
            && let Some(&other) = in_service.first()
        {
            rest.set_active(other);
        }
        let ok = !in_service.is_empty();
        let was = shared.finesse_ready.swap(ok, Ordering::AcqRel);
        if was != ok {
            tracing::info!(in_service = ok, "Finesse readiness changed");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// A listening socket on `addr` with `backlog` (tokio's `TcpListener::bind`
/// listens with 1024), `SO_REUSEADDR` as tokio sets it.
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// The largest HTTP request head read, bytes (hyper's read buffer; its
/// default, about 400 KB, would let each slow client hold that much): room
/// for a WebSocket upgrade with an `access_token` and a browser's cookies.
const MAX_REQUEST_HEAD_BYTES: usize = 32 * 1024;

/// What a socket over the caps gets, written once without waiting, before
/// it is closed.
const REFUSED_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n";

/// Accepts sockets until `stop`: each is admitted (or refused with 503),
/// then served by hyper on a task of its own. The `/metrics` listener's
/// sockets are admitted like the others.
async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    shared: Arc<Shared>,
    send_buffer: Option<usize>,
    stop: CancellationToken,
) {
    let limits = shared.config.limits;
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // A trusted proxy's clients are told apart only by their requests:
        // its sockets count in the total, not against one address.
        let proxy = shared
            .config
            .trusted_proxies
            .iter()
            .any(|r| r.contains(peer.ip()));
        let (tickets, evicted) = match shared.admission.admit(peer.ip(), !proxy) {
            Ok((tickets, made_room)) => {
                if made_room {
                    metrics::counter!(crate::metrics::CONNECTIONS_TOTAL, "outcome" => "unauthenticated_evicted")
                        .increment(1);
                }
                let evicted = tickets.0.evicted();
                (Tickets::new(tickets), evicted)
            }
            Err(refused) => {
                metrics::counter!(crate::metrics::CONNECTIONS_TOTAL, "outcome" => refused.as_str())
                    .increment(1);
                tracing::debug!(%peer, reason = refused.as_str(), "socket refused");
                // One attempt, no wait: the socket closes right after.
                let _ = tcp.try_write(REFUSED_RESPONSE);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        if let Some(size) = send_buffer {
            let _ = socket2::SockRef::from(&tcp).set_send_buffer_size(size);
        }
        let router = router.clone();
        let tls = tls.clone();
        let stop = stop.clone();
        let serve = async move {
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req.extensions_mut().insert(tickets.clone());
                    router.clone().oneshot(req.map(axum::body::Body::new))
                },
            );
            let mut http = hyper::server::conn::http1::Builder::new();
            // From the accept (and from each response on a kept-alive
            // connection) to a complete request head.
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(MAX_REQUEST_HEAD_BYTES);
            let result = match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(tcp))
                        .await
                    {
                        Ok(Ok(stream)) => {
                            let conn = http
                                .serve_connection(TokioIo::new(stream), service)
                                .with_upgrades();
                            until_stopped(conn, &stop, limits.close_timeout).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
                None => {
                    let conn = http
                        .serve_connection(TokioIo::new(tcp), service)
                        .with_upgrades();
                    until_stopped(conn, &stop, limits.close_timeout).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        };
        tokio::spawn(async move {
            tokio::select! {
                () = serve => {}
                // A newer socket needs the place (at the cap in all): this
                // one has not finished a request yet, or is idle between two.
                () = evicted.cancelled() => {
                    tracing::debug!(%peer, "socket closed to make room for a newer one");
                }
            }
        });
    }
}

/// Serves an HTTP connection until it ends or becomes a WebSocket; once
/// `stop` is cancelled (shutdown), it ends after the request under way, or
/// after `grace`.
async fn until_stopped<I, S, B>(
    conn: hyper::server::conn::http1::UpgradeableConnection<I, S>,
    stop: &CancellationToken,
    grace: Duration,
) -> hyper::Result<()>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => result,
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::time::timeout(grace, conn).await.unwrap_or(Ok(()))
        }
    }
}

fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, GatewayError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| GatewayError::Tls(format!("{}: {e}", files.cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| GatewayError::Tls(format!("{}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(GatewayError::Tls(format!(
            "{}: no certificate found",
            files.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| GatewayError::Tls(format!("{}: {e}", files.key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| GatewayError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| GatewayError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
