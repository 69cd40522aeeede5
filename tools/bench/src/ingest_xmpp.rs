//! `switchboard-bench ingest-xmpp`: notifications per second from a publisher,
//! through a private Prosody, into Switchboard's ingest path.
//!
//! Each run starts its own Prosody (`switchboard_testkit`), creates the nodes
//! (`persist_items=0`), connects the receiving side, then publishes the
//! planned notifications ([`crate::payload`]) from one admin session with a
//! window of requests in flight, and stops the clock when the last one has
//! been received (and, in `session`, applied and rendered). Scenarios:
//!
//! - `raw`: one plain XMPP client per agent that only counts the items
//!   Prosody delivers (Prosody's delivery rate, measured the same way);
//! - `parse`: the same, parsing each received item's `<Update>` with
//!   `parse_item`, as the connector does;
//! - `session`: the connector's real `Session` per agent (sign-in, resync from
//!   the in-process Finesse simulator, parse, state cache apply, changes on a
//!   channel), the benchmark rendering every change with `route::publish`.
//!
//! The publisher runs on a thread of its own (a current-thread tokio runtime
//! that also drives its XMPP connection), so its CPU time is measured apart
//! from the receiving side's: receive CPU = process CPU - publisher thread CPU.
//! Prosody's CPU time is read from `/proc/<pid>/stat`.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures::StreamExt;
use serde_json::json;
use switchboard_connector::{
    Credentials, FinesseClient, FinesseNodeAddr, RestConfig, Session, SessionConfig, SessionStatus,
};
use switchboard_core::{CacheConfig, Change, EventSource, StateCache, route};
use switchboard_finesse::{Node, UserRequest, UserState, parse_item};
use switchboard_sim::{NoticeSink, RunningSim, SimConfig, SimOptions, UserConfig};
use switchboard_testkit::{Prosody, ProsodyOptions};
use switchboard_xmpp::{ReceivedItem, TlsMode, XmppClient, XmppConfig};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cpu;
use crate::payload::{self, Agent, Message, Mix};

/// The password of every benchmark agent (XMPP and Finesse REST).
const PASSWORD: &str = "demo";

/// How long sign-in, subscriptions and sessions may take to come up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Arguments of `switchboard-bench ingest-xmpp`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Notifications published per run (spread round-robin over the agents).
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Publish requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Receiving agents, each with its own node and its own session.
    #[arg(long, default_value_t = 1)]
    pub agents: usize,
    /// Runs of each scenario (the report gives the median).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Scenarios to run, comma-separated, in this order within each run.
    #[arg(
        long = "scenario",
        value_enum,
        value_delimiter = ',',
        default_values_t = [Scenario::Raw, Scenario::Parse, Scenario::Session]
    )]
    pub scenarios: Vec<Scenario>,
    /// The notifications published.
    #[arg(long, value_enum, default_value_t = Mix::Put)]
    pub mix: Mix,
    /// Give up when nothing arrives for this many seconds.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub stall_timeout: u64,
}

/// What receives the notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// A plain XMPP client per agent, counting items: Prosody's delivery rate.
    Raw,
    /// The same, parsing each received item's `<Update>` with `parse_item`.
    Parse,
    /// The connector's `Session` per agent (parse + cache apply), every change rendered.
    Session,
}

impl Scenario {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Raw => "raw",
            Scenario::Parse => "parse",
            Scenario::Session => "session",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The measurements of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// The scenario.
    pub scenario: Scenario,
    /// Notifications published and received.
    pub messages: usize,
    /// From the first publish to the last receipt (last change rendered in `session`).
    pub elapsed: Duration,
    /// From the first publish to the last publish acknowledged.
    pub publish_elapsed: Duration,
    /// CPU time of this whole process over the measurement.
    pub cpu_process: Duration,
    /// CPU time of the publisher thread (publishing and its XMPP connection).
    pub cpu_publisher: Duration,
    /// CPU time of Prosody over the measurement.
    pub cpu_prosody: Duration,
    /// Received messages that did not parse (`parse` and `session`; expected 0).
    pub parse_errors: usize,
    /// Changes besides the expected one per notification (`session`; expected 0).
    pub other_changes: usize,
    /// Bytes of event JSON rendered (`session`).
    pub render_bytes: usize,
}

