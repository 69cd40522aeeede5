//! The errors of the browser harness ([`BrowserError`]).

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use fantoccini::error::CmdError;

#[cfg(doc)]
use super::{Browser, NOT_INSTALLED_MESSAGE};

/// Errors of the browser harness.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// `chromium` or `chromedriver` is missing.
    #[error(
        "Chromium is not installed: run 'apt-get install -y chromium chromium-driver' (tests/run does this)"
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
    /// chromedriver exited before it answered.
    #[error("chromedriver exited during startup ({status}); log tail:\n{log_tail}")]
    DriverExited {
        /// Its exit status.
        status: ExitStatus,
        /// The end of its log.
        log_tail: String,
    },
    /// chromedriver could not listen on its port (another process took it).
    #[error(
        "chromedriver could not listen on 127.0.0.1:{port} (port in use?); log tail:\n{log_tail}"
    )]
    PortInUse {
        /// The port.
        port: u16,
        /// The end of its log.
        log_tail: String,
    },
    /// chromedriver did not answer in time.
    #[error(
        "chromedriver did not answer on 127.0.0.1:{port} within {} s; log tail:\n{log_tail}",
        .timeout.as_secs()
    )]
    DriverTimeout {
        /// The port.
        port: u16,
        /// How long it waited.
        timeout: Duration,
        /// The end of its log.
        log_tail: String,
    },
    /// The WebDriver session (Chromium) could not be opened.
    #[error(
        "could not open a Chromium session through chromedriver: {message}; log tail:\n{log_tail}"
    )]
    Session {
        /// What went wrong (chromedriver's message, or the timeout).
        message: String,
        /// The end of chromedriver's log.
        log_tail: String,
    },
    /// A WebDriver command failed.
    #[error("{action} on {url}: {source}")]
    Command {
        /// What was being done, naming the selector where there is one.
        action: String,
        /// The page's URL at the time.
        url: String,
        /// The WebDriver error (boxed: it is large).
        #[source]
        source: Box<CmdError>,
    },
    /// No element matched the selector in time.
    #[error(
        "no element matches `{selector}` on {url} after {} s{}",
        .timeout.as_secs(),
        last_error.as_ref().map(|e| format!(" (last error: {e})")).unwrap_or_default()
    )]
    Timeout {
        /// The CSS selector.
        selector: String,
        /// The page's URL at the time.
        url: String,
        /// How long it waited.
        timeout: Duration,
        /// The last WebDriver error other than "no such element", if any.
        last_error: Option<String>,
    },
    /// The element never showed the expected text in time.
    #[error(
        "`{selector}` on {url} did not contain {expected:?} after {} s; {}",
        .timeout.as_secs(),
        match last_text { Some(t) => format!("its text was {t:?}"), None => "no element matched".to_owned() }
    )]
    TextTimeout {
        /// The CSS selector.
        selector: String,
        /// The text waited for.
        expected: String,
        /// The element's text at the last look (`None`: no element matched).
        last_text: Option<String>,
        /// The page's URL at the time.
        url: String,
        /// How long it waited.
        timeout: Duration,
    },
    /// A screenshot name that cannot be a file name.
    #[error("invalid screenshot name {name:?}: letters, digits, '-', '_' and '.' only")]
    InvalidName {
        /// The name as given.
        name: String,
    },
}

impl BrowserError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
