//! Who a connection is and what it may do: identities and roles, topic
//! authorization (docs/protocol.md §4), JWT verification and resume tokens.
//! The sign-in throttle is [`crate::throttle`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use switchboard_connector::Credentials;
use switchboard_core::StateCache;
use switchboard_finesse::User;
use switchboard_protocol::Topic;

use crate::config::{AuthSettings, JwtKey, Limits};
use crate::finesse::Lease;
use crate::throttle::Throttle;

/// What a signed-in connection may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Its own agent topic and the dialogs it takes part in.
    Agent,
    /// Also its teams' topics, their agents and dialogs, and queues.
    Supervisor,
    /// Everything, `all` included.
    Admin,
}

impl Role {
    /// The role's name in `Ready.roles` and tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// From a Finesse user's roles (`Agent`, `Supervisor`, `Admin`).
    pub fn of_user(user: &User) -> Role {
        let has = |r: &str| user.roles.iter().any(|x| x.eq_ignore_ascii_case(r));
        if has("Admin") || has("Administrator") {
            Role::Admin
        } else if has("Supervisor") {
            Role::Supervisor
        } else {
            Role::Agent
        }
    }
}

/// A signed-in connection's identity. Holds the Finesse credentials (never
/// printed: [`Credentials`] hides the password) for the calls it authorizes.
#[derive(Debug)]
pub struct Identity {
    /// Who it is: shared with the connection's resume grant, so the
    /// strings and credentials are held once.
    pub profile: Arc<Profile>,
    /// The user's notification session, held while connected.
    pub lease: Option<Box<dyn Lease>>,
}

/// Who signed in, as a resume token restores it.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The Finesse user id, or the token's `sub`.
    pub user_id: String,
    /// The agent whose topic is subscribed automatically, if any.
    pub agent_id: Option<String>,
    /// The extension signed in on (call commands default `MediaAddress` to it).
    pub extension: Option<String>,
    /// The role.
    pub role: Role,
    /// Teams a supervisor supervises (or the token's `teams`).
    pub teams: Vec<String>,
    /// Finesse credentials, for commands; `None` after a token sign-in.
    pub credentials: Option<Credentials>,
}

impl std::ops::Deref for Identity {
    type Target = Profile;

    fn deref(&self) -> &Profile {
        &self.profile
    }
}

impl Identity {
    /// Whether this identity may subscribe to `topic` (docs/protocol.md §4).
    pub fn may_subscribe(&self, topic: &Topic, cache: &StateCache) -> bool {
        if self.role == Role::Admin {
            return true;
        }
        let own = |id: &str| self.agent_id.as_deref() == Some(id);
        let supervises_agent = |id: &str| {
            self.role == Role::Supervisor
                && cache
                    .user(id)
                    .and_then(|u| u.team_id.clone())
                    .is_some_and(|t| self.teams.contains(&t))
        };
        match topic {
            Topic::Agent(id) => own(id) || supervises_agent(id),
            Topic::Team(id) => self.role == Role::Supervisor && self.teams.contains(id),
            Topic::Dialog(id) => {
                let in_list = |agent: &str| {
                    cache
                        .snapshot_agent(agent)
                        .dialogs
                        .iter()
                        .any(|d| &d.id == id)
                };
                self.agent_id.as_deref().is_some_and(in_list)
                    || (self.role == Role::Supervisor
                        && self
                            .teams
                            .iter()
                            .flat_map(|t| cache.snapshot_team(t))
                            .any(|s| s.dialogs.iter().any(|d| &d.id == id)))
            }
            Topic::Queue(_) => self.role == Role::Supervisor,
            Topic::All => false,
        }
    }

    /// Whether this identity may act on agent `agent` as its supervisor.
    pub fn supervises(&self, agent: &str, cache: &StateCache) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Supervisor => cache
                .user(agent)
                .and_then(|u| u.team_id.clone())
                .is_some_and(|t| self.teams.contains(&t)),
            Role::Agent => false,
        }
    }
}

/// The claims of a sign-in token (docs/protocol.md §3).
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// Subject.
    pub sub: String,
    /// `agent`, `supervisor` or `admin`.
    pub role: String,
    /// The agent whose topic to subscribe automatically.
    #[serde(default, rename = "agentId")]
    pub agent_id: Option<String>,
    /// Teams (for a supervisor).
    #[serde(default)]
    pub teams: Vec<String>,
}

