//! One Finesse user's notification session: the XMPP connection to the
//! Finesse notification service, kept up for as long as the session lives.
//!
//! This module owns, per signed-in user (Finesse Developer Guide: Notification Service and
//! subscriptions; failover):
//! - sign-in over XMPP (`user@domain/resource`, the resource unique per
//!   Switchboard node), presence, explicit pubsub subscriptions when configured
//!   (Finesse subscribes agents itself; Prosody needs it), Team nodes for
//!   supervisors;
//! - after every (re)connect a **resync**: `GET /finesse/api/User/{id}` and
//!   `GET .../Dialogs`, reconciled into the [`StateCache`]; notifications that
//!   arrive meanwhile wait in the session's queue and are applied after it
//!   through the resync's fence ([`StateCache::apply_queued`]: none brings
//!   back a dialog the newer REST read no longer has), so none is lost and the
//!   cache converges to what Finesse says;
//! - live notifications parsed and applied in arrival order ([`ingest`]); a
//!   malformed one is logged with its node and skipped; a SystemInfo is matched to the node it
//!   describes and passed on once per node and change
//!   ([`StateCache::apply_system`]);
//! - an XMPP ping every `ping_interval`; reconnect with exponential back-off and
//!   jitter; failover to the other Finesse node when the session's node
//!   reports OUT_OF_SERVICE or after two failures in a row (lost connection,
//!   refused, 503), whatever the other node's REST says; back to the primary
//!   when configured, once its REST is in service and its notification
//!   service accepts connections. First connects, failovers and failbacks
//!   wait a random part of `failover_spread` ([`Spread`]).
//!
//! Every change the cache makes is sent on the session's change channel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::{Change, ResyncFence, StateCache};
use switchboard_finesse::{Node, SystemInfo, SystemStatus, UpdateData};
use switchboard_xmpp::{ReceivedItem, TlsMode, XmppClient, XmppConfig};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::ingest;
use crate::rest::{Credentials, FinesseClient, RestError};
use crate::spread::Spread;

/// One Finesse node as a session reaches it.
#[derive(Debug, Clone)]
pub struct FinesseNodeAddr {
    /// REST client for this node.
    pub rest: FinesseClient,
    /// The notification service (XMPP c2s) of this node.
    pub xmpp: SocketAddr,
    /// Its XMPP domain: Finesse names each node's after the node's host
    /// (SystemInfo `xmppDomain` read from that node).
    pub domain: String,
    /// Its pubsub service (`pubsub.<domain>` unless SystemInfo says otherwise).
    pub pubsub: String,
}

/// Settings of the sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The Finesse nodes, primary first.
    pub nodes: Vec<FinesseNodeAddr>,
    /// The XMPP resource, unique per Switchboard node.
    pub resource: String,
    /// XMPP ping period (Finesse expects one every 20 s).
    pub ping_interval: Duration,
    /// Timeout of sign-in and of each IQ.
    pub timeout: Duration,
    /// Subscribe to the user's nodes explicitly (Prosody; Finesse does it itself).
    pub explicit_subscribe: bool,
    /// First reconnect delay.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// After failing over, go back to the primary once it is in service again.
    pub prefer_primary: bool,
    /// First connects, failovers and failbacks are spread over this window
    /// (shared by every session of this configuration).
    pub failover_spread: Spread,
    /// TLS to the notification service; Plain only for loopback tests.
    pub tls: TlsMode,
}

/// What a session is doing, for `/readyz` and the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStatus {
    /// Signing in (node index).
    Connecting(usize),
    /// Online and resynced, on node `0` (primary) or `1`...
    Online(usize),
    /// Waiting before the next attempt.
    Reconnecting {
        /// Attempts so far since the last time online.
        attempt: u32,
    },
    /// Finesse refused the credentials: the session stopped (no retry with a wrong password).
    AuthFailed(String),
    /// Stopped by its owner.
    Stopped,
}

/// A running session. Dropping it stops it.
#[derive(Debug)]
pub struct Session {
    user: String,
    stop: CancellationToken,
    status: watch::Receiver<SessionStatus>,
}

impl Session {
    /// Starts the session of `user`; changes go to `changes`.
    pub fn spawn(
        user: String,
        credentials: Credentials,
        config: Arc<SessionConfig>,
        cache: Arc<StateCache>,
        changes: mpsc::UnboundedSender<Change>,
        shutdown: &CancellationToken,
    ) -> Session {
        let stop = shutdown.child_token();
        let (status_tx, status) = watch::channel(SessionStatus::Connecting(0));
        let task = Runner {
            user: user.clone(),
            credentials,
            config,
            cache,
            changes,
            status: status_tx,
            stop: stop.clone(),
        };
        tokio::spawn(task.run());
        Session { user, stop, status }
    }

