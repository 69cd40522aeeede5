//! From cache changes to the hub: each change is rendered once
//! (`StateCache::render`), routed to its topics (`hub::route`) and published
//! on each topic's stream. A CTI error is matched to the pending command that
//! caused it so it carries the client's `requestId`; SystemInfo is broadcast
//! to every client; an agent signed out in Finesse has its connections closed
//! with 4403 after the event that says so.
//!
//! Also here: the maintenance tick (expired history, pending commands, ended
//! dialogs; the hub and cache gauges).

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_core::hub::{Wire, route};
use switchboard_core::{ApiErrorEvent, Change};
use switchboard_finesse::UserState;
use switchboard_protocol::CloseCode;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics as m;
use crate::state::Shared;

/// Publishes changes until the channel closes or shutdown.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut changes: mpsc::UnboundedReceiver<Change>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            change = changes.recv() => match change {
                Some(change) => publish(&shared, &change),
                None => break,
            },
        }
    }
}

/// Publishes one change.
pub(crate) fn publish(shared: &Shared, change: &Change) {
    let cache = &shared.cache;
    let json = match change {
        Change::System { .. } => {
            shared.hub.broadcast(Wire::from(cache.render(change).json));
            return;
        }
        Change::ApiError {
            dialog_id,
            error,
            request_id,
            ..
        } => {
            let pending = request_id.as_deref().and_then(|r| shared.pending.get(r));
            ApiErrorEvent {
                error,
                dialog_id: dialog_id.as_deref(),
                finesse_request_id: request_id.as_deref(),
                client_request_id: pending
                    .as_ref()
                    .and_then(|p| p.client_request_id.as_deref()),
            }
            .encode()
            .json
        }
        _ => cache.render(change).json,
    };
    let topics = route(change, cache);
    for topic in &topics {
        shared.hub.publish(topic, &json);
    }
    metrics::counter!(m::EVENTS_TOTAL).increment(topics.len() as u64);

    if let Change::Agent { user, .. } = change
        && user.state == UserState::Logout
        && let Some((_, clients)) = shared.agents.remove(&user.login_id)
    {
        for c in clients {
            c.close(CloseCode::SignedOut);
        }
        tracing::info!(agent = %user.login_id, "agent signed out in Finesse: connections closed with 4403");
    }
}

/// Every `every`: drops expired history, pending commands, resume grants and
/// ended dialogs, and sets the gauges.
pub(crate) async fn maintain(shared: Arc<Shared>, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        shared.hub.sweep(now);
        shared.pending.sweep(now);
        shared.auth.sweep(now);
        shared.cache.purge(now);
        let stats = shared.hub.stats();
        metrics::gauge!(m::SUBSCRIPTIONS).set(stats.subscriptions as f64);
        metrics::gauge!(m::HISTORY_BYTES).set(stats.history_bytes as f64);
        metrics::gauge!(m::CACHE_DIALOGS).set(shared.cache.dialog_count() as f64);
        if let Some(flusher) = &shared.flusher {
            let f = flusher.stats();
            metrics::counter!(m::FLUSHER_WRITES_TOTAL).absolute(f.writes);
            metrics::counter!(m::FLUSHER_HANDOFFS_TOTAL).absolute(f.handoffs);
        }
    }
}
