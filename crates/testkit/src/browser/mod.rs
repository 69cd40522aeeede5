//! A private headless Chromium per test, driven through WebDriver: end-to-end tests open the
//! real web pages, click, type and read them as a person would.
//!
//! [`Browser::start`] finds `chromedriver` and `chromium` (on `PATH`, else in `/usr/bin`),
//! starts chromedriver on a free loopback port, waits until it answers, and opens a WebDriver
//! session ([`fantoccini`]) with headless Chromium ([`CHROMIUM_ARGS`]) and a temporary profile
//! folder. The helpers ([`wait_for`](Browser::wait_for), [`click`](Browser::click),
//! [`fill`](Browser::fill), [`text`](Browser::text), ...) take CSS selectors, poll with generous
//! timeouts ([`DEFAULT_TIMEOUT`]; CI is a loaded 2-core machine) and name the selector and the
//! page in their errors. [`Browser::screenshot`] saves a PNG under
//! `target/test-artifacts/screenshots/` of the workspace.
//!
//! Every instance is independent: chromedriver and Chromium run in a process group of their
//! own, killed by [`Browser::close`] or on drop. If the test process dies without dropping its
//! [`Browser`] (even by Ctrl-C or SIGKILL), a tiny watchdog shell (`sh`, waiting on a pipe from
//! the test process) kills the group and deletes the temporary folder.
//!
//! ```no_run
//! # async fn demo() -> Result<(), switchboard_testkit::BrowserError> {
//! use std::time::Duration;
//! use switchboard_testkit::Browser;
//!
//! let browser = Browser::start().await?;
//! browser.goto("http://127.0.0.1:8080/").await?;
//! browser.fill("#agent", "1001001").await?;
//! browser.click("button#sign-in").await?;
//! browser.wait_for_text("#state", "NOT_READY", Duration::from_secs(30)).await?;
//! browser.screenshot("signed-in").await?;
//! browser.close().await?;
//! # Ok(()) }
//! ```
//!
//! This module owns the [`Browser`] and its page helpers; chromedriver's process and the
//! watchdog are in `process.rs`, the errors in `error.rs`.

mod error;
mod process;

use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::process::Child;

pub use error::BrowserError;
use process::{
    Processes, find_program, free_port, read_tail, spawn_driver, spawn_watchdog, wait_until_ready,
};

/// The exact message of [`BrowserError::NotInstalled`].
pub const NOT_INSTALLED_MESSAGE: &str = "Chromium is not installed: run 'apt-get install -y chromium chromium-driver' (tests/run does this)";

/// The Chromium command-line flags of every session (besides `--user-data-dir`, a temporary
/// folder, and [`BrowserOptions::extra_args`]).
pub const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--window-size=1280,900",
];

