//! Commands sent to Finesse whose CTI error may still come: Finesse's
//! `requestId` -> the client's `requestId` and connection, so that a later
//! `apiErrors` notification reaches that connection as a `SetAPIError` with
//! the client's `requestId` (docs/protocol.md §6). An entry is kept for the
//! CTI error window (`limits.cti_error_window`, default 60 s) after the
//! command was sent, whatever its Result said (a command whose Result was a
//! timeout may still be carried out, or fail, later); only a request Finesse
//! refused outright is forgotten at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use switchboard_core::hub::ClientQueue;

/// The default CTI error window.
pub const DEFAULT_CTI_ERROR_WINDOW: Duration = Duration::from_secs(60);

/// One command awaiting its possible CTI error.
#[derive(Debug, Clone)]
pub struct PendingCommand {
    /// The client's `requestId`, if it sent one.
    pub client_request_id: Option<String>,
    /// The connection that sent it.
    pub client: Arc<ClientQueue>,
    sent: Instant,
}

/// The pending commands by Finesse `requestId`.
#[derive(Debug)]
pub struct Pending {
    window: Duration,
    by_finesse_id: DashMap<String, PendingCommand>,
}

impl Pending {
    /// No pending commands; each is matched for `window` after it was sent.
    pub fn new(window: Duration) -> Pending {
        Pending {
            window,
            by_finesse_id: DashMap::new(),
        }
    }

    /// Registers a command before it is sent.
    pub fn insert(
        &self,
        finesse_id: &str,
        client_request_id: Option<String>,
        client: Arc<ClientQueue>,
    ) {
        self.by_finesse_id.insert(
            finesse_id.to_owned(),
            PendingCommand {
                client_request_id,
                client,
                sent: Instant::now(),
            },
        );
    }

    /// The command that Finesse `requestId` belongs to, if it was sent within
    /// the window.
    pub fn get(&self, finesse_id: &str) -> Option<PendingCommand> {
        self.by_finesse_id
            .get(finesse_id)
            .filter(|p| p.sent.elapsed() < self.window)
            .map(|p| p.clone())
    }

    /// Forgets a command (Finesse refused its request).
    pub fn remove(&self, finesse_id: &str) {
        self.by_finesse_id.remove(finesse_id);
    }

    /// Drops entries older than the window or whose connection closed.
    pub fn sweep(&self, now: Instant) {
        self.by_finesse_id.retain(|_, p| {
            now.saturating_duration_since(p.sent) < self.window && !p.client.is_closed()
        });
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.by_finesse_id.len()
    }

    /// True when none.
    pub fn is_empty(&self) -> bool {
        self.by_finesse_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_matched_only_within_its_window() {
        let pending = Pending::new(Duration::from_millis(50));
        let client = Arc::new(ClientQueue::new(1, 1 << 20));
        pending.insert("f-1", Some("c-1".into()), client);
        assert_eq!(
            pending.get("f-1").and_then(|p| p.client_request_id),
            Some("c-1".to_owned())
        );
        std::thread::sleep(Duration::from_millis(80));
        assert!(pending.get("f-1").is_none(), "past its window");
        pending.sweep(Instant::now());
        assert!(pending.is_empty());
    }
}
