//! A private Prosody per test: the stand-in for the Finesse notification service (Openfire).
//!
//! This module owns the lifecycle of one Prosody process: a free loopback port, a temporary
//! instance folder, the config written from `deploy/prosody/prosody.cfg.lua.in`, start with a
//! readiness check, the accounts (one `prosodyctl shell` batch once the server runs; offline,
//! `prosodyctl register`, a few processes at a time), graceful stop, crash-like kill and
//! restart on the same port and folder (accounts and stored pubsub nodes survive). Blocking by design (`std::process`); [`Prosody::start_async`] wraps
//! [`Prosody::start`] for async tests.
//!
//! Every instance is independent: tests running in parallel (threads of one test binary, or
//! several binaries) each get their own port and folder. If the test process dies without
//! dropping its [`Prosody`], a tiny watchdog shell (`sh`, waiting on a pipe from the test
//! process) kills the orphaned server.
//!
//! The accounts are in `accounts.rs`, the test PKI and TLS settings of a STARTTLS instance in
//! `tls.rs`, the errors in `error.rs`.

mod accounts;
mod error;
mod tls;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use accounts::validate_account;
pub use error::TestkitError;
pub use tls::render_tls;
use tls::{TlsFiles, make_test_pki};

/// The Prosody config template (`deploy/prosody/prosody.cfg.lua.in`), with the placeholders
/// `@DIR@`, `@PORT@` and `@DOMAIN@`.
pub const CONFIG_TEMPLATE: &str = include_str!("../../../../deploy/prosody/prosody.cfg.lua.in");

/// The XMPP domain used when none is given, as on a Finesse test box.
pub const DEFAULT_DOMAIN: &str = "finesse.local";

/// The user name of the admin account every instance has (the only one allowed to create
/// pubsub nodes).
pub const ADMIN_USER: &str = "admin";

/// The exact message of [`TestkitError::NotInstalled`].
pub const NOT_INSTALLED_MESSAGE: &str = "Prosody is not installed: run 'apt-get install -y prosody' (or ./tests/run, which installs it)";

/// How long [`Prosody::start`] and [`Prosody::restart`] wait for the port to accept connections.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Prosody::stop`] waits after SIGTERM before it sends SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How many lines of the logs an error carries.
const LOG_TAIL_LINES: usize = 30;

/// How many fresh ports `start` tries when another process grabbed the one it picked.
const PORT_ATTEMPTS: usize = 3;

/// Ports handed to instances of this process that are still alive (the kernel may hand out a
/// port again as soon as our probe socket is closed).
static PORTS_IN_USE: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Makes generated passwords and folder names distinct within the process.
static INSTANCE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What [`Prosody::start`] sets up.
#[derive(Clone)]
pub struct ProsodyOptions {
    /// The XMPP domain ([`DEFAULT_DOMAIN`] by default); pubsub lives at `pubsub.<domain>`.
    pub domain: String,
    /// Accounts to register besides the admin: (user, password), the user without `@domain`.
    pub accounts: Vec<(String, String)>,
    /// The server program, looked up on `PATH` unless it contains a `/` (default `prosody`).
    pub prosody_program: OsString,
    /// The control program, looked up like `prosody_program` (default `prosodyctl`).
    pub prosodyctl_program: OsString,
    /// STARTTLS required on the client port (default false: plaintext only). A test CA and
    /// a leaf certificate for `domain` are made with the `openssl` command line;
    /// [`Prosody::ca_pem`] gives the CA to trust.
    pub tls: bool,
}

impl Default for ProsodyOptions {
    fn default() -> Self {
        Self {
            domain: DEFAULT_DOMAIN.to_owned(),
            accounts: Vec::new(),
            prosody_program: "prosody".into(),
            prosodyctl_program: "prosodyctl".into(),
            tls: false,
        }
    }
}

impl ProsodyOptions {
    /// Options with the default domain and the given accounts (user, password).
    pub fn with_accounts<U, P>(accounts: impl IntoIterator<Item = (U, P)>) -> Self
    where
        U: Into<String>,
        P: Into<String>,
    {
        Self {
            accounts: accounts
                .into_iter()
                .map(|(u, p)| (u.into(), p.into()))
                .collect(),
            ..Self::default()
        }
    }
}

