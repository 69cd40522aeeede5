//! What the gateway needs from Finesse: its REST API on the active node (with
//! failover to the other node when one is unreachable) and the notification
//! sessions of signed-in users ([`SessionPool`]).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use switchboard_connector::{Credentials, FinesseClient, RestError, SessionManager, SessionStatus};

/// The Finesse REST API of a node pair. Requests go to the active node; when
/// it is unreachable or answers 503 the request is tried once on the other
/// node, which then becomes active (Finesse Developer Guide: failover).
#[derive(Debug, Clone)]
pub struct FinesseRest {
    nodes: Arc<Vec<FinesseClient>>,
    active: Arc<AtomicUsize>,
}

impl FinesseRest {
    /// The primary node first. Panics if `nodes` is empty (a configuration error
    /// caught earlier by config validation).
    pub fn new(nodes: Vec<FinesseClient>) -> FinesseRest {
        assert!(!nodes.is_empty(), "at least one Finesse node");
        FinesseRest {
            nodes: Arc::new(nodes),
            active: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The node requests go to now.
    pub fn active(&self) -> &FinesseClient {
        &self.nodes[self.active.load(Ordering::Relaxed) % self.nodes.len()]
    }

    /// Every node, primary first.
    pub fn nodes(&self) -> &[FinesseClient] {
        &self.nodes
    }

    /// Makes node `index` the active one (e.g. the active node reports
    /// OUT_OF_SERVICE while the other is in service).
    pub fn set_active(&self, index: usize) {
        if index < self.nodes.len() && self.active.swap(index, Ordering::Relaxed) != index {
            tracing::warn!(node = index, "Finesse REST switched to the node in service");
        }
    }

    /// The index of the active node.
    pub fn active_index(&self) -> usize {
        self.active.load(Ordering::Relaxed) % self.nodes.len()
    }

    /// Runs `op` on the active node; on an unavailable node, once on the next.
    pub async fn call<'a, T, F, Fut>(&'a self, op: F) -> Result<T, RestError>
    where
        F: Fn(&'a FinesseClient) -> Fut,
        Fut: Future<Output = Result<T, RestError>> + 'a,
    {
        let first = self.active.load(Ordering::Relaxed) % self.nodes.len();
        match op(&self.nodes[first]).await {
            Err(e) if unreachable(&e) && self.nodes.len() > 1 => {
                let next = (first + 1) % self.nodes.len();
                let result = op(&self.nodes[next]).await;
                if result.is_ok() {
                    self.active.store(next, Ordering::Relaxed);
                    tracing::warn!(node = next, "Finesse REST failed over to the other node");
                }
                result
            }
            other => other,
        }
    }
}

/// A node that did not take the request: refused connection or 503.
fn unreachable(e: &RestError) -> bool {
    matches!(e, RestError::Connect { .. }) || e.is_unavailable()
}

/// A client connection's hold on its user's notification session.
pub trait Lease: Send + Sync + fmt::Debug {}

impl Lease for switchboard_connector::SessionLease {}

/// No session needed (notifications arrive another way, e.g. in-process in
/// the demo).
#[derive(Debug)]
pub struct NoLease;

impl Lease for NoLease {}

/// How healthy the notification sessions are, for `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionHealth {
    /// Users with a session.
    pub sessions: usize,
    /// Of those, online.
    pub online: usize,
    /// Of those, stopped after Finesse refused the credentials.
    pub auth_failed: usize,
}

/// The notification sessions of signed-in users.
pub trait SessionPool: Send + Sync + fmt::Debug {
    /// Opens or joins `user`'s session; it lives while a lease does (plus a grace period).
    fn acquire(&self, user: &str, credentials: Credentials) -> Box<dyn Lease>;
    /// Counts for `/readyz` and metrics.
    fn health(&self) -> SessionHealth;
}

impl SessionPool for SessionManager {
    fn acquire(&self, user: &str, credentials: Credentials) -> Box<dyn Lease> {
        Box::new(SessionManager::acquire(self, user, credentials))
    }

    fn health(&self) -> SessionHealth {
        let statuses = self.statuses();
        SessionHealth {
            sessions: statuses.len(),
            online: statuses
                .iter()
                .filter(|(_, s)| matches!(s, SessionStatus::Online(_)))
                .count(),
            auth_failed: statuses
                .iter()
                .filter(|(_, s)| matches!(s, SessionStatus::AuthFailed(_)))
                .count(),
        }
    }
}

/// No per-user sessions: the demo's in-process feed delivers every notification.
#[derive(Debug, Default)]
pub struct NoSessions;

impl SessionPool for NoSessions {
    fn acquire(&self, _user: &str, _credentials: Credentials) -> Box<dyn Lease> {
        Box::new(NoLease)
    }

    fn health(&self) -> SessionHealth {
        SessionHealth::default()
    }
}