/// Why a token was refused. The text a client sees never repeats the token
/// or the verifier's own message (that is logged, [`TokenError::detail`]).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Token sign-in is not configured.
    #[error("token sign-in is not enabled on this server")]
    Disabled,
    /// The signature, a time (`exp`, `nbf`), the issuer, the audience, a
    /// `crit` header or the format is wrong.
    #[error("invalid token")]
    Invalid(String),
    /// The role claim is not one of agent, supervisor, admin.
    #[error("invalid token: role must be agent, supervisor or admin")]
    Role,
    /// The configured key does not parse (at start-up).
    #[error("{0}")]
    Key(String),
}

impl TokenError {
    /// What exactly was wrong, for the log.
    pub fn detail(&self) -> String {
        match self {
            TokenError::Invalid(why) => why.clone(),
            other => other.to_string(),
        }
    }
}

/// Whether a token is one of this server's resume tokens rather than a JWT
/// (a JWT always has three dot-separated parts; a resume token has no dot).
pub fn is_resume_token(token: &str) -> bool {
    !token.contains('.')
}

/// A resume token's grant: the identity to restore without a password.
#[derive(Debug, Clone)]
pub struct ResumeGrant {
    /// The identity's profile (the same allocation while it is connected).
    pub profile: Arc<Profile>,
    expires: Option<Instant>,
}

/// Token verification, resume tokens and the sign-in throttle.
pub struct Auth {
    jwt: Option<(DecodingKey, Validation)>,
    resume_ttl: Duration,
    resume: DashMap<String, ResumeGrant>,
    /// The sign-in throttle.
    pub throttle: Throttle,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("jwt", &self.jwt.is_some())
            .field("resume_tokens", &self.resume.len())
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// From the configuration; fails if a configured key cannot be read or
    /// does not parse.
    pub fn new(config: &AuthSettings, limits: Limits) -> Result<Auth, TokenError> {
        let jwt = match config.jwt_key().map_err(TokenError::Key)? {
            None => None,
            Some(key) => {
                let (key, alg) = match key {
                    JwtKey::Hs256 { secret } => (
                        DecodingKey::from_secret(secret.as_bytes()),
                        Algorithm::HS256,
                    ),
                    JwtKey::Rs256 { public_key_pem } => (
                        DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
                            .map_err(|e| TokenError::Key(format!("RS256 public key: {e}")))?,
                        Algorithm::RS256,
                    ),
                    JwtKey::Es256 { public_key_pem } => (
                        DecodingKey::from_ec_pem(public_key_pem.as_bytes())
                            .map_err(|e| TokenError::Key(format!("ES256 public key: {e}")))?,
                        Algorithm::ES256,
                    ),
                };
                let mut validation = Validation::new(alg);
                validation.leeway = config.jwt_leeway.as_secs();
                validation.validate_nbf = true;
                let mut required = vec!["exp", "sub"];
                let iss = &config.jwt_issuer;
                if !iss.is_empty() {
                    validation.set_issuer(&[iss]);
                    required.push("iss");
                }
                let aud = &config.jwt_audience;
                if !aud.is_empty() {
                    validation.set_audience(&[aud]);
                    required.push("aud");
                }
                validation.set_required_spec_claims(&required);
                Some((key, validation))
            }
        };
        Ok(Auth {
            jwt,
            resume_ttl: config.resume_token_ttl,
            resume: DashMap::new(),
            throttle: Throttle::new(limits),
        })
    }

    /// Whether token (JWT) sign-in is configured.
    pub fn tokens_enabled(&self) -> bool {
        self.jwt.is_some()
    }

    /// Verifies a token and returns its claims and role.
    pub fn verify(&self, token: &str) -> Result<(Claims, Role), TokenError> {
        let Some((key, validation)) = &self.jwt else {
            return Err(TokenError::Disabled);
        };
        // jsonwebtoken does not look at `crit`; this server understands no
        // extension, so a token that marks any as critical is refused (RFC 7515 §4.1.11).
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        if let Some(crit) = header.crit {
            return Err(TokenError::Invalid(format!(
                "unsupported critical header parameters {crit:?}"
            )));
        }
        let data = jsonwebtoken::decode::<Claims>(token, key, validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let role = match data.claims.role.to_ascii_lowercase().as_str() {
            "agent" => Role::Agent,
            "supervisor" => Role::Supervisor,
            "admin" => Role::Admin,
            _ => return Err(TokenError::Role),
        };
        Ok((data.claims, role))
    }

    /// Issues a resume token for an identity; it stays valid while the
    /// connection is open and for the configured time after it closes.
    pub fn issue_resume(&self, identity: &Identity) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.resume.insert(
            token.clone(),
            ResumeGrant {
                profile: identity.profile.clone(),
                expires: None,
            },
        );
        token
    }

