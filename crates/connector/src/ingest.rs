//! Ingest: the one road from a Finesse notification, as received on one
//! user's notification node, into the state cache. The notification session
//! ([`crate::session`]) and the demo's in-process feed both take it.
//!
//! [`parse`] reads the `<Update>` text (already unescaped by the XMPP client)
//! and counts it by kind, or counts and logs a malformed one, which is then
//! skipped; [`apply`] applies it to the cache for the user whose session
//! received it (through a resync's fence when it waited while the resync
//! ran) and returns the changes it made. [`ingest`] is both, for a feed that
//! has no session of its own to ask which Finesse node a SystemInfo is about.

use switchboard_core::{Change, ResyncFence, StateCache};
use switchboard_finesse::{Notification, UpdateData, parse_item};

use crate::metrics as m;

/// Parses one notification received on `node` for `user_id` (`update`: the
/// `<Update>` text, `None` when the item carried none). A malformed one is
/// counted (`switchboard_notification_parse_errors_total`), logged with its
/// node and `None`; a good one is counted by kind
/// (`switchboard_notifications_total`).
pub fn parse(
    user_id: &str,
    update: Option<&str>,
    node: &str,
    item_id: Option<String>,
    from: Option<String>,
) -> Option<Notification> {
    let parsed = match update {
        Some(text) => parse_item(
            text,
            (!node.is_empty()).then(|| node.to_owned()),
            item_id,
            from,
        ),
        None => Err(switchboard_finesse::Error::NoNotification),
    };
    let n = match parsed {
        Ok(n) => n,
        Err(e) => {
            metrics::counter!(m::NOTIFICATION_PARSE_ERRORS_TOTAL).increment(1);
            tracing::warn!(user = %user_id, node = %node, error = %e, "malformed Finesse notification skipped");
            return None;
        }
    };
    let kind = match &n.update.data {
        UpdateData::Dialog(_) => "dialog",
        UpdateData::Dialogs(_) => "dialogs",
        UpdateData::User(_) => "user",
        UpdateData::ApiErrors(_) => "api_errors",
        UpdateData::SystemInfo(_) => "system_info",
        UpdateData::None | UpdateData::Unknown(_) => "other",
    };
    metrics::counter!(m::NOTIFICATIONS_TOTAL, "kind" => kind).increment(1);
    Some(n)
}

/// Applies one parsed notification received on `user_id`'s session and
/// returns the changes it made. A SystemInfo is about Finesse node
/// `system_node` (0 the primary, 1 the secondary) and makes a change once per
/// node and status ([`StateCache::apply_system`]). `fence`: the last
/// resync's, for a notification that waited while it ran; the dialogs it
/// drops as older than the resync's REST read are counted
/// (`switchboard_notifications_stale_total`).
pub fn apply(
    cache: &StateCache,
    user_id: &str,
    n: Notification,
    system_node: usize,
    fence: Option<&ResyncFence>,
) -> Vec<Change> {
    if let UpdateData::SystemInfo(info) = n.update.data {
        return cache
            .apply_system(system_node, n.item_id.as_deref(), *info)
            .into_iter()
            .collect();
    }
    match fence {
        Some(fence) => {
            let (changes, dropped) = cache.apply_queued(user_id, n, fence);
            if dropped > 0 {
                metrics::counter!(m::NOTIFICATIONS_STALE_TOTAL).increment(dropped as u64);
                tracing::debug!(user = %user_id, dropped, "queued notification older than the resync dropped");
            }
            changes
        }
        None => cache.apply_owned(user_id, n),
    }
}

/// [`parse`] then [`apply`], a SystemInfo being about the node it names (the
/// primary when it names none): one notification received on `node` for
/// `user_id`, into the cache.
pub fn ingest(cache: &StateCache, user_id: &str, update: &str, node: &str) -> Vec<Change> {
    let Some(n) = parse(user_id, Some(update), node, None, None) else {
        return Vec::new();
    };
    let system_node = match &n.update.data {
        UpdateData::SystemInfo(info) => info.describes().map_or(0, |(role, _)| role),
        _ => 0,
    };
    apply(cache, user_id, n, system_node, None)
}

