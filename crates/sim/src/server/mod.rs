//! The simulator's HTTP side: Finesse REST on the primary (and optionally the
//! secondary) port, the scenario API on its own port, and the tasks that
//! publish notifications, run timed transitions and generate load.
//!
//! Every request to the Finesse REST API is recorded in the request log
//! (`GET /sim/requests`), so tests can check that a request did, or did not,
//! reach "Finesse".
//!
//! This module owns the shared state ([`Sim`]), start-up, the notification pump and the timed
//! transitions; `rest` serves Finesse REST, `scenario` the scenario API and `load` the
//! load generator.

mod load;
mod rest;
mod scenario;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use serde::Serialize;
use switchboard_finesse::Node;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::SimConfig;
use crate::world::{ApiFailure, Outgoing, Side, World};

pub use load::{LoadSpec, start_load};
use rest::rest_router;
use scenario::scenario_router;

/// One notification as published: the node and the `<Update>` XML text (the
/// text Finesse escapes inside `<notification>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The pubsub node.
    pub node: Node,
    /// The `<Update>` document.
    pub update_xml: String,
}

/// One request received by the Finesse REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    /// Which node received it.
    pub side: Side,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The authenticated user, if the credentials were right.
    pub user: Option<String>,
    /// The `requestId` header.
    #[serde(rename = "requestId")]
    pub request_id: Option<String>,
    /// The requested action or state of a PUT/POST body, if it parsed.
    pub action: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
}

/// Where notifications go.
#[derive(Debug)]
pub enum NoticeSink {
    /// Handed to a channel in-process (the demo and benchmarks).
    Channel(mpsc::UnboundedSender<Notice>),
    /// Published through an XMPP server, as Finesse does.
    Xmpp(crate::xmpp::XmppTarget),
    /// Printed to stdout as JSON lines `{"node": ..., "update": ...}`.
    Stdout,
    /// Dropped (tests that only look at REST).
    Discard,
}

/// The sink once connected.
enum ActiveSink {
    Channel(mpsc::UnboundedSender<Notice>),
    Xmpp(Box<crate::xmpp::XmppPublisher>),
    Stdout,
    Discard,
}

/// How to start the simulator.
#[derive(Debug)]
pub struct SimOptions {
    /// Users, teams, wrap-up.
    pub config: SimConfig,
    /// Finesse REST of the primary node.
    pub primary: SocketAddr,
    /// Finesse REST of the secondary node, if a pair is simulated.
    pub secondary: Option<SocketAddr>,
    /// The scenario API on its own port; `None` serves it on the primary port
    /// next to Finesse REST (`/sim/...`).
    pub scenario: Option<SocketAddr>,
    /// Where notifications go.
    pub sink: NoticeSink,
}

/// State shared by every handler and task.
#[derive(Debug)]
pub struct Sim {
    world: Mutex<World>,
    notices: mpsc::UnboundedSender<Notice>,
    log: Mutex<Vec<RequestRecord>>,
    down_nodes: Mutex<BTreeSet<String>>,
    load: Mutex<Option<CancellationToken>>,
    shutdown: CancellationToken,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler that panicked mid-update leaves the world as it was at the
    // panic; the simulator keeps serving rather than failing every request.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Sim {
    /// The world, locked. Do not hold it across an `.await`.
    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// Every Finesse REST request received so far.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        lock(&self.log).clone()
    }

    /// Forgets the request log.
    pub fn clear_request_log(&self) {
        lock(&self.log).clear();
    }

    /// Publishes notifications in order (call with the world locked, so the
    /// order of notifications is the order of changes).
    fn publish(&self, out: Vec<Outgoing>) {
        let down = lock(&self.down_nodes);
        for o in out {
            let node = o.node.to_string();
            if down.contains(&node) {
                tracing::debug!(%node, "node down: notification dropped");
                continue;
            }
            // The pump only ends at shutdown; a notice after that has nowhere to go.
            let _ = self.notices.send(Notice {
                node: o.node,
                update_xml: o.update.to_xml(),
            });
        }
    }

    /// Runs `f` on the world and publishes what it returns.
    pub fn apply<T>(
        &self,
        f: impl FnOnce(&mut World) -> Result<(T, Vec<Outgoing>), ApiFailure>,
    ) -> Result<T, ApiFailure> {
        let mut world = lock(&self.world);
        let (value, out) = f(&mut world)?;
        self.publish(out);
        Ok(value)
    }
}