    /// Starts a resume token's countdown (its connection closed). Expired
    /// grants are dropped by [`Auth::sweep`]: scanning every grant here, once
    /// per closed connection, made a mass disconnect (a network blip, a
    /// restart of the clients) quadratic in the number of connections.
    pub fn release_resume(&self, token: &str) {
        if let Some(mut g) = self.resume.get_mut(token) {
            g.expires = Some(Instant::now() + self.resume_ttl);
        }
    }

    /// Drops the resume grants expired by `now` (the gateway's maintenance,
    /// every 10 s; [`Auth::take_resume`] refuses an expired one meanwhile),
    /// and the throttle's forgotten failures.
    pub fn sweep(&self, now: Instant) {
        self.resume
            .retain(|_, g| g.expires.is_none_or(|at| at > now));
        self.throttle.sweep(now);
    }

    /// Resume grants held (connected clients' and those counting down).
    pub fn resume_grants(&self) -> usize {
        self.resume.len()
    }

    /// Gives back a resume token taken by [`Auth::take_resume`] and not used
    /// (its sign-in was refused): it stays valid as it was.
    pub fn return_resume(&self, token: &str, grant: ResumeGrant) {
        self.resume.insert(token.to_owned(), grant);
    }

    /// Takes a resume token (single use).
    pub fn take_resume(&self, token: &str) -> Option<ResumeGrant> {
        let (_, grant) = self.resume.remove(token)?;
        grant
            .expires
            .is_none_or(|at| at > Instant::now())
            .then_some(grant)
    }
}

/// The set of teams in a Finesse user: those it supervises.
pub fn supervised_teams(user: &User) -> Vec<String> {
    let set: BTreeSet<String> = user
        .teams
        .iter()
        .filter(|t| !t.id.is_empty())
        .map(|t| t.id.clone())
        .collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> Identity {
        Identity {
            profile: Arc::new(Profile {
                user_id: "1001001".into(),
                agent_id: Some("1001001".into()),
                extension: Some("5001".into()),
                role: Role::Agent,
                teams: Vec::new(),
                credentials: None,
            }),
            lease: None,
        }
    }

    fn auth(ttl: Duration) -> Auth {
        let config = AuthSettings {
            resume_token_ttl: ttl,
            ..AuthSettings::default()
        };
        Auth::new(&config, Limits::default()).expect("no key to parse")
    }

    #[test]
    fn a_released_resume_grant_counts_down_and_the_sweep_drops_it_once_expired() {
        let auth = auth(Duration::from_secs(60));
        let open = auth.issue_resume(&agent());
        let closed = auth.issue_resume(&agent());
        auth.release_resume(&closed);
        // Within its time, a released grant restores the sign-in; the sweep keeps it.
        auth.sweep(Instant::now());
        assert_eq!(auth.resume_grants(), 2);
        let grant = auth.take_resume(&closed).expect("released, not expired");
        assert_eq!(grant.profile.user_id, "1001001");
        assert!(auth.take_resume(&closed).is_none(), "single use");
        // Once its time is over the sweep drops it; a grant whose connection
        // is still open never expires.
        let late = auth.issue_resume(&agent());
        auth.release_resume(&late);
        auth.sweep(Instant::now() + Duration::from_secs(61));
        assert_eq!(auth.resume_grants(), 1);
        assert!(auth.take_resume(&late).is_none());
        assert!(auth.take_resume(&open).is_some());
    }

    #[test]
    fn an_expired_grant_is_refused_before_any_sweep() {
        let auth = auth(Duration::ZERO);
        let token = auth.issue_resume(&agent());
        auth.release_resume(&token);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(auth.resume_grants(), 1, "no sweep yet");
        assert!(auth.take_resume(&token).is_none());
    }
}
