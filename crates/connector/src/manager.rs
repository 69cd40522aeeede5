//! The sessions of all signed-in users: one notification session per Finesse
//! user, shared by every client connection of that user, closed a grace period
//! after the last one leaves (a widget reloading its page keeps the session).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use switchboard_core::{Change, StateCache};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::rest::{Credentials, FinesseClient, RestError};
use crate::session::{Session, SessionConfig, SessionStatus};

#[derive(Debug)]
struct Entry {
    session: Arc<Session>,
    holders: usize,
    /// Bumped at every acquire, so a grace timer knows whether it is stale.
    generation: u64,
}

#[derive(Debug)]
struct Inner {
    config: Arc<SessionConfig>,
    cache: Arc<StateCache>,
    changes: mpsc::UnboundedSender<Change>,
    shutdown: CancellationToken,
    grace: Duration,
    sessions: Mutex<HashMap<String, Entry>>,
}

/// The registry of notification sessions. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

/// A client connection's hold on its user's session; dropping it releases it.
#[derive(Debug)]
pub struct SessionLease {
    inner: Arc<Inner>,
    user: String,
    session: Arc<Session>,
}

impl SessionLease {
    /// The session (status, user).
    pub fn session(&self) -> &Session {
        &self.session
    }
}

impl Drop for SessionLease {
    fn drop(&mut self) {
        let mut sessions = lock(&self.inner.sessions);
        let Some(entry) = sessions.get_mut(&self.user) else {
            return;
        };
        entry.holders = entry.holders.saturating_sub(1);
        if entry.holders > 0 {
            return;
        }
        let generation = entry.generation;
        let inner = self.inner.clone();
        let user = self.user.clone();
        drop(sessions);
        let grace = inner.grace;
        // The grace timer needs a runtime; without one (a lease dropped at
        // exit), the session stops with the shutdown token anyway.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(grace) => {}
                    _ = inner.shutdown.cancelled() => {}
                }
                let mut sessions = lock(&inner.sessions);
                let idle = sessions
                    .get(&user)
                    .is_some_and(|e| e.holders == 0 && e.generation == generation);
                if idle && let Some(entry) = sessions.remove(&user) {
                    entry.session.stop();
                    inner.cache.release(&user);
                    metrics::gauge!(crate::metrics::FINESSE_SESSIONS).set(sessions.len() as f64);
                    tracing::info!(user = %user, "last client gone: notification session closed");
                }
            });
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SessionManager {
    /// A registry whose sessions use `config`, apply to `cache` and send their
    /// changes to `changes`; sessions close `grace` after their last lease.
    pub fn new(
        config: Arc<SessionConfig>,
        cache: Arc<StateCache>,
        changes: mpsc::UnboundedSender<Change>,
        grace: Duration,
        shutdown: &CancellationToken,
    ) -> SessionManager {
        SessionManager {
            inner: Arc::new(Inner {
                config,
                cache,
                changes,
                shutdown: shutdown.clone(),
                grace,
                sessions: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The session of `user`, started if there is none (or if the last one
    /// stopped for good, e.g. after an authentication failure).
    pub fn acquire(&self, user: &str, credentials: Credentials) -> SessionLease {
        use std::collections::hash_map::Entry as Slot;
        let start = || Entry {
            session: Arc::new(Session::spawn(
                user.to_owned(),
                credentials.clone(),
                self.inner.config.clone(),
                self.inner.cache.clone(),
                self.inner.changes.clone(),
                &self.inner.shutdown,
            )),
            holders: 0,
            generation: 0,
        };
        let mut sessions = lock(&self.inner.sessions);
        let entry = match sessions.entry(user.to_owned()) {
            Slot::Occupied(slot) => {
                let slot = slot.into_mut();
                // A session that stopped for good (wrong password, shut down) is replaced.
                if matches!(
                    slot.session.status(),
                    SessionStatus::AuthFailed(_) | SessionStatus::Stopped
                ) {
                    *slot = start();
                }
                slot
            }
            Slot::Vacant(slot) => slot.insert(start()),
        };
        entry.holders += 1;
        entry.generation += 1;
        let lease = SessionLease {
            inner: self.inner.clone(),
            user: user.to_owned(),
            session: entry.session.clone(),
        };
        metrics::gauge!(crate::metrics::FINESSE_SESSIONS).set(sessions.len() as f64);
        lease
    }

    /// How many users have a session (held or in their grace period).
    pub fn len(&self) -> usize {
        lock(&self.inner.sessions).len()
    }

    /// True when no user has a session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each user's session status.
    pub fn statuses(&self) -> Vec<(String, SessionStatus)> {
        let mut out: Vec<(String, SessionStatus)> = lock(&self.inner.sessions)
            .iter()
            .map(|(u, e)| (u.clone(), e.session.status()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// The XMPP domain and pubsub service of each node (primary first): from the
/// node's own SystemInfo, or, for a node that does not answer, from another
/// node's ([`SystemInfo::xmpp_domain_of`]: Finesse names each node's domain
/// after its host). The first node's error when none answers.
///
/// [`SystemInfo::xmpp_domain_of`]: switchboard_finesse::SystemInfo::xmpp_domain_of
pub async fn discover_domains(nodes: &[FinesseClient]) -> Result<Vec<(String, String)>, RestError> {
    let mut infos = Vec::new();
    for node in nodes {
        infos.push(node.system_info().await);
    }
    let mut out = Vec::new();
    for (i, own) in infos.iter().enumerate() {
        let found = own
            .as_ref()
            .ok()
            .into_iter()
            .chain(infos.iter().filter_map(|r| r.as_ref().ok()))
            .find_map(|info| info.xmpp_domain_of(i));
        match found {
            Some(d) => out.push(d),
            None => {
                return Err(match infos.into_iter().find_map(Result::err) {
                    Some(e) => e,
                    None => RestError::BadResponse {
                        what: "GET SystemInfo".into(),
                        reason: "no xmppDomain".into(),
                    },
                });
            }
        }
    }
    Ok(out)
}

/// The XMPP domain and pubsub service, as Finesse's SystemInfo gives them
/// (`xmppDomain`, `xmppPubSubDomain`, else `pubsub.<domain>`).
pub async fn discover_xmpp(rest: &FinesseClient) -> Result<(String, String), RestError> {
    let info = rest.system_info().await?;
    let domain = info.xmpp_domain.unwrap_or_default();
    let pubsub = info
        .xmpp_pub_sub_domain
        .unwrap_or_else(|| format!("pubsub.{domain}"));
    Ok((domain, pubsub))
}