    /// The Finesse user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The current status.
    pub fn status(&self) -> SessionStatus {
        self.status.borrow().clone()
    }

    /// Waits until the status satisfies `f` (or the session ends).
    pub async fn wait_for(&mut self, f: impl Fn(&SessionStatus) -> bool) -> SessionStatus {
        match self.status.wait_for(|s| f(s)).await {
            Ok(s) => s.clone(),
            Err(_) => SessionStatus::Stopped,
        }
    }

    /// Stops the session (unsubscribes when subscriptions were explicit).
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Why a connected period ended.
enum Ended {
    /// The owner stopped the session.
    Stopped,
    /// The connection or the node failed: reconnect (maybe elsewhere).
    Lost(String),
    /// The session's node went out of service: fail over.
    OutOfService,
    /// Online on a secondary node while the primary serves again: move back.
    FailBack,
}

struct Runner {
    user: String,
    credentials: Credentials,
    config: Arc<SessionConfig>,
    cache: Arc<StateCache>,
    changes: mpsc::UnboundedSender<Change>,
    status: watch::Sender<SessionStatus>,
    stop: CancellationToken,
}

impl Runner {
    async fn run(self) {
        let mut node = 0usize;
        let mut failures = 0u32;
        let nodes = self.config.nodes.len().max(1);
        // Many sessions start at once after a restart: spread their first connects.
        let mut delay = self.config.failover_spread.delay();
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
            self.status.send_replace(SessionStatus::Connecting(node));
            match self.connected_period(node).await {
                Ok(Ended::Stopped) => break,
                Ok(Ended::OutOfService) => {
                    node = (node + 1) % nodes;
                    failures = 0;
                    delay = self.config.failover_spread.delay();
                    metrics::counter!(crate::metrics::FAILOVERS_TOTAL).increment(1);
                    tracing::warn!(user = %self.user, node, ?delay, "Finesse node out of service: failing over");
                }
                Ok(Ended::FailBack) => {
                    // The spread delay was waited while still online.
                    node = 0;
                    failures = 0;
                    delay = Duration::ZERO;
                }
                Ok(Ended::Lost(why)) => {
                    tracing::warn!(user = %self.user, node, reason = %why, "notification session lost");
                    failures = 1;
                    delay = backoff(failures, self.config.backoff_min, self.config.backoff_max);
                }
                Err(Fatal::Auth(why)) => {
                    tracing::warn!(user = %self.user, reason = %why, "Finesse refused the credentials; session stopped");
                    self.status.send_replace(SessionStatus::AuthFailed(why));
                    return;
                }
                Err(Fatal::Retry(why)) => {
                    failures += 1;
                    tracing::warn!(user = %self.user, node, attempt = failures, reason = %why, "cannot reach Finesse");
                    delay = backoff(failures, self.config.backoff_min, self.config.backoff_max);
                    // Two failures in a row on a node: the other node, whatever
                    // this one's REST says (its notification service may be the
                    // part that is down).
                    if failures.is_multiple_of(2) && nodes > 1 {
                        node = (node + 1) % nodes;
                        delay += self.config.failover_spread.delay();
                        metrics::counter!(crate::metrics::FAILOVERS_TOTAL).increment(1);
                        tracing::warn!(user = %self.user, node, ?delay, "two failed attempts: failing over to the other Finesse node");
                    }
                }
            }
            metrics::counter!(crate::metrics::XMPP_RECONNECTS_TOTAL).increment(1);
            self.status
                .send_replace(SessionStatus::Reconnecting { attempt: failures });
        }
        self.status.send_replace(SessionStatus::Stopped);
    }

    /// Whether the primary can take the session back: its REST says
    /// IN_SERVICE and its notification service accepts connections (its REST
    /// may answer while the notification service is down). The SystemInfo
    /// read is passed on like a notification about the primary.
    async fn primary_serves(&self) -> bool {
        let Some(primary) = self.config.nodes.first() else {
            return false;
        };
        let Ok(info) = primary.rest.system_info().await else {
            return false;
        };
        let in_service = info.status == SystemStatus::InService;
        if let Some(change) = self.cache.apply_system(0, None, info) {
            let _ = self.changes.send(change);
        }
        in_service
            && tokio::time::timeout(
                self.config.timeout,
                tokio::net::TcpStream::connect(primary.xmpp),
            )
            .await
            .is_ok_and(|c| c.is_ok())
    }

