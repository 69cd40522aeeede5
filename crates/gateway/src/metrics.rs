//! The Prometheus recorder behind `/metrics`: the names and help texts of the
//! gateway's metrics and of the connector's (documented in docs/operations.md),
//! the latency histograms' buckets, the build-info metric and the process
//! metrics read from `/proc` at each scrape. Labels never carry a user name, a
//! password or a token: only command names, outcomes and close codes.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use switchboard_connector::metrics as connector;

/// Open WebSocket connections (gauge).
pub const CONNECTIONS_OPEN: &str = "switchboard_connections_open";
/// Connections accepted or refused, by `outcome` (counter).
pub const CONNECTIONS_TOTAL: &str = "switchboard_connections_total";
/// Connections closed by the server, by `code` name (counter).
pub const CLOSES_TOTAL: &str = "switchboard_closes_total";
/// Client frames received, by `outcome` (`ok`, `invalid`, `binary`, `too_large`) (counter).
pub const FRAMES_TOTAL: &str = "switchboard_client_frames_total";
/// Commands answered, by `command` and `response_type` (counter).
pub const COMMANDS_TOTAL: &str = "switchboard_commands_total";
/// Time from a command's frame to its Result, by `command` (histogram).
pub const COMMAND_SECONDS: &str = "switchboard_command_duration_seconds";
/// Sign-ins, by `method` (`password`, `token`, `resume`) and `outcome` (counter).
pub const SIGN_INS_TOTAL: &str = "switchboard_sign_ins_total";
/// Events published into the hub's streams (counter).
pub const EVENTS_TOTAL: &str = "switchboard_events_published_total";
/// Subscriptions in the hub (gauge).
pub const SUBSCRIPTIONS: &str = "switchboard_hub_subscriptions";
/// Bytes held by the hub's histories (gauge).
pub const HISTORY_BYTES: &str = "switchboard_hub_history_bytes";
/// Bytes queued to the clients and not yet taken by their writers (gauge).
pub const QUEUED_BYTES: &str = "switchboard_hub_queued_bytes";
/// Dialogs in the state cache (gauge).
pub const CACHE_DIALOGS: &str = "switchboard_cache_dialogs";
/// Always 1, labelled with the version (gauge).
pub const BUILD_INFO: &str = "switchboard_build_info";

/// The bucket bounds of every `_seconds` histogram (the Finesse REST latency,
/// the command duration): from 5 ms to the default command timeout (10 s).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every metric with its help text, by kind.
const GAUGES: &[(&str, &str)] = &[
    (CONNECTIONS_OPEN, "Open WebSocket connections."),
    (
        SUBSCRIPTIONS,
        "Subscriptions in the hub (updated every 10 s).",
    ),
    (
        HISTORY_BYTES,
        "Bytes held by the streams' resume history (updated every 10 s).",
    ),
    (
        QUEUED_BYTES,
        "Bytes queued to clients and not yet taken by their writers (updated every 10 s).",
    ),
    (
        CACHE_DIALOGS,
        "Dialogs in the state cache (updated every 10 s).",
    ),
    (
        BUILD_INFO,
        "Always 1; the version of this build in its label.",
    ),
    (
        connector::FINESSE_SESSIONS,
        "Users with a Finesse notification session (held or in its grace period).",
    ),
    (
        connector::XMPP_SESSIONS_UP,
        "Notification sessions connected to Finesse.",
    ),
];

const COUNTERS: &[(&str, &str)] = &[
    (
        CONNECTIONS_TOTAL,
        "WebSocket upgrades and sockets refused before their request, by outcome (accepted, refused, origin_refused, unauthenticated_limit, unauthenticated_address_limit, unauthenticated_evicted).",
    ),
    (
        CLOSES_TOTAL,
        "Connections closed by the server, by close-code name.",
    ),
    (
        FRAMES_TOTAL,
        "Frames received from clients, by outcome (ok, invalid, binary, too_large).",
    ),
    (
        COMMANDS_TOTAL,
        "Commands answered with a Result, by command and ResponseType.",
    ),
    (
        SIGN_INS_TOTAL,
        "Sign-ins, by method (password, token, resume, any) and outcome.",
    ),
    (
        EVENTS_TOTAL,
        "Events published into streams (one per topic an event goes to).",
    ),
    (
        connector::REST_REQUESTS_TOTAL,
        "Finesse REST requests, by action and status (HTTP status, timeout or connect).",
    ),
    (
        connector::XMPP_RECONNECTS_TOTAL,
        "Notification session reconnect attempts.",
    ),
    (
        connector::FAILOVERS_TOTAL,
        "Notification sessions moved to the other Finesse node (out of service, or two failed attempts).",
    ),
    (
        connector::RESYNCS_TOTAL,
        "Resyncs (GET User and Dialogs, then reconcile) of notification sessions.",
    ),
    (
        connector::NOTIFICATIONS_TOTAL,
        "Finesse notifications received, by kind.",
    ),
    (
        connector::NOTIFICATIONS_STALE_TOTAL,
        "Dialogs in notifications queued during a resync and older than its REST read (dropped).",
    ),
    (
        connector::NOTIFICATION_PARSE_ERRORS_TOTAL,
        "Finesse notifications that could not be parsed (skipped and logged).",
    ),
];

