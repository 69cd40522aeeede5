//! The figures of a run, their medians over runs, the human table and the
//! JSON lines.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest value.
    pub max: u64,
}

impl Percentiles {
    /// The percentiles of `h` (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }

    /// The median of each percentile over `runs`, and their total count.
    pub fn median(runs: &[Percentiles]) -> Percentiles {
        let u = |g: fn(&Percentiles) -> u64| median_u64(&runs.iter().map(g).collect::<Vec<_>>());
        Percentiles {
            count: runs.iter().map(|p| p.count).sum(),
            p50: u(|p| p.p50),
            p99: u(|p| p.p99),
            p999: u(|p| p.p999),
            max: u(|p| p.max),
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count;
/// 0 for none). NaNs sort last.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The median of integer values (rounded down for an even count).
pub fn median_u64(values: &[u64]) -> u64 {
    median(&values.iter().map(|&v| v as f64).collect::<Vec<_>>()) as u64
}

/// Everything measured in one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunReport {
    /// `switchboard` or `nats`.
    pub target: String,
    /// `s1`, `s2` or `idle`.
    pub scenario: String,
    /// 1-based.
    pub run: usize,
    /// `all`, `team` or `agent`.
    pub topic: String,
    /// What the events are: `agent-state` or `call-data` (Switchboard), `pub` (NATS).
    pub events: String,
    /// Clients asked for.
    pub clients: usize,
    /// Clients signed in and subscribed.
    pub connected: usize,
    /// Clients the server closed with 4429 (too many connections).
    pub refused_4429: usize,
    /// Clients whose TCP connect or WebSocket handshake failed.
    pub connect_errors: usize,
    /// Clients refused otherwise (sign-in or subscription refused, closed early).
    pub other_failures: usize,
    /// Clients whose connection ended while the run went on.
    pub dropped: usize,
    /// Seconds to connect, sign in and subscribe every client.
    pub setup_s: f64,
    /// The window (s1).
    pub window: Option<usize>,
    /// Events per second offered (s2).
    pub offered_rate: Option<f64>,
    /// Seconds from the first event sent to the last one delivered everywhere
    /// (idle: the seconds the connections were held).
    pub elapsed_s: f64,
    /// Events the benchmark caused (PUTs to the simulator, or NATS PUBs).
    pub events_published: u64,
    /// Of those, events delivered to every subscriber that should get them.
    pub events_completed: u64,
    /// Live event frames received by all clients together.
    pub deliveries: u64,
    /// Deliveries per second.
    pub deliveries_per_s: f64,
    /// Completed events per second.
    pub events_per_s: f64,
    /// Average size of a delivered event frame (NATS: the payload), bytes.
    pub avg_event_bytes: f64,
    /// Send -> receipt latency of every matched delivery, microseconds (from
    /// the driver's PUT for Switchboard, from the publish for NATS).
    pub latency_us: Percentiles,
    /// Switchboard: the notification's creation -> receipt latency of every
    /// matched delivery, microseconds: from the event's `stateChangeTime`,
    /// which the simulator sets when it applies the PUT and creates the
    /// notification (millisecond resolution, so up to 1 ms too high).
    pub created_latency_us: Option<Percentiles>,
    /// Switchboard: round-trip time of the driver's PUTs to the simulator,
    /// microseconds (the driver keeps one PUT in flight per agent).
    pub put_rtt_us: Option<Percentiles>,
    /// Events lost (offsets skipped, or missing at the end), all clients.
    pub lost: u64,
    /// Events received twice, all clients.
    pub duplicated: u64,
    /// Clients that lost or duplicated at least one event.
    pub clients_with_loss: usize,
    /// Agent events repeating the state the client already had (not caused by
    /// a benchmark change; counted in deliveries, not matched).
    pub repeats: u64,
    /// Live events that could not be matched to a change the benchmark made.
    pub unmatched: u64,
    /// The server process measured.
    pub server_pid: Option<u32>,
    /// Server CPU time over `elapsed_s`, seconds.
    pub server_cpu_s: f64,
    /// Server CPU, percent of one core, over `elapsed_s`.
    pub server_cpu_pct: f64,
    /// Server CPU per delivery, microseconds.
    pub server_cpu_us_per_delivery: f64,
    /// This benchmark's CPU, percent of one core, over `elapsed_s`.
    pub bench_cpu_pct: f64,
    /// Server VmRSS before the clients connected, KiB.
    pub server_rss_before_kib: u64,
    /// Server VmRSS with every client connected (after the settle time), KiB.
    pub server_rss_connected_kib: u64,
    /// (connected - before) / connected clients, bytes.
    pub server_rss_per_conn_bytes: f64,
    /// The benchmark's own VmRSS growth per connected client, bytes.
    pub bench_rss_per_conn_bytes: f64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// Stalled clients (`--stalled`): they are left out of `deliveries`,
    /// completion and latency, and counted here.
    pub stalls: StallReport,
}

/// What the stalled clients (`--stalled`) saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StallReport {
    /// Clients that stalled.
    pub clients: usize,
    /// Closed by the server with 4408 (too slow).
    pub closed_4408: usize,
    /// Closed otherwise: another code, or the connection ended without a
    /// close frame.
    pub closed_other: usize,
    /// Dropped their connection themselves (`--stall-mode reconnect`).
    pub reconnected: usize,
    /// Seconds from the stall's start until every stalled client was reading
    /// again (resumed, or caught up); the longest of the runs in a summary.
    /// `None` when they were not all back before the run ended.
    pub back_after_s: Option<f64>,
    /// Reconnected, and every missed event was replayed (`recovered: true`).
    pub resumed_recovered: usize,
    /// Reconnected, and the snapshot stood in for the missed events
    /// (`recovered: false`: they were no longer in the stream's history).
    pub resumed_snapshot: usize,
    /// Live events received (before the stall, the backlog after it, and
    /// after the resume).
    pub deliveries: u64,
    /// Events received as a replay.
    pub replayed: u64,
    /// Events a snapshot stood in for.
    pub skipped: u64,
}

impl StallReport {
    fn add(&mut self, o: &StallReport) {
        self.clients += o.clients;
        self.closed_4408 += o.closed_4408;
        self.closed_other += o.closed_other;
        self.reconnected += o.reconnected;
        self.back_after_s = match (self.back_after_s, o.back_after_s) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.resumed_recovered += o.resumed_recovered;
        self.resumed_snapshot += o.resumed_snapshot;
        self.deliveries += o.deliveries;
        self.replayed += o.replayed;
        self.skipped += o.skipped;
    }
}

/// The medians (and sums of errors) of several runs of one scenario.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// As in [`RunReport`].
    pub target: String,
    /// As in [`RunReport`].
    pub scenario: String,
    /// As in [`RunReport`].
    pub topic: String,
    /// As in [`RunReport`].
    pub events: String,
    /// Runs summarized.
    pub runs: usize,
    /// Clients asked for.
    pub clients: usize,
    /// Median of the runs.
    pub connected: usize,
    /// Sum over the runs.
    pub refused_4429: usize,
    /// Sum over the runs.
    pub connect_errors: usize,
    /// Sum over the runs.
    pub other_failures: usize,
    /// As in [`RunReport`].
    pub window: Option<usize>,
    /// As in [`RunReport`].
    pub offered_rate: Option<f64>,
    /// Median of the runs.
    pub deliveries_per_s: f64,
    /// Each run's deliveries per second.
    pub deliveries_per_s_runs: Vec<f64>,
    /// Median of the runs.
    pub events_per_s: f64,
    /// Median of the runs.
    pub avg_event_bytes: f64,
    /// Median of each percentile over the runs.
    pub latency_us: Percentiles,
    /// Median of each percentile over the runs that have it.
    pub created_latency_us: Option<Percentiles>,
    /// Sum over the runs.
    pub lost: u64,
    /// Sum over the runs.
    pub duplicated: u64,
    /// Sum over the runs.
    pub repeats: u64,
    /// Sum over the runs.
    pub unmatched: u64,
    /// Median of the runs.
    pub server_cpu_pct: f64,
    /// Median of the runs.
    pub server_cpu_us_per_delivery: f64,
    /// Median of the runs.
    pub bench_cpu_pct: f64,
    /// Median of the runs.
    pub server_rss_per_conn_bytes: f64,
    /// Median of the runs.
    pub bench_rss_per_conn_bytes: f64,
    /// Sums over the runs.
    pub stalls: StallReport,
}

