//! `switchboard-bench fanout`: many real WebSocket clients against a running
//! Switchboard (or, for comparison, NATS over WebSocket), signed in,
//! subscribed, and counting every event they receive.
//!
//! Scenarios (`--scenario`):
//! - `s1`: closed loop. 1,000 clients (default) subscribed to `all`; the
//!   benchmark causes events and keeps at most `--window` of them published
//!   but not yet delivered to every subscriber. Reports deliveries per second.
//! - `s2`: open loop. 10,000 clients (default), `--rate` events per second
//!   (100 by default, so 1 M deliveries per second offered). Reports
//!   deliveries per second and the latency percentiles.
//! - `idle`: 50,000 clients (default) signed in and subscribed, no events;
//!   reports the server's resident memory per connection (`VmRSS` growth /
//!   connections) and its CPU while they sit idle.
//!
//! `--stalled N` (s2, Switchboard) makes N clients stop reading for a while,
//! as a frozen browser tab does; the server should close them with 4408, and
//! they reconnect and resume from the last offset they read. With
//! `--stall-mode reconnect` they drop their connections instead and
//! reconnect at once (a network blip). They are counted
//! apart ([`report::StallReport`]): the run's deliveries, completion and
//! latency are the other clients', which the stall must not disturb.
//!
//! Every scenario reports lost and duplicated events per client from the
//! per-stream offsets, the server's CPU time (`/proc/<pid>/stat`) over the
//! measurement, and its `VmRSS` before and after the clients connected.
//!
//! Events on Switchboard are caused through the Finesse simulator's REST
//! ([`switchboard::Driver`]): agent-state changes (`--events agent-state`, the
//! default) or call-data updates on one answered call per agent
//! (`--events call-data`: a 3 KB Dialog notification and a 3.7 KB
//! `OutBoundCallStateChange` event each); on NATS, `PUB`s of
//! `--payload-bytes` from one publishing connection ([`nats::Publisher`]).
//! Latency is from the moment the benchmark sends the request (the PUT to the
//! simulator, or the PUB) to the moment a client has read the frame. For
//! Switchboard it is also reported from the notification's creation: the
//! event's `stateChangeTime`, which the simulator sets when it applies the
//! PUT and makes the notification (millisecond resolution), to the client's
//! wall clock at the read. That is the latency the broker is responsible
//! for; the first one adds the simulator's REST round trip. A Dialog carries
//! no time of its notification's creation, so call-data events have only the
//! first.

pub mod accounting;
pub mod board;
pub mod client;
pub mod frame;
pub mod key;
pub mod latency;
pub mod nats;
pub mod net;
pub mod procfs;
pub mod report;
pub mod switchboard;
pub mod token;
pub mod wsclient;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cpu;
use board::Board;
use client::{ClientSetup, ClientStats, Outcome, Stall, StallMode};
use report::{Percentiles, RunReport, Summary};
use token::{ClientKind, ClientTopic, Population, TokenSigner, TopicKind};

/// The demo's agents (`switchboard demo`, the simulator's default users).
const DEFAULT_AGENTS: &str =
    "1001001,1001002,1001003,1001004,1001005,1001006,1001007,1001008,1001009,1001010";

