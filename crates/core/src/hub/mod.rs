//! The hub and the broker, split as Centrifuge splits them.
//!
//! - The [`Broker`] owns the streams: each topic's offsets, epoch and bounded
//!   history for resume. [`MemoryBroker`] keeps them in this process; a
//!   cluster broker (NATS JetStream, a later issue) implements the same
//!   trait. Each event is stamped with its stream position and framed for the
//!   WebSocket once per stream ([`stamp`]) into a shared [`Wire`].
//! - The [`Hub`] owns this process's clients: their [`ClientQueue`]s, which
//!   client is subscribed to which topic (only the hub knows), and the
//!   fan-out of each published frame to the subscribers' queues: every
//!   subscriber's queue holds a reference to that one buffer. Publishing
//!   never waits on a client: a queue over its byte limit closes with 4408
//!   ([`ClientQueue::push`]).
//!
//! The hub knows neither the cache nor Finesse: what a change becomes (its
//! topics and its event) is `crate::route`'s.
//!
//! **The ordering contract of a subscribe.** The frames a subscribe queues
//! (the `Subscribed` reply, then each topic's replay or snapshot: the
//! *prelude*) come before any live event of those topics, with no gap and no
//! duplicate: a live event is either in the replay or snapshot (published
//! before the subscribe read the stream's position) or queued after the
//! prelude (published after). The hub keeps it by holding the locks of the
//! topics involved (taken in a fixed order) while it reads each stream's
//! position and history from the broker, queues the prelude and adds the
//! client to the subscribers; a publish appends to the broker and fans out
//! under its topic's lock, so it comes wholly before or wholly after.

mod broker;
mod broker_memory;
mod queue;
mod wire;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use dashmap::DashMap;
use indexmap::IndexMap;
use switchboard_protocol::{CloseCode, StreamPosition, Topic};

pub use broker::{Broker, Gap, Published, stamp, with_source};
pub use broker_memory::{HistoryLimits, MemoryBroker};
pub use queue::{Batch, ClientQueue, PING_FRAME, PRELUDE_ALLOWANCE, PushError};

pub use wire::{Wire, text_of};

/// One topic of a subscribe, as the hub found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// The topic (its text is the stream name).
    pub topic: Topic,
    /// The stream's current position (last offset, epoch): snapshot frames are
    /// stamped with it.
    pub position: StreamPosition,
    /// When the subscribe gave a `since` for this topic and the history holds
    /// every event after it: those events, re-sourced `replay`, in order.
    /// `None`: no `since`, or the history no longer covers it (snapshot).
    pub replay: Option<Vec<Wire>>,
    /// Whether the subscribe gave a `since` for this topic.
    pub resumed: bool,
}

/// Counters of the hub, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HubStats {
    /// Connected clients.
    pub clients: usize,
    /// Topics with a stream (subscribed or holding history).
    pub topics: usize,
    /// (client, topic) subscriptions.
    pub subscriptions: usize,
    /// Bytes held by the histories.
    pub history_bytes: usize,
    /// Bytes queued to the clients, not yet taken by a writer.
    pub queued_bytes: usize,
}

/// Builds the frames a subscribe enqueues before live events, from what the hub
/// found for each topic.
pub type Prelude<'a> = &'a mut dyn FnMut(&[Recovery]) -> Vec<Wire>;

#[derive(Debug)]
struct TopicState {
    /// By client id: a client leaves in constant time (a scan per leave made
    /// a mass disconnect of a topic's subscribers quadratic), and a publish
    /// walks them in one array.
    subscribers: IndexMap<u64, Arc<ClientQueue>>,
    /// Set by `sweep` when it drops the entry; holders of a stale `Arc` retry.
    removed: bool,
}

#[derive(Debug)]
struct ClientEntry {
    queue: Arc<ClientQueue>,
    /// The client's topics, sorted (a client has a few: a vector is smaller
    /// than a tree per connection).
    topics: Mutex<Vec<Topic>>,
}

/// This process's clients and their subscriptions, over a [`Broker`].
///
/// A topic has an entry here from its first publish or subscribe until the
/// broker drops its stream ([`Hub::sweep`]): every stream of the broker is
/// reached through one.
#[derive(Debug)]
pub struct Hub {
    broker: Arc<dyn Broker>,
    topics: DashMap<Topic, Arc<Mutex<TopicState>>>,
    clients: DashMap<u64, ClientEntry>,
}