impl Summary {
    /// The summary of `runs` (of one target and scenario).
    pub fn of(runs: &[RunReport]) -> Summary {
        let f = |g: fn(&RunReport) -> f64| median(&runs.iter().map(g).collect::<Vec<_>>());
        let u = |g: fn(&RunReport) -> u64| median_u64(&runs.iter().map(g).collect::<Vec<_>>());
        let first = runs.first().cloned().unwrap_or_default();
        Summary {
            target: first.target,
            scenario: first.scenario,
            topic: first.topic,
            events: first.events,
            runs: runs.len(),
            clients: first.clients,
            connected: u(|r| r.connected as u64) as usize,
            refused_4429: runs.iter().map(|r| r.refused_4429).sum(),
            connect_errors: runs.iter().map(|r| r.connect_errors).sum(),
            other_failures: runs.iter().map(|r| r.other_failures).sum(),
            window: first.window,
            offered_rate: first.offered_rate,
            deliveries_per_s: f(|r| r.deliveries_per_s),
            deliveries_per_s_runs: runs.iter().map(|r| r.deliveries_per_s).collect(),
            events_per_s: f(|r| r.events_per_s),
            avg_event_bytes: f(|r| r.avg_event_bytes),
            latency_us: Percentiles::median(&runs.iter().map(|r| r.latency_us).collect::<Vec<_>>()),
            created_latency_us: {
                let created: Vec<Percentiles> =
                    runs.iter().filter_map(|r| r.created_latency_us).collect();
                (!created.is_empty()).then(|| Percentiles::median(&created))
            },
            lost: runs.iter().map(|r| r.lost).sum(),
            duplicated: runs.iter().map(|r| r.duplicated).sum(),
            repeats: runs.iter().map(|r| r.repeats).sum(),
            unmatched: runs.iter().map(|r| r.unmatched).sum(),
            server_cpu_pct: f(|r| r.server_cpu_pct),
            server_cpu_us_per_delivery: f(|r| r.server_cpu_us_per_delivery),
            bench_cpu_pct: f(|r| r.bench_cpu_pct),
            server_rss_per_conn_bytes: f(|r| r.server_rss_per_conn_bytes),
            bench_rss_per_conn_bytes: f(|r| r.bench_rss_per_conn_bytes),
            stalls: runs.iter().fold(StallReport::default(), |mut sum, r| {
                sum.add(&r.stalls);
                sum
            }),
        }
    }
}