impl RunResult {
    /// Notifications per second, end to end.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU time of the receiving side: the process less the publisher thread.
    pub fn cpu_receive(&self) -> Duration {
        self.cpu_process.saturating_sub(self.cpu_publisher)
    }

    /// Microseconds of `cpu` per notification.
    pub fn per_message_us(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e6 / self.messages as f64
    }
}

/// Runs the benchmark and prints the table and the JSON lines on stdout
/// (progress goes to stderr).
pub async fn run(args: &Args) -> anyhow::Result<()> {
    ensure!(args.messages > 0, "--messages must be at least 1");
    ensure!(args.window > 0, "--window must be at least 1");
    ensure!(args.agents > 0, "--agents must be at least 1");
    ensure!(args.runs > 0, "--runs must be at least 1");
    ensure!(!args.scenarios.is_empty(), "no --scenario given");
    let agents = Agent::numbered(args.agents);
    let plan = Arc::new(payload::plan(args.mix, &agents, args.messages)?);
    let payload_bytes = plan.iter().map(|m| m.text.len()).sum::<usize>() / plan.len();
    eprintln!(
        "ingest-xmpp: {} notifications ({} mix, {payload_bytes} bytes of <Update> on average), \
         window {}, {} agent(s), {} run(s) of {}",
        args.messages,
        args.mix,
        args.window,
        args.agents,
        args.runs,
        args.scenarios
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut results: Vec<(Scenario, Vec<RunResult>)> =
        args.scenarios.iter().map(|s| (*s, Vec::new())).collect();
    for run in 1..=args.runs {
        for (scenario, runs) in &mut results {
            let r = run_once(*scenario, args, &agents, plan.clone())
                .await
                .with_context(|| format!("run {run}, scenario {scenario}"))?;
            eprintln!(
                "  run {run}/{} {:<7}: {:>6.0} notifications/s ({:.2} s); CPU per notification: \
                 receive {:.1} µs, publisher {:.1} µs, Prosody {:.1} µs",
                args.runs,
                scenario.as_str(),
                r.rate(),
                r.elapsed.as_secs_f64(),
                r.per_message_us(r.cpu_receive()),
                r.per_message_us(r.cpu_publisher),
                r.per_message_us(r.cpu_prosody),
            );
            runs.push(r);
        }
    }
    let summaries: Vec<Summary> = results
        .iter()
        .map(|(scenario, runs)| Summary::of(*scenario, runs))
        .collect();
    print!("{}", table(args, payload_bytes, &summaries));
    for s in &summaries {
        println!("{}", s.json(args, payload_bytes));
    }
    Ok(())
}

/// One run of `scenario` on a fresh Prosody with `args`' messages, window,
/// agents and mix (its `runs` and `scenarios` are not used).
pub async fn measure(scenario: Scenario, args: &Args) -> anyhow::Result<RunResult> {
    let agents = Agent::numbered(args.agents);
    let plan = Arc::new(payload::plan(args.mix, &agents, args.messages)?);
    run_once(scenario, args, &agents, plan).await
}

/// One run of one scenario on a fresh Prosody.
async fn run_once(
    scenario: Scenario,
    args: &Args,
    agents: &[Agent],
    plan: Arc<Vec<Message>>,
) -> anyhow::Result<RunResult> {
    let stall = Duration::from_secs(args.stall_timeout);
    let prosody = Prosody::start_async(ProsodyOptions::with_accounts(
        agents.iter().map(|a| (a.id.clone(), PASSWORD.to_owned())),
    ))
    .await
    .context("starting Prosody")?;
    let prosody_pid = prosody.pid().context("Prosody is not running")?;
    let pubsub = prosody.pubsub_jid();

    // What each agent receives, and on which nodes.
    let mut expected = vec![0usize; agents.len()];
    let mut agent_nodes = vec![BTreeSet::new(); agents.len()];
    for m in plan.iter() {
        expected[m.agent] += 1;
        agent_nodes[m.agent].insert(m.node.clone());
    }
    let mut nodes: BTreeSet<String> = agent_nodes.iter().flatten().cloned().collect();
    if scenario == Scenario::Session {
        // Every node a session subscribes to must exist.
        nodes.insert(Node::SystemInfo.to_string());
        for a in agents {
            nodes.insert(Node::User(a.id.clone()).to_string());
            nodes.insert(a.dialogs_node());
        }
    }
    let mut publisher = Publisher::spawn(PublisherSetup {
        addr: prosody.addr(),
        jid: prosody.admin_jid(),
        password: prosody.admin_password().to_owned(),
        pubsub: pubsub.clone(),
        nodes: nodes.into_iter().collect(),
        plan: plan.clone(),
        window: args.window,
    })?;
    publisher.ready().await.context("preparing the publisher")?;

    let receivers = match scenario {
        Scenario::Raw | Scenario::Parse => {
            subscribers(
                &prosody,
                agents,
                &agent_nodes,
                &expected,
                scenario == Scenario::Parse,
                stall,
            )
            .await?
        }
        Scenario::Session => sessions(&prosody, agents, plan.len(), stall).await?,
    };

    let cpu_process_0 = cpu::process_self()?;
    let cpu_prosody_0 = cpu::process(prosody_pid)?;
    publisher.go();
    let tally = receivers.finish().await?;
    let cpu_process_1 = cpu::process_self()?;
    let cpu_prosody_1 = cpu::process(prosody_pid)?;
    let published = publisher.done().await?;
    drop(prosody);

    let last = tally.last.context("nothing was received")?;
    Ok(RunResult {
        scenario,
        messages: plan.len(),
        elapsed: last.saturating_duration_since(published.started),
        publish_elapsed: published
            .finished
            .saturating_duration_since(published.started),
        cpu_process: cpu_process_1.saturating_sub(cpu_process_0),
        cpu_publisher: published.cpu,
        cpu_prosody: cpu_prosody_1.saturating_sub(cpu_prosody_0),
        parse_errors: tally.parse_errors,
        other_changes: tally.other_changes,
        render_bytes: tally.render_bytes,
    })
}

/// What a receiving side saw.
#[derive(Debug, Default)]
struct Tally {
    received: usize,
    last: Option<Instant>,
    parse_errors: usize,
    other_changes: usize,
    render_bytes: usize,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.received += other.received;
        self.last = self.last.max(other.last);
        self.parse_errors += other.parse_errors;
        self.other_changes += other.other_changes;
        self.render_bytes += other.render_bytes;
    }
}

