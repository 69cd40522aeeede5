//! The configuration: a TOML file, then `SWITCHBOARD_<SECTION>_<KEY>`
//! environment variables, then command-line flags, each overriding the one
//! before (figment). Every key, with its default, is documented in
//! `deploy/switchboard.example.toml`. A load reports every problem at once,
//! each under the name the user wrote it by (the environment variable, the
//! file's `[section] key` or the command line: `sources.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_connector::FinesseSettings;
use switchboard_gateway::forwarded::AddrRange;
use switchboard_gateway::{AuthSettings, GatewayConfig, HubSettings, Limits, TlsFiles};

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    pub(crate) server: Server,
    pub(crate) limits: Limits,
    pub(crate) auth: AuthSettings,
    pub(crate) hub: HubSettings,
    pub(crate) finesse: FinesseSettings,
    pub(crate) log: Log,
    pub(crate) demo: Demo,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Server {
    pub(crate) listen: SocketAddr,
    pub(crate) tls_cert: String,
    pub(crate) tls_key: String,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) trusted_proxies: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub(crate) shutdown_grace: Duration,
    /// `/metrics` on this address only (plain HTTP); empty: on `listen`.
    pub(crate) metrics_listen: String,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_cert: String::new(),
            tls_key: String::new(),
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            shutdown_grace: Duration::from_secs(10),
            metrics_listen: String::new(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Log {
    /// `auto` (text on a terminal, JSON otherwise), `text` or `json`.
    pub(crate) format: String,
    /// A tracing filter: `info`, `debug`, `switchboard_gateway=debug,info`...
    pub(crate) level: String,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            format: "auto".into(),
            level: "info".into(),
        }
    }
}

/// `[demo]`: `switchboard demo` only.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Demo {
    /// The embedded simulator's Finesse REST and scenario API.
    pub(crate) sim_listen: SocketAddr,
    /// New calls per second across the simulated agents (0: none).
    pub(crate) call_rate: f64,
    /// Seconds before a simulated agent answers or accepts.
    pub(crate) answer_after: f64,
    /// Seconds a simulated agent talks.
    pub(crate) talk_for: f64,
    /// Agents left to people (the agent widget): they get calls but nothing
    /// answers for them.
    pub(crate) manual_agents: Vec<String>,
}