/// Arguments of `switchboard-bench fanout`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// The scenario: `s1` (closed loop, `--window` events in flight), `s2`
    /// (open loop, `--rate` events/s) or `idle` (connections only: memory per
    /// connection).
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// The server measured.
    #[arg(long, value_enum, default_value_t = Target::Switchboard)]
    pub target: Target,
    /// WebSocket URL [default: ws://127.0.0.1:8080/ws for switchboard,
    /// ws://127.0.0.1:8443 for nats].
    #[arg(long)]
    pub url: Option<String>,
    /// The Finesse simulator's REST (switchboard: events are caused there).
    #[arg(long, default_value = "http://127.0.0.1:8082")]
    pub sim: String,
    /// The server's HS256 token secret (switchboard).
    #[arg(long, env = "SWITCHBOARD_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Clients [default: s1 1000, s2 10000, idle 50000].
    #[arg(long)]
    pub clients: Option<usize>,
    /// s1: events published but not yet delivered to every subscriber, at most.
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// s2: events per second offered (all agents together).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Seconds of events (s1, s2) or of idle connections held (idle) per run.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub duration: u64,
    /// Runs (each with fresh connections); the summary gives the medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// What each client subscribes to.
    #[arg(long, value_enum, default_value_t = TopicKind::All)]
    pub topic: TopicKind,
    /// `--topic mixed`: the weights of agents (own agent topic), supervisors
    /// (the team) and wallboards (`all`) among the clients.
    #[arg(
        long,
        value_delimiter = ',',
        num_args = 3,
        default_value = "90,9,1",
        value_name = "AGENT,TEAM,ALL"
    )]
    pub mix: Vec<u32>,
    /// Switchboard: the change that makes each event.
    #[arg(long, value_enum, default_value_t = switchboard::Events::AgentState)]
    pub events: switchboard::Events,
    /// The team of `--topic team`.
    #[arg(long, default_value = "5000")]
    pub team: String,
    /// The agents whose state changes are the events (switchboard), or that the
    /// NATS subjects stand for.
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_AGENTS)]
    pub agents: Vec<String>,
    /// The agents' Finesse password (the simulator's REST, and their sign-in).
    #[arg(long, default_value = "demo")]
    pub agent_password: String,
    /// The extension of the first agent; the others follow.
    #[arg(long, default_value_t = 5001)]
    pub extension_base: u32,
    /// Sign each agent in to Switchboard with its Finesse credentials first
    /// (opens its notification session); with `false`, the agents are logged
    /// in through the simulator's REST only.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sign_in_agents: bool,
    /// The server's process id [default: the process listening on the URL's
    /// port, from /proc/net/tcp].
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// NATS: bytes of each message's payload.
    #[arg(long, default_value_t = 1024)]
    pub payload_bytes: usize,
    /// Clients connecting and signing in at once.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Clients per loopback source address (127.0.0.2, 127.0.0.3...; only when
    /// the server is on 127.0.0.0/8). 0: no bind, the kernel chooses.
    #[arg(long, default_value_t = 20_000)]
    pub clients_per_source: usize,
    /// WebSocket read buffer per client, bytes (allocated for every
    /// connection) [default: idle 4096, s1 65536, s2 16384].
    #[arg(long)]
    pub read_buffer: Option<usize>,
    /// Seconds to wait after every client is subscribed, before measuring.
    #[arg(long, default_value_t = 3, value_name = "SECONDS")]
    pub settle: u64,
    /// Give up waiting for deliveries (or for the setup) when nothing moved for
    /// this many seconds.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub stall_timeout: u64,
    /// Switchboard: reason codes per agent that tell the changes apart
    /// (10000, 10001...; reused cyclically, so larger than the changes of one
    /// agent in flight).
    #[arg(long, default_value_t = 10_000)]
    pub codes_per_agent: usize,
    /// s2 (Switchboard): clients that stop reading `--stall-after` seconds
    /// into the measurement, for `--stall-for` seconds, as a frozen browser
    /// tab does; the server should close them with 4408, and they reconnect
    /// and resume. They are spread over the client indexes and left out of
    /// the deliveries, completion and latency, which stay the other clients'.
    #[arg(long, default_value_t = 0)]
    pub stalled: usize,
    /// Seconds into the measurement when the stalled clients stop reading.
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    pub stall_after: u64,
    /// Seconds the stalled clients do not read.
    #[arg(long, default_value_t = 4, value_name = "SECONDS")]
    pub stall_for: u64,
    /// What the stalled clients do: `pause` (stop reading for --stall-for
    /// seconds) or `reconnect` (drop the connection and reconnect at once,
    /// resuming: a network blip).
    #[arg(long, value_enum, default_value_t = StallMode::Pause)]
    pub stall_mode: StallMode,
    /// The stalled clients' socket receive buffer (SO_RCVBUF), bytes: small,
    /// so that the backlog lands in the server's queue rather than in the
    /// kernel's buffers (loopback autotunes them up to 32 MiB here).
    #[arg(long, default_value_t = 65_536)]
    pub stall_receive_buffer: u32,
    /// Print JSON lines (each run, then the summary) on stdout; the table goes
    /// to stderr.
    #[arg(long)]
    pub json: bool,
}

