//! The errors of the Prosody helper ([`TestkitError`]).

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

#[cfg(doc)]
use super::Prosody;

/// Errors of the Prosody helper.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// `prosody` or `prosodyctl` is not on `PATH`.
    #[error(
        "Prosody is not installed: run 'apt-get install -y prosody' (or ./tests/run, which installs it)"
    )]
    NotInstalled {
        /// The program that was not found.
        program: String,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An account name or password that `prosodyctl` cannot take.
    #[error("invalid account {user:?}: {reason}")]
    InvalidAccount {
        /// The user name as given.
        user: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A domain that cannot be written into the config.
    #[error("invalid domain {domain:?}: letters, digits, '.' and '-' only")]
    InvalidDomain {
        /// The domain as given.
        domain: String,
    },
    /// `prosodyctl register` failed.
    #[error("prosodyctl register {user}@{domain} failed ({status}): {output}")]
    Register {
        /// The user name.
        user: String,
        /// The domain.
        domain: String,
        /// The exit status of `prosodyctl`.
        status: ExitStatus,
        /// What `prosodyctl` printed (stdout and stderr).
        output: String,
    },
    /// Prosody exited before it accepted connections.
    #[error("Prosody exited during startup ({status}); log tail:\n{log_tail}")]
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// The end of its logs.
        log_tail: String,
    },
    /// Prosody could not bind its port (another process took it).
    #[error("Prosody could not listen on 127.0.0.1:{port} (port in use?); log tail:\n{log_tail}")]
    PortInUse {
        /// The port.
        port: u16,
        /// The end of its logs.
        log_tail: String,
    },
    /// Prosody did not accept connections in time.
    #[error(
        "Prosody did not accept connections on 127.0.0.1:{port} within {} s; log tail:\n{log_tail}",
        .timeout.as_secs()
    )]
    StartTimeout {
        /// The port.
        port: u16,
        /// How long it waited.
        timeout: Duration,
        /// The end of its logs.
        log_tail: String,
    },
    /// [`Prosody::start_async`]'s blocking task panicked or was cancelled.
    #[error("the blocking start task failed: {0}")]
    Join(String),
}

impl TestkitError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