impl Default for Demo {
    fn default() -> Self {
        Demo {
            sim_listen: SocketAddr::from(([127, 0, 0, 1], 8082)),
            call_rate: 0.5,
            answer_after: 4.0,
            talk_for: 20.0,
            manual_agents: vec!["1001001".into()],
        }
    }
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// Reading or parsing failed (figment names the key and the source).
    #[error("{0}")]
    Load(Box<figment::Error>),
    /// Problems with keys or values, one line each naming the key.
    #[error("invalid configuration:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Loads `file` (if any), then the environment, then `flags` (a partial
    /// configuration: only the keys the command line set).
    pub(crate) fn load(
        file: Option<&Path>,
        flags: &serde_json::Value,
    ) -> Result<Config, ConfigError> {
        if let Some(file) = file
            && !file.exists()
        {
            return Err(ConfigError::Invalid(vec![format!(
                "config file {} does not exist",
                file.display()
            )]));
        }
        let defaults = Config::default();
        let figment = crate::sources::figment(&defaults, file, flags);
        let (config, mut problems) =
            crate::sources::extract(&figment, &defaults).map_err(ConfigError::Load)?;
        if let Err(ConfigError::Invalid(more)) = config.validate() {
            problems.extend(crate::sources::locate(&figment, more));
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Checks values that parse but cannot work; each message names its key.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let s = &self.server;
        if s.tls_cert.is_empty() != s.tls_key.is_empty() {
            problems.push("server.tls_cert and server.tls_key must be set together".to_owned());
        }
        for (key, path) in [
            ("server.tls_cert", &s.tls_cert),
            ("server.tls_key", &s.tls_key),
        ] {
            if !path.is_empty() && !Path::new(path).exists() {
                problems.push(format!("{key}: file {path} does not exist"));
            }
        }
        for proxy in &s.trusted_proxies {
            if let Err(e) = proxy.parse::<AddrRange>() {
                problems.push(format!("server.trusted_proxies: {e}"));
            }
        }
        problems.extend(self.limits.validate());
        let l = &self.limits;
        let rest = self.finesse.request_timeout + self.finesse.connect_timeout;
        if l.command_timeout <= rest {
            problems.push(format!(
                "limits.command_timeout ({:?}) must be longer than finesse.request_timeout plus finesse.connect_timeout ({rest:?}): \
                 a command's Finesse request must end by its own timeout, with its requestId known, and leave time for the other node",
                l.command_timeout
            ));
        }
        problems.extend(self.hub.validate());
        problems.extend(self.auth.validate());
        problems.extend(self.finesse.validate());
        if !matches!(self.log.format.as_str(), "auto" | "text" | "json") {
            problems.push(format!(
                "log.format must be auto, text or json, not {:?}",
                self.log.format
            ));
        }
        if let Err(why) = check_log_level(&self.log.level) {
            problems.push(format!("log.level {:?}: {why}", self.log.level));
        } else if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            problems.push(format!(
                "log.level {:?} is not a valid filter (e.g. info, debug)",
                self.log.level
            ));
        }
        if !s.metrics_listen.is_empty() {
            match s.metrics_listen.parse::<SocketAddr>() {
                Err(_) => problems.push(format!(
                    "server.metrics_listen: {:?} is not an address like 127.0.0.1:9090",
                    s.metrics_listen
                )),
                Ok(addr) if addr == s.listen => problems.push(
                    "server.metrics_listen must differ from server.listen (leave it empty to serve /metrics on server.listen)"
                        .to_owned(),
                ),
                Ok(_) => {}
            }
        }
        if !(0.0..=1000.0).contains(&self.demo.call_rate) {
            problems.push("demo.call_rate must be between 0 and 1000 calls per second".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Checks what `switchboard run` needs on top of [`Config::validate`].
    pub(crate) fn validate_for_run(&self) -> Result<(), ConfigError> {
        if self.finesse.primary.is_empty() {
            return Err(ConfigError::Invalid(vec![
                "finesse.primary is required by `switchboard run` (the Finesse base URL, e.g. https://finesse1.example.com:8445); `switchboard demo` needs none".to_owned(),
            ]));
        }
        Ok(())
    }

    /// The gateway's settings.
    pub(crate) fn gateway(&self) -> Result<GatewayConfig, ConfigError> {
        Ok(GatewayConfig {
            listen: self.server.listen,
            tls: (!self.server.tls_cert.is_empty()).then(|| TlsFiles {
                cert: PathBuf::from(&self.server.tls_cert),
                key: PathBuf::from(&self.server.tls_key),
            }),
            allowed_origins: self.server.allowed_origins.clone(),
            trusted_proxies: self
                .server
                .trusted_proxies
                .iter()
                .map(|p| p.parse::<AddrRange>())
                .collect::<Result<_, _>>()
                .map_err(|e| ConfigError::Invalid(vec![format!("server.trusted_proxies: {e}")]))?,
            limits: self.limits,
            auth: self.auth.clone(),
            hub: self.hub,
            shutdown_grace: self.server.shutdown_grace,
            readiness_probe_interval: Duration::from_secs(5),
            metrics_listen: self.server.metrics_listen.parse().ok(),
            landing_page: None,
        })
    }
}

/// The levels `log.level` accepts, alone or after `target=`.
const LOG_LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// A `log.level` is comma-separated directives, each a level or
/// `target=level`. A bare word that is not a level would be read by the
/// tracing filter as a target name, silencing everything else
/// (`verbose` would log nothing), so it is refused.
fn check_log_level(filter: &str) -> Result<(), String> {
    let levels = LOG_LEVELS.join(", ");
    if filter.trim().is_empty() {
        return Err(format!("empty; use a level ({levels})"));
    }
    for directive in filter.split(',').map(str::trim) {
        let level = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LOG_LEVELS
            .iter()
            .any(|l| l.eq_ignore_ascii_case(level.trim()))
        {
            return Err(format!(
                "{directive:?} is not a level ({levels}) nor target=level (e.g. switchboard_connector=debug,info)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_example_file() {
        Config::default().validate().unwrap();
        let example = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/switchboard.example.toml"
        );
        let text = std::fs::read_to_string(example).unwrap();
        let parsed: Config = toml::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            Config::default(),
            "the example file documents every default"
        );
    }

    #[test]
    fn problems_name_their_key() {
        let mut c = Config::default();
        c.limits.max_connections = 0;
        c.auth.jwt_algorithm = "HS256".into();
        c.finesse.xmpp_tls = "tls".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("limits.max_connections"), "{e}");
        assert!(e.contains("auth.jwt_secret"), "{e}");
        assert!(e.contains("finesse.xmpp_tls"), "{e}");
    }

    #[test]
    fn trusted_proxies_and_jwt_claims_reach_the_gateway() {
        let mut c = Config::default();
        c.server.trusted_proxies = vec!["10.0.0.0/8".into(), "192.0.2.7".into()];
        c.auth.jwt_issuer = "https://idp.example".into();
        let g = c.gateway().unwrap();
        assert_eq!(g.trusted_proxies.len(), 2);
        assert!(g.trusted_proxies[0].contains("10.9.8.7".parse().unwrap()));
        assert_eq!(g.auth.jwt_issuer, "https://idp.example");
        assert_eq!(g.auth.jwt_audience, "", "empty: not configured");
        assert_eq!(g.limits.sign_in_account_failures, 3);
        c.server.trusted_proxies.push("lb.example".into());
        c.limits.sign_in_account_failures = 0;
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("server.trusted_proxies") && e.contains("lb.example"),
            "{e}"
        );
        assert!(e.contains("limits.sign_in_account_failures"), "{e}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment::Error
    fn unknown_keys_and_bad_values_are_refused_naming_them() {
        // In a Jail: figment's lock keeps the environment test's variables out.
        figment::Jail::expect_with(|_| {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("c.toml");
            std::fs::write(&file, "[server]\nlisen = \"1.2.3.4:5\"\n").unwrap();
            let e = Config::load(Some(&file), &serde_json::json!({}))
                .unwrap_err()
                .to_string();
            assert!(e.contains("lisen"), "{e}");
            std::fs::write(&file, "[limits]\nidle_timeout = \"soon\"\n").unwrap();
            let e = Config::load(Some(&file), &serde_json::json!({}))
                .unwrap_err()
                .to_string();
            assert!(e.contains("idle_timeout"), "{e}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment::Error
    fn environment_overrides_and_other_variables_are_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SWITCHBOARD_HUB_HISTORY_SIZE", "42");
            jail.set_env("SWITCHBOARD_CONFIG", "/nowhere.toml");
            jail.set_env("SWITCHBOARD_PORT", "tcp://10.0.0.1:80");
            jail.set_env("SWITCHBOARD_SERVICE_HOST", "10.0.0.1");
            let c = Config::load(None, &serde_json::json!({})).expect("loads");
            assert_eq!(c.hub.history_size, 42);
            jail.set_env("SWITCHBOARD_LIMITS_NO_SUCH_KEY", "1");
            let e = Config::load(None, &serde_json::json!({}))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("SWITCHBOARD_LIMITS_NO_SUCH_KEY: unknown key"),
                "{e}"
            );
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment::Error
    fn file_then_flags_override_in_order() {
        figment::Jail::expect_with(|_| {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("c.toml");
            std::fs::write(
                &file,
                "[server]\nlisten = \"127.0.0.1:9000\"\n[hub]\nhistory_size = 7\n",
            )
            .unwrap();
            let flags = serde_json::json!({"server": {"listen": "127.0.0.1:9100"}});
            let c = Config::load(Some(&file), &flags).unwrap();
            assert_eq!(c.server.listen.port(), 9100);
            assert_eq!(c.hub.history_size, 7);
            Ok(())
        });
    }

    #[test]
    fn the_command_timeout_must_outlast_the_rest_timeout() {
        let mut c = Config::default();
        c.finesse.request_timeout = c.limits.command_timeout;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("limits.command_timeout"), "{e}");
        assert!(e.contains("finesse.request_timeout"), "{e}");
        c.finesse.request_timeout = Duration::from_secs(2);
        c.validate().unwrap();
        assert_eq!(
            c.gateway().unwrap().limits.max_connections_per_user,
            Limits::default().max_connections_per_user
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment::Error
    fn every_problem_at_once_under_the_name_the_user_wrote() {
        figment::Jail::expect_with(|jail| {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("c.toml");
            std::fs::write(
                &file,
                "[server]\nlisen = \"1.2.3.4:5\"\n[limits]\nidle_timeout = \"soon\"\n[sever]\nlisten = 1\n",
            )
            .unwrap();
            jail.set_env("SWITCHBOARD_SERVER_LISTN", "127.0.0.1:9");
            jail.set_env("SWITCHBOARD_LIMITS_MAX_CONNECTIONS", "0");
            jail.set_env("SWITCHBOARD_HUB_HISTORY_SIZE", "many");
            jail.set_env("SWITCHBOARD_SERVER_LISTEN", "anywhere");
            let flags = serde_json::json!({"log": {"level": "verbose"}});
            let e = Config::load(Some(&file), &flags).unwrap_err().to_string();
            let f = file.display();
            for expected in [
                format!("{f} [server] lisen: unknown key"),
                format!("{f} [limits] idle_timeout: "),
                format!("{f} [sever]: unknown section"),
                "SWITCHBOARD_SERVER_LISTN: unknown key".to_owned(),
                "SWITCHBOARD_HUB_HISTORY_SIZE: invalid type: found string \"many\"".to_owned(),
                "SWITCHBOARD_SERVER_LISTEN: invalid socket address syntax (the value is \"anywhere\")"
                    .to_owned(),
                "SWITCHBOARD_LIMITS_MAX_CONNECTIONS: limits.max_connections must be at least 1"
                    .to_owned(),
                "command line (log.level): log.level \"verbose\"".to_owned(),
            ] {
                assert!(e.contains(&expected), "no {expected:?} in:\n{e}");
            }
            assert_eq!(e.lines().count(), 9, "a heading and 8 problems:\n{e}");
            assert!(
                !e.contains("default."),
                "figment's profile is internal:\n{e}"
            );
            Ok(())
        });
    }

    #[test]
    fn log_level_is_levels_or_target_directives() {
        for good in [
            "info",
            "DEBUG",
            "off",
            "switchboard_connector=debug,info",
            "warn, h2=error",
        ] {
            check_log_level(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in ["verbose", "", "info,", "switchboard_gateway", "x=loud"] {
            assert!(check_log_level(bad).is_err(), "{bad:?} accepted");
        }
        let mut c = Config::default();
        c.log.level = "verbose".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("log.level \"verbose\""), "{e}");
    }

    #[test]
    fn metrics_listen_is_an_address_other_than_listen() {
        let mut c = Config::default();
        assert_eq!(c.gateway().unwrap().metrics_listen, None);
        c.server.metrics_listen = "127.0.0.1:9090".into();
        assert_eq!(
            c.gateway().unwrap().metrics_listen,
            Some("127.0.0.1:9090".parse().unwrap())
        );
        c.server.metrics_listen = "nine".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("server.metrics_listen")
        );
        c.server.metrics_listen = c.server.listen.to_string();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("server.metrics_listen")
        );
    }

    #[test]
    fn socket_send_buffer_0_is_the_kernels_own_sizing() {
        let c: Config = toml::from_str("[limits]\nsocket_send_buffer = 0\n").unwrap();
        assert_eq!(c.gateway().unwrap().limits.socket_send_buffer, None);
        let c: Config = toml::from_str("[limits]\nsocket_send_buffer = 65536\n").unwrap();
        assert_eq!(c.limits.socket_send_buffer, Some(65536));
        let text = toml::to_string(&Config::default()).unwrap();
        assert!(text.contains("socket_send_buffer = 262144"), "{text}");
    }
}