    /// The configured node a SystemInfo describes: the node whose REST host
    /// is the host it names, else by its role (Finesse's primary is the
    /// first configured node). `None` when it names no node.
    fn node_of(&self, info: &SystemInfo) -> Option<usize> {
        let (role, host) = info.describes()?;
        Some(
            self.config
                .nodes
                .iter()
                .position(|n| {
                    n.rest
                        .endpoint()
                        .base_url
                        .host_str()
                        .is_some_and(|h| h.eq_ignore_ascii_case(host))
                })
                .unwrap_or(role),
        )
    }

    /// The node an OUT_OF_SERVICE SystemInfo that names no node is about:
    /// the session's own node (`node`, whose notification service delivered
    /// it) unless its REST answers IN_SERVICE, then the other node. Finesse
    /// names the node; a deployment with one XMPP domain for both (or the
    /// simulator) may not.
    async fn unnamed_out_of_service(&self, node: usize) -> usize {
        let nodes = self.config.nodes.len();
        let Some(n) = self.config.nodes.get(node).filter(|_| nodes > 1) else {
            return node;
        };
        match n.rest.system_info().await {
            Ok(info) if info.status == SystemStatus::InService => (node + 1) % nodes,
            _ => node,
        }
    }

    /// Connects to `node`, subscribes, resyncs, then applies live notifications
    /// until the connection, the node or the owner ends it.
    async fn connected_period(&self, node: usize) -> Result<Ended, Fatal> {
        let n = self
            .config
            .nodes
            .get(node)
            .ok_or_else(|| Fatal::Retry("no Finesse node configured".into()))?;
        let (xmpp_user, password) = match &self.credentials {
            Credentials::Basic { user, password } => (user.clone(), password.expose().to_owned()),
            Credentials::Bearer { token } => (self.user.clone(), token.expose().to_owned()),
        };
        let jid = format!("{xmpp_user}@{}", n.domain);
        let xmpp = XmppConfig::new(n.xmpp, jid, password)
            .resource(self.config.resource.clone())
            .timeout(self.config.timeout)
            .tls(self.config.tls);
        let (client, mut items) = XmppClient::connect(xmpp).await.map_err(|e| {
            if e.is_auth() {
                Fatal::Auth(e.to_string())
            } else {
                Fatal::Retry(e.to_string())
            }
        })?;
        metrics::gauge!(crate::metrics::XMPP_SESSIONS_UP).increment(1.0);
        let ended = self.online(node, n, &client, &mut items).await;
        metrics::gauge!(crate::metrics::XMPP_SESSIONS_UP).decrement(1.0);
        if matches!(ended, Ok(Ended::Stopped)) && self.config.explicit_subscribe {
            for node in self.nodes(&[]) {
                let _ = client
                    .unsubscribe(&n.pubsub, &node, client.bare_jid())
                    .await;
            }
        }
        client.close().await;
        ended
    }

    /// The pubsub nodes of this user (and its supervised teams).
    fn nodes(&self, teams: &[String]) -> Vec<String> {
        let mut nodes = vec![
            Node::User(self.user.clone()).to_string(),
            Node::Dialogs(self.user.clone()).to_string(),
            Node::SystemInfo.to_string(),
        ];
        nodes.extend(teams.iter().map(|t| Node::TeamUsers(t.clone()).to_string()));
        nodes
    }

