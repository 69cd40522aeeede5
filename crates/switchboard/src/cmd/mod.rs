//! One module per subcommand.

pub(crate) mod check_config;
pub(crate) mod demo;
pub(crate) mod run;
pub(crate) mod translate;

use std::path::PathBuf;

use serde_json::{Map, Value, json};

/// The flags every serving subcommand shares; each set flag overrides the
/// file and the environment.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct Common {
    /// The configuration file (TOML; every key in deploy/switchboard.example.toml).
    #[arg(long, short = 'c', env = "SWITCHBOARD_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Where to serve the pages and the WebSocket (server.listen).
    #[arg(long)]
    pub(crate) listen: Option<String>,
    /// Log filter (log.level), e.g. info or debug.
    #[arg(long)]
    pub(crate) log_level: Option<String>,
    /// Log format (log.format): auto, text or json.
    #[arg(long)]
    pub(crate) log_format: Option<String>,
}

impl Common {
    /// The set flags as a partial configuration.
    pub(crate) fn overrides(&self) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(l) = &self.listen {
            set(&mut out, "server", "listen", json!(l));
        }
        if let Some(l) = &self.log_level {
            set(&mut out, "log", "level", json!(l));
        }
        if let Some(f) = &self.log_format {
            set(&mut out, "log", "format", json!(f));
        }
        out
    }
}

/// Sets `section.key` in a partial configuration.
pub(crate) fn set(out: &mut Map<String, Value>, section: &str, key: &str, value: Value) {
    let entry = out
        .entry(section.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = entry {
        m.insert(key.to_owned(), value);
    }
}