/// How long [`Browser::start`] waits for chromedriver to answer on its port.
pub const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long [`Browser::start`] waits for the WebDriver session (Chromium's start).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(120);

/// How long [`Browser::wait_for`] and friends wait by default ([`BrowserOptions::timeout`]):
/// generous, as CI is a loaded 2-core machine. Nothing here asserts on speed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The page-load timeout of the session ([`Browser::goto`] waits that long for `load`).
pub const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// How long [`Browser::close`] waits for the end of the session before it kills the processes.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the waiting helpers look at the page again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How many fresh ports `start` tries when another process grabbed the one it picked.
const PORT_ATTEMPTS: usize = 3;

/// How many lines of chromedriver's log an error carries.
const LOG_TAIL_LINES: usize = 30;

/// Makes folder names distinct within the process.
static INSTANCE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What [`Browser::start_with`] sets up.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// The browser, looked up on `PATH` and in `/usr/bin` unless it contains a `/` (default
    /// `chromium`).
    pub chromium_program: OsString,
    /// The WebDriver server, looked up like `chromium_program` (default `chromedriver`).
    pub chromedriver_program: OsString,
    /// Chromium flags added after [`CHROMIUM_ARGS`].
    pub extra_args: Vec<String>,
    /// The default timeout of [`Browser::click`], [`Browser::fill`] and [`Browser::text`]
    /// ([`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        Self {
            chromium_program: "chromium".into(),
            chromedriver_program: "chromedriver".into(),
            extra_args: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// One headless Chromium, private to the test that started it, with its chromedriver.
///
/// End it with [`close`](Self::close) (ends the WebDriver session, then stops chromedriver);
/// dropping it kills chromedriver and Chromium (SIGKILL to their process group) and deletes
/// the profile folder.
pub struct Browser {
    client: Client,
    port: u16,
    timeout: Duration,
    /// chromedriver and Chromium; killed on drop.
    processes: Processes,
    /// The Chromium profile and chromedriver's log; deleted last.
    dir: TempDir,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .field("pid", &self.processes.driver.as_ref().and_then(Child::id))
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with the default [`BrowserOptions`].
    pub async fn start() -> Result<Self, BrowserError> {
        Self::start_with(BrowserOptions::default()).await
    }

    /// Starts chromedriver on a free loopback port, waits until it answers
    /// ([`DRIVER_START_TIMEOUT`]), and opens a WebDriver session with headless Chromium
    /// ([`SESSION_TIMEOUT`]). Fails with [`BrowserError::NotInstalled`]
    /// ([`NOT_INSTALLED_MESSAGE`]) when either program is missing.
    pub async fn start_with(options: BrowserOptions) -> Result<Self, BrowserError> {
        let chromedriver = find_program(&options.chromedriver_program)?;
        let chromium = find_program(&options.chromium_program)?;

        let n = INSTANCE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = tempfile::Builder::new()
            .prefix(&format!("switchboard-browser-{}-{n}-", std::process::id()))
            .tempdir()
            .map_err(|e| BrowserError::io("creating the browser folder", e))?;
        let profile = dir.path().join("profile");
        std::fs::create_dir_all(&profile)
            .map_err(|e| BrowserError::io("creating the Chromium profile folder", e))?;
        let log = dir.path().join("chromedriver.log");

        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let driver = spawn_driver(&chromedriver, port, &log)?;
            let watchdog = driver
                .id()
                .and_then(|pid| spawn_watchdog(pid, port, dir.path()));
            let mut processes = Processes {
                driver: Some(driver),
                watchdog,
            };
            match wait_until_ready(&mut processes, port, &log).await {
                Ok(()) => {
                    // On error, `processes` is dropped: chromedriver and Chromium are killed.
                    let client = open_session(port, &chromium, &profile, &options, &log).await?;
                    return Ok(Self {
                        client,
                        port,
                        timeout: options.timeout,
                        processes,
                        dir,
                    });
                }
                Err(e @ BrowserError::PortInUse { .. }) => {
                    tracing::warn!("{e}; trying another port");
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or(BrowserError::PortInUse {
            port: 0,
            log_tail: String::new(),
        }))
    }

    /// The WebDriver client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// chromedriver's URL, `http://127.0.0.1:<port>`.
    pub fn driver_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The default timeout of [`click`](Self::click), [`fill`](Self::fill) and
    /// [`text`](Self::text).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes the default timeout of [`click`](Self::click), [`fill`](Self::fill) and
    /// [`text`](Self::text).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The temporary folder: `profile/` (Chromium's) and `chromedriver.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last `lines` lines of chromedriver's output (where Chromium's start-up errors go).
    pub fn log_tail(&self, lines: usize) -> String {
        read_tail(&self.dir.path().join("chromedriver.log"), lines)
    }

    /// Opens `url` and waits for its `load` event ([`PAGE_LOAD_TIMEOUT`]).
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        match self.client.goto(url).await {
            Ok(()) => Ok(()),
            Err(source) => Err(BrowserError::Command {
                action: format!("opening {url}"),
                url: self.current_url().await,
                source: Box::new(source),
            }),
        }
    }

    /// The page's URL, or `<unknown page>` when the browser cannot tell.
    pub async fn current_url(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(_) => "<unknown page>".to_owned(),
        }
    }

    /// Waits until an element matches the CSS selector `css` and returns the first one.
    /// Fails with [`BrowserError::Timeout`] (naming the selector and the page) after `timeout`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element, BrowserError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last_error = match self.client.find(Locator::Css(css)).await {
                Ok(element) => return Ok(element),
                Err(e) if e.is_no_such_element() => None,
                Err(e) if is_fatal(&e) => {
                    return Err(self.command_error(format!("finding `{css}`"), e).await);
                }
                // E.g. a navigation in progress: look again.
                Err(e) => Some(e.to_string()),
            };
            if Instant::now() >= deadline {
                return Err(BrowserError::Timeout {
                    selector: css.to_owned(),
                    url: self.current_url().await,
                    timeout,
                    last_error,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until the first element matching `css` has a visible text containing `text`,
    /// and returns that whole text. Fails with [`BrowserError::TextTimeout`] (naming the
    /// selector, the page and the last text seen) after `timeout`.
    pub async fn wait_for_text(
        &self,
        css: &str,
        text: &str,
        timeout: Duration,
    ) -> Result<String, BrowserError> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await,
                Err(e) => Err(e),
            };
            let last_text = match found {
                Ok(current) if current.contains(text) => return Ok(current),
                Ok(current) => Some(current),
                Err(e) if is_fatal(&e) => {
                    return Err(self
                        .command_error(format!("reading the text of `{css}`"), e)
                        .await);
                }
                // No element yet, or it was replaced while we read it.
                Err(_) => None,
            };
            if Instant::now() >= deadline {
                return Err(BrowserError::TextTimeout {
                    selector: css.to_owned(),
                    expected: text.to_owned(),
                    last_text,
                    url: self.current_url().await,
                    timeout,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Clicks the first element matching `css`, waiting up to [`timeout`](Self::timeout) for
    /// it to exist and accept the click (not covered, not disabled).
    pub async fn click(&self, css: &str) -> Result<(), BrowserError> {
        self.with_element(
            css,
            "clicking",
            |element| async move { element.click().await },
        )
        .await
    }

    /// Clears the first element matching `css` (an input or a text area) and types `value`
    /// into it, waiting up to [`timeout`](Self::timeout) for it to exist and accept input.
    pub async fn fill(&self, css: &str, value: &str) -> Result<(), BrowserError> {
        self.with_element(css, "filling", |element| async move {
            element.clear().await?;
            element.send_keys(value).await
        })
        .await
    }

    /// The visible text of the first element matching `css`, waiting up to
    /// [`timeout`](Self::timeout) for it to exist.
    pub async fn text(&self, css: &str) -> Result<String, BrowserError> {
        self.with_element(css, "reading the text of", |element| async move {
            element.text().await
        })
        .await
    }

    /// Saves a PNG of the viewport to
    /// `<workspace>/target/test-artifacts/screenshots/<name>.png` (see [`screenshot_dir`]),
    /// creating the folders, and returns its path. `name`: letters, digits, `-`, `_`, `.`.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf, BrowserError> {
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            return Err(BrowserError::InvalidName {
                name: name.to_owned(),
            });
        }
        let png = match self.client.screenshot().await {
            Ok(png) => png,
            Err(e) => {
                return Err(self
                    .command_error("taking a screenshot".to_owned(), e)
                    .await);
            }
        };
        let dir = screenshot_dir();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| BrowserError::io(format!("creating {}", dir.display()), e))?;
        let path = dir.join(format!("{name}.png"));
        tokio::fs::write(&path, png)
            .await
            .map_err(|e| BrowserError::io(format!("writing {}", path.display()), e))?;
        Ok(path)
    }

    /// The page's console messages since the last call (each read empties chromedriver's
    /// buffer), one line each: `LEVEL message`, e.g. `SEVERE http://.../app.js 12:3 "boom"`.
    /// Uncaught exceptions and failed loads show up here too.
    pub async fn console_log(&self) -> Result<Vec<String>, BrowserError> {
        let value = match self.client.issue_cmd(BrowserLog).await {
            Ok(value) => value,
            Err(e) => {
                return Err(self
                    .command_error("reading the console log".to_owned(), e)
                    .await);
            }
        };
        let entries = value.as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(entries
            .iter()
            .map(|entry| {
                let field = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or_default();
                format!("{} {}", field("level"), field("message"))
            })
            .collect())
    }

    /// Ends the WebDriver session (Chromium quits), then stops chromedriver. The processes
    /// are killed when the session does not end within [`CLOSE_TIMEOUT`]; an error of the
    /// session's end is returned after that.
    pub async fn close(self) -> Result<(), BrowserError> {
        let Self {
            client,
            mut processes,
            dir,
            ..
        } = self;
        let ended = tokio::time::timeout(CLOSE_TIMEOUT, client.close()).await;
        processes.stop();
        if let Some(mut driver) = processes.driver.take() {
            // SIGKILL was sent to the group: reap chromedriver.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, driver.wait()).await;
        }
        let result = match ended {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(BrowserError::Command {
                action: "ending the WebDriver session".to_owned(),
                url: "<closing>".to_owned(),
                source: Box::new(source),
            }),
            Err(_) => {
                tracing::warn!(
                    "the WebDriver session did not end within {CLOSE_TIMEOUT:?}; killed chromedriver and Chromium"
                );
                Ok(())
            }
        };
        drop(dir);
        result
    }

    /// Runs `action` on the first element matching `css`, looking again until
    /// [`timeout`](Self::timeout) while there is none or it cannot take the action yet.
    async fn with_element<T, F, Fut>(
        &self,
        css: &str,
        what: &str,
        action: F,
    ) -> Result<T, BrowserError>
    where
        F: Fn(Element) -> Fut,
        Fut: Future<Output = Result<T, CmdError>>,
    {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let element = match self.wait_for(css, left).await {
                Ok(element) => element,
                // Report the whole wait, not what was left of it on this round.
                Err(BrowserError::Timeout {
                    selector,
                    url,
                    last_error,
                    ..
                }) => {
                    return Err(BrowserError::Timeout {
                        selector,
                        url,
                        timeout: self.timeout,
                        last_error,
                    });
                }
                Err(e) => return Err(e),
            };
            match action(element).await {
                Ok(value) => return Ok(value),
                Err(e) if is_retryable(&e) && Instant::now() < deadline => {
                    tracing::debug!("{what} `{css}`: {e}; trying again");
                }
                Err(e) => return Err(self.command_error(format!("{what} `{css}`"), e).await),
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn command_error(&self, action: String, source: CmdError) -> BrowserError {
        BrowserError::Command {
            action,
            url: self.current_url().await,
            source: Box::new(source),
        }
    }
}

/// Where [`Browser::screenshot`] saves: `<workspace>/target/test-artifacts/screenshots`, the
/// workspace being two folders above this crate's manifest.
pub fn screenshot_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.ancestors().nth(2).unwrap_or(manifest);
    workspace
        .join("target")
        .join("test-artifacts")
        .join("screenshots")
}

/// chromedriver's legacy log endpoint (`POST /session/{id}/se/log`, type `browser`), which
/// it still serves in W3C mode.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// Opens the WebDriver session: headless Chromium with the profile folder `profile`.
async fn open_session(
    port: u16,
    chromium: &Path,
    profile: &Path,
    options: &BrowserOptions,
    log: &Path,
) -> Result<Client, BrowserError> {
    let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(options.extra_args.iter().cloned());
    let timeout_ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let mut capabilities = serde_json::Map::new();
    for (key, value) in [
        ("browserName", json!("chrome")),
        ("pageLoadStrategy", json!("normal")),
        (
            "timeouts",
            json!({
                "pageLoad": timeout_ms(PAGE_LOAD_TIMEOUT),
                "script": timeout_ms(PAGE_LOAD_TIMEOUT),
                "implicit": 0,
            }),
        ),
        ("goog:loggingPrefs", json!({ "browser": "ALL" })),
        (
            "goog:chromeOptions",
            json!({ "binary": chromium.to_string_lossy(), "args": args }),
        ),
    ] {
        capabilities.insert(key.to_owned(), value);
    }
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    let url = format!("http://127.0.0.1:{port}");
    let connect = builder.connect(&url);
    let session_error = |message: String| BrowserError::Session {
        message,
        log_tail: read_tail(log, LOG_TAIL_LINES),
    };
    match tokio::time::timeout(SESSION_TIMEOUT, connect).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(session_error(e.to_string())),
        Err(_) => Err(session_error(format!(
            "no session after {} s",
            SESSION_TIMEOUT.as_secs()
        ))),
    }
}

/// Errors after which looking again is pointless: the session or chromedriver is gone, or
/// the selector is invalid.
fn is_fatal(e: &CmdError) -> bool {
    matches!(
        e,
        CmdError::Lost(_) | CmdError::Failed(_) | CmdError::FailedC(_)
    ) || e.is_invalid_selector()
        || e.is_invalid_session_id()
        || e.is_no_such_window()
}

/// Errors of an element that may go away by themselves (still rendering, covered, replaced).
fn is_retryable(e: &CmdError) -> bool {
    e.is_element_not_interactable()
        || matches!(e, CmdError::Standard(w) if w.error == ErrorStatus::ElementClickIntercepted)
        || e.is_stale_element_reference()
        || e.is_invalid_element_state()
        || e.is_no_such_element()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_programs_give_the_documented_message() {
        for options in [
            BrowserOptions {
                chromium_program: "switchboard-no-such-chromium".into(),
                ..BrowserOptions::default()
            },
            BrowserOptions {
                chromedriver_program: "/nonexistent/chromedriver".into(),
                ..BrowserOptions::default()
            },
        ] {
            let err = Browser::start_with(options)
                .await
                .expect_err("a missing program must fail");
            assert!(matches!(err, BrowserError::NotInstalled { .. }), "{err:?}");
            assert_eq!(err.to_string(), NOT_INSTALLED_MESSAGE);
            assert_eq!(
                err.to_string(),
                "Chromium is not installed: run 'apt-get install -y chromium chromium-driver' (tests/run does this)"
            );
        }
    }

    #[test]
    fn screenshots_go_under_the_workspace_target() {
        let dir = screenshot_dir();
        assert!(
            dir.ends_with("target/test-artifacts/screenshots"),
            "{dir:?}"
        );
        assert!(
            dir.parent()
                .and_then(Path::parent)
                .and_then(Path::parent)
                .is_some_and(
                    |w| w.join("Cargo.toml").is_file() && w.join("crates/testkit").is_dir()
                ),
            "{dir:?} is not under the workspace root"
        );
    }

    #[test]
    fn timeout_messages_name_the_selector_and_the_page() {
        let err = BrowserError::Timeout {
            selector: "#status".to_owned(),
            url: "http://127.0.0.1:1/".to_owned(),
            timeout: Duration::from_secs(30),
            last_error: None,
        };
        assert_eq!(
            err.to_string(),
            "no element matches `#status` on http://127.0.0.1:1/ after 30 s"
        );
        let err = BrowserError::TextTimeout {
            selector: "#status".to_owned(),
            expected: "clicked".to_owned(),
            last_text: Some("waiting".to_owned()),
            url: "http://127.0.0.1:1/".to_owned(),
            timeout: Duration::from_secs(30),
        };
        assert_eq!(
            err.to_string(),
            "`#status` on http://127.0.0.1:1/ did not contain \"clicked\" after 30 s; its text was \"waiting\""
        );
    }
}