const AFTER_HELP: &str = "\
Scenarios (docs/performance.md, \"Fan-out: s1 and s2\"):
  --topic all|team|agent, or mixed: agents on their own topic, supervisors on the team and
        wallboards on `all` in the proportions of --mix (90,9,1), in one run (Switchboard only).
  s1    closed loop: --clients (1000) on --topic (all); the bench causes events and keeps at most
        --window (64; try 16, 256) published but not yet delivered to every subscriber.
  s2    open loop: --clients (10000), --rate (100) events/s, i.e. 1 M deliveries/s offered.
  idle  --clients (50000) signed in and subscribed, no events: server VmRSS growth per connection.

Switchboard: start `switchboard demo --listen 127.0.0.1:8080 --sim-listen 127.0.0.1:8082
--call-rate 0 --jwt-secret SECRET` (SECRET: 16 characters or more; `ulimit -n` above the
client count), then
  switchboard-bench fanout --scenario s1 --window 64 --jwt-secret SECRET
--events agent-state (default): PUT /finesse/api/User/{id} on the simulator, NOT_READY with a reason
code that names the change (10000 + k); agents 1001001-1001010 are set READY before each run.
Latency: from sending the PUT to a client reading the event frame, and (the line under the table)
from the notification's creation (the event's stateChangeTime, 1 ms resolution) to the read.
--events call-data: each agent gets a progressive outbound call (POST /sim/calls, then ANSWER); each
change is UPDATE_CALL_DATA setting callVariable10 to 10000 + k (a 3 KB Dialog notification, a 3.7 KB
OutBoundCallStateChange event). Latency from the PUT only; the calls are dropped at the end.

NATS: nats-server with `websocket { listen: \"127.0.0.1:8443\", no_tls: true }`, then
  switchboard-bench fanout --target nats --scenario s1 --window 64
Events are PUBs of --payload-bytes (1024) from one publisher connection; latency from the PUB.

The minimal broadcast server (issue 7's reference point) speaks the same NATS subset:
  switchboard-bench minimal-server --listen 127.0.0.1:18500 &
  switchboard-bench fanout --target nats --url ws://127.0.0.1:18500 --scenario s1 --payload-bytes 406

Slow consumers (s2, Switchboard): --stalled N clients stop reading --stall-after (2) s into the
measurement for --stall-for (4) s, with a --stall-receive-buffer (64 KiB) socket buffer; the server
should close them with 4408 when their queue passes hub.queue_max_bytes; they reconnect, resume with
`since` (replay, or the snapshot when the history no longer has the gap) and are counted apart.
--stall-mode reconnect: they drop their connections at --stall-after instead and reconnect at once
(a network blip); the report says when all were back.

Lost and duplicated events: every live event must carry the next offset of its stream (Switchboard:
`offset` after the snapshot's; NATS: a per-subject number in the payload); reported per run, must be 0.
The server's CPU and VmRSS are read from /proc/<pid> (--server-pid, or the process listening on the
port). RLIMIT_NOFILE is raised for the clients; clients are spread over loopback source addresses.";

/// A scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Closed loop with `--window` events in flight.
    S1,
    /// Open loop at `--rate` events per second.
    S2,
    /// Idle connections: memory per connection.
    Idle,
}

impl Scenario {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::S1 => "s1",
            Scenario::S2 => "s2",
            Scenario::Idle => "idle",
        }
    }

    /// The default number of clients.
    pub fn default_clients(self) -> usize {
        match self {
            Scenario::S1 => 1_000,
            Scenario::S2 => 10_000,
            Scenario::Idle => 50_000,
        }
    }
}

/// The server measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Switchboard's WebSocket (JWT sign-in, Subscribe, event frames).
    Switchboard,
    /// NATS over WebSocket (CONNECT, SUB, PUB).
    Nats,
}

impl Target {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Switchboard => "switchboard",
            Target::Nats => "nats",
        }
    }
}

/// What stays the same across the runs of one invocation.
struct Setup {
    args: Args,
    clients: usize,
    url: String,
    target: std::net::SocketAddr,
    loopback: bool,
    server_pid: Option<u32>,
    /// What each client subscribes to.
    population: Population,
    /// Switchboard: the driver (agents signed in).
    driver: Option<switchboard::Driver>,
    signer: Option<TokenSigner>,
}