/// Microseconds as milliseconds with two decimals.
fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// The human table: one line per run, then the median line.
pub fn table(runs: &[RunReport], summary: &Summary) -> String {
    let mut out = String::new();
    let load = match (summary.window, summary.offered_rate) {
        (Some(w), _) => format!("window {w}"),
        (None, Some(r)) => format!("{r:.0} events/s offered"),
        (None, None) => "idle".to_owned(),
    };
    let _ = writeln!(
        out,
        "fanout {} {} ({} events): {} clients on `{}`, {load}",
        summary.target, summary.scenario, summary.events, summary.clients, summary.topic
    );
    let _ = writeln!(
        out,
        "{:<6} {:>9} {:>12} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>9} {:>10} {:>10} {:>10}",
        "run",
        "connected",
        "deliveries/s",
        "events/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "lost",
        "dup",
        "srv CPU%",
        "µs/deliv",
        "B/conn srv",
        "B/conn bch",
    );
    let line = |out: &mut String,
                label: &str,
                r: (usize, f64, f64, Percentiles, u64, u64, f64, f64, f64, f64)| {
        let _ = writeln!(
            out,
            "{:<6} {:>9} {:>12.0} {:>9.1} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>9.1} {:>10.2} {:>10.0} {:>10.0}",
            label,
            r.0,
            r.1,
            r.2,
            ms(r.3.p50),
            ms(r.3.p99),
            ms(r.3.p999),
            ms(r.3.max),
            r.4,
            r.5,
            r.6,
            r.7,
            r.8,
            r.9,
        );
    };
    for r in runs {
        line(
            &mut out,
            &r.run.to_string(),
            (
                r.connected,
                r.deliveries_per_s,
                r.events_per_s,
                r.latency_us,
                r.lost,
                r.duplicated,
                r.server_cpu_pct,
                r.server_cpu_us_per_delivery,
                r.server_rss_per_conn_bytes,
                r.bench_rss_per_conn_bytes,
            ),
        );
    }
    let s = summary;
    line(
        &mut out,
        "median",
        (
            s.connected,
            s.deliveries_per_s,
            s.events_per_s,
            s.latency_us,
            s.lost,
            s.duplicated,
            s.server_cpu_pct,
            s.server_cpu_us_per_delivery,
            s.server_rss_per_conn_bytes,
            s.bench_rss_per_conn_bytes,
        ),
    );
    let _ = writeln!(
        out,
        "event size {:.0} B; refused (4429) {}, connect errors {}, other failures {}; repeats {}, unmatched {}; bench CPU {:.1} %",
        s.avg_event_bytes,
        s.refused_4429,
        s.connect_errors,
        s.other_failures,
        s.repeats,
        s.unmatched,
        s.bench_cpu_pct
    );
    if let Some(c) = s.created_latency_us {
        let runs: Vec<String> = runs
            .iter()
            .filter_map(|r| r.created_latency_us)
            .map(|p| format!("{} / {}", ms(p.p50), ms(p.p99)))
            .collect();
        let _ = writeln!(
            out,
            "from the notification's creation (stateChangeTime, 1 ms resolution): median p50 {} ms, p99 {} ms, p99.9 {} ms, max {} ms (runs, p50 / p99: {})",
            ms(c.p50),
            ms(c.p99),
            ms(c.p999),
            ms(c.max),
            runs.join(", ")
        );
    }
    let st = &s.stalls;
    if st.clients > 0 {
        let _ = writeln!(
            out,
            "stalled clients (all runs, not in the figures above): {}; closed 4408 {}, closed otherwise {}, reconnected by themselves {}; resumed with replay {}, with snapshot {}; all back {} after the stall began (longest run); events live {}, replayed {}, skipped by a snapshot {}",
            st.clients,
            st.closed_4408,
            st.closed_other,
            st.reconnected,
            st.resumed_recovered,
            st.resumed_snapshot,
            st.back_after_s
                .map_or("never".to_owned(), |s| format!("{s:.2} s")),
            st.deliveries,
            st.replayed,
            st.skipped
        );
    }
    for r in runs {
        if let Some(e) = &r.first_error {
            let _ = writeln!(out, "run {}: first error: {e}", r.run);
        }
    }
    out
}
