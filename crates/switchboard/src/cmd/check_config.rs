//! `switchboard check-config`: loads the configuration exactly as `run` would
//! (file, environment, flags), validates it, and prints the result as TOML
//! with secrets hidden. Exit 0 when valid, 2 with one line per problem (each
//! naming its key) otherwise.

use std::process::ExitCode;

use super::Common;
use crate::config::{Config, ConfigError};

/// Flags of `switchboard check-config`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Also require what `switchboard run` needs (finesse.primary).
    #[arg(long)]
    pub(crate) for_run: bool,
}

/// Checks and prints the configuration.
pub(crate) fn run(args: &Args) -> ExitCode {
    let flags = serde_json::Value::Object(args.common.overrides());
    let checked = Config::load(args.common.config.as_deref(), &flags).and_then(|c| {
        if args.for_run {
            c.validate_for_run()?;
        }
        c.gateway()?;
        c.auth
            .jwt_key()
            .map_err(|e| ConfigError::Invalid(vec![e]))?;
        Ok(c)
    });
    match checked {
        Ok(mut config) => {
            if !config.auth.jwt_secret.is_empty() {
                config.auth.jwt_secret = "***".into();
            }
            match toml::to_string_pretty(&config) {
                Ok(text) => {
                    println!("# configuration is valid");
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("switchboard: cannot print the configuration: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("switchboard: {e}");
            ExitCode::from(2)
        }
    }
}
