//! [`FinesseEnv`]: Finesse as the integration tests see it. A private Prosody
//! stands in for Finesse's notification service, the simulator answers REST
//! over real HTTP on a free port and publishes its notifications through that
//! Prosody; from it come the REST client and the connector's
//! [`SessionConfig`] that reach both.

use std::time::Duration;

use switchboard_connector::{FinesseClient, FinesseNodeAddr, RestConfig, SessionConfig, Spread};
use switchboard_sim::{NoticeSink, RunningSim, SimConfig, SimOptions, UserConfig, XmppTarget};
use switchboard_testkit::{Prosody, ProsodyOptions, TlsMode};

/// What [`FinesseEnv::start`] starts.
#[derive(Debug, Clone)]
pub struct FinesseOptions {
    /// The simulator's users and teams (each with a Prosody account).
    pub config: SimConfig,
    /// Every user's password, in the simulator and in Prosody; `None` keeps
    /// each user's configured one.
    pub password: Option<String>,
    /// The simulator subscribes each user to its own nodes when it creates
    /// them (as Finesse does); otherwise the sessions subscribe themselves
    /// ([`SessionConfig::explicit_subscribe`]).
    pub auto_subscribe: bool,
    /// The simulator also serves a secondary node's REST, on a free port
    /// (both nodes publish through the one Prosody).
    pub secondary: bool,
    /// The simulator serves its scenario API on a free port of its own
    /// (otherwise on the primary REST port).
    pub scenario: bool,
}

impl Default for FinesseOptions {
    /// The simulator's default users with their passwords, no automatic
    /// subscriptions, no scenario API of its own.
    fn default() -> FinesseOptions {
        FinesseOptions {
            config: SimConfig::default(),
            password: None,
            auto_subscribe: false,
            secondary: false,
            scenario: false,
        }
    }
}

/// A running Finesse: the simulator and the Prosody it publishes through.
/// Dropping it stops both (the simulator first).
#[derive(Debug)]
pub struct FinesseEnv {
    /// The simulator (REST at `sim.primary`); declared first so that it
    /// stops before Prosody.
    pub sim: RunningSim,
    /// The notification service, with an account per simulator user.
    pub prosody: Prosody,
    /// Each user's id and password.
    accounts: Vec<(String, String)>,
}

impl FinesseEnv {
    /// Starts Prosody with an account per user, then the simulator on a free
    /// port publishing through it. Panics when either cannot start.
    pub async fn start(options: FinesseOptions) -> FinesseEnv {
        let mut config = options.config;
        if let Some(password) = &options.password {
            for user in &mut config.users {
                user.password.clone_from(password);
            }
        }
        let accounts = accounts(&config);
        let prosody = Prosody::start_async(ProsodyOptions::with_accounts(accounts.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let any = "127.0.0.1:0".parse().expect("address");
        let sim = switchboard_sim::start(SimOptions {
            config,
            primary: any,
            secondary: options.secondary.then_some(any),
            scenario: options.scenario.then_some(any),
            sink: NoticeSink::Xmpp(XmppTarget {
                addr: prosody.addr(),
                domain: prosody.domain().into(),
                user: "admin".into(),
                password: prosody.admin_password().into(),
                auto_subscribe: options.auto_subscribe,
            }),
        })
        .await
        .expect("the simulator starts and connects to Prosody");
        FinesseEnv {
            sim,
            prosody,
            accounts,
        }
    }

    /// The simulator's REST base URL (`http://127.0.0.1:port`).
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.sim.primary)
    }

    /// A REST client for the simulator's primary node, default settings.
    pub fn rest(&self) -> FinesseClient {
        FinesseClient::new(&self.rest_url(), RestConfig::default()).expect("REST client")
    }

    /// A REST client for the simulator's secondary node, default settings.
    /// Panics unless started with [`FinesseOptions::secondary`].
    pub fn secondary_rest(&self) -> FinesseClient {
        let addr = self.sim.secondary.expect("started with a secondary node");
        FinesseClient::new(&format!("http://{addr}"), RestConfig::default()).expect("REST client")
    }

    /// The Finesse node that `rest` reaches, with this Prosody as its
    /// notification service.
    pub fn node(&self, rest: FinesseClient) -> FinesseNodeAddr {
        node(rest, &self.prosody)
    }

    /// The connector's settings for one node (`rest` and this Prosody):
    /// plain XMPP, explicit subscriptions, a 5 s timeout, reconnects within
    /// 100-500 ms, no failover spread. Tests change fields with `..`.
    pub fn session_config(&self, rest: FinesseClient) -> SessionConfig {
        SessionConfig {
            nodes: vec![self.node(rest)],
            resource: "switchboard-test".into(),
            ping_interval: Duration::from_secs(20),
            timeout: Duration::from_secs(5),
            explicit_subscribe: true,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(500),
            prefer_primary: false,
            failover_spread: Spread::new(Duration::ZERO),
            tls: TlsMode::Plain,
        }
    }

    /// The simulator's password of `user`. Panics for an unknown user.
    pub fn password(&self, user: &str) -> String {
        self.accounts
            .iter()
            .find(|(id, _)| id == user)
            .unwrap_or_else(|| panic!("no user {user}"))
            .1
            .clone()
    }
}

/// The Finesse node that `rest` reaches with `prosody` as its notification
/// service (for tests that run more than one node).
pub fn node(rest: FinesseClient, prosody: &Prosody) -> FinesseNodeAddr {
    FinesseNodeAddr {
        rest,
        xmpp: prosody.addr(),
        domain: prosody.domain().into(),
        pubsub: prosody.pubsub_jid(),
    }
}

/// One Prosody account per simulator user: (id, password).
pub fn accounts(config: &SimConfig) -> Vec<(String, String)> {
    config
        .users
        .iter()
        .map(|u| (u.id.clone(), u.password.clone()))
        .collect()
}

/// `n` agents on team 5000: `1001001..` with extensions `5001..`, password
/// `demo`.
pub fn agents(n: usize) -> Vec<UserConfig> {
    (1..=n)
        .map(|i| UserConfig {
            id: format!("{}", 1_001_000 + i),
            password: "demo".into(),
            first_name: "Agent".into(),
            last_name: format!("{i:03}"),
            extension: format!("{}", 5000 + i),
            roles: vec!["Agent".into()],
            team_id: "5000".into(),
            supervised_teams: vec![],
        })
        .collect()
}
