//! What the driver and the clients of one run share, without locks.
//!
//! - The driver records each event it causes before causing it
//!   ([`Board::publish`]): a global sequence number and the send time, under
//!   (agent, code), where the code (a NOT_READY reason code, cycling through
//!   [`Board::codes`] values per agent) is what identifies the change in the
//!   event a Switchboard client receives. A NATS client reads the same values
//!   from the payload.
//! - Completion: one counter per event in a ring, incremented by each client
//!   that receives it; the client that brings it to the number of subscribers
//!   of that agent's events returns a permit to the window (s1) and counts the
//!   event as completed. Only these counters and the window are shared
//!   writes; everything else a client counts stays in the client's task.
//! - Setup: clients report ready or failed, and which agents they cover.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

/// Events in the completion ring; the window must stay well below it.
pub const RING: usize = 1 << 16;

/// The shared state of one run.
#[derive(Debug)]
pub struct Board {
    /// Time zero of the run: send and receipt times are nanoseconds since it.
    pub start: Instant,
    agents: usize,
    codes: usize,
    /// Per (agent, code): the send time in nanoseconds + 1 (0: not sent yet).
    sent_nanos: Box<[AtomicU64]>,
    /// Per (agent, code): the global sequence number.
    sent_seq: Box<[AtomicU64]>,
    /// Per agent: changes published so far.
    published_per_agent: Box<[AtomicU64]>,
    next_seq: AtomicU64,
    ring: Box<[AtomicU32]>,
    /// Per agent: clients that receive its events.
    subscribers: Box<[AtomicU32]>,
    /// The closed-loop window (s1): a permit per event in flight.
    pub window: Option<Semaphore>,
    completed: AtomicU64,
    last_completion_nanos: AtomicU64,
    ready: AtomicUsize,
    failed: AtomicUsize,
    /// Woken when a client becomes ready or fails.
    pub setup_changed: Notify,
    /// Cancelled to stop every client.
    pub stop: CancellationToken,
    /// Cancelled when the stalled clients stop reading.
    pub stall: CancellationToken,
    /// Stalled clients away: not reading, or closed and not yet resumed.
    stalled_away: AtomicUsize,
}

/// How a received event relates to the driver's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Global sequence number.
    pub seq: u64,
    /// Send time, nanoseconds since [`Board::start`].
    pub nanos: u64,
}

impl Board {
    /// A board for `agents` agents whose events are told apart by `codes`
    /// codes each (reused cyclically), with a window of `window` events in
    /// flight (none: open loop).
    pub fn new(agents: usize, codes: usize, window: Option<usize>) -> Board {
        let agents = agents.max(1);
        let codes = codes.max(1);
        let atomics64 = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect::<Box<[_]>>();
        let atomics32 = |n: usize| (0..n).map(|_| AtomicU32::new(0)).collect::<Box<[_]>>();
        Board {
            start: Instant::now(),
            agents,
            codes,
            sent_nanos: atomics64(agents * codes),
            sent_seq: atomics64(agents * codes),
            published_per_agent: atomics64(agents),
            next_seq: AtomicU64::new(0),
            ring: atomics32(RING),
            subscribers: atomics32(agents),
            window: window.map(Semaphore::new),
            completed: AtomicU64::new(0),
            last_completion_nanos: AtomicU64::new(0),
            ready: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            setup_changed: Notify::new(),
            stop: CancellationToken::new(),
            stall: CancellationToken::new(),
            stalled_away: AtomicUsize::new(0),
        }
    }

