//! The gateway's settings, with the defaults of `deploy/switchboard.example.toml`
//! (`[server]`, `[limits]`, `[auth]`, `[hub]` sections).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use switchboard_core::hub::HistoryLimits;

/// Everything the gateway needs to know.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where to listen (`server.listen`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// TLS certificate chain and key (PEM files); plain HTTP/WS when `None`.
    pub tls: Option<TlsFiles>,
    /// Origins allowed to open a WebSocket from a browser (`server.allowed_origins`).
    /// Empty: same origin only (the `Origin` host equals the `Host` header).
    /// `"*"`: any. Clients that send no `Origin` (not browsers) are always
    /// allowed; a malformed `Origin`, or more than one, is refused.
    pub allowed_origins: Vec<String>,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` header names the client
    /// (`server.trusted_proxies`, default none: the TCP peer is the client).
    pub trusted_proxies: Vec<crate::forwarded::AddrRange>,
    /// Connection and frame limits.
    pub limits: Limits,
    /// Token sign-in and sign-in throttling.
    pub auth: AuthConfig,
    /// The hub's per-client queue and per-stream history.
    pub hub: HubSettings,
    /// How long a shutdown waits for clients to receive their queued frames
    /// (`server.shutdown_grace`, default 10 s).
    pub shutdown_grace: Duration,
    /// How often `/readyz` asks Finesse for SystemInfo (default 5 s).
    pub readiness_probe_interval: Duration,
    /// Serve `/metrics` on this address only, over plain HTTP (`server.metrics_listen`;
    /// default `None`: on the main port).
    pub metrics_listen: Option<SocketAddr>,
    /// The HTML served at `/` (the demo's landing page); `None`: 404.
    pub landing_page: Option<String>,
}

/// PEM files for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// Limits on connections and their input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open WebSocket connections at most (default 100,000), sockets not yet
    /// upgraded counted with them; more are closed with 4429.
    pub max_connections: usize,
    /// Connections not signed in at most, from their accept (sockets whose
    /// request is not read yet included; default 10,000). At the cap a new
    /// socket takes the place of the oldest one not upgraded; with none, it
    /// is answered `503` and closed at once.
    pub max_unauthenticated: usize,
    /// The same from one client address (the TCP peer; default 1,000); more
    /// are answered `503` and closed at once.
    pub max_unauthenticated_per_address: usize,
    /// Time from accept to a complete HTTP request head (default 10 s), and
    /// the most an HTTP connection (not a WebSocket) may wait idle for its
    /// next request; then the socket is closed.
    pub header_read_timeout: Duration,
    /// Time a closing connection has to take its last frames and the close
    /// frame (default 5 s); then its socket is closed whether or not the
    /// client reads.
    pub close_timeout: Duration,
    /// Topics one connection may be subscribed to at once (default 1,000);
    /// a subscribe that would pass it is refused whole.
    pub max_topics: usize,
    /// Largest client frame in bytes (default 64 KiB); larger closes with 4409.
    pub max_frame_bytes: usize,
    /// Time to sign in after connecting (default 10 s); then 4401.
    pub sign_in_timeout: Duration,
    /// Server ping interval (default 20 s).
    pub ping_interval: Duration,
    /// A connection silent this long (no frame, no pong) is closed (default 60 s).
    pub idle_timeout: Duration,
    /// Commands waiting for Finesse per connection (default 8); more get ResponseType 9.
    pub max_commands_in_flight: usize,
    /// Time a Finesse command may take before its Result says Timeout (default
    /// 10 s). Longer than the REST client's own timeout (`finesse.request_timeout`
    /// plus `finesse.connect_timeout`), so that it is the REST timeout that
    /// ends a slow request, with its Finesse `requestId` known.
    pub command_timeout: Duration,
    /// How long after a command was sent a CTI error for it is still matched
    /// to the connection that sent it (default 60 s), whatever its Result said.
    pub cti_error_window: Duration,
    /// Commands that reach Finesse, per second, per connection (default 5): a
    /// token bucket refilled at this rate, holding at most `command_burst`.
    /// More get ResponseType 11.
    pub commands_per_second: u32,
    /// The burst a connection may send at once (default 10).
    pub command_burst: u32,
    /// Commands that reach Finesse, per second, per user over all its
    /// connections (default 10).
    pub user_commands_per_second: u32,
    /// The burst a user may send at once over all its connections (default 20).
    pub user_command_burst: u32,
    /// Signed-in connections per user at most (default 16); a sign-in beyond
    /// it is refused and its connection closed with 4429.
    pub max_connections_per_user: usize,
    /// Failed sign-ins of one user name from one client address (or of
    /// tokens from one address) before that pair is refused (default 10).
    pub sign_in_failures_before_lockout: u32,
    /// Failed sign-ins of one account, from any address, before the account
    /// is refused (default 3: below Finesse's own lockout, so the broker
    /// never locks an agent out of Finesse).
    pub sign_in_account_failures: u32,
    /// How long a pair or an account stays refused, and how long a failure
    /// is remembered (default 5 min).
    pub sign_in_lockout: Duration,
    /// Extra delay per failed sign-in of the same pair (default 250 ms,
    /// growing linearly up to the lockout).
    pub sign_in_failure_delay: Duration,
    /// The kernel send buffer of each accepted socket (SO_SNDBUF; default
    /// 256 KiB, which Linux doubles), or `None` for the kernel's automatic
    /// sizing (up to `net.ipv4.tcp_wmem`'s maximum, often 4 MiB). It bounds
    /// the kernel memory per connection, and with it how long a client that
    /// stops reading takes to overflow its queue (4408).
    pub socket_send_buffer: Option<usize>,
    /// Connections the kernel holds for the server before they are accepted
    /// (the listen backlog, default 4096; the kernel caps it at
    /// `net.core.somaxconn`). A reconnect storm (thousands of clients after
    /// a network blip) overflows a small backlog, and each dropped
    /// connection attempt waits for its SYN to be sent again (1 s, then 3 s).
    pub listen_backlog: u32,
}

/// The default kernel send buffer per accepted socket, bytes: room for far
/// more than a client's event rate on a WAN (2.6 MB/s at 100 ms round trip)
/// with no measurable cost on loopback (docs/performance.md, "The kernel's
/// send buffer").
pub const DEFAULT_SOCKET_SEND_BUFFER: usize = 256 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 100_000,
            max_unauthenticated: 10_000,
            max_unauthenticated_per_address: 1_000,
            header_read_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            max_topics: 1_000,
            max_frame_bytes: switchboard_protocol::DEFAULT_MAX_FRAME_BYTES,
            sign_in_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            max_commands_in_flight: 8,
            command_timeout: Duration::from_secs(10),
            cti_error_window: crate::pending::DEFAULT_CTI_ERROR_WINDOW,
            commands_per_second: 5,
            command_burst: 10,
            user_commands_per_second: 10,
            user_command_burst: 20,
            max_connections_per_user: 16,
            sign_in_failures_before_lockout: 10,
            sign_in_account_failures: 3,
            sign_in_lockout: Duration::from_secs(300),
            sign_in_failure_delay: Duration::from_millis(250),
            socket_send_buffer: Some(DEFAULT_SOCKET_SEND_BUFFER),
            listen_backlog: 4096,
        }
    }
}

/// Token sign-in (docs/protocol.md §3).
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// How tokens are verified; `None` refuses token sign-in.
    pub jwt: Option<JwtKey>,
    /// Leeway for `exp`/`nbf` (default 30 s).
    pub jwt_leeway: Duration,
    /// The `iss` a token must carry (`auth.jwt_issuer`); `None`: not checked.
    pub jwt_issuer: Option<String>,
    /// The `aud` a token must carry (`auth.jwt_audience`); `None`: a token
    /// carrying an `aud` is refused.
    pub jwt_audience: Option<String>,
    /// How long a `resumeToken` stays valid after its connection closed (default 120 s).
    pub resume_token_ttl: Duration,
}

/// The key that verifies tokens.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "algorithm")]
pub enum JwtKey {
    /// HS256 with a shared secret.
    #[serde(rename = "HS256")]
    Hs256 {
        /// The secret.
        secret: String,
    },
    /// RS256 with an RSA public key (PEM).
    #[serde(rename = "RS256")]
    Rs256 {
        /// PEM text of the public key.
        public_key_pem: String,
    },
    /// ES256 with an EC public key (PEM).
    #[serde(rename = "ES256")]
    Es256 {
        /// PEM text of the public key.
        public_key_pem: String,
    },
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtKey::Hs256 { .. } => f.write_str("HS256(***)"),
            JwtKey::Rs256 { .. } => f.write_str("RS256(public key)"),
            JwtKey::Es256 { .. } => f.write_str("ES256(public key)"),
        }
    }
}

/// The hub's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubSettings {
    /// Bytes of live frames queued per client at most (default 1 MiB); more
    /// closes it with 4408. A subscription's snapshot or replay does not count
    /// until it is written, within `prelude_max_bytes`.
    pub queue_max_bytes: usize,
    /// Bytes of snapshots and replays exempt from `queue_max_bytes` per
    /// client until it has taken everything queued (default 16 MiB): a
    /// client that does not read and subscribes again and again spends it
    /// once, then is closed with 4408.
    pub prelude_max_bytes: usize,
    /// History per stream for resume.
    pub history: HistoryLimits,
    /// Flusher threads writing queued frames straight to plain-TCP sockets;
    /// 0 (the default) leaves every write to the connections' writer tasks
    /// (docs/performance.md, "Flusher threads": faster in s1, a longer tail
    /// in s2).
    pub flushers: usize,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            queue_max_bytes: 1 << 20,
            prelude_max_bytes: 16 << 20,
            history: HistoryLimits::default(),
            flushers: 0,
        }
    }
}

/// One flusher per two cores the process may use, at least one: the flushers
/// share the cores with the runtime's workers (docs/performance.md has one
/// and two flushers measured on two cores).
pub fn default_flushers() -> usize {
    (std::thread::available_parallelism().map_or(1, std::num::NonZero::get) / 2).max(1)
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            limits: Limits::default(),
            auth: AuthConfig {
                jwt: None,
                jwt_leeway: Duration::from_secs(30),
                jwt_issuer: None,
                jwt_audience: None,
                resume_token_ttl: Duration::from_secs(120),
            },
            hub: HubSettings::default(),
            shutdown_grace: Duration::from_secs(10),
            readiness_probe_interval: Duration::from_secs(5),
            metrics_listen: None,
            landing_page: None,
        }
    }
}
