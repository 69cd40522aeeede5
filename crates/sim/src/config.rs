//! The simulator's users and teams: built-in defaults or a small TOML file.
//!
//! Defaults (docs/simulator.md): agents 1001001-1001010 on extensions
//! 5001-5010 in team 5000, supervisor 2001001 on extension 5999 supervising
//! team 5000, every password `demo`.

use std::time::Duration;

use serde::Deserialize;

/// Everything the simulated Finesse needs to know about its deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// The XMPP domain (`SystemInfo/xmppDomain`); the pubsub service is `pubsub.<domain>`.
    pub domain: String,
    /// `UCCE` or `UCCX` (`SystemInfo/deploymentType`).
    pub deployment_type: String,
    /// How long an agent stays in WORK_READY after a call before becoming READY
    /// again on its own (0: straight back to READY).
    #[serde(with = "seconds")]
    pub wrap_up: Duration,
    /// The users.
    pub users: Vec<UserConfig>,
    /// The teams.
    pub teams: Vec<TeamConfig>,
}

/// One simulated Finesse user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The user id (`loginId`, also the XMPP user name).
    pub id: String,
    /// The password for REST Basic auth (and XMPP).
    pub password: String,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: String,
    /// The extension the user normally signs in on.
    pub extension: String,
    /// `Agent`, `Supervisor`.
    #[serde(default = "agent_role")]
    pub roles: Vec<String>,
    /// The team the user belongs to.
    pub team_id: String,
    /// Teams a supervisor supervises.
    #[serde(default)]
    pub supervised_teams: Vec<String>,
}

/// One team.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    /// Team id.
    pub id: String,
    /// Team name.
    pub name: String,
}

fn agent_role() -> Vec<String> {
    vec!["Agent".into()]
}

/// The password of every default user.
pub const DEFAULT_PASSWORD: &str = "demo";

impl Default for SimConfig {
    fn default() -> Self {
        let mut users: Vec<UserConfig> = (1..=10)
            .map(|i| UserConfig {
                id: format!("{}", 1_001_000 + i),
                password: DEFAULT_PASSWORD.into(),
                first_name: "Agent".into(),
                last_name: format!("{i:02}"),
                extension: format!("{}", 5000 + i),
                roles: agent_role(),
                team_id: "5000".into(),
                supervised_teams: Vec::new(),
            })
            .collect();
        users.push(UserConfig {
            id: "2001001".into(),
            password: DEFAULT_PASSWORD.into(),
            first_name: "Supervisor".into(),
            last_name: "01".into(),
            extension: "5999".into(),
            roles: vec!["Agent".into(), "Supervisor".into()],
            team_id: "5000".into(),
            supervised_teams: vec!["5000".into()],
        });
        SimConfig {
            domain: "finesse.local".into(),
            deployment_type: "UCCE".into(),
            wrap_up: Duration::ZERO,
            users,
            teams: vec![TeamConfig {
                id: "5000".into(),
                name: "Team 5000".into(),
            }],
        }
    }
}

impl SimConfig {
    /// Reads a TOML configuration; absent keys take the defaults above.
    pub fn from_toml(text: &str) -> Result<SimConfig, toml::de::Error> {
        toml::from_str(text)
    }
}

mod seconds {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        if !(0.0..=86_400.0).contains(&secs) {
            return Err(serde::de::Error::custom(
                "seconds must be between 0 and 86400",
            ));
        }
        Ok(Duration::from_secs_f64(secs))
    }
}
