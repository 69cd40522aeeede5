//! From cache changes to the sockets, I/O only: what a change becomes (its
//! event and topics, or a broadcast) is `switchboard_core::route::publish`'s;
//! this module hands it to the hub. A CTI error that matches a pending
//! command also goes, as its own copy carrying the client's `requestId`
//! (`route::reply`), to the connection that sent it, and to no other.
//! SystemInfo is broadcast to every client (the cache makes one change per
//! node and status, not one per session that received it); an agent signed
//! out in Finesse has its connections closed
//! with 4403 after the event that says so; a `dialog/<id>` subscriber whose
//! identity no longer allows it (the dialog left its list) is unsubscribed
//! after the `DELETED` event, with an `Unsubscribed` frame giving the reason.
//!
//! Also here: the maintenance tick (expired history, pending commands, ended
//! dialogs; the hub and cache gauges).

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_core::hub::Wire;
use switchboard_core::route::{self, Delivery};
use switchboard_core::{Change, DialogChange};
use switchboard_finesse::UserState;
use switchboard_protocol::{CloseCode, Topic, reply};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::auth::Role;
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
pub(crate) fn publish(shared: &Arc<Shared>, change: &Change) {
    // The connection whose command failed gets its own copy first.
    if let Change::ApiError {
        request_id: Some(request_id),
        ..
    } = change
        && let Some(p) = shared.pending.get(request_id)
        && let Some(client_request_id) = p.client_request_id.as_deref()
        && let Some(own) = route::reply(change, client_request_id)
    {
        let _ = p.client.push(&Wire::from(own));
    }
    match route::publish(change, &shared.cache) {
        Delivery::Broadcast(json) => shared.hub.broadcast(Wire::from(json)),
        Delivery::Streams { topics, json } => {
            for topic in &topics {
                shared.hub.publish(topic, &json);
            }
            metrics::counter!(m::EVENTS_TOTAL).increment(topics.len() as u64);
        }
    }

    if let Change::Dialog {
        dialog,
        change: DialogChange::Removed,
        ..
    } = change
    {
        end_dialog_subscriptions(shared, &dialog.id);
    }

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

/// How long after a dialog left an agent's list the subscriptions of
/// supervisors (and of anyone but agents) are checked again: a transfer
/// between two agents of a team removes the dialog from the first list
/// before the second one has it.
pub const DIALOG_SETTLE: Duration = Duration::from_secs(2);

/// Ends the `dialog/<id>` subscriptions whose subscriber may no longer have
/// them, each with `Unsubscribed {topics, reason: "left_dialog"}`. An agent
/// may have one while the dialog is in its own list: when it leaves (the
/// call transferred away or dropped, or a resync found it gone) the agent's
/// subscription ends at once, after the `DELETED` event that says so.
/// Supervisors keep the dialogs of their teams' agents, admins every dialog
/// (the rules of a subscribe): theirs are checked again after
/// [`DIALOG_SETTLE`].
fn end_dialog_subscriptions(shared: &Arc<Shared>, dialog_id: &str) {
    let topic = Topic::Dialog(dialog_id.to_owned());
    let others = end_unauthorized(shared, &topic, |role| role == Role::Agent);
    if others == 0 {
        return;
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(DIALOG_SETTLE).await;
        end_unauthorized(&shared, &topic, |_| true);
    });
}

/// Ends the subscriptions to `topic` of the subscribers of the roles `which`
/// selects that may no longer subscribe to it; returns how many subscribers
/// `which` left out.
fn end_unauthorized(shared: &Shared, topic: &Topic, which: impl Fn(Role) -> bool) -> usize {
    let mut left_out = 0;
    for client in shared.hub.subscribers(topic) {
        let id = client.id();
        let Some(identity) = shared.watchers.get(&id).map(|w| w.clone()) else {
            continue;
        };
        if !which(identity.role) {
            left_out += 1;
            continue;
        }
        if identity.may_subscribe(topic, &shared.cache) {
            continue;
        }
        let ended = shared.hub.unsubscribe(id, std::slice::from_ref(topic));
        if !ended.is_empty() {
            let _ = client.push(&Wire::from(reply::ended(&ended, reply::LEFT_DIALOG)));
            tracing::info!(client = id, user = %identity.user_id, %topic, "dialog subscription ended: no longer in the dialog");
        }
    }
    left_out
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
        metrics::gauge!(m::QUEUED_BYTES).set(stats.queued_bytes as f64);
        metrics::gauge!(m::CACHE_DIALOGS).set(shared.cache.dialog_count() as f64);
    }
}
