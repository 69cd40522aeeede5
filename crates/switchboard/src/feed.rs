//! The demo's notification feed: the embedded simulator hands every
//! notification to a channel instead of an XMPP server; each is parsed and
//! applied to the cache for the user whose node it was published on, exactly
//! as a notification session would (`switchboard_connector::session`).

use std::sync::Arc;

use switchboard_core::{Change, StateCache};
use switchboard_finesse::{Node, Notification, parse_update};
use switchboard_sim::Notice;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Applies notices until the channel closes or `stop`.
pub(crate) async fn run(
    mut notices: mpsc::UnboundedReceiver<Notice>,
    cache: Arc<StateCache>,
    changes: mpsc::UnboundedSender<Change>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            notice = notices.recv() => match notice {
                Some(notice) => apply(&cache, &changes, &notice),
                None => break,
            },
        }
    }
}

/// Applies one notice.
pub(crate) fn apply(cache: &StateCache, changes: &mpsc::UnboundedSender<Change>, notice: &Notice) {
    let update = match parse_update(&notice.update_xml) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(node = %notice.node, error = %e, "malformed notification skipped");
            return;
        }
    };
    let agent = match &notice.node {
        Node::User(id) | Node::Dialogs(id) => id.clone(),
        _ => String::new(),
    };
    let notification = Notification {
        node: Some(notice.node.to_string()),
        item_id: None,
        from: None,
        update,
    };
    for change in cache.apply_owned(&agent, notification) {
        let _ = changes.send(change);
    }
}
