//! The Prometheus recorder behind `/metrics` and the names of the gateway's
//! metrics (documented in docs/operations.md). Labels never carry a user
//! name, a password or a token: only command names, outcomes and close codes.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Open WebSocket connections (gauge).
pub const CONNECTIONS: &str = "switchboard_connections";
/// Connections accepted or refused, by `outcome` (counter).
pub const CONNECTIONS_TOTAL: &str = "switchboard_connections_total";
/// Connections closed by the server, by `code` name (counter).
pub const CLOSES_TOTAL: &str = "switchboard_closes_total";
/// Client frames received, by `outcome` (`ok`, `invalid`, `binary`, `too_large`) (counter).
pub const FRAMES_TOTAL: &str = "switchboard_client_frames_total";
/// Commands answered, by `command` and `response_type` (counter).
pub const COMMANDS_TOTAL: &str = "switchboard_commands_total";
/// Sign-ins, by `method` (`password`, `token`, `resume`) and `outcome` (counter).
pub const SIGN_INS_TOTAL: &str = "switchboard_sign_ins_total";
/// Events published into the hub's streams (counter).
pub const EVENTS_TOTAL: &str = "switchboard_events_published_total";
/// Subscriptions in the hub (gauge).
pub const SUBSCRIPTIONS: &str = "switchboard_hub_subscriptions";
/// Bytes held by the hub's histories (gauge).
pub const HISTORY_BYTES: &str = "switchboard_hub_history_bytes";
/// Vectored writes made by the flusher threads (counter, every 10 s).
pub const FLUSHER_WRITES_TOTAL: &str = "switchboard_flusher_writes_total";
/// Connections the flushers handed to their writer task because the socket
/// would block (a client reading slowly) or the connection was closing
/// (counter, every 10 s).
pub const FLUSHER_HANDOFFS_TOTAL: &str = "switchboard_flusher_handoffs_total";
/// Dialogs in the state cache (gauge).
pub const CACHE_DIALOGS: &str = "switchboard_cache_dialogs";

/// Installs the process-wide Prometheus recorder once and returns its handle
/// (later calls return the same handle). `None` if another recorder was
/// installed first by someone else.
pub fn install() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}