    /// Nanoseconds since [`Board::start`].
    pub fn now_nanos(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Agents driven.
    pub fn agents(&self) -> usize {
        self.agents
    }

    /// Codes per agent.
    pub fn codes(&self) -> usize {
        self.codes
    }

    /// Records the next change of `agent`, sent now; returns its record and
    /// its code (`0..codes`). Call it before causing the change (the event may
    /// arrive before the request returns). `None` for an unknown agent.
    pub fn publish(&self, agent: usize) -> Option<(Sent, usize)> {
        let n = self
            .published_per_agent
            .get(agent)?
            .fetch_add(1, Ordering::Relaxed) as usize;
        let code = n % self.codes;
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        self.ring[seq as usize % RING].store(0, Ordering::Relaxed);
        let i = agent * self.codes + code;
        let nanos = self.now_nanos();
        self.sent_seq[i].store(seq, Ordering::Relaxed);
        self.sent_nanos[i].store(nanos + 1, Ordering::Release);
        Some((Sent { seq, nanos }, code))
    }

    /// A NATS event: the next sequence number, its ring slot cleared.
    pub fn publish_seq(&self) -> u64 {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        self.ring[seq as usize % RING].store(0, Ordering::Release);
        seq
    }

    /// Events published so far.
    pub fn published(&self) -> u64 {
        self.next_seq.load(Ordering::Acquire)
    }

    /// The record of the last change of `agent` published with `code`.
    pub fn lookup(&self, agent: usize, code: usize) -> Option<Sent> {
        if agent >= self.agents || code >= self.codes {
            return None;
        }
        let i = agent * self.codes + code;
        let nanos = self.sent_nanos[i].load(Ordering::Acquire);
        (nanos != 0).then(|| Sent {
            seq: self.sent_seq[i].load(Ordering::Relaxed),
            nanos: nanos - 1,
        })
    }

    /// A client received event `sent` of `agent` at `now_nanos`: counts it
    /// towards completion, and returns its latency from the send in
    /// microseconds (for the client's [`super::latency::Batch`]).
    pub fn delivered(&self, agent: usize, sent: Sent, now_nanos: u64) -> u64 {
        let us = now_nanos.saturating_sub(sent.nanos) / 1_000;
        let Some(subs) = self.subscribers.get(agent) else {
            return us;
        };
        let got = self.ring[sent.seq as usize % RING].fetch_add(1, Ordering::AcqRel) + 1;
        if got == subs.load(Ordering::Relaxed) {
            self.completed.fetch_add(1, Ordering::AcqRel);
            self.last_completion_nanos
                .fetch_max(now_nanos, Ordering::AcqRel);
            if let Some(w) = &self.window {
                w.add_permits(1);
            }
        }
        us
    }

    /// Events delivered to every subscriber so far.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Acquire)
    }

    /// When the last event completed, nanoseconds since start (0: none).
    pub fn last_completion_nanos(&self) -> u64 {
        self.last_completion_nanos.load(Ordering::Acquire)
    }

    /// A client is signed in and subscribed; `covers(a)` says whether it
    /// receives agent `a`'s events.
    pub fn client_ready(&self, covers: impl Fn(usize) -> bool) {
        for (a, s) in self.subscribers.iter().enumerate() {
            if covers(a) {
                s.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.ready.fetch_add(1, Ordering::AcqRel);
        self.setup_changed.notify_one();
    }

    /// A client could not sign in or subscribe.
    pub fn client_failed(&self) {
        self.failed.fetch_add(1, Ordering::AcqRel);
        self.setup_changed.notify_one();
    }

    /// Clients ready and failed so far.
    pub fn setup_counts(&self) -> (usize, usize) {
        (
            self.ready.load(Ordering::Acquire),
            self.failed.load(Ordering::Acquire),
        )
    }

    /// A stalled client went away (`true`: stopped reading, or was closed)
    /// or came back (`false`: reading again, or resumed).
    pub fn stalled_away(&self, away: bool) {
        if away {
            self.stalled_away.fetch_add(1, Ordering::AcqRel);
        } else {
            self.stalled_away.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Stalled clients away now.
    pub fn stalled_away_now(&self) -> usize {
        self.stalled_away.load(Ordering::Acquire)
    }

    /// Clients that receive agent `a`'s events.
    pub fn subscribers_of(&self, agent: usize) -> u32 {
        self.subscribers
            .get(agent)
            .map_or(0, |s| s.load(Ordering::Acquire))
    }
}
