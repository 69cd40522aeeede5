//! The names of the connector's metrics (their help texts and the recorder
//! are the gateway's `metrics.rs`; docs/operations.md lists them). Labels
//! never carry a user name, a password or a token.

/// Users with a notification session, held or in its grace period (gauge).
pub const FINESSE_SESSIONS: &str = "switchboard_finesse_sessions";
/// Notification sessions connected to Finesse (gauge).
pub const XMPP_SESSIONS_UP: &str = "switchboard_xmpp_sessions_up";
/// Notification session reconnect attempts (counter).
pub const XMPP_RECONNECTS_TOTAL: &str = "switchboard_xmpp_reconnects_total";
/// Notification sessions moved to the other Finesse node (counter).
pub const FAILOVERS_TOTAL: &str = "switchboard_finesse_failovers_total";
/// Resyncs (User and Dialogs read, then reconciled) of notification sessions (counter).
pub const RESYNCS_TOTAL: &str = "switchboard_resyncs_total";
/// Finesse notifications received, by `kind` (counter).
pub const NOTIFICATIONS_TOTAL: &str = "switchboard_notifications_total";
/// Dialogs of notifications queued during a resync and older than its REST
/// read, dropped (counter).
pub const NOTIFICATIONS_STALE_TOTAL: &str = "switchboard_notifications_stale_total";
/// Finesse notifications that could not be parsed, skipped (counter).
pub const NOTIFICATION_PARSE_ERRORS_TOTAL: &str = "switchboard_notification_parse_errors_total";
/// Finesse REST requests (counter), by `action` (`GET User`, `PUT Dialog
/// ACCEPT`, `POST MAKE_CALL`...) and `status` (the HTTP status, or `timeout` /
/// `connect` when none came back).
pub const REST_REQUESTS_TOTAL: &str = "switchboard_finesse_rest_requests_total";
/// Finesse REST request latency in seconds, by `action` (histogram).
pub const REST_LATENCY_SECONDS: &str = "switchboard_finesse_rest_latency_seconds";
