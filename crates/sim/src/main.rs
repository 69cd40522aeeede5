//! `finesse-sim`: a Cisco Finesse to develop and test against without a lab.
//!
//! Serves the Finesse REST API (and optionally a secondary node), the scenario
//! API, and publishes notifications through an XMPP server (Prosody) or prints
//! them. See docs/simulator.md.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use switchboard_sim::{LoadSpec, NoticeSink, SimConfig, SimOptions, XmppTarget, start};

/// A Cisco Finesse simulator: REST API, scenario API, XMPP notifications.
#[derive(Debug, Parser)]
#[command(name = "finesse-sim", version, about)]
struct Args {
    /// Users and teams (TOML); default: agents 1001001-1001010 on extensions
    /// 5001-5010 in team 5000, supervisor 2001001, password `demo`.
    #[arg(long, env = "FINESSE_SIM_CONFIG")]
    config: Option<PathBuf>,
    /// Finesse REST of the primary node.
    #[arg(long, default_value = "127.0.0.1:8082", env = "FINESSE_SIM_REST")]
    rest: SocketAddr,
    /// Finesse REST of a secondary node (failover tests).
    #[arg(long, env = "FINESSE_SIM_SECONDARY")]
    secondary: Option<SocketAddr>,
    /// The scenario API on its own address (default: on the REST port, under /sim).
    #[arg(long, env = "FINESSE_SIM_SCENARIO")]
    scenario: Option<SocketAddr>,
    /// Publish notifications through this XMPP server (c2s address); without it
    /// they are printed to stdout as JSON lines.
    #[arg(long, env = "FINESSE_SIM_XMPP")]
    xmpp: Option<SocketAddr>,
    /// The XMPP account that owns the nodes (a server admin).
    #[arg(long, default_value = "admin", env = "FINESSE_SIM_XMPP_USER")]
    xmpp_user: String,
    /// Its password.
    #[arg(long, env = "FINESSE_SIM_XMPP_PASSWORD", hide_env_values = true)]
    xmpp_password: Option<String>,
    /// Do not subscribe users to their nodes (the client subscribes itself).
    #[arg(long)]
    no_auto_subscribe: bool,
    /// Start the load generator at this many calls per second.
    #[arg(long)]
    load: Option<f64>,
    /// With --load: simulated agents answer or accept after this many seconds.
    #[arg(long)]
    answer_after: Option<f64>,
    /// With --load: simulated agents hang up after this many seconds of talk.
    #[arg(long, default_value_t = 10.0)]
    talk_for: f64,
    /// With --load: agents left to people (comma-separated or repeated, e.g.
    /// --manual 1001001): offered calls when READY like the others, but nothing
    /// answers, accepts or hangs up for them.
    #[arg(long, value_delimiter = ',')]
    manual: Vec<String>,
}

fn main() -> ExitCode {
    // Colour only on a terminal, and not with NO_COLOR (like `switchboard`).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("finesse-sim: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[tokio::main]
async fn run(args: Args) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            SimConfig::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => SimConfig::default(),
    };
    if let Some(unknown) = args
        .manual
        .iter()
        .find(|id| !config.users.iter().any(|u| &u.id == *id))
    {
        anyhow::bail!("--manual {unknown}: no such user in the simulator's configuration");
    }
    if !args.manual.is_empty() && args.load.is_none() {
        anyhow::bail!("--manual needs --load (without the load generator nothing acts for agents)");
    }
    let sink = match args.xmpp {
        Some(addr) => NoticeSink::Xmpp(XmppTarget {
            addr,
            domain: config.domain.clone(),
            user: args.xmpp_user.clone(),
            password: args.xmpp_password.clone().ok_or_else(|| {
                anyhow::anyhow!("--xmpp needs --xmpp-password (or FINESSE_SIM_XMPP_PASSWORD)")
            })?,
            auto_subscribe: !args.no_auto_subscribe,
        }),
        None => NoticeSink::Stdout,
    };
    let sim = start(SimOptions {
        config,
        primary: args.rest,
        secondary: args.secondary,
        scenario: args.scenario,
        sink,
    })
    .await?;
    tracing::info!(rest = %sim.primary, scenario = %sim.scenario, secondary = ?sim.secondary, "finesse-sim serving");
    if let Some(cps) = args.load {
        switchboard_sim::server::start_load(
            &sim.sim,
            LoadSpec {
                calls_per_second: cps,
                mix: Vec::new(),
                answer_after: args.answer_after,
                talk_for: args.talk_for,
                manual: args.manual.clone(),
            },
        );
    }
    tokio::signal::ctrl_c().await?;
    tracing::info!("finesse-sim stopping");
    sim.shutdown();
    Ok(())
}
