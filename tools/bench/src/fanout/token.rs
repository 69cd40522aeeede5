//! What each client subscribes to, and the JWT it signs in with.
//!
//! Tokens are HS256 with the secret the server was given (`--jwt-secret`),
//! claims as in docs/protocol.md §3: `sub`, `role`, `exp`, and `agentId` or
//! `teams` where the subscription needs them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// What the clients subscribe to (`--topic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TopicKind {
    /// `all`, signed in as `admin` (NATS: subject `all`).
    All,
    /// `team/<team>`, signed in as a `supervisor` of that team (NATS: `team.<team>`).
    Team,
    /// `agent/<id>` of one of the driven agents (client i takes agent i mod the
    /// number of agents), signed in as that `agent` (NATS: `agent.<id>`).
    Agent,
    /// A contact center's population (Switchboard only): agents on their own
    /// topic, supervisors on the team, wallboards on `all`, in the proportions
    /// of `--mix`.
    Mixed,
}

impl TopicKind {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicKind::All => "all",
            TopicKind::Team => "team",
            TopicKind::Agent => "agent",
            TopicKind::Mixed => "mixed",
        }
    }
}

/// One client's kind of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// `all`, as `admin`.
    All,
    /// The team, as its `supervisor`.
    Team,
    /// One driven agent's own topic, as that `agent`.
    Agent,
}

impl ClientKind {
    /// The name used in token subjects.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::All => "all",
            ClientKind::Team => "team",
            ClientKind::Agent => "agent",
        }
    }
}

/// Who the clients of a run are: everyone of one kind, or a mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Population {
    kind: TopicKind,
    /// Weights of agents, supervisors and wallboards (`Mixed` only).
    mix: [u32; 3],
}

impl Population {
    /// Every client subscribes as `kind`; with [`TopicKind::Mixed`], in the
    /// proportions `mix` (agents, supervisors, wallboards; not all zero).
    pub fn new(kind: TopicKind, mix: [u32; 3]) -> Population {
        Population { kind, mix }
    }

    /// The kind of client `index`.
    pub fn kind_of(&self, index: usize) -> ClientKind {
        self.place(index).0
    }

    /// The kind of client `index`, and its place among the clients of that
    /// kind (which picks the agent of an agent client). In a mix, of every
    /// `sum(mix)` consecutive clients the first `mix[2]` are wallboards, the
    /// next `mix[1]` supervisors and the rest agents.
    pub fn place(&self, index: usize) -> (ClientKind, usize) {
        match self.kind {
            TopicKind::All => (ClientKind::All, index),
            TopicKind::Team => (ClientKind::Team, index),
            TopicKind::Agent => (ClientKind::Agent, index),
            TopicKind::Mixed => {
                let [agents, teams, all] = self.mix.map(|w| w as usize);
                let total = (agents + teams + all).max(1);
                let (block, r) = (index / total, index % total);
                if r < all {
                    (ClientKind::All, block * all + r)
                } else if r < all + teams {
                    (ClientKind::Team, block * teams + r - all)
                } else {
                    (ClientKind::Agent, block * agents + r - all - teams)
                }
            }
        }
    }

    /// How many of `clients` clients are agents, supervisors and wallboards.
    pub fn counts(&self, clients: usize) -> [usize; 3] {
        let mut counts = [0; 3];
        for i in 0..clients {
            counts[match self.kind_of(i) {
                ClientKind::Agent => 0,
                ClientKind::Team => 1,
                ClientKind::All => 2,
            }] += 1;
        }
        counts
    }

    /// The name used in reports: the topic, and for a mix its counts.
    pub fn describe(&self, clients: usize) -> String {
        match self.kind {
            TopicKind::Mixed => {
                let [agents, teams, all] = self.counts(clients);
                format!("mixed: {agents} agent, {teams} team, {all} all")
            }
            kind => kind.as_str().to_owned(),
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
    /// The subscription of the client at place `place` among the clients of
    /// its kind ([`Population::place`]), `agents` the agent ids, team `team`.
    pub fn for_client(
        kind: ClientKind,
        place: usize,
        agents: &[String],
        team: &str,
    ) -> ClientTopic {
        match kind {
            ClientKind::All => ClientTopic {
                topic: "all".into(),
                subject: "all".into(),
                agent: None,
            },
            ClientKind::Team => ClientTopic {
                topic: format!("team/{team}"),
                subject: format!("team.{team}"),
                agent: None,
            },
            ClientKind::Agent => {
                let a = place % agents.len().max(1);
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
    /// The claims of the client at place `place` among the clients of its
    /// kind ([`Population::place`]), valid for `ttl`; `sub` names both.
    pub fn for_client(
        kind: ClientKind,
        place: usize,
        agents: &[String],
        team: &str,
        ttl: Duration,
    ) -> Claims {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(ttl)
            .as_secs();
        let sub = format!("bench-{}-{place}", kind.as_str());
        match kind {
            ClientKind::All => Claims {
                sub,
                role: "admin",
                agent_id: None,
                teams: Vec::new(),
                exp,
            },
            ClientKind::Team => Claims {
                sub,
                role: "supervisor",
                agent_id: None,
                teams: vec![team.to_owned()],
                exp,
            },
            ClientKind::Agent => Claims {
                sub,
                role: "agent",
                agent_id: agents.get(place % agents.len().max(1)).cloned(),
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