impl fmt::Debug for ProsodyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Passwords stay out of test logs.
        let users: Vec<&str> = self.accounts.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("ProsodyOptions")
            .field("domain", &self.domain)
            .field("accounts", &users)
            .field("prosody_program", &self.prosody_program)
            .field("prosodyctl_program", &self.prosodyctl_program)
            .field("tls", &self.tls)
            .finish()
    }
}

/// One running Prosody, private to the test that started it. Dropping it kills the server
/// (SIGKILL: fast, the folder is deleted anyway) and deletes its folder.
pub struct Prosody {
    dir: TempDir,
    config: PathBuf,
    port: u16,
    domain: String,
    admin_password: String,
    prosody: PathBuf,
    prosodyctl: PathBuf,
    child: Option<Child>,
    watchdog: Option<Child>,
    /// With TLS: the test CA (PEM) and the leaf certificate and key files.
    tls: Option<TlsFiles>,
}

impl fmt::Debug for Prosody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prosody")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .field("domain", &self.domain)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

impl Prosody {
    /// Starts a private Prosody: free port, temporary folder, config, the admin account (see
    /// [`admin_password`](Self::admin_password)) and `options.accounts`, then waits until the
    /// port accepts connections ([`START_TIMEOUT`]). Blocks; see [`start_async`](Self::start_async).
    pub fn start(options: ProsodyOptions) -> Result<Self, TestkitError> {
        let prosody = find_program(&options.prosody_program)?;
        let prosodyctl = find_program(&options.prosodyctl_program)?;
        validate_domain(&options.domain)?;
        for (user, password) in &options.accounts {
            validate_account(user, password)?;
        }

        let n = INSTANCE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = tempfile::Builder::new()
            .prefix(&format!("switchboard-prosody-{}-{n}-", std::process::id()))
            .tempdir()
            .map_err(|e| TestkitError::io("creating the Prosody folder", e))?;
        for sub in ["data", "certs"] {
            std::fs::create_dir_all(dir.path().join(sub))
                .map_err(|e| TestkitError::io(format!("creating {sub}/"), e))?;
        }
        let config = dir.path().join("prosody.cfg.lua");
        let tls = if options.tls {
            Some(make_test_pki(&dir.path().join("certs"), &options.domain)?)
        } else {
            None
        };
        let mut this = Self {
            tls,
            config,
            port: 0,
            domain: options.domain.clone(),
            admin_password: format!("admin-{:016x}", random_u64()),
            prosody,
            prosodyctl,
            child: None,
            watchdog: None,
            dir,
        };

        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            this.port = reserve_port()?;
            this.write_config()?;
            match this.spawn_and_wait() {
                Ok(()) => {
                    let mut accounts = vec![(ADMIN_USER.to_owned(), this.admin_password.clone())];
                    accounts.extend(options.accounts.iter().cloned());
                    this.register_all(&accounts)?;
                    return Ok(this);
                }
                Err(e @ TestkitError::PortInUse { .. }) => {
                    tracing::warn!("{e}; trying another port");
                    release_port(this.port);
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or(TestkitError::PortInUse {
            port: this.port,
            log_tail: String::new(),
        }))
    }

    /// [`start`](Self::start) on tokio's blocking pool, for async tests.
    pub async fn start_async(options: ProsodyOptions) -> Result<Self, TestkitError> {
        tokio::task::spawn_blocking(move || Self::start(options))
            .await
            .map_err(|e| TestkitError::Join(e.to_string()))?
    }

    /// The client-to-server port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The client-to-server address, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port))
    }

    /// The XMPP domain, e.g. `finesse.local`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The test CA certificate (PEM) that signed the server's certificate, when started with
    /// [`ProsodyOptions::tls`]; trust it with `XmppConfig::extra_root_cert_pem`.
    pub fn ca_pem(&self) -> Option<Vec<u8>> {
        self.tls.as_ref().map(|t| t.ca_pem.clone())
    }

