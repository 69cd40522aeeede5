//! Which topics a cache change is published on, and the current state of a
//! topic rendered as snapshot events (docs/protocol.md §4).
//!
//! | change | topics |
//! | --- | --- |
//! | a dialog in agent A's list | `agent/A`, `team/<A's team>`, `dialog/<id>`, `queue/<queueNumber>`, `all` |
//! | agent A's user | `agent/A`, `team/<A's team>`, `all` |
//! | a CTI error on A's session | `agent/A`, `dialog/<id>` when it names one, `all` |
//! | SystemInfo | none: broadcast to every client outside the streams |
//!
//! A dialog seen by two agents is two events (each rendered for its agent,
//! with that agent's buttons), so `dialog/<id>` and `team/<id>` carry one event
//! per agent view; `ResponseActual.user.username` says whose view it is.

use switchboard_protocol::Topic;

use crate::cache::{Change, StateCache};
use crate::event::{AgentStateEvent, CallEvent, EventSource, SignedInAgent};

/// The topics `change` is published on (empty for SystemInfo, which is
/// broadcast).
pub fn route(change: &Change, cache: &StateCache) -> Vec<Topic> {
    let team_of = |agent: &str| cache.user(agent).and_then(|u| u.team_id.clone());
    let mut topics = Vec::with_capacity(5);
    match change {
        Change::Dialog { agent, dialog, .. } => {
            topics.push(Topic::Agent(agent.clone()));
            if let Some(team) = team_of(agent) {
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
            agent, dialog_id, ..
        } => {
            topics.push(Topic::Agent(agent.clone()));
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