/// The clients' population from `--topic` and `--mix`.
fn population(args: &Args) -> anyhow::Result<Population> {
    let mix: [u32; 3] = args
        .mix
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("--mix takes three weights: AGENT,TEAM,ALL"))?;
    if args.topic == TopicKind::Mixed {
        ensure!(
            args.target == Target::Switchboard,
            "--topic mixed is for --target switchboard only (a NATS publisher would have to publish each event on three subjects)"
        );
        ensure!(
            mix.iter().any(|&w| w > 0),
            "--mix: at least one weight must be above 0"
        );
    }
    Ok(Population::new(args.topic, mix))
}

/// Runs the benchmark: the table on stdout (or JSON lines with `--json`).
/// Returns every run's report.
pub async fn run(args: &Args) -> anyhow::Result<Vec<RunReport>> {
    ensure!(args.runs > 0, "--runs must be at least 1");
    ensure!(!args.agents.is_empty(), "--agents is empty");
    ensure!(
        args.window > 0 && args.window <= board::RING / 4,
        "--window must be between 1 and {}",
        board::RING / 4
    );
    ensure!(args.rate > 0.0, "--rate must be positive");
    let clients = args.clients.unwrap_or(args.scenario.default_clients());
    ensure!(clients > 0, "--clients must be at least 1");
    let population = population(args)?;
    if args.stalled > 0 {
        ensure!(
            args.target == Target::Switchboard && args.scenario == Scenario::S2,
            "--stalled is for --target switchboard --scenario s2 (a closed loop would wait for the stalled clients)"
        );
        ensure!(
            args.stalled < clients,
            "--stalled must be below the number of clients"
        );
        let stall_for = match args.stall_mode {
            StallMode::Pause => args.stall_for,
            StallMode::Reconnect => 0,
        };
        ensure!(
            args.stall_after + stall_for + 2 <= args.duration,
            "--stall-after + --stall-for must end at least 2 s before --duration"
        );
    }
    ensure!(
        args.target == Target::Switchboard || args.events == switchboard::Events::AgentState,
        "--events {} is for --target switchboard only (NATS events are PUBs of --payload-bytes)",
        args.events.as_str()
    );
    let url = args.url.clone().unwrap_or_else(|| match args.target {
        Target::Switchboard => "ws://127.0.0.1:8080/ws".to_owned(),
        Target::Nats => "ws://127.0.0.1:8443".to_owned(),
    });
    let target = net::resolve_ws_url(&url)?;
    let limit = net::raise_nofile(clients as u64 + 4096).context("raising RLIMIT_NOFILE")?;
    if limit < clients as u64 + 100 {
        eprintln!(
            "fanout: warning: only {limit} file descriptors allowed; {clients} clients need more"
        );
    }
    let server_pid = match args.server_pid {
        Some(p) => Some(p),
        None => procfs::pid_listening_on(target.port())?,
    };
    if server_pid.is_none() {
        eprintln!(
            "fanout: warning: no process found listening on port {} (give --server-pid): no CPU or RSS figures",
            target.port()
        );
    }
    let (driver, signer) = match args.target {
        Target::Switchboard => {
            let secret = args
                .jwt_secret
                .as_deref()
                .context("--jwt-secret is required with --target switchboard")?;
            let driver = if args.scenario == Scenario::Idle {
                None
            } else {
                Some(
                    switchboard::Driver::start(
                        &args.sim,
                        &url,
                        target,
                        switchboard::Driven {
                            agents: args.agents.clone(),
                            password: args.agent_password.clone(),
                            extension_base: args.extension_base,
                            sign_in: args.sign_in_agents,
                            events: args.events,
                        },
                    )
                    .await?,
                )
            };
            (driver, Some(TokenSigner::hs256(secret)))
        }
        Target::Nats => (None, None),
    };
    let mut ctx = Setup {
        args: args.clone(),
        clients,
        url,
        target,
        loopback: target.ip().is_loopback() && target.is_ipv4(),
        server_pid,
        population,
        driver,
        signer,
    };
    eprintln!(
        "fanout: {} {} ({} events) against {} (pid {}), {clients} clients on `{}`, {} run(s)",
        args.target.as_str(),
        args.scenario.as_str(),
        match args.target {
            Target::Switchboard => args.events.as_str(),
            Target::Nats => "pub",
        },
        ctx.url,
        server_pid.map_or("?".to_owned(), |p| p.to_string()),
        population.describe(clients),
        args.runs
    );
    let mut reports = Vec::new();
    let mut failure = None;
    for r in 0..args.runs {
        match run_once(&ctx, r).await {
            Ok(report) => {
                eprintln!(
                    "  run {}/{}: {} connected, {:.0} deliveries/s, p50 {:.2} ms, p99 {:.2} ms, lost {}, dup {}, server CPU {:.0} %, server RSS/conn {:.0} B",
                    r + 1,
                    args.runs,
                    report.connected,
                    report.deliveries_per_s,
                    report.latency_us.p50 as f64 / 1000.0,
                    report.latency_us.p99 as f64 / 1000.0,
                    report.lost,
                    report.duplicated,
                    report.server_cpu_pct,
                    report.server_rss_per_conn_bytes,
                );
                if let Some(p) = report.created_latency_us {
                    eprintln!(
                        "    from the notification's creation: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                        p.p50 as f64 / 1000.0,
                        p.p99 as f64 / 1000.0,
                        p.max as f64 / 1000.0
                    );
                }
                if let Some(p) = report.put_rtt_us {
                    eprintln!(
                        "    driver: {} events, PUT round trip p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                        report.events_published,
                        p.p50 as f64 / 1000.0,
                        p.p99 as f64 / 1000.0,
                        p.max as f64 / 1000.0
                    );
                }
                if args.json {
                    println!("{}", serde_json::to_string(&report)?);
                }
                reports.push(report);
            }
            Err(e) => {
                failure = Some(e.context(format!("run {}", r + 1)));
                break;
            }
        }
    }
    if let Some(d) = ctx.driver.take() {
        d.stop().await;
    }
    if !reports.is_empty() {
        let summary = Summary::of(&reports);
        let table = report::table(&reports, &summary);
        if args.json {
            println!("{}", serde_json::to_string(&summary)?);
            eprint!("{table}");
        } else {
            print!("{table}");
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(reports),
    }
}

/// One run: connect every client, measure, disconnect.
async fn run_once(ctx: &Setup, run: usize) -> anyhow::Result<RunReport> {
    let args = &ctx.args;
    let window = (args.scenario == Scenario::S1).then_some(args.window);
    let board = Arc::new(Board::new(
        args.agents.len(),
        if args.scenario == Scenario::Idle {
            1
        } else {
            args.codes_per_agent
        },
        window,
    ));
    if let Some(d) = &ctx.driver {
        d.reset().await.context("setting the agents READY")?;
    }
    latency::take();
    let rss = |pid: Option<u32>| pid.and_then(|p| procfs::vm_rss_kib(p).ok()).unwrap_or(0);
    let server_rss_before = rss(ctx.server_pid);
    let bench_rss_before = procfs::own_vm_rss_kib().unwrap_or(0);

    // Connect, sign in and subscribe every client.
    let setup_started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let plan = net::SourcePlan::new(
        ctx.clients,
        args.clients_per_source,
        run,
        net::SourcePlan::process_base(),
    );
    let source = |i: usize| -> Option<IpAddr> {
        (ctx.loopback && args.clients_per_source > 0).then(|| IpAddr::V4(plan.address(i)))
    };
    let read_buffer = args.read_buffer.unwrap_or(match args.scenario {
        Scenario::Idle => 4096,
        Scenario::S1 => 64 * 1024,
        Scenario::S2 => 16 * 1024,
    });
    let connect_timeout = Duration::from_secs(args.stall_timeout);
    let setup_timeout = Duration::from_secs(args.stall_timeout);
    let mut tasks: Vec<JoinHandle<ClientStats>> = Vec::with_capacity(ctx.clients);
    let setup = Arc::new(ClientSetup {
        url: ctx.url.clone(),
        target: ctx.target,
        read_buffer,
        connect_timeout,
        setup_timeout,
        agents: args.agents.clone(),
        team: args.team.clone(),
        population: ctx.population,
        signer: ctx.signer.clone(),
        gate,
        stall: (args.stalled > 0).then(|| Stall {
            clients: args.stalled,
            of: ctx.clients,
            duration: Duration::from_secs(args.stall_for),
            receive_buffer: args.stall_receive_buffer,
            mode: args.stall_mode,
        }),
    });
    for i in 0..ctx.clients {
        let (setup, board) = (setup.clone(), board.clone());
        tasks.push(match args.target {
            Target::Switchboard => tokio::spawn(switchboard::client(i, source(i), setup, board)),
            Target::Nats => tokio::spawn(nats::client(i, source(i), setup, board)),
        });
    }
    wait_for_setup(&board, ctx.clients, Duration::from_secs(args.stall_timeout)).await;
    let setup_s = setup_started.elapsed().as_secs_f64();
    let (ready, failed) = board.setup_counts();
    eprintln!(
        "  run {}: {ready} clients subscribed, {failed} failed, in {setup_s:.1} s",
        run + 1
    );
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let server_rss_connected = rss(ctx.server_pid);
    let bench_rss_connected = procfs::own_vm_rss_kib().unwrap_or(0);

    // Measure.
    let server_cpu = |pid: Option<u32>| pid.and_then(|p| cpu::process(p).ok());
    let cpu_server_0 = server_cpu(ctx.server_pid);
    let cpu_self_0 = cpu::process_self().ok();
    let t0 = board.now_nanos();
    let duration = Duration::from_secs(args.duration);
    // When every stalled client is back, seconds after the stall began.
    let back_after = Arc::new(std::sync::Mutex::new(None::<f64>));
    if args.stalled > 0 {
        let (board, after) = (board.clone(), Duration::from_secs(args.stall_after));
        let back_after = back_after.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let began = Instant::now();
            board.stall.cancel();
            // Away clients show up within a few milliseconds of the signal.
            tokio::time::sleep(Duration::from_millis(50)).await;
            while board.stalled_away_now() > 0 && !board.stop.is_cancelled() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if board.stalled_away_now() == 0 {
                *back_after.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(began.elapsed().as_secs_f64());
            }
        });
    }
    let mut drive_error = None;
    let mut put_rtt = None;
    let published = match args.scenario {
        Scenario::Idle => {
            tokio::time::sleep(duration).await;
            0
        }
        Scenario::S1 | Scenario::S2 => {
            let interval =
                (args.scenario == Scenario::S2).then(|| Duration::from_secs_f64(1.0 / args.rate));
            match drive(ctx, &board, interval, Instant::now() + duration).await {
                Ok((n, rtt)) => {
                    put_rtt = rtt;
                    n
                }
                Err(e) => {
                    drive_error = Some(format!("{e:#}"));
                    board.published()
                }
            }
        }
    };
    if args.scenario != Scenario::Idle {
        wait_for_completion(&board, published, Duration::from_secs(args.stall_timeout)).await;
    }
    let t1 = match (args.scenario, board.last_completion_nanos()) {
        (Scenario::Idle, _) | (_, 0) => board.now_nanos(),
        (_, last) if board.completed() >= published => last,
        _ => board.now_nanos(),
    };
    let cpu_server_1 = server_cpu(ctx.server_pid);
    let cpu_self_1 = cpu::process_self().ok();
    if args.stalled > 0 {
        // The stalled clients resume and catch up after the others.
        let waited = Instant::now();
        while board.stalled_away_now() > 0
            && waited.elapsed() < Duration::from_secs(args.stall_timeout)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // Stop the clients and add up what they saw.
    board.stop.cancel();
    let mut stats = Vec::with_capacity(tasks.len());
    for t in tasks {
        stats.push(t.await.context("a client task panicked")?);
    }
    let [sent, created] = latency::take();
    let latency = Percentiles::of(&sent);
    let created_latency = (!created.is_empty()).then(|| Percentiles::of(&created));
    let elapsed = Duration::from_nanos(t1.saturating_sub(t0)).max(Duration::from_micros(1));
    let mut report = aggregate(&stats);
    report.target = args.target.as_str().into();
    report.scenario = args.scenario.as_str().into();
    report.run = run + 1;
    report.stalls.back_after_s = *back_after.lock().unwrap_or_else(|e| e.into_inner());
    report.topic = ctx.population.describe(ctx.clients);
    report.events = match args.target {
        Target::Switchboard => args.events.as_str().into(),
        Target::Nats => "pub".into(),
    };
    report.clients = ctx.clients;
    report.setup_s = setup_s;
    report.window = window;
    report.offered_rate = (args.scenario == Scenario::S2).then_some(args.rate);
    report.elapsed_s = elapsed.as_secs_f64();
    report.events_published = published;
    report.events_completed = board.completed();
    report.deliveries_per_s = report.deliveries as f64 / report.elapsed_s;
    report.events_per_s = report.events_completed as f64 / report.elapsed_s;
    report.latency_us = latency;
    report.created_latency_us = created_latency;
    report.put_rtt_us = put_rtt;
    report.server_pid = ctx.server_pid;
    if let (Some(a), Some(b)) = (cpu_server_0, cpu_server_1) {
        let cpu = b.saturating_sub(a).as_secs_f64();
        report.server_cpu_s = cpu;
        report.server_cpu_pct = 100.0 * cpu / report.elapsed_s;
        if report.deliveries > 0 {
            report.server_cpu_us_per_delivery = cpu * 1e6 / report.deliveries as f64;
        }
    }
    if let (Some(a), Some(b)) = (cpu_self_0, cpu_self_1) {
        report.bench_cpu_pct = 100.0 * b.saturating_sub(a).as_secs_f64() / report.elapsed_s;
    }
    report.server_rss_before_kib = server_rss_before;
    report.server_rss_connected_kib = server_rss_connected;
    if report.connected > 0 {
        let per = |after: u64, before: u64| {
            (after as f64 - before as f64) * 1024.0 / report.connected as f64
        };
        report.server_rss_per_conn_bytes = per(server_rss_connected, server_rss_before);
        report.bench_rss_per_conn_bytes = per(bench_rss_connected, bench_rss_before);
    }
    if let Some(e) = drive_error {
        report.first_error = Some(format!("driving events: {e}"));
    }
    // Let the server see the closes before the next run.
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(report)
}

