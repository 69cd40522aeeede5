//! What each client subscribes to, and the JWT it signs in with.
//!
//! Tokens are HS256 with the secret the server was given (`--jwt-secret`),
//! claims as in docs/protocol.md §3: `sub`, `role`, `exp`, and `agentId` or
//! `teams` where the subscription needs them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// What the clients subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TopicKind {
    /// `all`, signed in as `admin` (NATS: subject `all`).
    All,
    /// `team/<team>`, signed in as a `supervisor` of that team (NATS: `team.<team>`).
    Team,
    /// `agent/<id>` of one of the driven agents (client i takes agent i mod the
    /// number of agents), signed in as that `agent` (NATS: `agent.<id>`).
    Agent,
}

impl TopicKind {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicKind::All => "all",
            TopicKind::Team => "team",
            TopicKind::Agent => "agent",
        }
    }
}

/// One client's subscription and identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTopic {
    /// The Switchboard topic (`all`, `team/5000`, `agent/1001001`).
    pub topic: String,
    /// The NATS subject standing for it (`all`, `team.5000`, `agent.1001001`).
    pub subject: String,
    /// The agent (index into the driven agents) of an `agent` subscription.
    pub agent: Option<usize>,
}

impl ClientTopic {
    /// The subscription of client `index` among `agents` (agent ids), team `team`.
    pub fn for_client(kind: TopicKind, index: usize, agents: &[String], team: &str) -> ClientTopic {
        match kind {
            TopicKind::All => ClientTopic {
                topic: "all".into(),
                subject: "all".into(),
                agent: None,
            },
            TopicKind::Team => ClientTopic {
                topic: format!("team/{team}"),
                subject: format!("team.{team}"),
                agent: None,
            },
            TopicKind::Agent => {
                let a = index % agents.len().max(1);
                let id = agents.get(a).map_or("", String::as_str);
                ClientTopic {
                    topic: format!("agent/{id}"),
                    subject: format!("agent.{id}"),
                    agent: Some(a),
                }
            }
        }
    }

    /// Whether the events of agent `a` reach this subscription (every driven
    /// agent is in the team).
    pub fn covers(&self, a: usize) -> bool {
        self.agent.is_none_or(|mine| mine == a)
    }
}

/// The claims of a benchmark client's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// Subject: `bench-<index>`.
    pub sub: String,
    /// `admin`, `supervisor` or `agent`.
    pub role: &'static str,
    /// The agent of an `agent` subscription.
    #[serde(rename = "agentId", skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The supervised team of a `team` subscription.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

impl Claims {
    /// The claims of client `index` subscribing as `kind`, valid for `ttl`.
    pub fn for_client(
        kind: TopicKind,
        index: usize,
        agents: &[String],
        team: &str,
        ttl: Duration,
    ) -> Claims {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(ttl)
            .as_secs();
        let sub = format!("bench-{index}");
        match kind {
            TopicKind::All => Claims {
                sub,
                role: "admin",
                agent_id: None,
                teams: Vec::new(),
                exp,
            },
            TopicKind::Team => Claims {
                sub,
                role: "supervisor",
                agent_id: None,
                teams: vec![team.to_owned()],
                exp,
            },
            TopicKind::Agent => Claims {
                sub,
                role: "agent",
                agent_id: agents.get(index % agents.len().max(1)).cloned(),
                teams: Vec::new(),
                exp,
            },
        }
    }
}

/// Signs tokens with one HS256 secret.
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    header: Header,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(HS256, ***)")
    }
}

impl TokenSigner {
    /// A signer for `secret`.
    pub fn hs256(secret: &str) -> TokenSigner {
        TokenSigner {
            key: EncodingKey::from_secret(secret.as_bytes()),
            header: Header::new(Algorithm::HS256),
        }
    }

    /// The signed token (`header.claims.signature`).
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&self.header, claims, &self.key)
    }
}
