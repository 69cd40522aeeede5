//! What every benchmark client counts, whatever it speaks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::accounting::StreamOffsets;
use super::token::{Population, TokenSigner};

/// What every client of a run needs, whatever it speaks.
#[derive(Debug)]
pub struct ClientSetup {
    /// `ws://host:port/ws` (Switchboard: the token is appended as
    /// `?access_token=`) or `ws://host:port` (NATS).
    pub url: String,
    /// Where to connect.
    pub target: SocketAddr,
    /// Read buffer per connection, bytes.
    pub read_buffer: usize,
    /// Limit on TCP connect + handshake.
    pub connect_timeout: Duration,
    /// Limit on the whole setup of one client (connect, sign-in, subscribe).
    pub setup_timeout: Duration,
    /// The driven agents' ids (NATS: the agents the subjects stand for).
    pub agents: Vec<String>,
    /// The team of `team` subscriptions.
    pub team: String,
    /// What each client subscribes to.
    pub population: Population,
    /// Signs the tokens (Switchboard).
    pub signer: Option<TokenSigner>,
    /// Clients in setup at once.
    pub gate: Arc<Semaphore>,
    /// Clients that stop reading for a while (Switchboard, s2).
    pub stall: Option<Stall>,
}

/// Clients that stop reading for a while, as a frozen browser tab or a hung
/// service does: the server must close them (4408) before their queue grows
/// past its bound, and the other clients must not notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    /// How many clients stall, spread evenly over the client indexes.
    pub clients: usize,
    /// Of how many clients.
    pub of: usize,
    /// How long they do not read.
    pub duration: Duration,
    /// Their socket receive buffer (`SO_RCVBUF`), bytes: small, so that the
    /// server's queue, not the kernel's buffers, takes the backlog.
    pub receive_buffer: u32,
    /// What they do.
    pub mode: StallMode,
}

/// What a stalled client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum StallMode {
    /// Stops reading for the stall's duration (a frozen tab); resumes if the
    /// server closed it meanwhile.
    #[default]
    Pause,
    /// Drops its connection without a close handshake and reconnects at
    /// once, resuming (a network blip, a load balancer failing over).
    Reconnect,
}

impl Stall {
    /// Whether client `index` is one of the stalled ones.
    pub fn covers(&self, index: usize) -> bool {
        if self.clients == 0 {
            return false;
        }
        let step = (self.of / self.clients).max(1);
        index.is_multiple_of(step) && index / step < self.clients
    }
}

/// How a client's setup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// Not finished (the run stopped first).
    #[default]
    Pending,
    /// Signed in and subscribed.
    Ready,
    /// Closed by the server with 4429 (too many connections).
    Refused,
    /// TCP connect or WebSocket handshake failed.
    ConnectError,
    /// Sign-in or subscription refused, or closed before being ready.
    Failed,
}

/// One client's counts, returned when its task ends.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// How the setup ended.
    pub outcome: Outcome,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// The close code the server sent, if it closed the connection.
    pub close_code: Option<u16>,
    /// Stream positions, lost and duplicated events.
    pub offsets: StreamOffsets,
    /// Live events received.
    pub deliveries: u64,
    /// Bytes of those events (frames for Switchboard, payloads for NATS).
    pub bytes: u64,
    /// Agent events repeating the state the client already had.
    pub repeats: u64,
    /// Live events matching no change the driver made.
    pub unmatched: u64,
    /// Whether the connection ended (closed or failed) while the run went on.
    pub dropped: bool,
    /// Whether this client stalled ([`Stall`]).
    pub stalled: bool,
    /// A stalled client closed by the server after its stall: the close
    /// code, or `None` when the connection ended without a close frame.
    pub stall_closed: Option<Option<u16>>,
    /// A stalled client that reconnected: whether the server replayed every
    /// missed event (`recovered`), or sent the snapshot instead.
    pub resumed: Option<bool>,
    /// Events received as a replay after resuming.
    pub replayed: u64,
    /// Events a snapshot stood in for after resuming (not replayed).
    pub skipped: u64,
    /// A stalled client that dropped its connection itself
    /// ([`StallMode::Reconnect`]).
    pub reconnected: bool,
}

impl ClientStats {
    /// Records a setup failure.
    pub fn fail(&mut self, outcome: Outcome, error: impl std::fmt::Display) {
        self.outcome = outcome;
        self.error = Some(error.to_string());
    }
}

/// The first NOT_READY reason code the driver uses; change `k` of an agent
/// (`0..Board::codes()`) sets reason code `REASON_BASE + k`.
pub const REASON_BASE: u32 = 10_000;

/// The reason code id of change code `k`.
pub fn reason_code_id(k: usize) -> String {
    (REASON_BASE as usize + k).to_string()
}

/// The change code (`0..codes`) of a reason code id, if it is one of the
/// driver's.
pub fn change_code(reason_code_id: &str, codes: usize) -> Option<usize> {
    let id: u32 = reason_code_id.parse().ok()?;
    let k = id.checked_sub(REASON_BASE)? as usize;
    (k < codes).then_some(k)
}

/// A key for an agent's state and reason code: equal keys mean the event
/// repeats the state the client already had.
pub fn state_key(state: &str, reason_code_id: Option<&str>) -> u64 {
    let state = match state {
        "READY" => 1u64,
        "NOT_READY" => 2,
        "LOGOUT" => 3,
        "TALKING" => 4,
        "RESERVED" => 5,
        "WORK_READY" | "WORK" => 6,
        _ => 7,
    };
    let reason = reason_code_id
        .and_then(|r| r.parse::<u32>().ok())
        .unwrap_or(u32::MAX);
    (state << 32) | u64::from(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stalled_clients_are_spread_over_the_indexes() {
        let stall = |clients, of| Stall {
            clients,
            of,
            duration: Duration::from_secs(1),
            receive_buffer: 4096,
            mode: StallMode::Pause,
        };
        let which = |s: Stall| (0..s.of).filter(|&i| s.covers(i)).collect::<Vec<_>>();
        assert_eq!(which(stall(3, 30)), vec![0, 10, 20]);
        assert_eq!(which(stall(4, 30)), vec![0, 7, 14, 21]);
        assert_eq!(which(stall(0, 30)), Vec::<usize>::new());
        assert_eq!(which(stall(5, 5)), vec![0, 1, 2, 3, 4]);
    }
}
