//! The demo's notification feed: the embedded simulator hands every
//! notification to a channel instead of an XMPP server; each takes the
//! connector's one road into the cache (`switchboard_connector::ingest`:
//! parse, metrics, apply) for the user whose node it was published on, as a
//! notification session's would.

use std::sync::Arc;

use switchboard_core::{Change, StateCache};
use switchboard_finesse::Node;
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
    let user_id = match &notice.node {
        Node::User(id) | Node::Dialogs(id) => id.as_str(),
        _ => "",
    };
    let node = notice.node.to_string();
    for change in switchboard_connector::ingest(cache, user_id, &notice.update_xml, &node) {
        let _ = changes.send(change);
    }
}
