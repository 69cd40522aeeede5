//! Who a connection is and what it may do: identities and roles, topic
//! authorization (docs/protocol.md §4), JWT verification, resume tokens, and the
//! throttle on failed sign-ins per address.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use switchboard_connector::Credentials;
use switchboard_core::StateCache;
use switchboard_finesse::User;
use switchboard_protocol::Topic;

use crate::config::{AuthConfig, JwtKey, Limits};
use crate::finesse::Lease;

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

/// Why a token was refused (the message never repeats the token).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Token sign-in is not configured.
    #[error("token sign-in is not enabled on this server")]
    Disabled,
    /// The signature, expiry or format is wrong.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The role claim is not one of agent, supervisor, admin.
    #[error("invalid token: role must be agent, supervisor or admin")]
    Role,
}

/// A resume token's grant: the identity to restore without a password.
#[derive(Debug, Clone)]
pub struct ResumeGrant {
    /// The identity's profile (the same allocation while it is connected).
    pub profile: Arc<Profile>,
    expires: Option<Instant>,
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    last: Option<Instant>,
    locked_until: Option<Instant>,
}

/// What the throttle says about a sign-in attempt from an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// Go ahead (after waiting this long, which is zero without recent failures).
    Allow(Duration),
    /// Refused until the lockout ends.
    Locked(Duration),
}

/// Token verification, resume tokens and the sign-in throttle.
pub struct Auth {
    jwt: Option<(DecodingKey, Validation)>,
    limits: Limits,
    resume_ttl: Duration,
    resume: DashMap<String, ResumeGrant>,
    failures: DashMap<IpAddr, Mutex<Failures>>,
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
    /// From the configuration; fails if a configured key does not parse.
    pub fn new(config: &AuthConfig, limits: Limits) -> Result<Auth, TokenError> {
        let jwt = match &config.jwt {
            None => None,
            Some(key) => {
                let (key, alg) = match key {
                    JwtKey::Hs256 { secret } => (
                        DecodingKey::from_secret(secret.as_bytes()),
                        Algorithm::HS256,
                    ),
                    JwtKey::Rs256 { public_key_pem } => (
                        DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
                            .map_err(|e| TokenError::Invalid(format!("RS256 public key: {e}")))?,
                        Algorithm::RS256,
                    ),
                    JwtKey::Es256 { public_key_pem } => (
                        DecodingKey::from_ec_pem(public_key_pem.as_bytes())
                            .map_err(|e| TokenError::Invalid(format!("ES256 public key: {e}")))?,
                        Algorithm::ES256,
                    ),
                };
                let mut validation = Validation::new(alg);
                validation.leeway = config.jwt_leeway.as_secs();
                validation.set_required_spec_claims(&["exp", "sub"]);
                Some((key, validation))
            }
        };
        Ok(Auth {
            jwt,
            limits,
            resume_ttl: config.resume_token_ttl,
            resume: DashMap::new(),
            failures: DashMap::new(),
        })
    }

    /// Verifies a token and returns its claims and role.
    pub fn verify(&self, token: &str) -> Result<(Claims, Role), TokenError> {
        let Some((key, validation)) = &self.jwt else {
            return Err(TokenError::Disabled);
        };
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
    /// every 10 s; [`Auth::take_resume`] refuses an expired one meanwhile).
    pub fn sweep(&self, now: Instant) {
        self.resume
            .retain(|_, g| g.expires.is_none_or(|at| at > now));
    }

    /// Resume grants held (connected clients' and those counting down).
    pub fn resume_grants(&self) -> usize {
        self.resume.len()
    }

    /// Takes a resume token (single use).
    pub fn take_resume(&self, token: &str) -> Option<ResumeGrant> {
        let (_, grant) = self.resume.remove(token)?;
        grant
            .expires
            .is_none_or(|at| at > Instant::now())
            .then_some(grant)
    }

    /// Checks an address before a sign-in attempt.
    pub fn throttle(&self, addr: IpAddr) -> Throttle {
        let Some(entry) = self.failures.get(&addr) else {
            return Throttle::Allow(Duration::ZERO);
        };
        let mut f = entry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if let Some(until) = f.locked_until {
            if until > now {
                return Throttle::Locked(until - now);
            }
            *f = Failures::default();
        }
        // Failures older than the lockout period are forgotten.
        if f.last
            .is_some_and(|l| now - l > self.limits.sign_in_lockout)
        {
            *f = Failures::default();
        }
        Throttle::Allow(self.limits.sign_in_failure_delay * f.count)
    }

    /// Records a failed sign-in; returns true if the address is now locked out.
    pub fn record_failure(&self, addr: IpAddr) -> bool {
        let entry = self.failures.entry(addr).or_default();
        let mut f = entry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        f.count += 1;
        f.last = Some(now);
        if f.count >= self.limits.sign_in_failures_before_lockout {
            f.locked_until = Some(now + self.limits.sign_in_lockout);
            return true;
        }
        false
    }

    /// Forgets an address's failures after a successful sign-in.
    pub fn record_success(&self, addr: IpAddr) {
        self.failures.remove(&addr);
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
        let config = AuthConfig {
            resume_token_ttl: ttl,
            ..AuthConfig::default()
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