/// The receiving side of a run, up and waiting.
enum Receivers {
    /// One task per plain XMPP subscriber.
    Subscribers(Vec<JoinHandle<anyhow::Result<Tally>>>),
    /// The sessions and the task consuming their changes.
    Sessions {
        consumer: JoinHandle<anyhow::Result<Tally>>,
        sessions: Vec<Session>,
        shutdown: CancellationToken,
        sim: RunningSim,
    },
}

impl Receivers {
    /// Waits until every expected notification has arrived.
    async fn finish(self) -> anyhow::Result<Tally> {
        let mut total = Tally::default();
        match self {
            Receivers::Subscribers(tasks) => {
                for t in tasks {
                    total.merge(t.await.context("a subscriber task failed")??);
                }
            }
            Receivers::Sessions {
                consumer,
                sessions,
                shutdown,
                sim,
            } => {
                let result = consumer.await.context("the change consumer failed");
                shutdown.cancel();
                drop(sessions);
                sim.shutdown();
                total.merge(result??);
            }
        }
        Ok(total)
    }
}

/// Signs in one plain client per agent and subscribes it to the agent's nodes.
async fn subscribers(
    prosody: &Prosody,
    agents: &[Agent],
    nodes: &[BTreeSet<String>],
    expected: &[usize],
    parse: bool,
    stall: Duration,
) -> anyhow::Result<Receivers> {
    let mut tasks = Vec::with_capacity(agents.len());
    for ((agent, nodes), &expected) in agents.iter().zip(nodes).zip(expected) {
        let (client, items) = XmppClient::connect(
            XmppConfig::new(prosody.addr(), prosody.jid(&agent.id), PASSWORD)
                .tls(TlsMode::Plain)
                .resource("bench")
                .timeout(SETUP_TIMEOUT),
        )
        .await
        .with_context(|| format!("signing in as {}", agent.id))?;
        for node in nodes {
            client
                .subscribe(&prosody.pubsub_jid(), node, client.bare_jid())
                .await
                .with_context(|| format!("subscribing {} to {node}", agent.id))?;
        }
        tasks.push(tokio::spawn(count_items(
            client, items, expected, parse, stall,
        )));
    }
    Ok(Receivers::Subscribers(tasks))
}