/// A running simulator.
#[derive(Debug)]
pub struct RunningSim {
    /// Shared state (the world, the request log).
    pub sim: Arc<Sim>,
    /// Finesse REST, primary node.
    pub primary: SocketAddr,
    /// Finesse REST, secondary node.
    pub secondary: Option<SocketAddr>,
    /// The scenario API (the primary address when they share a port).
    pub scenario: SocketAddr,
}

impl RunningSim {
    /// Stops every listener and task.
    pub fn shutdown(&self) {
        self.sim.shutdown.cancel();
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    /// The XMPP server refused the publisher or could not be reached.
    #[error("cannot publish through XMPP: {0}")]
    Xmpp(#[from] switchboard_xmpp::XmppError),
}

/// Binds the listeners, connects the notification sink and starts serving.
pub async fn start(opts: SimOptions) -> Result<RunningSim, StartError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Notice>();
    let shutdown = CancellationToken::new();
    let sim = Arc::new(Sim {
        world: Mutex::new(World::new(opts.config)),
        notices: tx,
        log: Mutex::new(Vec::new()),
        down_nodes: Mutex::new(BTreeSet::new()),
        load: Mutex::new(None),
        shutdown: shutdown.clone(),
    });

    // The pump: one task, so notifications leave in the order they were made.
    let mut sink = match opts.sink {
        NoticeSink::Channel(tx) => ActiveSink::Channel(tx),
        NoticeSink::Discard => ActiveSink::Discard,
        NoticeSink::Stdout => ActiveSink::Stdout,
        NoticeSink::Xmpp(target) => {
            let config = sim.world().config().clone();
            ActiveSink::Xmpp(Box::new(
                crate::xmpp::XmppPublisher::connect(target, &config).await?,
            ))
        }
    };
    let pump_stop = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = pump_stop.cancelled() => break,
                notice = rx.recv() => {
                    let Some(notice) = notice else { break };
                    match &mut sink {
                        ActiveSink::Channel(out) => {
                            if out.send(notice).is_err() {
                                break;
                            }
                        }
                        ActiveSink::Xmpp(publisher) => {
                            if let Err(e) = publisher.publish(&notice, Duration::from_secs(30)).await {
                                // Like Finesse during an XMPP outage: the notification is
                                // lost; clients resync from REST when they reconnect.
                                tracing::warn!(node = %notice.node, error = %e, "notification not published");
                            }
                        }
                        ActiveSink::Stdout => {
                            let line = serde_json::json!({"node": notice.node.to_string(), "update": notice.update_xml});
                            println!("{line}");
                        }
                        ActiveSink::Discard => {}
                    }
                }
            }
        }
    });

    // Timed transitions (wrap-up ending).
    let ticker = sim.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = ticker.shutdown.cancelled() => break,
                _ = every.tick() => {
                    let _ = ticker.apply(|w| Ok(((), w.tick(Instant::now()))));
                }
            }
        }
    });

    let mut primary_router = rest_router(sim.clone(), Side::Primary);
    if opts.scenario.is_none() {
        primary_router = scenario_router(sim.clone()).merge(primary_router);
    }
    let primary = serve(primary_router, opts.primary, &shutdown).await?;
    let secondary = match opts.secondary {
        Some(addr) => {
            Some(serve(rest_router(sim.clone(), Side::Secondary), addr, &shutdown).await?)
        }
        None => None,
    };
    let scenario = match opts.scenario {
        Some(addr) => serve(scenario_router(sim.clone()), addr, &shutdown).await?,
        None => primary,
    };
    Ok(RunningSim {
        sim,
        primary,
        secondary,
        scenario,
    })
}

async fn serve(
    router: Router,
    addr: SocketAddr,
    shutdown: &CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "simulator listener failed");
        }
    });
    Ok(local)
}
