//! What a change becomes: the one place that turns a cache [`Change`] into
//! the event a client receives and the topics it is published on, and a
//! topic's current state into snapshot events (docs/protocol.md §4, §5). Each
//! change is rendered once, here; the gateway's pipeline only delivers what
//! [`publish`] returns. This is the only module that reads both the cache and
//! the event shapes.
//!
//! | change | delivery |
//! | --- | --- |
//! | a dialog in agent A's list | `agent/A`, `team/<A's team>`, `dialog/<id>`, `queue/<queueNumber>`, `all` |
//! | agent A's user | `agent/A`, `team/<A's team>`, `all` |
//! | a CTI error on A's session | `agent/A`, `dialog/<id>` when it names one, `all`; plus, for the connection that sent the failed command, its own copy with its `requestId` ([`reply`]) |
//! | SystemInfo | broadcast to every client, outside the streams |
//!
//! A dialog seen by two agents is two events (each rendered for its agent,
//! with that agent's buttons), so `dialog/<id>` and `team/<id>` carry one event
//! per agent view; `ResponseActual.user.username` says whose view it is.

use switchboard_finesse::{Notification, UpdateData, UpdateEvent, User};
use switchboard_protocol::Topic;

use crate::cache::{CacheConfig, Change, DialogChange, StateCache};
use crate::event::{
    AgentStateEvent, ApiErrorEvent, CallEvent, EventSource, SignedInAgent, SystemInfoEvent,
};

/// Where the event of one change goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Published on each topic's stream (offsets, history, resume).
    Streams {
        /// The topics, never empty (`all` is always one).
        topics: Vec<Topic>,
        /// The event frame as JSON text.
        json: String,
    },
    /// Sent to every connected client, outside the streams (SystemInfo).
    Broadcast(String),
}

impl Delivery {
    /// The event frame, wherever it goes.
    pub fn json(&self) -> &str {
        match self {
            Delivery::Streams { json, .. } | Delivery::Broadcast(json) => json,
        }
    }
}

/// What `change` becomes: its event, rendered once, and where it goes. Call
/// events are rendered for the agent whose list changed, on that agent's
/// extension as the cache knows it. A CTI error carries no client's
/// `requestId` here: the streams are shared (see [`reply`]).
pub fn publish(change: &Change, cache: &StateCache) -> Delivery {
    let json = match change {
        Change::Dialog {
            user_id,
            dialog,
            change,
            request_id,
            source,
        } => {
            let signed_in = SignedInAgent {
                id: user_id.clone(),
                extension: cache
                    .user(user_id)
                    .and_then(|u| u.extension.clone())
                    .unwrap_or_default(),
            };
            CallEvent {
                dialog,
                agent: &signed_in,
                source: *source,
                deleted: *change == DialogChange::Removed,
                finesse_request_id: request_id.as_deref(),
            }
            .encode()
        }
        Change::Agent {
            user,
            deleted,
            source,
            ..
        } => AgentStateEvent {
            user,
            source: *source,
            deleted: *deleted,
        }
        .encode(),
        Change::ApiError { .. } => api_error(change, None).unwrap_or_default(),
        Change::System { info } => {
            return Delivery::Broadcast(
                SystemInfoEvent {
                    info,
                    source: EventSource::Event,
                }
                .encode(),
            );
        }
    };
    Delivery::Streams {
        topics: topics(change, cache),
        json,
    }
}

/// The events one notification becomes for the Finesse user `user_id`
/// signed in on `extension`, by the production path: a fresh cache that
/// knows that user (and, for a DELETE, the dialogs it removes from the
/// user's list, as the user's session would have had them) applies it, and
/// each change is [`publish`]ed. What `switchboard translate` prints and the
/// golden tests hold.
pub fn translate(notification: Notification, user_id: &str, extension: &str) -> Vec<String> {
    let cache = StateCache::new(CacheConfig::default());
    let update = &notification.update;
    let listed = match &update.data {
        UpdateData::Dialogs(list) if update.event == UpdateEvent::Delete => list.clone(),
        UpdateData::Dialog(d) if update.event == UpdateEvent::Delete => vec![(**d).clone()],
        _ => Vec::new(),
    };
    let user = User {
        login_id: user_id.to_owned(),
        extension: Some(extension.to_owned()),
        ..User::default()
    };
    cache.reconcile(user_id, user, listed);
    cache
        .apply_owned(user_id, notification)
        .iter()
        .map(|change| publish(change, &cache).json().to_owned())
        .collect()
}