/// Waits until every client is ready or failed, or nothing changed for `stall`.
async fn wait_for_setup(board: &Board, clients: usize, stall: Duration) {
    let mut last = (0, 0);
    let mut last_change = Instant::now();
    let mut last_print = Instant::now();
    loop {
        let now = board.setup_counts();
        if now.0 + now.1 >= clients {
            return;
        }
        if now != last {
            last = now;
            last_change = Instant::now();
        } else if last_change.elapsed() > stall {
            eprintln!(
                "  setup stalled: {} ready, {} failed of {clients}",
                now.0, now.1
            );
            return;
        }
        if last_print.elapsed() > Duration::from_secs(5) {
            eprintln!("  ... {} ready, {} failed of {clients}", now.0, now.1);
            last_print = Instant::now();
        }
        let _ =
            tokio::time::timeout(Duration::from_millis(200), board.setup_changed.notified()).await;
    }
}

/// Waits until `published` events completed, or nothing completed for `stall`.
async fn wait_for_completion(board: &Board, published: u64, stall: Duration) {
    let mut last = board.completed();
    let mut last_change = Instant::now();
    while board.completed() < published {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = board.completed();
        if now != last {
            last = now;
            last_change = Instant::now();
        } else if last_change.elapsed() > stall {
            eprintln!(
                "  deliveries stalled: {now} of {published} events delivered to every subscriber"
            );
            return;
        }
    }
}