    /// Whether the server requires STARTTLS ([`ProsodyOptions::tls`]).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The pubsub service, `pubsub.<domain>`.
    pub fn pubsub_jid(&self) -> String {
        format!("pubsub.{}", self.domain)
    }

    /// The bare JID of `user` on this server, `user@<domain>`.
    pub fn jid(&self, user: &str) -> String {
        format!("{user}@{}", self.domain)
    }

    /// The admin's bare JID, `admin@<domain>`.
    pub fn admin_jid(&self) -> String {
        self.jid(ADMIN_USER)
    }

    /// The admin's generated password.
    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// The instance folder (config, `data/`, `prosody.log`, `prosody.err`, `prosody.stdout`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The config file written from [`CONFIG_TEMPLATE`].
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the server process is still alive.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) | None => false,
        }
    }

    /// Registers (or re-keys) an account; works while the server runs or is stopped.
    pub fn register(&self, user: &str, password: &str) -> Result<(), TestkitError> {
        validate_account(user, password)?;
        self.register_all(&[(user.to_owned(), password.to_owned())])
    }

    /// Registers (or re-keys) many accounts: in one `prosodyctl shell` batch while the server
    /// runs, else with `prosodyctl register`, a few processes at a time.
    pub fn register_many(&self, accounts: &[(String, String)]) -> Result<(), TestkitError> {
        for (user, password) in accounts {
            validate_account(user, password)?;
        }
        self.register_all(accounts)
    }

    /// The last `lines` lines of `prosody.log` and `prosody.stdout` (where config errors go).
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for name in ["prosody.stdout", "prosody.log"] {
            let Ok(text) = std::fs::read_to_string(self.dir().join(name)) else {
                continue;
            };
            let all: Vec<&str> = text.lines().collect();
            if all.is_empty() {
                continue;
            }
            out.push_str(&format!("--- {name}\n"));
            for line in &all[all.len().saturating_sub(lines)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Stops the server gracefully: SIGTERM (clients get `<system-shutdown/>`), then SIGKILL
    /// after [`STOP_TIMEOUT`]. Does nothing when it is not running.
    pub fn stop(&mut self) -> Result<(), TestkitError> {
        self.disarm_watchdog();
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Ok(Some(_)) = child.try_wait() {
            return Ok(());
        }
        let term = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !matches!(term, Ok(s) if s.success()) {
            // No kill(1) at hand: fall back to SIGKILL.
            return kill_and_reap(&mut child);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    tracing::warn!("Prosody ignored SIGTERM for {STOP_TIMEOUT:?}; killing it");
                    return kill_and_reap(&mut child);
                }
                Err(e) => return Err(TestkitError::io("waiting for Prosody to exit", e)),
            }
        }
    }

    /// Kills the server with SIGKILL, like a crash (clients see the TCP connection drop).
    pub fn kill(&mut self) -> Result<(), TestkitError> {
        self.disarm_watchdog();
        match self.child.take() {
            Some(mut child) => kill_and_reap(&mut child),
            None => Ok(()),
        }
    }

    /// [`stop`](Self::stop), then start again on the same port and folder: accounts and
    /// stored pubsub nodes and subscriptions are kept.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop()?;
        self.start_again()
    }

    /// Starts the server again after [`stop`](Self::stop) or [`kill`](Self::kill), on the same
    /// port and folder. Does nothing when it is running.
    pub fn start_again(&mut self) -> Result<(), TestkitError> {
        if self.is_running() {
            return Ok(());
        }
        self.child = None;
        self.spawn_and_wait()
    }

    fn write_config(&self) -> Result<(), TestkitError> {
        let dir = self.dir().to_string_lossy();
        let mut text = render_config(&dir, self.port, &self.domain);
        if let Some(tls) = &self.tls {
            text = render_tls(&text, &tls.certificate, &tls.key);
        }
        std::fs::write(&self.config, text)
            .map_err(|e| TestkitError::io(format!("writing {}", self.config.display()), e))
    }

    fn spawn_and_wait(&mut self) -> Result<(), TestkitError> {
        let log = self.dir().join("prosody.log");
        // A fresh log per start, so the readiness check reads this start's lines only.
        if log.exists() {
            let old = self.dir().join("prosody.log.old");
            let _ = std::fs::rename(&log, old);
        }
        let stdout = std::fs::File::create(self.dir().join("prosody.stdout"))
            .map_err(|e| TestkitError::io("creating prosody.stdout", e))?;
        let stderr = stdout
            .try_clone()
            .map_err(|e| TestkitError::io("creating prosody.stdout", e))?;
        let child = Command::new(&self.prosody)
            .arg("-F")
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.dir())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| TestkitError::io(format!("running {}", self.prosody.display()), e))?;
        self.watchdog = spawn_watchdog(child.id(), &self.config);
        self.child = Some(child);

        match self.wait_ready(&log) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.kill();
                Err(e)
            }
        }
    }

    fn wait_ready(&mut self, log: &Path) -> Result<(), TestkitError> {
        let port = self.port;
        let activated = format!("Activated service 'c2s' on [127.0.0.1]:{port}");
        let failed = format!("Failed to open server port {port}");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(TestkitError::Exited {
                    status,
                    log_tail: self.log_tail(LOG_TAIL_LINES),
                });
            }
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains(&failed) {
                return Err(TestkitError::PortInUse {
                    port,
                    log_tail: self.log_tail(LOG_TAIL_LINES),
                });
            }
            // The log line proves the listener is ours, the connect that it is up.
            if text.contains(&activated)
                && TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(TestkitError::StartTimeout {
                    port,
                    timeout: START_TIMEOUT,
                    log_tail: self.log_tail(LOG_TAIL_LINES),
                });
            }
            std::thread::sleep(Duration::from_millis(15));
        }
    }

    fn disarm_watchdog(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        if let Err(e) = self.kill() {
            tracing::warn!("stopping Prosody on drop: {e}");
        }
        release_port(self.port);
    }
}

