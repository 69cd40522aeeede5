//! The `[finesse]` section of the configuration file as it is written
//! ([`FinesseSettings`], deserialized directly by the binary), its defaults
//! (those of `deploy/switchboard.example.toml`), the `validate` that names its
//! keys, and what it becomes: the REST client's [`RestConfig`] and the
//! sessions' [`SessionConfig`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_xmpp::TlsMode;

use crate::rest::{FinesseEndpoint, RestConfig};
use crate::session::{FinesseNodeAddr, SessionConfig};
use crate::spread::Spread;

/// `[finesse]`: the Finesse pair `switchboard run` connects to, and how its
/// notification sessions behave.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinesseSettings {
    /// The primary node's base URL (`https://finesse1.example.com:8445`).
    pub primary: String,
    /// The secondary node's base URL; empty: none.
    pub secondary: String,
    /// The notification service's port on each node (default 5222).
    pub xmpp_port: u16,
    /// `starttls` (the default; Finesse requires it) or `plain` (loopback
    /// tests only).
    pub xmpp_tls: String,
    /// The XMPP domain of both nodes; empty (the default): read from each
    /// node's SystemInfo.
    pub xmpp_domain: String,
    /// The pubsub service; empty: `pubsub.<xmpp_domain>`.
    pub pubsub: String,
    /// Subscribe to each user's nodes explicitly (Prosody needs it; Finesse
    /// subscribes users itself).
    pub explicit_subscribe: bool,
    /// The whole REST request ([`RestConfig::request_timeout`]).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Connecting to a node ([`RestConfig::connect_timeout`]).
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// The XMPP keepalive ping (default 30 s).
    #[serde(with = "humantime_serde")]
    pub xmpp_ping_interval: Duration,
    /// The timeout of the XMPP sign-in and of each request (default 10 s).
    #[serde(with = "humantime_serde")]
    pub xmpp_timeout: Duration,
    /// The first reconnect delay (default 1 s).
    #[serde(with = "humantime_serde")]
    pub reconnect_min: Duration,
    /// The longest reconnect delay (default 1 min).
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
    /// After failing over, go back to the primary once it is in service
    /// again (default true).
    pub prefer_primary: bool,
    /// First connects, failovers and failbacks of the notification sessions
    /// are spread over this window (default 5 s; 0 = all at once).
    #[serde(with = "humantime_serde")]
    pub failover_spread: Duration,
    /// A user's session stays this long after its last client left
    /// (default 5 s).
    #[serde(with = "humantime_serde")]
    pub session_grace: Duration,
    /// An ended dialog whose DELETE never came leaves the state cache after
    /// this long (default 5 min).
    #[serde(with = "humantime_serde")]
    pub ended_dialog_retention: Duration,
}

impl Default for FinesseSettings {
    fn default() -> Self {
        let rest = RestConfig::default();
        FinesseSettings {
            primary: String::new(),
            secondary: String::new(),
            xmpp_port: 5222,
            xmpp_tls: "starttls".into(),
            xmpp_domain: String::new(),
            pubsub: String::new(),
            explicit_subscribe: false,
            request_timeout: rest.request_timeout,
            connect_timeout: rest.connect_timeout,
            xmpp_ping_interval: Duration::from_secs(30),
            xmpp_timeout: Duration::from_secs(10),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            prefer_primary: true,
            failover_spread: Duration::from_secs(5),
            session_grace: Duration::from_secs(5),
            ended_dialog_retention: Duration::from_secs(300),
        }
    }
}

impl FinesseSettings {
    /// Problems with values that parse but cannot work, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !matches!(self.xmpp_tls.as_str(), "starttls" | "plain") {
            problems.push(format!(
                "finesse.xmpp_tls must be \"starttls\" or \"plain\", not {:?}",
                self.xmpp_tls
            ));
        }
        for (key, url) in [
            ("finesse.primary", &self.primary),
            ("finesse.secondary", &self.secondary),
        ] {
            if !url.is_empty() && FinesseEndpoint::parse(url).is_err() {
                problems.push(format!(
                    "{key}: {url:?} is not a Finesse base URL like https://finesse1.example.com:8445"
                ));
            }
        }
        problems
    }

    /// The REST client's settings.
    pub fn rest_config(&self) -> RestConfig {
        RestConfig {
            request_timeout: self.request_timeout,
            connect_timeout: self.connect_timeout,
            ..RestConfig::default()
        }
    }

    /// The sessions' settings, reaching Finesse at `nodes` (primary first) as
    /// the XMPP `resource`.
    pub fn session_config(&self, nodes: Vec<FinesseNodeAddr>, resource: &str) -> SessionConfig {
        SessionConfig {
            nodes,
            resource: resource.to_owned(),
            ping_interval: self.xmpp_ping_interval,
            timeout: self.xmpp_timeout,
            explicit_subscribe: self.explicit_subscribe,
            backoff_min: self.reconnect_min,
            backoff_max: self.reconnect_max,
            prefer_primary: self.prefer_primary,
            failover_spread: Spread::new(self.failover_spread),
            tls: if self.xmpp_tls == "plain" {
                TlsMode::Plain
            } else {
                TlsMode::StartTls
            },
        }
    }
}