/// Causes events until `until`; returns how many, and the round-trip times
/// of the simulator's PUTs (Switchboard).
async fn drive(
    ctx: &Setup,
    board: &Arc<Board>,
    interval: Option<Duration>,
    until: Instant,
) -> anyhow::Result<(u64, Option<Percentiles>)> {
    let args = &ctx.args;
    // Only agents someone receives: an event nobody receives never completes.
    let driven: Vec<usize> = (0..board.agents())
        .filter(|&a| board.subscribers_of(a) > 0)
        .collect();
    if driven.is_empty() {
        bail!("no client is subscribed: nothing to deliver");
    }
    match args.target {
        Target::Switchboard => {
            let driver = ctx.driver.as_ref().context("no driver")?.rest_copy()?;
            let (board, window) = (board.clone(), args.window);
            // The driver's own thread and runtime: its PUTs are sent on time
            // whatever the client tasks' backlog.
            let thread = std::thread::Builder::new()
                .name("bench-driver".into())
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async {
                        match (interval, board.window.is_some()) {
                            (Some(every), _) => {
                                driver.drive_rate(&board, &driven, every, until).await
                            }
                            (None, true) => {
                                driver.drive_window(&board, &driven, window, until).await
                            }
                            (None, false) => bail!("neither a window nor a rate"),
                        }
                    })
                })
                .context("starting the driver thread")?;
            let (made, rtt) = tokio::task::spawn_blocking(move || thread.join())
                .await
                .context("waiting for the driver thread")?
                .map_err(|_| anyhow::anyhow!("the driver thread panicked"))??;
            Ok((made, Some(Percentiles::of(&rtt))))
        }
        Target::Nats => {
            let kind = ctx.population.kind_of(0);
            let subjects: Vec<String> = match kind {
                ClientKind::Agent => (0..args.agents.len())
                    .map(|a| ClientTopic::for_client(kind, a, &args.agents, &args.team).subject)
                    .collect(),
                ClientKind::All | ClientKind::Team => {
                    vec![ClientTopic::for_client(kind, 0, &args.agents, &args.team).subject]
                }
            };
            let mut publisher = nats::Publisher::connect(&ctx.url, ctx.target).await?;
            let made = publisher
                .drive(
                    board,
                    &subjects,
                    &driven,
                    args.payload_bytes,
                    interval,
                    until,
                )
                .await;
            publisher.close().await;
            Ok((made?, None))
        }
    }
}