#[cfg(test)]
mod tests {
    use switchboard_core::{CacheConfig, DialogChange, EventSource};

    use super::*;

    const DIALOGS_POST: &str =
        include_str!("../../../tests/fixtures/finesse/dialogs-post-inbound-alerting.update.xml");
    const DIALOGS_DELETE: &str =
        include_str!("../../../tests/fixtures/finesse/dialogs-delete.update.xml");
    const OUT_OF_SERVICE: &str =
        include_str!("../../../tests/fixtures/finesse/systeminfo-out-of-service.update.xml");

    #[test]
    fn a_notification_reaches_the_cache_for_the_user_whose_node_received_it() {
        let cache = StateCache::new(CacheConfig::default());
        let node = "/finesse/api/User/1001002/Dialogs";
        let changes = ingest(&cache, "1001002", DIALOGS_POST, node);
        assert!(
            matches!(&changes[..], [Change::Dialog { user_id, dialog, change: DialogChange::Added, source: EventSource::Event, .. }]
                if user_id == "1001002" && dialog.id == "16817600"),
            "{changes:?}"
        );
        assert_eq!(cache.snapshot_agent("1001002").dialogs.len(), 1);
        // The same notification again changes nothing.
        assert!(ingest(&cache, "1001002", DIALOGS_POST, node).is_empty());
    }

    #[test]
    fn a_malformed_notification_is_skipped_and_the_cache_keeps_its_state() {
        let cache = StateCache::new(CacheConfig::default());
        let node = "/finesse/api/User/1001002/Dialogs";
        assert_eq!(ingest(&cache, "1001002", DIALOGS_POST, node).len(), 1);
        assert!(ingest(&cache, "1001002", "<Update><data><dialogs>", node).is_empty());
        assert!(parse("1001002", None, node, None, None).is_none());
        assert_eq!(cache.snapshot_agent("1001002").dialogs.len(), 1);
    }

    #[test]
    fn a_fenced_notification_cannot_bring_back_a_dialog_the_resync_removed() {
        let cache = StateCache::new(CacheConfig::default());
        let node = "/finesse/api/User/1001002/Dialogs";
        ingest(&cache, "1001002", DIALOGS_POST, node);
        // The resync finds the user with no dialogs: 16817600 is removed.
        let user = switchboard_finesse::User {
            login_id: "1001002".into(),
            ..Default::default()
        };
        let (_, fence) = cache.resync("1001002", user, Vec::new());
        assert!(fence.removed().contains("16817600"));
        let queued = parse("1001002", Some(DIALOGS_POST), node, None, None).expect("parses");
        assert!(apply(&cache, "1001002", queued, 0, Some(&fence)).is_empty());
        assert!(cache.snapshot_agent("1001002").dialogs.is_empty());
        // A DELETE of a dialog the user does not have makes no change either.
        let delete = parse("1001002", Some(DIALOGS_DELETE), node, None, None).expect("parses");
        assert!(apply(&cache, "1001002", delete, 0, None).is_empty());
    }

    #[test]
    fn a_system_info_is_applied_once_for_the_node_it_is_about() {
        let cache = StateCache::new(CacheConfig::default());
        let n = || parse("1001001", Some(OUT_OF_SERVICE), "", None, None).expect("parses");
        let changes = apply(&cache, "1001001", n(), 1, None);
        assert!(
            matches!(&changes[..], [Change::System { .. }]),
            "{changes:?}"
        );
        assert!(cache.out_of_service(1));
        assert!(!cache.out_of_service(0));
        // The same status of the same node again: no change.
        assert!(apply(&cache, "1001001", n(), 1, None).is_empty());
    }
}