#[cfg(test)]
thread_local! {
    /// Steps of the work an unsubscribe does (tests check it is linear).
    static STEPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
fn count_step() {
    STEPS.with(|s| s.set(s.get() + 1));
}

#[cfg(not(test))]
fn count_step() {}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Hub {
    /// A hub with no clients, publishing through `broker`.
    pub fn new(broker: Arc<dyn Broker>) -> Hub {
        Hub {
            broker,
            topics: DashMap::new(),
            clients: DashMap::new(),
        }
    }

    fn entry(&self, topic: &Topic) -> Arc<Mutex<TopicState>> {
        if let Some(e) = self.topics.get(topic) {
            return e.clone();
        }
        self.topics
            .entry(topic.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(TopicState {
                    subscribers: IndexMap::new(),
                    removed: false,
                }))
            })
            .clone()
    }

    /// Runs `f` on the live state of `topic` (retrying if `sweep` dropped the
    /// entry between lookup and lock).
    fn with_topic<R>(&self, topic: &Topic, f: impl FnOnce(&mut TopicState) -> R) -> R {
        let mut f = Some(f);
        loop {
            let entry = self.entry(topic);
            let mut state = lock(&entry);
            if state.removed {
                continue;
            }
            if let Some(f) = f.take() {
                return f(&mut state);
            }
        }
    }

    /// Registers a connected client (it receives broadcasts from now on).
    pub fn connect(&self, client: Arc<ClientQueue>) {
        self.clients.insert(
            client.id(),
            ClientEntry {
                queue: client,
                topics: Mutex::new(Vec::new()),
            },
        );
    }

    /// Removes a client and all its subscriptions.
    pub fn disconnect(&self, client: u64) {
        let Some((_, entry)) = self.clients.remove(&client) else {
            return;
        };
        let topics = std::mem::take(&mut *lock(&entry.topics));
        for topic in topics {
            if let Some(t) = self.topics.get(&topic).map(|t| t.clone()) {
                lock(&t).subscribers.swap_remove(&client);
            }
        }
    }

    /// Publishes an event (a JSON object) on `topic`'s stream through the
    /// broker and queues the stamped frame to every subscriber. Returns its
    /// offset.
    pub fn publish(&self, topic: &Topic, event_json: &str) -> u64 {
        self.with_topic(topic, |state| {
            let published = self.broker.publish(topic, event_json);
            let mut overflowed = false;
            for q in state.subscribers.values() {
                if q.push(&published.frame).is_err() {
                    overflowed = true;
                }
            }
            if overflowed {
                state.subscribers.retain(|_, q| !q.is_closed());
            }
            published.position.offset
        })
    }

    /// Queues a frame outside any stream to every connected client
    /// (`System/SetSystemInfo`).
    pub fn broadcast(&self, frame: Wire) {
        for c in self.clients.iter() {
            let _ = c.queue.push(&frame);
        }
    }

    /// Subscribes `client` to `topics` (each with an optional resume position).
    /// `prelude` gets what the hub found per topic and returns the frames to
    /// queue before any live event of those topics (the module's ordering
    /// contract). Topics the client already has are left as they are (no
    /// prelude frames are asked for them: the client already has their
    /// events). The prelude does not count against the client's byte limit
    /// ([`ClientQueue::push_prelude`]), so a large snapshot or replay cannot
    /// close it. Fails only when the client's queue is closed.
    pub fn subscribe(
        &self,
        client: &Arc<ClientQueue>,
        topics: &[(Topic, Option<StreamPosition>)],
        prelude: Prelude<'_>,
    ) -> Result<Vec<Recovery>, PushError> {
        let already: Vec<Topic> = match self.clients.get(&client.id()) {
            Some(e) => lock(&e.topics).clone(),
            None => return Err(PushError::Closed(Some(CloseCode::Shutdown))),
        };
        let mut wanted: Vec<&(Topic, Option<StreamPosition>)> = topics
            .iter()
            .filter(|(t, _)| already.binary_search(t).is_err())
            .collect();
        wanted.sort_by(|a, b| a.0.cmp(&b.0));
        wanted.dedup_by(|a, b| a.0 == b.0);
        loop {
            let entries: Vec<Arc<Mutex<TopicState>>> =
                wanted.iter().map(|(t, _)| self.entry(t)).collect();
            let mut guards: Vec<MutexGuard<'_, TopicState>> =
                entries.iter().map(|e| lock(e)).collect();
            if guards.iter().any(|g| g.removed) {
                continue;
            }
            let recoveries: Vec<Recovery> = wanted
                .iter()
                .map(|(topic, since)| Recovery {
                    topic: topic.clone(),
                    position: self.broker.position(topic),
                    replay: since
                        .as_ref()
                        .and_then(|s| self.broker.history(topic, s).ok())
                        .map(|frames| frames.iter().map(|f| with_source(f, "replay")).collect()),
                    resumed: since.is_some(),
                })
                .collect();
            client.push_prelude(&prelude(&recoveries))?;
            for g in &mut guards {
                g.subscribers.insert(client.id(), client.clone());
            }
            drop(guards);
            if let Some(e) = self.clients.get(&client.id()) {
                let mut mine = lock(&e.topics);
                mine.extend(wanted.iter().map(|(t, _)| t.clone()));
                mine.sort();
                mine.dedup();
                mine.shrink_to_fit();
            }
            return Ok(recoveries);
        }
    }

    /// Removes `topics` from the client's subscriptions; returns those it had.
    pub fn unsubscribe(&self, client: u64, topics: &[Topic]) -> Vec<Topic> {
        let Some(entry) = self.clients.get(&client) else {
            return Vec::new();
        };
        let mut gone: Vec<&Topic> = topics.iter().collect();
        gone.sort_unstable();
        gone.dedup();
        let mut removed = Vec::new();
        {
            // One pass over the two sorted lists (removing one at a time
            // moved the rest of the list each time: quadratic).
            let mut mine = lock(&entry.topics);
            let mut gone = gone.into_iter().peekable();
            mine.retain(|t| {
                count_step();
                while gone.next_if(|g| *g < t).is_some() {
                    count_step();
                }
                let keep = gone.next_if(|g| *g == t).is_none();
                if !keep {
                    removed.push(t.clone());
                }
                keep
            });
            mine.shrink_to_fit();
        }
        drop(entry);
        for t in &removed {
            if let Some(state) = self.topics.get(t).map(|s| s.clone()) {
                lock(&state).subscribers.swap_remove(&client);
            }
        }
        removed
    }

    /// The client's subscriptions, sorted.
    pub fn subscriptions(&self, client: u64) -> Vec<Topic> {
        self.clients
            .get(&client)
            .map(|e| lock(&e.topics).iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The clients subscribed to `topic`.
    pub fn subscribers(&self, topic: &Topic) -> Vec<Arc<ClientQueue>> {
        self.topics
            .get(topic)
            .map(|t| t.clone())
            .map(|t| lock(&t).subscribers.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Closes every client's queue with `code` (shutdown: queued frames are
    /// still written).
    pub fn close_all(&self, code: CloseCode) {
        for c in self.clients.iter() {
            c.queue.close(code);
        }
    }

    /// Asks every client's writer to send a WebSocket ping.
    pub fn ping_all(&self) {
        for c in self.clients.iter() {
            c.queue.request_ping();
        }
    }

    /// Drops closed subscribers, expired history, and the streams with
    /// neither history nor subscribers. Returns the number of streams
    /// dropped.
    pub fn sweep(&self, now: Instant) -> usize {
        let mut dropped = 0;
        self.topics.retain(|topic, state| {
            let mut s = lock(state);
            s.subscribers.retain(|_, q| !q.is_closed());
            if self.broker.sweep(topic, now, s.subscribers.is_empty()) {
                s.removed = true;
                dropped += 1;
                false
            } else {
                true
            }
        });
        dropped
    }

    /// Counters.
    pub fn stats(&self) -> HubStats {
        let mut stats = HubStats {
            clients: self.clients.len(),
            topics: self.topics.len(),
            history_bytes: self.broker.history_bytes(),
            ..HubStats::default()
        };
        for c in self.clients.iter() {
            stats.queued_bytes += c.queue.queued_bytes();
        }
        for t in self.topics.iter() {
            stats.subscriptions += lock(&t).subscribers.len();
        }
        stats
    }
}

#[cfg(test)]
mod tests;