/// Adds up the clients' counts (not the run's own figures).
fn aggregate(stats: &[ClientStats]) -> RunReport {
    let mut r = RunReport::default();
    // The offset each stream reached: the highest any client saw.
    let mut reached: HashMap<&str, u64> = HashMap::new();
    for s in stats.iter().filter(|s| s.outcome == Outcome::Ready) {
        for (stream, pos) in s.offsets.positions() {
            let e = reached.entry(stream).or_insert(0);
            *e = (*e).max(pos);
        }
    }
    let mut bytes = 0u64;
    for s in stats {
        match s.outcome {
            Outcome::Ready => r.connected += 1,
            Outcome::Refused => r.refused_4429 += 1,
            Outcome::ConnectError => r.connect_errors += 1,
            Outcome::Failed | Outcome::Pending => r.other_failures += 1,
        }
        if s.outcome == Outcome::Ready {
            let lost = s.offsets.lost + s.offsets.tail_lost(|st| reached.get(st).copied());
            r.lost += lost;
            r.duplicated += s.offsets.duplicated;
            if lost > 0 || s.offsets.duplicated > 0 {
                r.clients_with_loss += 1;
            }
            if s.dropped {
                r.dropped += 1;
            }
        }
        if s.stalled {
            let st = &mut r.stalls;
            st.clients += 1;
            if s.reconnected {
                st.reconnected += 1;
            }
            match s.stall_closed {
                Some(Some(4408)) => st.closed_4408 += 1,
                Some(_) => st.closed_other += 1,
                None => {}
            }
            match s.resumed {
                Some(true) => st.resumed_recovered += 1,
                Some(false) => st.resumed_snapshot += 1,
                None => {}
            }
            st.deliveries += s.deliveries;
            st.replayed += s.replayed;
            st.skipped += s.skipped;
        } else {
            r.deliveries += s.deliveries;
            bytes += s.bytes;
        }
        r.repeats += s.repeats;
        r.unmatched += s.unmatched;
        if r.first_error.is_none()
            && let Some(e) = &s.error
        {
            r.first_error = Some(e.clone());
        }
    }
    if r.deliveries > 0 {
        r.avg_event_bytes = bytes as f64 / r.deliveries as f64;
    }
    r
}
