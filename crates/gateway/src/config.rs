//! The gateway's settings, with the defaults of `deploy/switchboard.example.toml`
//! (`[server]`, `[limits]`, `[auth]`, `[hub]` sections). [`Limits`],
//! [`AuthSettings`] and [`HubSettings`] are the file's `[limits]`, `[auth]` and
//! `[hub]` sections as they are written (the binary deserializes them
//! directly), each with the `validate` that names its keys.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
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
    pub auth: AuthSettings,
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

/// Limits on connections and their input (`[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
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
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time a closing connection has to take its last frames and the close
    /// frame (default 5 s); then its socket is closed whether or not the
    /// client reads.
    #[serde(with = "humantime_serde")]
    pub close_timeout: Duration,
    /// Topics one connection may be subscribed to at once (default 1,000);
    /// a subscribe that would pass it is refused whole.
    pub max_topics: usize,
    /// Largest client frame in bytes (default 64 KiB); larger closes with 4409.
    pub max_frame_bytes: usize,
    /// Time to sign in after connecting (default 10 s); then 4401.
    #[serde(with = "humantime_serde")]
    pub sign_in_timeout: Duration,
    /// Server ping interval (default 20 s).
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
    /// A connection silent this long (no frame, no pong) is closed (default 60 s).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Commands waiting for Finesse per connection (default 8); more get ResponseType 9.
    pub max_commands_in_flight: usize,
    /// Time a Finesse command may take before its Result says Timeout (default
    /// 10 s). Longer than the REST client's own timeout (`finesse.request_timeout`
    /// plus `finesse.connect_timeout`), so that it is the REST timeout that
    /// ends a slow request, with its Finesse `requestId` known.
    #[serde(with = "humantime_serde")]
    pub command_timeout: Duration,
    /// How long after a command was sent a CTI error for it is still matched
    /// to the connection that sent it (default 60 s), whatever its Result said.
    #[serde(with = "humantime_serde")]
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
    #[serde(with = "humantime_serde")]
    pub sign_in_lockout: Duration,
    /// Extra delay per failed sign-in of the same pair (default 250 ms,
    /// growing linearly up to the lockout).
    #[serde(with = "humantime_serde")]
    pub sign_in_failure_delay: Duration,
    /// The kernel send buffer of each accepted socket (SO_SNDBUF; default
    /// 256 KiB, which Linux doubles), or `None` for the kernel's automatic
    /// sizing (up to `net.ipv4.tcp_wmem`'s maximum, often 4 MiB). It bounds
    /// the kernel memory per connection, and with it how long a client that
    /// stops reading takes to overflow its queue (4408). The file writes
    /// `None` as 0.
    #[serde(with = "zero_is_none")]
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
/// with no measurable cost in s1 or s2 on loopback.
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

impl Limits {
    /// Problems with values that parse but cannot work, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.sign_in_failures_before_lockout == 0 || self.sign_in_account_failures == 0 {
            problems.push(
                "limits.sign_in_failures_before_lockout and limits.sign_in_account_failures must be at least 1"
                    .to_owned(),
            );
        }
        for (key, n) in [
            ("max_connections", self.max_connections),
            ("max_unauthenticated", self.max_unauthenticated),
            (
                "max_unauthenticated_per_address",
                self.max_unauthenticated_per_address,
            ),
            ("max_topics", self.max_topics),
            ("max_commands_in_flight", self.max_commands_in_flight),
            ("max_connections_per_user", self.max_connections_per_user),
        ] {
            if n == 0 {
                problems.push(format!("limits.{key} must be at least 1"));
            }
        }
        for (key, n) in [
            ("commands_per_second", self.commands_per_second),
            ("command_burst", self.command_burst),
            ("user_commands_per_second", self.user_commands_per_second),
            ("user_command_burst", self.user_command_burst),
        ] {
            if n == 0 {
                problems.push(format!("limits.{key} must be at least 1"));
            }
        }
        if self.max_frame_bytes < 1024 {
            problems.push("limits.max_frame_bytes must be at least 1024".to_owned());
        }
        for (key, d) in [
            ("sign_in_timeout", self.sign_in_timeout),
            ("ping_interval", self.ping_interval),
            ("idle_timeout", self.idle_timeout),
            ("command_timeout", self.command_timeout),
            ("cti_error_window", self.cti_error_window),
            ("header_read_timeout", self.header_read_timeout),
            ("close_timeout", self.close_timeout),
        ] {
            if d.is_zero() {
                problems.push(format!("limits.{key} must be more than 0"));
            }
        }
        if self.idle_timeout <= self.ping_interval {
            problems
                .push("limits.idle_timeout must be longer than limits.ping_interval".to_owned());
        }
        problems
    }
}

/// `socket_send_buffer` as the file writes it: 0 for `None` (the kernel's
/// automatic sizing).
mod zero_is_none {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(n: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(n.unwrap_or(0) as u64)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        Ok(Some(usize::deserialize(d)?).filter(|&n| n > 0))
    }
}

