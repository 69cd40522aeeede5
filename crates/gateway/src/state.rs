//! The state every connection shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};

use dashmap::DashMap;
use switchboard_core::hub::{ClientQueue, Hub};
use switchboard_core::{Change, StateCache};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::admission::Admission;
use crate::auth::{Auth, Identity};
use crate::config::GatewayConfig;
use crate::finesse::{FinesseRest, SessionPool};
use crate::pending::Pending;
use crate::rate::Users;

/// Shared by every connection and task of one gateway.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: GatewayConfig,
    pub(crate) cache: Arc<StateCache>,
    pub(crate) hub: Hub,
    pub(crate) finesse: FinesseRest,
    pub(crate) notifications: Arc<dyn SessionPool>,
    /// Where the gateway's own cache changes (sign-in resync) go: the same
    /// pipeline as the sessions' changes.
    pub(crate) changes: mpsc::UnboundedSender<Change>,
    pub(crate) pending: Pending,
    /// Each user's signed-in connections and command bucket.
    pub(crate) users: Users,
    /// The identity of each connection that subscribed to a topic, by client
    /// id: a `dialog/` subscription is checked again when the dialog leaves a
    /// list ([`crate::pipeline`]).
    pub(crate) watchers: DashMap<u64, Arc<Identity>>,
    pub(crate) auth: Auth,
    /// Signed-in connections by agent id (to close them with 4403 when the
    /// agent is signed out).
    pub(crate) agents: DashMap<String, Vec<Arc<ClientQueue>>>,
    pub(crate) next_client: AtomicU64,
    /// Open WebSocket connections.
    pub(crate) connections: AtomicUsize,
    /// Sockets not upgraded and connections not signed in.
    pub(crate) admission: Arc<Admission>,
    pub(crate) finesse_ready: AtomicBool,
    pub(crate) shutdown: CancellationToken,
}