    async fn online(
        &self,
        node: usize,
        n: &FinesseNodeAddr,
        client: &XmppClient,
        items: &mut mpsc::Receiver<ReceivedItem>,
    ) -> Result<Ended, Fatal> {
        // Resync first; notifications arriving meanwhile wait in `items`.
        let user = n
            .rest
            .user(&self.credentials, &self.user)
            .await
            .map_err(rest_fatal)?;
        if self.config.explicit_subscribe {
            let teams: Vec<String> = user.teams.iter().map(|t| t.id.clone()).collect();
            for node in self.nodes(&teams) {
                client
                    .subscribe(&n.pubsub, &node, client.bare_jid())
                    .await
                    .map_err(|e| Fatal::Retry(format!("subscribing to {node}: {e}")))?;
            }
        }
        let dialogs = n
            .rest
            .dialogs(&self.credentials, &self.user)
            .await
            .map_err(rest_fatal)?;
        let (changes, fence) = self.cache.resync(&self.user, user, dialogs);
        // What queued meanwhile is older than the REST read, or as old.
        let mut queued = items.len();
        metrics::counter!(crate::metrics::RESYNCS_TOTAL).increment(1);
        for change in changes {
            let _ = self.changes.send(change);
        }
        // The node answered: if it was last known out of service, say it is back.
        if self.cache.out_of_service(node)
            && let Ok(info) = n.rest.system_info().await
            && let Some(change) = self.cache.apply_system(node, None, info)
        {
            let _ = self.changes.send(change);
        }
        self.status.send_replace(SessionStatus::Online(node));
        tracing::info!(user = %self.user, node, "notification session online and resynced");

        let mut ping = tokio::time::interval(self.config.ping_interval);
        ping.tick().await;
        let failback = self.config.prefer_primary && node != 0;
        let mut failback_at: Option<tokio::time::Instant> = None;
        loop {
            let failback_due = async {
                match failback_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.stop.cancelled() => return Ok(Ended::Stopped),
                reason = client.closed() => return Ok(Ended::Lost(reason)),
                _ = failback_due => {
                    tracing::info!(user = %self.user, "primary Finesse node in service again: moving back");
                    return Ok(Ended::FailBack);
                }
                _ = ping.tick() => {
                    if let Err(e) = client.ping().await {
                        return Ok(Ended::Lost(format!("ping failed: {e}")));
                    }
                    // On a secondary node, go back once the primary serves
                    // again, at a spread moment; online here until then.
                    if failback && failback_at.is_none() && self.primary_serves().await {
                        let delay = self.config.failover_spread.delay();
                        tracing::debug!(user = %self.user, ?delay, "primary Finesse node serves again");
                        failback_at = Some(tokio::time::Instant::now() + delay);
                    }
                }
                item = items.recv() => {
                    let Some(item) = item else {
                        return Ok(Ended::Lost("notification stream closed".into()));
                    };
                    let fenced = queued > 0;
                    queued = queued.saturating_sub(1);
                    if let Some(ended) = self.apply(node, item, fenced.then_some(&fence)).await {
                        return Ok(ended);
                    }
                }
            }
        }
    }

    /// Parses and applies one notification received from `node`'s
    /// notification service ([`ingest`]); `Some` when it ends the period.
    /// `fence` is the last resync's, for a notification that was queued
    /// while it ran.
    ///
    /// The XMPP client has already read the message and unescaped the
    /// `<Update>`: only that document is parsed.
    async fn apply(
        &self,
        node: usize,
        item: ReceivedItem,
        fence: Option<&ResyncFence>,
    ) -> Option<Ended> {
        let n = ingest::parse(
            &self.user,
            item.notification_text.as_deref(),
            &item.node,
            item.item_id,
            item.from,
        )?;
        let mut out_of_service = false;
        let mut about = node;
        if let UpdateData::SystemInfo(info) = &n.update.data {
            about = match self.node_of(info) {
                Some(about) => about,
                None if info.status != SystemStatus::InService => {
                    self.unnamed_out_of_service(node).await
                }
                None => node,
            };
            out_of_service = about == node && info.status != SystemStatus::InService;
            if about != node {
                tracing::debug!(user = %self.user, node, about, status = ?info.status, "SystemInfo about the other Finesse node");
            }
        }
        for change in ingest::apply(&self.cache, &self.user, n, about, fence) {
            let _ = self.changes.send(change);
        }
        out_of_service.then_some(Ended::OutOfService)
    }
}

enum Fatal {
    /// Wrong credentials: do not retry.
    Auth(String),
    /// Anything else: retry, maybe on the other node.
    Retry(String),
}

fn rest_fatal(e: RestError) -> Fatal {
    if e.is_unauthorized() {
        Fatal::Auth(e.to_string())
    } else {
        Fatal::Retry(e.to_string())
    }
}

/// Exponential back-off with full jitter: a random delay in
/// `[min, min(max, min * 2^attempt)]`.
pub fn backoff(attempt: u32, min: Duration, max: Duration) -> Duration {
    let ceiling = min
        .saturating_mul(1u32 << attempt.min(16))
        .min(max)
        .max(min);
    let span = ceiling.saturating_sub(min).as_millis() as u64;
    min + Duration::from_millis(if span == 0 { 0 } else { fastrand::u64(..=span) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(5));
        for attempt in 0..40 {
            let d = backoff(attempt, min, max);
            assert!(d >= min && d <= max, "attempt {attempt}: {d:?}");
        }
        let samples: std::collections::BTreeSet<u128> =
            (0..50).map(|_| backoff(6, min, max).as_millis()).collect();
        assert!(samples.len() > 10, "jittered");
        assert_eq!(backoff(0, min, max), min);
    }
}
