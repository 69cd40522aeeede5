//! `Broker/Subscription/Subscribe {topics, since?}` and `Unsubscribe {topics}`
//! (docs/protocol.md §4).
//!
//! Each topic is authorized alone: a refused or malformed one gets its own
//! `SetAPIError` and the others apply. The reply `Subscribed {topics,
//! recovered?}` comes first, then for each newly subscribed topic either the
//! replay of the events after its `since` (`data.source = "replay"`) or its
//! snapshot (`data.source = "snapshot"`, stamped with the stream's current
//! offset so the client can resume from it), and only then live events.
//! `recovered` is present when `since` named at least one new topic: true when
//! every such topic was replayed without a gap.
//!
//! A `dialog/<id>` subscription is authorized again whenever the dialog
//! leaves someone's list ([`crate::pipeline`]): the connection's identity is
//! kept in `Shared::watchers` for that.

use std::collections::BTreeMap;

use switchboard_core::hub::{Recovery, Wire, stamp};
use switchboard_core::route::snapshot;
use switchboard_protocol::{ErrorType, StreamPosition, Topic, TopicError, reply};

use super::{Conn, ReplyTo};
use crate::state::Shared;

/// Subscribes.
pub(crate) fn subscribe(
    conn: &Conn,
    reply_to: &ReplyTo,
    topics: Vec<Topic>,
    since: BTreeMap<String, StreamPosition>,
    rejected: Vec<(String, TopicError)>,
) {
    let Some(identity) = conn.identity.clone() else {
        return;
    };
    let rid = reply_to.request_id();
    refuse_malformed(conn, &rejected, rid);
    let mut allowed = Vec::with_capacity(topics.len());
    for topic in topics {
        if identity.may_subscribe(&topic, &conn.shared.cache) {
            allowed.push(topic);
        } else {
            conn.send(reply::api_error(
                ErrorType::AuthorizationFailure,
                &format!(
                    "not allowed to subscribe to {topic} as {} {}",
                    identity.role.as_str(),
                    identity.user_id
                ),
                rid,
            ));
        }
    }
    refuse_over_max_topics(conn, &mut allowed, rid);
    if allowed.iter().any(|t| matches!(t, Topic::Dialog(_))) {
        conn.shared
            .watchers
            .insert(conn.queue.id(), identity.clone());
    }
    let entries: Vec<(Topic, Option<StreamPosition>)> = allowed
        .iter()
        .map(|t| (t.clone(), since.get(&t.to_string()).cloned()))
        .collect();
    let shared = conn.shared.clone();
    let _ = conn
        .shared
        .hub
        .subscribe(&conn.queue, &entries, &mut |found| {
            let resumed: Vec<&Recovery> = found.iter().filter(|r| r.resumed).collect();
            let recovered =
                (!resumed.is_empty()).then(|| resumed.iter().all(|r| r.replay.is_some()));
            let mut frames = vec![Wire::from(reply::subscribed(&allowed, recovered, rid))];
            for r in found {
                match &r.replay {
                    Some(replay) => frames.extend(replay.iter().cloned()),
                    None => frames.extend(snapshot_frames(&shared, r)),
                }
            }
            frames
        });
}

/// A subscribe that would take the connection over `limits.max_topics`
/// topics is refused whole: one `SetAPIError` (Too Many Requests), and only
/// the topics it already has stay in the request (its `Subscribed` reply
/// lists them; no new topic is added).
fn refuse_over_max_topics(conn: &Conn, allowed: &mut Vec<Topic>, rid: Option<&str>) {
    let max = conn.shared.config.limits.max_topics;
    // Sorted: the hub keeps a client's topics in order.
    let have = conn.shared.hub.subscriptions(conn.queue.id());
    let mut new: Vec<&Topic> = allowed
        .iter()
        .filter(|t| have.binary_search(t).is_err())
        .collect();
    new.sort_unstable();
    new.dedup();
    if have.len() + new.len() <= max {
        return;
    }
    conn.send(reply::api_error(
        ErrorType::TooManyRequests,
        &format!(
            "too many topics: a connection may be subscribed to {max} at most \
             (it has {}, this would add {})",
            have.len(),
            new.len()
        ),
        rid,
    ));
    allowed.retain(|t| have.binary_search(t).is_ok());
}

/// A topic's snapshot, each event stamped with the stream's current position.
pub(crate) fn snapshot_frames(shared: &Shared, r: &Recovery) -> Vec<Wire> {
    snapshot(&r.topic, &shared.cache)
        .iter()
        .map(|e| stamp(e, &r.topic, r.position.offset, &r.position.epoch))
        .collect()
}

/// Unsubscribes.
pub(crate) fn unsubscribe(
    conn: &Conn,
    reply_to: &ReplyTo,
    topics: Vec<Topic>,
    rejected: Vec<(String, TopicError)>,
) {
    let rid = reply_to.request_id();
    refuse_malformed(conn, &rejected, rid);
    let removed = conn.shared.hub.unsubscribe(conn.queue.id(), &topics);
    conn.send(reply::unsubscribed(&removed, rid));
}

fn refuse_malformed(conn: &Conn, rejected: &[(String, TopicError)], rid: Option<&str>) {
    for (_, error) in rejected {
        conn.send(reply::api_error(
            ErrorType::InvalidInput,
            &error.to_string(),
            rid,
        ));
    }
}
