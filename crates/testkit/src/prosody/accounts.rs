//! Accounts: one `prosodyctl shell` batch once the server runs (one Lua start-up for many
//! accounts), else `prosodyctl register` per account, a few processes at a time (works
//! offline); and the checks an account passes first.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Prosody, TestkitError, lua_string};

/// How many `prosodyctl register` processes run at once (each is a Lua start-up, ~40 ms of CPU).
const REGISTER_CONCURRENCY: usize = 4;

/// How many accounts one `prosodyctl shell` call creates (its command line stays far below
/// Linux's 128 KiB limit for one argument).
const SHELL_BATCH: usize = 200;

impl Prosody {
    pub(super) fn register_all(&self, accounts: &[(String, String)]) -> Result<(), TestkitError> {
        if accounts.is_empty() {
            return Ok(());
        }
        if self.child.is_some() && self.wait_admin_socket() {
            let mut done = true;
            for batch in accounts.chunks(SHELL_BATCH) {
                if let Err(e) = self.register_with_shell(batch) {
                    tracing::debug!("prosodyctl shell failed ({e}); using prosodyctl register");
                    done = false;
                    break;
                }
            }
            if done {
                return Ok(());
            }
        }
        self.register_each(accounts)
    }

    /// Waits (briefly) for the admin shell's socket, which appears as Prosody loads modules.
    fn wait_admin_socket(&self) -> bool {
        let socket = self.dir().join("prosody.sock");
        let deadline = Instant::now() + Duration::from_secs(2);
        while !socket.exists() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// Creates (or re-keys) `accounts` with one `prosodyctl shell` call (one Lua start-up
    /// instead of one per account).
    fn register_with_shell(&self, accounts: &[(String, String)]) -> Result<(), TestkitError> {
        // The shell's environment has no Lua globals besides its commands: plain syntax only.
        let mut chunk = String::from(
            "local f = '' local function r(j, p) local ok, err = user:create(j, p) \
             if not ok and err == 'User exists' then ok, err = user:password(j, p) end \
             if not ok then f = f .. j .. ': ' .. (err or '?') .. '; ' end end",
        );
        for (user, password) in accounts {
            chunk.push_str(&format!(
                " r({}, {})",
                lua_string(&self.jid(user)),
                lua_string(password)
            ));
        }
        chunk.push_str(" if f ~= '' then return nil, f end return true, 'registered'");
        let out = Command::new(&self.prosodyctl)
            .arg("--config")
            .arg(&self.config)
            .arg("shell")
            .arg(chunk)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| TestkitError::io(format!("running {}", self.prosodyctl.display()), e))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && stdout.contains("OK: registered") {
            return Ok(());
        }
        let mut output = stdout.into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        Err(TestkitError::Register {
            user: format!(
                "{} accounts starting with {}",
                accounts.len(),
                accounts[0].0
            ),
            domain: self.domain.clone(),
            status: out.status,
            output: output.trim().to_owned(),
        })
    }

    /// `prosodyctl register` per account, [`REGISTER_CONCURRENCY`] at a time (works offline).
    fn register_each(&self, accounts: &[(String, String)]) -> Result<(), TestkitError> {
        let mut running: VecDeque<(&str, Child)> = VecDeque::new();
        let mut first_error = None;
        for (user, password) in accounts {
            if running.len() >= REGISTER_CONCURRENCY
                && let Some((u, child)) = running.pop_front()
                && let Err(e) = self.finish_register(u, child)
            {
                first_error.get_or_insert(e);
            }
            let child = Command::new(&self.prosodyctl)
                .arg("--config")
                .arg(&self.config)
                .arg("register")
                .arg(user)
                .arg(&self.domain)
                .arg(password)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| TestkitError::io(format!("running {}", self.prosodyctl.display()), e));
            match child {
                Ok(child) => running.push_back((user, child)),
                Err(e) => {
                    first_error.get_or_insert(e);
                    break;
                }
            }
        }
        for (user, child) in running {
            if let Err(e) = self.finish_register(user, child) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn finish_register(&self, user: &str, child: Child) -> Result<(), TestkitError> {
        let out = child
            .wait_with_output()
            .map_err(|e| TestkitError::io("waiting for prosodyctl", e))?;
        if out.status.success() {
            return Ok(());
        }
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        Err(TestkitError::Register {
            user: user.to_owned(),
            domain: self.domain.clone(),
            status: out.status,
            output: output.trim().to_owned(),
        })
    }
}

pub(super) fn validate_account(user: &str, password: &str) -> Result<(), TestkitError> {
    let reason = if user.is_empty() {
        Some("empty user name")
    } else if user
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "@/\"&'<>:".contains(c))
    {
        Some("the user name must be a plain JID node (no '@', '/', spaces, quotes)")
    } else if password.is_empty() {
        Some("empty password")
    } else if password.chars().any(char::is_control) {
        Some("control characters in the password")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(TestkitError::InvalidAccount {
            user: user.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}