/// Fills the config template for one instance.
pub fn render_config(dir: &str, port: u16, domain: &str) -> String {
    CONFIG_TEMPLATE
        .replace("@DIR@", dir)
        .replace("@PORT@", &port.to_string())
        .replace("@DOMAIN@", domain)
}

/// Looks `program` up like a shell does: as a path when it contains `/`, else on `PATH`.
fn find_program(program: &OsString) -> Result<PathBuf, TestkitError> {
    let not_installed = || TestkitError::NotInstalled {
        program: program.to_string_lossy().into_owned(),
    };
    let path = Path::new(program);
    if program.to_string_lossy().contains('/') {
        return if is_executable(path) {
            Ok(path.to_path_buf())
        } else {
            Err(not_installed())
        };
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .map(|d| d.join(path))
        .find(|p| is_executable(p))
        .ok_or_else(not_installed)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn validate_domain(domain: &str) -> Result<(), TestkitError> {
    let ok = !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(TestkitError::InvalidDomain {
            domain: domain.to_owned(),
        })
    }
}

/// A free port on 127.0.0.1, not handed to another live instance of this process.
fn reserve_port() -> Result<u16, TestkitError> {
    for _ in 0..50 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| TestkitError::io("finding a free port", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| TestkitError::io("finding a free port", e))?
            .port();
        drop(listener);
        let mut ports = PORTS_IN_USE.lock().unwrap_or_else(|p| p.into_inner());
        if ports.insert(port) {
            return Ok(port);
        }
    }
    Err(TestkitError::io(
        "finding a free port",
        io::Error::new(
            io::ErrorKind::AddrInUse,
            "the kernel kept returning ports in use",
        ),
    ))
}

fn release_port(port: u16) {
    PORTS_IN_USE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&port);
}

fn kill_and_reap(child: &mut Child) -> Result<(), TestkitError> {
    if let Ok(Some(_)) = child.try_wait() {
        return Ok(());
    }
    child
        .kill()
        .map_err(|e| TestkitError::io("killing Prosody", e))?;
    child
        .wait()
        .map(drop)
        .map_err(|e| TestkitError::io("waiting for Prosody to exit", e))
}

