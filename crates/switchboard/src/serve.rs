//! What `run` and `demo` share: logging, the gateway, signals, and graceful
//! shutdown (stop accepting, 4000 to every client after its queued frames,
//! then the Finesse sessions unsubscribe and close).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use switchboard_gateway::{Gateway, Parts};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, Log};

/// Installs the tracing subscriber: human-readable text on a terminal, JSON
/// lines otherwise (or as `log.format` says); fields in docs/operations.md.
/// Text is coloured only when stderr is a terminal and `NO_COLOR` is unset or
/// empty (<https://no-color.org>).
pub(crate) fn init_logging(log: &Log) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&log.level).context("log.level")?;
    let terminal = std::io::stderr().is_terminal();
    let json = match log.format.as_str() {
        "json" => true,
        "text" => false,
        _ => !terminal,
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal && !no_color)
        .with_writer(std::io::stderr);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

/// A multi-thread runtime for the serving commands.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Serves until SIGTERM or Ctrl-C, then shuts down gracefully. `landing_page`
/// is served at `/` (the demo's; `None`: 404). `ready` is called with the
/// address once listening.
pub(crate) async fn serve(
    config: &Config,
    parts: Parts,
    shutdown: &CancellationToken,
    landing_page: Option<String>,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let mut gateway_config = config.gateway()?;
    gateway_config.landing_page = landing_page;
    let gateway = Gateway::start(gateway_config, parts, shutdown)
        .await
        .context("cannot start the gateway")?;
    ready(gateway.local_addr());
    wait_for_signal().await;
    tracing::info!(
        connections = gateway.connections(),
        grace = ?config.server.shutdown_grace,
        "shutting down: closing clients with 4000"
    );
    gateway.shutdown().await;
    shutdown.cancel();
    // The sessions unsubscribe and close on the cancelled token; give them a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
