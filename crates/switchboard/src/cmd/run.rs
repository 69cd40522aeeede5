//! `switchboard run`: the broker against a real Finesse pair. Finesse REST at
//! `finesse.primary` (and `finesse.secondary`), the notification service on
//! each node's `finesse.xmpp_port`; the XMPP domain and pubsub service come
//! from SystemInfo unless configured.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde_json::{Map, json};
use switchboard_connector::{FinesseClient, FinesseNodeAddr, SessionManager, discover_domains};
use switchboard_core::{CacheConfig, StateCache};
use switchboard_gateway::{FinesseRest, Parts};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Common, set};
use crate::config::Config;

/// Flags of `switchboard run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Finesse primary node base URL (finesse.primary), e.g. https://finesse1.example.com:8445.
    #[arg(long)]
    pub(crate) finesse_primary: Option<String>,
    /// Finesse secondary node base URL (finesse.secondary).
    #[arg(long)]
    pub(crate) finesse_secondary: Option<String>,
}

/// Runs the broker until SIGTERM or Ctrl-C.
pub(crate) fn run(args: &Args) -> ExitCode {
    let mut flags: Map<String, serde_json::Value> = args.common.overrides();
    if let Some(p) = &args.finesse_primary {
        set(&mut flags, "finesse", "primary", json!(p));
    }
    if let Some(s) = &args.finesse_secondary {
        set(&mut flags, "finesse", "secondary", json!(s));
    }
    let loaded = Config::load(
        args.common.config.as_deref(),
        &serde_json::Value::Object(flags),
    )
    .and_then(|c| c.validate_for_run().map(|()| c));
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(2);
        }
    };
    let result = crate::serve::init_logging(&config.log)
        .and_then(|()| crate::serve::runtime())
        .and_then(|rt| rt.block_on(broker(config)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn broker(config: Config) -> anyhow::Result<()> {
    let f = &config.finesse;
    let rest_config = f.rest_config();
    let mut clients =
        vec![FinesseClient::new(&f.primary, rest_config.clone()).context("finesse.primary")?];
    if !f.secondary.is_empty() {
        clients.push(FinesseClient::new(&f.secondary, rest_config).context("finesse.secondary")?);
    }
    let mut xmpp_addrs = Vec::new();
    for client in &clients {
        let host = client
            .endpoint()
            .base_url
            .host_str()
            .unwrap_or_default()
            .to_owned();
        let xmpp: SocketAddr = tokio::net::lookup_host((host.as_str(), f.xmpp_port))
            .await
            .with_context(|| format!("cannot resolve the Finesse host {host}"))?
            .next()
            .with_context(|| format!("{host} has no address"))?;
        xmpp_addrs.push(xmpp);
    }
    // Each node's XMPP domain: Finesse names it after the node's host.
    let domains = if f.xmpp_domain.is_empty() {
        discover_domains(&clients).await.context(
            "cannot read SystemInfo from any Finesse node to learn the XMPP domain; set finesse.xmpp_domain",
        )?
    } else {
        let pubsub = if f.pubsub.is_empty() {
            format!("pubsub.{}", f.xmpp_domain)
        } else {
            f.pubsub.clone()
        };
        vec![(f.xmpp_domain.clone(), pubsub); clients.len()]
    };
    let mut nodes = Vec::new();
    for ((client, xmpp), (domain, pubsub)) in clients.iter().zip(xmpp_addrs).zip(domains) {
        tracing::info!(%xmpp, %domain, %pubsub, "Finesse node");
        nodes.push(FinesseNodeAddr {
            rest: client.clone(),
            xmpp,
            domain,
            pubsub,
        });
    }
    let session_config = Arc::new(f.session_config(nodes, "switchboard"));
    let shutdown = CancellationToken::new();
    let cache = Arc::new(StateCache::new(CacheConfig {
        ended_dialog_retention: f.ended_dialog_retention,
    }));
    let (changes_tx, changes_rx) = mpsc::unbounded_channel();
    let sessions = SessionManager::new(
        session_config,
        cache.clone(),
        changes_tx.clone(),
        f.session_grace,
        &shutdown,
    );
    let parts = Parts {
        cache,
        finesse: FinesseRest::new(clients),
        notifications: Arc::new(sessions),
        changes_tx,
        changes_rx,
        metrics: switchboard_gateway::metrics::install(),
    };
    crate::serve::serve(&config, parts, &shutdown, None, |addr| {
        tracing::info!(%addr, "switchboard serving");
    })
    .await
}