const HISTOGRAMS: &[(&str, &str)] = &[
    (
        connector::REST_LATENCY_SECONDS,
        "Finesse REST request latency in seconds, by action.",
    ),
    (
        COMMAND_SECONDS,
        "Time from a command's frame to its Result in seconds, by command.",
    ),
];

/// Installs the process-wide Prometheus recorder once and returns its handle
/// (later calls return the same handle). `None` if another recorder was
/// installed first by someone else.
pub fn install() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .ok()?
                .install_recorder()
                .ok()?;
            describe();
            metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Some(handle)
        })
        .clone()
}

fn describe() {
    for &(name, help) in GAUGES {
        metrics::describe_gauge!(name, help);
    }
    for &(name, help) in COUNTERS {
        metrics::describe_counter!(name, help);
    }
    for &(name, help) in HISTOGRAMS {
        metrics::describe_histogram!(name, help);
    }
}

/// The process metrics (name, type, help), the names every Prometheus
/// client uses.
const PROCESS: &[(&str, &str, &str)] = &[
    (
        "process_cpu_seconds_total",
        "counter",
        "User and system CPU time spent, in seconds.",
    ),
    (
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    ),
    (
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
    ),
    (
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch, in seconds.",
    ),
    ("process_open_fds", "gauge", "Open file descriptors."),
    (
        "process_max_fds",
        "gauge",
        "Limit of open file descriptors.",
    ),
];

/// Every metric family `/metrics` can show, with its Prometheus type
/// (`counter`, `gauge`, `histogram`): what dashboards and alerts may use.
pub fn families() -> impl Iterator<Item = (&'static str, &'static str)> {
    let kind = |k: &'static str| move |&(name, _): &(&'static str, &'static str)| (name, k);
    GAUGES
        .iter()
        .map(kind("gauge"))
        .chain(COUNTERS.iter().map(kind("counter")))
        .chain(HISTOGRAMS.iter().map(kind("histogram")))
        .chain(PROCESS.iter().map(|&(name, k, _)| (name, k)))
}

/// The registry's text for a scrape, followed by the process metrics read
/// from `/proc/self` at this moment (Linux; elsewhere none). They are written
/// here rather than recorded because the recorder's counters are integers and
/// CPU seconds are not.
pub(crate) fn render(handle: &PrometheusHandle) -> String {
    let mut text = handle.render();
    #[cfg(target_os = "linux")]
    if let Some(p) = linux::read() {
        use std::fmt::Write;
        let values = [
            Some(p.cpu_ticks as f64 / linux::TICKS as f64),
            Some(p.rss_bytes as f64),
            Some(p.vsize_bytes as f64),
            Some(p.start_time_seconds),
            p.open_fds.map(|n| n as f64),
            p.max_fds.map(|n| n as f64),
        ];
        for (&(name, kind, help), value) in PROCESS.iter().zip(values) {
            if let Some(value) = value {
                let _ = write!(
                    text,
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
                );
            }
        }
    }
    text
}

#[cfg(target_os = "linux")]
mod linux {
    /// Clock ticks per second of `/proc` times (`USER_HZ`, 100 on Linux).
    pub(super) const TICKS: u64 = 100;

    /// What one scrape reports about the process.
    pub(super) struct Process {
        pub(super) rss_bytes: u64,
        pub(super) vsize_bytes: u64,
        /// User plus system time, in clock ticks.
        pub(super) cpu_ticks: u64,
        pub(super) start_time_seconds: f64,
        pub(super) open_fds: Option<u64>,
        pub(super) max_fds: Option<u64>,
    }

    pub(super) fn read() -> Option<Process> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The fields after the command name, which is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state); field N is fields[N - 3].
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        let (utime, stime, start_ticks, vsize) = (field(14)?, field(15)?, field(22)?, field(23)?);
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())?;
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())?;
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64);
        let max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| {
                l.lines()
                    .find_map(|l| l.strip_prefix("Max open files"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            });
        Some(Process {
            rss_bytes: rss_kib * 1024,
            vsize_bytes: vsize,
            cpu_ticks: utime + stime,
            start_time_seconds: boot as f64 + start_ticks as f64 / TICKS as f64,
            open_fds,
            max_fds,
        })
    }
}
