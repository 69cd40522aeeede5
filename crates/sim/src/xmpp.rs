//! Publishing notifications through a real XMPP server (Prosody in tests,
//! standing in for Finesse's Openfire): one admin session that owns every
//! Finesse node, creates them, subscribes each user's bare JID to its own
//! nodes (Finesse's automatic subscriptions, Finesse Developer Guide: subscription management) and
//! publishes
//! each `<Update>` as escaped text inside `<notification>` (§1.4).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use switchboard_finesse::Node;
use switchboard_xmpp::{TlsMode, XmppClient, XmppConfig, XmppError};

use crate::config::SimConfig;
use crate::server::Notice;

/// Where and how to publish.
#[derive(Debug, Clone)]
pub struct XmppTarget {
    /// The XMPP server (c2s port).
    pub addr: SocketAddr,
    /// The XMPP domain; nodes live on `pubsub.<domain>`.
    pub domain: String,
    /// The publishing account (must be a server admin to own the nodes).
    pub user: String,
    /// Its password.
    pub password: String,
    /// Subscribe each user's bare JID to its User and Dialogs nodes, and
    /// supervisors to their teams' nodes, as Finesse does by itself.
    pub auto_subscribe: bool,
}

/// The publishing session.
#[derive(Debug)]
pub struct XmppPublisher {
    target: XmppTarget,
    client: XmppClient,
    created: BTreeSet<String>,
    next_item: u64,
}

impl XmppPublisher {
    /// Signs in as the publisher and prepares every node of `config`'s users.
    pub async fn connect(
        target: XmppTarget,
        config: &SimConfig,
    ) -> Result<XmppPublisher, XmppError> {
        let client = Self::sign_in(&target).await?;
        let mut p = XmppPublisher {
            target,
            client,
            created: BTreeSet::new(),
            next_item: 0,
        };
        p.prepare(config).await?;
        Ok(p)
    }

    async fn sign_in(target: &XmppTarget) -> Result<XmppClient, XmppError> {
        let jid = format!("{}@{}", target.user, target.domain);
        let (client, _items) = XmppClient::connect(
            XmppConfig::new(target.addr, jid, target.password.clone())
                .resource("finesse-sim")
                .tls(TlsMode::Plain),
        )
        .await?;
        Ok(client)
    }

    fn pubsub(&self) -> String {
        format!("pubsub.{}", self.target.domain)
    }

    /// Creates the nodes and the automatic subscriptions.
    async fn prepare(&mut self, config: &SimConfig) -> Result<(), XmppError> {
        self.ensure(&Node::SystemInfo.to_string()).await?;
        for team in &config.teams {
            self.ensure(&Node::TeamUsers(team.id.clone()).to_string())
                .await?;
        }
        for user in &config.users {
            let jid = format!("{}@{}", user.id, self.target.domain);
            let mut nodes = vec![
                Node::User(user.id.clone()).to_string(),
                Node::Dialogs(user.id.clone()).to_string(),
                Node::SystemInfo.to_string(),
            ];
            nodes.extend(
                user.supervised_teams
                    .iter()
                    .map(|t| Node::TeamUsers(t.clone()).to_string()),
            );
            for node in nodes {
                self.ensure(&node).await?;
                if self.target.auto_subscribe {
                    let pubsub = self.pubsub();
                    self.client.subscribe(&pubsub, &node, &jid).await?;
                }
            }
        }
        Ok(())
    }

    async fn ensure(&mut self, node: &str) -> Result<(), XmppError> {
        if !self.created.contains(node) {
            let pubsub = self.pubsub();
            self.client.create_node(&pubsub, node).await?;
            self.created.insert(node.to_owned());
        }
        Ok(())
    }

    /// Publishes one notice; after a lost connection, signs in again (with
    /// back-off, until `give_up` passes) and retries it once.
    pub async fn publish(&mut self, notice: &Notice, give_up: Duration) -> Result<(), XmppError> {
        let node = notice.node.to_string();
        match self.try_publish(&node, &notice.update_xml).await {
            Err(XmppError::Disconnected { .. }) | Err(XmppError::Timeout { .. })
                if !self.client.is_connected() =>
            {
                self.reconnect(give_up).await?;
                self.try_publish(&node, &notice.update_xml).await
            }
            other => other,
        }
    }

    async fn try_publish(&mut self, node: &str, xml: &str) -> Result<(), XmppError> {
        self.ensure(node).await?;
        self.next_item += 1;
        let item = format!("sim-{}", self.next_item);
        let pubsub = self.pubsub();
        self.client.publish(&pubsub, node, &item, xml).await
    }

    async fn reconnect(&mut self, give_up: Duration) -> Result<(), XmppError> {
        let deadline = tokio::time::Instant::now() + give_up;
        let mut wait = Duration::from_millis(100);
        loop {
            match Self::sign_in(&self.target).await {
                Ok(client) => {
                    tracing::info!("simulator publisher signed in again");
                    self.client = client;
                    // Nodes and subscriptions are stored by the server and survive.
                    return Ok(());
                }
                Err(e) if tokio::time::Instant::now() + wait > deadline => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "publisher reconnect failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}