/// Counts (and parses, when asked) `expected` items.
async fn count_items(
    client: XmppClient,
    mut items: mpsc::Receiver<ReceivedItem>,
    expected: usize,
    parse: bool,
    stall: Duration,
) -> anyhow::Result<Tally> {
    let mut t = Tally::default();
    while t.received < expected {
        let item = match tokio::time::timeout(stall, items.recv()).await {
            Ok(Some(item)) => item,
            Ok(None) => bail!(
                "{}: the XMPP session ended after {} of {expected} items",
                client.bare_jid(),
                t.received
            ),
            Err(_) => bail!(
                "{}: nothing received for {} s after {} of {expected} items",
                client.bare_jid(),
                stall.as_secs(),
                t.received
            ),
        };
        if parse {
            let text = item.notification_text.as_deref().unwrap_or_default();
            match parse_item(text, Some(item.node), item.item_id, item.from) {
                Ok(n) => drop(std::hint::black_box(n)),
                Err(_) => t.parse_errors += 1,
            }
        }
        t.received += 1;
        t.last = Some(Instant::now());
    }
    client.close().await;
    Ok(t)
}

/// Starts the Finesse simulator (REST for the resync), signs the agents in,
/// starts one connector session per agent and waits until all are online.
async fn sessions(
    prosody: &Prosody,
    agents: &[Agent],
    expected: usize,
    stall: Duration,
) -> anyhow::Result<Receivers> {
    let users = agents
        .iter()
        .enumerate()
        .map(|(i, a)| UserConfig {
            id: a.id.clone(),
            password: PASSWORD.into(),
            first_name: "Bench".into(),
            last_name: format!("{:02}", i + 1),
            extension: a.extension.clone(),
            roles: vec!["Agent".into()],
            team_id: "5000".into(),
            supervised_teams: Vec::new(),
        })
        .collect();
    let loopback: SocketAddr = "127.0.0.1:0".parse()?;
    let sim = switchboard_sim::start(SimOptions {
        config: SimConfig {
            users,
            ..SimConfig::default()
        },
        primary: loopback,
        secondary: None,
        scenario: None,
        sink: NoticeSink::Discard,
    })
    .await
    .context("starting the Finesse simulator")?;
    let rest = FinesseClient::new(&format!("http://{}", sim.primary), RestConfig::default())?;
    // Signed in, the agents have their extension in the cache after the resync,
    // so the call events are rendered from the agent's own participant.
    for a in agents {
        let login = UserRequest {
            state: UserState::Login,
            reason_code_id: None,
            extension: Some(a.extension.clone()),
        };
        rest.put_user(&Credentials::basic(a.id.clone(), PASSWORD), &a.id, &login)
            .await
            .with_context(|| format!("signing {} in to the simulator", a.id))?;
    }
    let config = Arc::new(SessionConfig {
        nodes: vec![FinesseNodeAddr {
            rest,
            xmpp: prosody.addr(),
            domain: prosody.domain().to_owned(),
            pubsub: prosody.pubsub_jid(),
        }],
        resource: "switchboard-bench".into(),
        ping_interval: Duration::from_secs(60),
        timeout: SETUP_TIMEOUT,
        explicit_subscribe: true,
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        prefer_primary: false,
        failover_spread: switchboard_connector::Spread::new(Duration::ZERO),
        tls: TlsMode::Plain,
    });
    let cache = Arc::new(StateCache::new(CacheConfig::default()));
    let (tx, mut changes) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let mut sessions: Vec<Session> = agents
        .iter()
        .map(|a| {
            Session::spawn(
                a.id.clone(),
                Credentials::basic(a.id.clone(), PASSWORD),
                config.clone(),
                cache.clone(),
                tx.clone(),
                &shutdown,
            )
        })
        .collect();
    drop(tx);
    for s in &mut sessions {
        let status = tokio::time::timeout(
            SETUP_TIMEOUT,
            s.wait_for(|st| {
                matches!(
                    st,
                    SessionStatus::Online(_)
                        | SessionStatus::AuthFailed(_)
                        | SessionStatus::Stopped
                )
            }),
        )
        .await
        .with_context(|| format!("session {} not online in time: {:?}", s.user(), s.status()))?;
        ensure!(
            matches!(status, SessionStatus::Online(_)),
            "session {}: {status:?}",
            s.user()
        );
    }
    // The resync's changes were sent before the sessions said they were online.
    while changes.try_recv().is_ok() {}
    let consumer = tokio::spawn(consume_changes(cache, changes, expected, stall));
    Ok(Receivers::Sessions {
        consumer,
        sessions,
        shutdown,
        sim,
    })
}