/// The copy of a CTI error for the one connection whose command failed,
/// carrying that client's `requestId`; `None` for any other change.
pub fn reply(change: &Change, client_request_id: &str) -> Option<String> {
    api_error(change, Some(client_request_id))
}

fn api_error(change: &Change, client_request_id: Option<&str>) -> Option<String> {
    let Change::ApiError {
        dialog_id,
        error,
        request_id,
        ..
    } = change
    else {
        return None;
    };
    Some(
        ApiErrorEvent {
            error,
            dialog_id: dialog_id.as_deref(),
            finesse_request_id: request_id.as_deref(),
            client_request_id,
        }
        .encode(),
    )
}

/// The topics `change` is published on (empty for SystemInfo, which is
/// broadcast).
fn topics(change: &Change, cache: &StateCache) -> Vec<Topic> {
    let team_of = |user_id: &str| cache.user(user_id).and_then(|u| u.team_id.clone());
    let mut topics = Vec::with_capacity(5);
    match change {
        Change::Dialog {
            user_id, dialog, ..
        } => {
            topics.push(Topic::Agent(user_id.clone()));
            if let Some(team) = team_of(user_id) {
                topics.push(Topic::Team(team));
            }
            topics.push(Topic::Dialog(dialog.id.clone()));
            if let Some(q) = dialog.media_properties.queue_number.as_deref()
                && !q.is_empty()
            {
                topics.push(Topic::Queue(q.to_owned()));
            }
            topics.push(Topic::All);
        }
        Change::Agent { user, .. } => {
            topics.push(Topic::Agent(user.login_id.clone()));
            if let Some(team) = user.team_id.clone() {
                topics.push(Topic::Team(team));
            }
            topics.push(Topic::All);
        }
        Change::ApiError {
            user_id, dialog_id, ..
        } => {
            topics.push(Topic::Agent(user_id.clone()));
            if let Some(d) = dialog_id {
                topics.push(Topic::Dialog(d.clone()));
            }
            topics.push(Topic::All);
        }
        Change::System { .. } => {}
    }
    // Ids that a topic cannot carry (odd characters from Finesse) are not routed.
    topics.retain(Topic::is_valid);
    topics
}

/// The current state of `topic` as snapshot events: for each agent of the
/// topic, its `SetAgentState` then one call event per dialog in its list
/// (`data.source = "snapshot"`). `queue/<id>` and `dialog/<id>` give the call
/// events of the dialogs they cover.
pub fn snapshot(topic: &Topic, cache: &StateCache) -> Vec<String> {
    let agents = match topic {
        Topic::Agent(id) => vec![cache.snapshot_agent(id)],
        Topic::Team(id) => cache.snapshot_team(id),
        Topic::Dialog(_) | Topic::Queue(_) | Topic::All => cache.snapshot_all(),
    };
    let mut out = Vec::new();
    for snap in agents {
        let Some(user) = snap.user.as_ref() else {
            continue;
        };
        if matches!(topic, Topic::Agent(_) | Topic::Team(_) | Topic::All) {
            out.push(
                AgentStateEvent {
                    user,
                    source: EventSource::Snapshot,
                    deleted: false,
                }
                .encode(),
            );
        }
        let agent = SignedInAgent {
            id: user.login_id.clone(),
            extension: user.extension.clone().unwrap_or_default(),
        };
        for dialog in &snap.dialogs {
            let wanted = match topic {
                Topic::Dialog(id) => &dialog.id == id,
                Topic::Queue(q) => dialog.media_properties.queue_number.as_deref() == Some(q),
                _ => true,
            };
            if wanted {
                out.push(
                    CallEvent {
                        dialog,
                        agent: &agent,
                        source: EventSource::Snapshot,
                        deleted: false,
                        finesse_request_id: None,
                    }
                    .encode(),
                );
            }
        }
    }
    out
}
