//! `switchboard demo` (also a bare `switchboard`): the broker plus the
//! embedded Finesse simulator in-process. No Prosody and no Finesse are
//! needed: the simulator's notifications reach the cache through a channel
//! (`feed.rs`), while the broker reaches the simulator's REST API over real
//! HTTP on `demo.sim_listen` (default 127.0.0.1:8082), where the scenario API
//! (`/sim/...`, docs/simulator.md) also listens.
//!
//! At start, agents 1001002-1001010 are signed in and made READY as simulated
//! agents; a call generator offers them a steady mix of inbound calls and
//! outbound preview reservations (`demo.call_rate` per second) and answers
//! for them. Agent 1001001 (`demo.manual_agents`) is left for the agent
//! widget, and supervisor 2001001 for the dashboard; every password is `demo`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde_json::{Map, json};
use switchboard_connector::{FinesseClient, RestConfig};
use switchboard_core::{CacheConfig, StateCache};
use switchboard_finesse::{UserRequest, UserState};
use switchboard_gateway::{FinesseRest, NoSessions, Parts};
use switchboard_sim::{CallKind, LoadSpec, NoticeSink, SimConfig, SimOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Common, set};
use crate::config::Config;

/// Flags of `switchboard demo`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Port of the web pages and the WebSocket on 127.0.0.1 (shortcut for --listen).
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// Where the embedded simulator's REST and scenario API listen (demo.sim_listen).
    #[arg(long)]
    pub(crate) sim_listen: Option<String>,
    /// Port of the simulator on 127.0.0.1 (shortcut for --sim-listen).
    #[arg(long)]
    pub(crate) sim_port: Option<u16>,
    /// New calls per second across the simulated agents; 0 for none (demo.call_rate).
    #[arg(long)]
    pub(crate) call_rate: Option<f64>,
    /// Enables token sign-in with this HS256 secret (auth.jwt_secret), e.g. for the bench tool.
    #[arg(long)]
    pub(crate) jwt_secret: Option<String>,
}

impl Args {
    fn overrides(&self) -> serde_json::Value {
        let mut out: Map<String, serde_json::Value> = self.common.overrides();
        if let Some(p) = self.port {
            set(
                &mut out,
                "server",
                "listen",
                json!(format!("127.0.0.1:{p}")),
            );
        }
        if let Some(p) = self.sim_port {
            set(
                &mut out,
                "demo",
                "sim_listen",
                json!(format!("127.0.0.1:{p}")),
            );
        }
        if let Some(a) = &self.sim_listen {
            set(&mut out, "demo", "sim_listen", json!(a));
        }
        if let Some(r) = self.call_rate {
            set(&mut out, "demo", "call_rate", json!(r));
        }
        if let Some(s) = &self.jwt_secret {
            set(&mut out, "auth", "jwt_algorithm", json!("HS256"));
            set(&mut out, "auth", "jwt_secret", json!(s));
        }
        serde_json::Value::Object(out)
    }
}

/// Runs the demo until Ctrl-C or SIGTERM.
pub(crate) fn run(args: &Args) -> ExitCode {
    let config = match Config::load(args.common.config.as_deref(), &args.overrides()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(2);
        }
    };
    let result = crate::serve::init_logging(&config.log)
        .and_then(|()| crate::serve::runtime())
        .and_then(|rt| rt.block_on(demo(config)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn demo(config: Config) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let cache = Arc::new(StateCache::new(CacheConfig {
        ended_dialog_retention: config.finesse.ended_dialog_retention,
    }));
    let (changes_tx, changes_rx) = mpsc::unbounded_channel();
    let (notices_tx, notices_rx) = mpsc::unbounded_channel();
    let sim_config = SimConfig::default();
    let sim = switchboard_sim::start(SimOptions {
        config: sim_config.clone(),
        primary: config.demo.sim_listen,
        secondary: None,
        scenario: None,
        sink: NoticeSink::Channel(notices_tx),
    })
    .await
    .with_context(|| {
        format!(
            "cannot start the embedded simulator on {}",
            config.demo.sim_listen
        )
    })?;
    tokio::spawn(crate::feed::run(
        notices_rx,
        cache.clone(),
        changes_tx.clone(),
        shutdown.clone(),
    ));

    // Simulated agents: signed in and READY.
    let simulated: Vec<_> = sim_config
        .users
        .iter()
        .filter(|u| !u.supervised_teams.iter().any(|_| true))
        .filter(|u| !config.demo.manual_agents.contains(&u.id))
        .collect();
    for u in &simulated {
        for (state, extension) in [
            (UserState::Login, Some(u.extension.clone())),
            (UserState::Ready, None),
        ] {
            let request = UserRequest {
                state,
                reason_code_id: None,
                extension,
            };
            sim.sim
                .apply(|w| Ok(((), w.put_user(&u.id, &u.id, &request, None)?)))
                .map_err(|e| anyhow::anyhow!("cannot sign in simulated agent {}: {e:?}", u.id))?;
        }
    }
    if config.demo.call_rate > 0.0 {
        switchboard_sim::server::start_load(
            &sim.sim,
            LoadSpec {
                calls_per_second: config.demo.call_rate,
                mix: vec![(CallKind::Inbound, 1), (CallKind::Preview, 1)],
                answer_after: Some(config.demo.answer_after),
                talk_for: config.demo.talk_for,
                manual: config.demo.manual_agents.clone(),
            },
        );
    }

    let rest = FinesseClient::new(&format!("http://{}", sim.primary), RestConfig::default())
        .context("REST client")?;
    let parts = Parts {
        cache,
        finesse: FinesseRest::new(vec![rest]),
        notifications: Arc::new(NoSessions),
        changes_tx,
        changes_rx,
        metrics: switchboard_gateway::metrics::install(),
    };
    // The address as a browser or curl on this machine reaches it.
    let sim_addr = match sim.primary {
        a if a.ip().is_unspecified() => {
            std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), a.port())
        }
        a => a,
    };
    let simulated_count = simulated.len();
    let call_rate = config.demo.call_rate;
    let landing = switchboard_gateway::assets::demo_landing_page(&format!("http://{sim_addr}"));
    let result = crate::serve::serve(&config, parts, &shutdown, Some(landing), |addr| {
        println!("Switchboard demo");
        println!("  web pages      http://{addr}/  (agent widget /agent, supervisor dashboard /supervisor)");
        println!("  WebSocket      ws://{addr}/ws");
        println!("  Finesse (sim)  http://{sim_addr}  REST and scenario API (/sim/...)");
        println!("  sign in        agents 1001001-1001010 (extensions 5001-5010), supervisor 2001001 (5999); password demo");
        println!("  simulated      {simulated_count} agents READY, {call_rate} calls/s; 1001001 is yours");
        println!("  a call         curl -X POST http://{sim_addr}/sim/calls -H 'content-type: application/json' -d '{{\"agent\":\"1001001\",\"kind\":\"preview\"}}'");
        println!("Ctrl-C stops.");
        tracing::info!(%addr, sim = %sim_addr, "demo serving");
    })
    .await;
    sim.shutdown();
    result
}