/// Renders every change, as the hub will, until `expected` changes made by
/// live notifications (dialog or agent changes) came.
async fn consume_changes(
    cache: Arc<StateCache>,
    mut changes: mpsc::UnboundedReceiver<Change>,
    expected: usize,
    stall: Duration,
) -> anyhow::Result<Tally> {
    let mut t = Tally::default();
    while t.received < expected {
        let change = match tokio::time::timeout(stall, changes.recv()).await {
            Ok(Some(change)) => change,
            Ok(None) => bail!(
                "every session ended after {} of {expected} changes",
                t.received
            ),
            Err(_) => bail!(
                "no change for {} s after {} of {expected} (a notification that made no change?)",
                stall.as_secs(),
                t.received
            ),
        };
        t.render_bytes += route::publish(&change, &cache).json().len();
        if matches!(
            change,
            Change::Dialog {
                source: EventSource::Event,
                ..
            } | Change::Agent {
                source: EventSource::Event,
                ..
            }
        ) {
            t.received += 1;
            t.last = Some(Instant::now());
        } else {
            t.other_changes += 1;
        }
    }
    Ok(t)
}

/// What the publisher thread needs.
struct PublisherSetup {
    addr: SocketAddr,
    jid: String,
    password: String,
    pubsub: String,
    nodes: Vec<String>,
    plan: Arc<Vec<Message>>,
    window: usize,
}

/// When the publisher ran and what it cost.
#[derive(Debug)]
struct PublishReport {
    started: Instant,
    finished: Instant,
    cpu: Duration,
}

/// The publisher: a thread with its own current-thread runtime, so that its
/// CPU time (its XMPP connection included) can be read apart.
struct Publisher {
    ready: Option<oneshot::Receiver<anyhow::Result<()>>>,
    go: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<anyhow::Result<PublishReport>>>,
}

