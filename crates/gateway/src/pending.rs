//! Commands sent to Finesse whose CTI error may still come: Finesse's
//! `requestId` -> the client's `requestId` and connection, so that a later
//! `apiErrors` notification is delivered as `SetAPIError` with the client's
//! `requestId` (docs/protocol.md §6). Entries expire after a while (Finesse sends
//! CTI errors within seconds).

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use switchboard_core::hub::ClientQueue;

/// How long a command's CTI error is waited for.
pub const PENDING_TTL: Duration = Duration::from_secs(60);

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
#[derive(Debug, Default)]
pub struct Pending {
    by_finesse_id: DashMap<String, PendingCommand>,
}

impl Pending {
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

    /// The command that Finesse `requestId` belongs to, if still pending.
    pub fn get(&self, finesse_id: &str) -> Option<PendingCommand> {
        self.by_finesse_id.get(finesse_id).map(|p| p.clone())
    }

    /// Forgets a command (its request failed synchronously).
    pub fn remove(&self, finesse_id: &str) {
        self.by_finesse_id.remove(finesse_id);
    }

    /// Drops entries older than [`PENDING_TTL`] or whose connection closed.
    pub fn sweep(&self, now: Instant) {
        self.by_finesse_id
            .retain(|_, p| now - p.sent < PENDING_TTL && !p.client.is_closed());
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