/// Starts `sh` waiting for EOF on a pipe whose write end only this process holds: when the
/// process dies without stopping Prosody, the pipe closes and the watchdog kills the server.
/// `None` (no watchdog) when `sh` cannot be started.
fn spawn_watchdog(pid: u32, config: &Path) -> Option<Child> {
    // Kill only if the PID still runs this instance's config (guards against PID reuse).
    let script = r#"read -r _; grep -qF -- "$2" "/proc/$1/cmdline" 2>/dev/null && kill -KILL "$1" 2>/dev/null; exit 0"#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("prosody-watchdog")
        .arg(pid.to_string())
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| tracing::debug!("no Prosody watchdog: {e}"))
        .ok()
}

/// A single-quoted Lua string literal.
fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// 64 random bits from the standard library's per-process hash keys (no RNG dependency).
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(INSTANCE_COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_gives_the_documented_message() {
        let options = ProsodyOptions {
            prosody_program: "switchboard-no-such-prosody".into(),
            ..ProsodyOptions::default()
        };
        let err = Prosody::start(options).expect_err("a missing binary must fail");
        assert!(
            matches!(err, TestkitError::NotInstalled { ref program } if program == "switchboard-no-such-prosody")
        );
        assert_eq!(
            err.to_string(),
            "Prosody is not installed: run 'apt-get install -y prosody' (or ./tests/run, which installs it)"
        );
        assert_eq!(err.to_string(), NOT_INSTALLED_MESSAGE);

        let options = ProsodyOptions {
            prosodyctl_program: "/nonexistent/prosodyctl".into(),
            ..ProsodyOptions::default()
        };
        let err = Prosody::start(options).expect_err("a missing prosodyctl must fail");
        assert_eq!(err.to_string(), NOT_INSTALLED_MESSAGE);
    }

    #[test]
    fn config_has_no_placeholder_left() {
        let text = render_config("/tmp/x", 15222, "finesse.local");
        for p in ["@DIR@", "@PORT@", "@DOMAIN@"] {
            assert!(!text.contains(p), "{p} left in the config");
        }
        assert!(text.contains("c2s_ports = { 15222 }"));
        assert!(text.contains(r#"admins = { "admin@finesse.local" }"#));
        assert!(text.contains(r#"Component "pubsub.finesse.local" "pubsub""#));
        assert!(text.contains(r#"pidfile = "/tmp/x/prosody.pid""#));
    }

    #[test]
    fn tls_placeholders_are_comments_unless_filled() {
        let plain = render_config("/tmp/x", 15222, "finesse.local");
        assert!(!plain.contains("\"tls\";"));
        assert!(plain.contains("c2s_require_encryption = false"));
        let tls = render_tls(
            &plain,
            Path::new("/tmp/x/certs/a.crt"),
            Path::new("/tmp/x/certs/a.key"),
        );
        assert!(!tls.contains("@TLS_"), "placeholder left");
        assert!(tls.contains("\"tls\";"));
        assert!(
            tls.contains(
                "ssl = { certificate = '/tmp/x/certs/a.crt'; key = '/tmp/x/certs/a.key' }"
            )
        );
        assert!(tls.contains("c2s_require_encryption = true"));
    }

    #[test]
    fn lua_strings_are_quoted() {
        assert_eq!(lua_string("a'b\\c"), "'a\\'b\\\\c'");
    }

    #[test]
    fn accounts_are_checked() {
        assert!(validate_account("1001001", "pw").is_ok());
        assert!(validate_account("a@b", "pw").is_err());
        assert!(validate_account("", "pw").is_err());
        assert!(validate_account("u", "").is_err());
        assert!(validate_domain("finesse.local").is_ok());
        assert!(validate_domain("bad domain").is_err());
    }

    #[test]
    fn debug_hides_passwords() {
        let o = ProsodyOptions::with_accounts([("1001001", "secret-pw")]);
        assert!(!format!("{o:?}").contains("secret-pw"));
    }
}