impl Publisher {
    /// Starts the thread: it signs in as the admin and creates the nodes.
    fn spawn(setup: PublisherSetup) -> anyhow::Result<Publisher> {
        let (ready_tx, ready) = oneshot::channel();
        let (go, go_rx) = oneshot::channel::<()>();
        let (done_tx, done) = oneshot::channel();
        std::thread::Builder::new()
            .name("bench-publisher".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let client = match prepare(&setup).await {
                        Ok(client) => {
                            let _ = ready_tx.send(Ok(()));
                            client
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    if go_rx.await.is_ok() {
                        let _ = done_tx.send(publish_all(&client, &setup).await);
                    }
                    client.close().await;
                });
            })
            .context("starting the publisher thread")?;
        Ok(Publisher {
            ready: Some(ready),
            go: Some(go),
            done: Some(done),
        })
    }

    async fn ready(&mut self) -> anyhow::Result<()> {
        let ready = self.ready.take().context("ready() called twice")?;
        ready.await.context("the publisher thread ended")?
    }

    fn go(&mut self) {
        if let Some(go) = self.go.take() {
            let _ = go.send(());
        }
    }

    async fn done(&mut self) -> anyhow::Result<PublishReport> {
        let done = self.done.take().context("done() called twice")?;
        done.await.context("the publisher thread ended")?
    }
}

/// Signs in as the admin and creates the nodes (`persist_items=0`).
async fn prepare(setup: &PublisherSetup) -> anyhow::Result<XmppClient> {
    let (client, _items) = XmppClient::connect(
        XmppConfig::new(setup.addr, setup.jid.clone(), setup.password.clone())
            .tls(TlsMode::Plain)
            .resource("bench-publisher")
            .timeout(SETUP_TIMEOUT),
    )
    .await
    .context("signing in as the admin")?;
    for node in &setup.nodes {
        client
            .create_node(&setup.pubsub, node)
            .await
            .with_context(|| format!("creating {node}"))?;
    }
    Ok(client)
}