/// Token sign-in (docs/protocol.md §3; `[auth]`).
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// How tokens are verified: `HS256`, `RS256`, `ES256`, or empty (the
    /// default): token sign-in is refused.
    pub jwt_algorithm: String,
    /// The HS256 shared secret (at least 16 characters).
    pub jwt_secret: String,
    /// RS256 and ES256: the PEM file of the public key, read at start.
    pub jwt_public_key_file: String,
    /// Leeway for `exp`/`nbf` (default 30 s).
    #[serde(with = "humantime_serde")]
    pub jwt_leeway: Duration,
    /// The `iss` a token must carry; empty (the default): not checked.
    pub jwt_issuer: String,
    /// The `aud` a token must carry; empty (the default): a token carrying an
    /// `aud` is refused.
    pub jwt_audience: String,
    /// How long a `resumeToken` stays valid after its connection closed (default 120 s).
    #[serde(with = "humantime_serde")]
    pub resume_token_ttl: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_algorithm: String::new(),
            jwt_secret: String::new(),
            jwt_public_key_file: String::new(),
            jwt_leeway: Duration::from_secs(30),
            jwt_issuer: String::new(),
            jwt_audience: String::new(),
            resume_token_ttl: Duration::from_secs(120),
        }
    }
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = if self.jwt_secret.is_empty() {
            ""
        } else {
            "***"
        };
        f.debug_struct("AuthSettings")
            .field("jwt_algorithm", &self.jwt_algorithm)
            .field("jwt_secret", &secret)
            .field("jwt_public_key_file", &self.jwt_public_key_file)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .finish_non_exhaustive()
    }
}

impl AuthSettings {
    /// The key that verifies tokens (reading `jwt_public_key_file` for RS256
    /// and ES256); `None` when token sign-in is off. The error names the key.
    pub fn jwt_key(&self) -> Result<Option<JwtKey>, String> {
        let pem = || {
            std::fs::read_to_string(&self.jwt_public_key_file).map_err(|e| {
                format!(
                    "auth.jwt_public_key_file: cannot read {}: {e}",
                    self.jwt_public_key_file
                )
            })
        };
        Ok(match self.jwt_algorithm.as_str() {
            "" => None,
            "HS256" => Some(JwtKey::Hs256 {
                secret: self.jwt_secret.clone(),
            }),
            "RS256" => Some(JwtKey::Rs256 {
                public_key_pem: pem()?,
            }),
            "ES256" => Some(JwtKey::Es256 {
                public_key_pem: pem()?,
            }),
            other => return Err(bad_algorithm(other)),
        })
    }

    /// Problems with values that parse but cannot work, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self.jwt_algorithm.as_str() {
            "HS256" if self.jwt_secret.len() < 16 => problems.push(
                "auth.jwt_secret must be at least 16 characters for HS256 (or set SWITCHBOARD_AUTH_JWT_SECRET)"
                    .to_owned(),
            ),
            "" | "HS256" => {}
            "RS256" | "ES256" if !std::path::Path::new(&self.jwt_public_key_file).exists() => {
                problems.push(format!(
                    "auth.jwt_public_key_file: file {:?} does not exist",
                    self.jwt_public_key_file
                ));
            }
            "RS256" | "ES256" => {}
            other => problems.push(bad_algorithm(other)),
        }
        problems
    }
}

fn bad_algorithm(other: &str) -> String {
    format!(
        "auth.jwt_algorithm must be HS256, RS256, ES256 or empty (token sign-in off), not {other:?}"
    )
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

/// The hub's settings (`[hub]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
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
    /// Events kept per stream for resume, at most (default 300).
    pub history_size: usize,
    /// Events older than this leave a stream's history (default 5 min).
    #[serde(with = "humantime_serde")]
    pub history_ttl: Duration,
}

impl Default for HubSettings {
    fn default() -> Self {
        let history = HistoryLimits::default();
        HubSettings {
            queue_max_bytes: 1 << 20,
            prelude_max_bytes: 16 << 20,
            history_size: history.size,
            history_ttl: history.ttl,
        }
    }
}

impl HubSettings {
    /// The history each stream keeps.
    pub fn history(&self) -> HistoryLimits {
        HistoryLimits {
            size: self.history_size,
            ttl: self.history_ttl,
        }
    }

    /// Problems with values that parse but cannot work, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.queue_max_bytes < 16 * 1024 {
            problems.push("hub.queue_max_bytes must be at least 16384".to_owned());
        }
        problems
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            limits: Limits::default(),
            auth: AuthSettings::default(),
            hub: HubSettings::default(),
            shutdown_grace: Duration::from_secs(10),
            readiness_probe_interval: Duration::from_secs(5),
            metrics_listen: None,
            landing_page: None,
        }
    }
}