/// Publishes the plan with `window` requests in flight.
async fn publish_all(client: &XmppClient, setup: &PublisherSetup) -> anyhow::Result<PublishReport> {
    let cpu_0 = cpu::thread_self()?;
    let started = Instant::now();
    let mut acks = futures::stream::iter(setup.plan.iter())
        .map(|m| async move {
            client
                .publish(&setup.pubsub, &m.node, &m.item_id, &m.text)
                .await
                .with_context(|| format!("publishing {}", m.item_id))
        })
        .buffer_unordered(setup.window);
    while let Some(ack) = acks.next().await {
        ack?;
    }
    let finished = Instant::now();
    let cpu = cpu::thread_self()?.saturating_sub(cpu_0);
    Ok(PublishReport {
        started,
        finished,
        cpu,
    })
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The medians of one scenario's runs.
#[derive(Debug, Clone, PartialEq)]
struct Summary {
    scenario: Scenario,
    rates: Vec<f64>,
    rate: f64,
    elapsed_s: f64,
    publish_s: f64,
    receive_us: f64,
    publisher_us: f64,
    process_us: f64,
    prosody_us: f64,
    /// Prosody's CPU time over the wall time: 1.0 is one core busy all along.
    prosody_core: f64,
    parse_errors: usize,
    other_changes: usize,
    render_bytes: f64,
}

impl Summary {
    fn of(scenario: Scenario, runs: &[RunResult]) -> Summary {
        let m = |f: &dyn Fn(&RunResult) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        Summary {
            scenario,
            rates: runs.iter().map(RunResult::rate).collect(),
            rate: m(&RunResult::rate),
            elapsed_s: m(&|r| r.elapsed.as_secs_f64()),
            publish_s: m(&|r| r.publish_elapsed.as_secs_f64()),
            receive_us: m(&|r| r.per_message_us(r.cpu_receive())),
            publisher_us: m(&|r| r.per_message_us(r.cpu_publisher)),
            process_us: m(&|r| r.per_message_us(r.cpu_process)),
            prosody_us: m(&|r| r.per_message_us(r.cpu_prosody)),
            prosody_core: m(&|r| r.cpu_prosody.as_secs_f64() / r.elapsed.as_secs_f64()),
            parse_errors: runs.iter().map(|r| r.parse_errors).sum(),
            other_changes: runs.iter().map(|r| r.other_changes).sum(),
            render_bytes: m(&|r| r.render_bytes as f64 / r.messages as f64),
        }
    }

    fn json(&self, args: &Args, payload_bytes: usize) -> serde_json::Value {
        let round = |x: f64, places: i32| {
            let k = 10f64.powi(places);
            (x * k).round() / k
        };
        json!({
            "bench": "ingest-xmpp",
            "scenario": self.scenario.as_str(),
            "mix": args.mix.as_str(),
            "agents": args.agents,
            "messages": args.messages,
            "window": args.window,
            "runs": args.runs,
            "payload_bytes": payload_bytes,
            "notifications_per_s": round(self.rate, 0),
            "notifications_per_s_runs": self.rates.iter().map(|r| round(*r, 0)).collect::<Vec<_>>(),
            "elapsed_s": round(self.elapsed_s, 3),
            "publish_s": round(self.publish_s, 3),
            "cpu_us_per_notification": {
                "receive": round(self.receive_us, 1),
                "publisher": round(self.publisher_us, 1),
                "process": round(self.process_us, 1),
                "prosody": round(self.prosody_us, 1),
            },
            "prosody_core_share": round(self.prosody_core, 2),
            "parse_errors": self.parse_errors,
            "other_changes": self.other_changes,
            "event_bytes_per_notification": round(self.render_bytes, 0),
        })
    }
}

/// The human-readable table of the medians.
fn table(args: &Args, payload_bytes: usize, summaries: &[Summary]) -> String {
    let mut out = format!(
        "\ningest-xmpp: {} notifications, {} mix ({payload_bytes} B <Update>), window {}, \
         {} agent(s), median of {} run(s)\n",
        args.messages, args.mix, args.window, args.agents, args.runs
    );
    out.push_str(&format!(
        "{:<8} {:>9} {:>22} {:>9} | {:>11} {:>11} {:>11} {:>12}\n",
        "scenario",
        "notif/s",
        "runs",
        "elapsed",
        "receive CPU",
        "publisher",
        "Prosody",
        "Prosody busy"
    ));
    out.push_str(&format!(
        "{:<8} {:>9} {:>22} {:>9} | {:>11} {:>11} {:>11} {:>12}\n",
        "", "", "", "s", "µs/notif", "µs/notif", "µs/notif", "of 1 core"
    ));
    for s in summaries {
        let runs = s
            .rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!(
            "{:<8} {:>9.0} {:>22} {:>9.2} | {:>11.1} {:>11.1} {:>11.1} {:>11.0}%\n",
            s.scenario.as_str(),
            s.rate,
            runs,
            s.elapsed_s,
            s.receive_us,
            s.publisher_us,
            s.prosody_us,
            s.prosody_core * 100.0
        ));
    }
    let errors: usize = summaries.iter().map(|s| s.parse_errors).sum();
    let others: usize = summaries.iter().map(|s| s.other_changes).sum();
    if errors + others > 0 {
        out.push_str(&format!(
            "warning: {errors} parse error(s), {others} unexpected change(s)\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn receive_cpu_is_the_process_less_the_publisher() {
        let r = RunResult {
            scenario: Scenario::Raw,
            messages: 1000,
            elapsed: Duration::from_millis(250),
            publish_elapsed: Duration::from_millis(240),
            cpu_process: Duration::from_millis(150),
            cpu_publisher: Duration::from_millis(50),
            cpu_prosody: Duration::from_millis(230),
            parse_errors: 0,
            other_changes: 0,
            render_bytes: 0,
        };
        assert_eq!(r.rate(), 4000.0);
        assert_eq!(r.cpu_receive(), Duration::from_millis(100));
        assert!((r.per_message_us(r.cpu_prosody) - 230.0).abs() < 1e-9);
    }
}
