//! The outgoing queue of one client connection: encoded frames waiting for the
//! connection's writer, bounded in bytes.
//!
//! The hub pushes shared frames (one allocation per broadcast
//! however many clients receive it) without ever waiting: a push either fits
//! under the byte limit or closes the queue with [`CloseCode::TooSlow`] and
//! drops what was queued, so one client that stops reading never holds up the
//! others (Centrifugo's rule). Frames are [`Wire`]s: text checked as UTF-8 once, shared
//! by reference count. The writer takes every frame queued meanwhile in
//! one batch ([`ClientQueue::next_batch`]) and writes them with one flush.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use switchboard_protocol::CloseCode;
use tokio::sync::Notify;

use super::Wire;

/// Why a push did not queue its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The queue was already closed (with this code).
    Closed(CloseCode),
    /// This push overflowed the byte limit: the queue is now closed with
    /// [`CloseCode::TooSlow`].
    Overflow,
}

/// What the writer gets from [`ClientQueue::next_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// Frames were moved into the caller's buffer.
    Frames,
    /// Nothing queued, but a ping is due: send one.
    Ping,
    /// The queue is closed and drained: send this close code and stop.
    Closed(CloseCode),
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Wire>,
    bytes: usize,
    closed: Option<CloseCode>,
}

/// The queue of one client. Shared (`Arc`) between the hub, which pushes, and
/// the connection's writer, which drains.
#[derive(Debug)]
pub struct ClientQueue {
    id: u64,
    max_bytes: usize,
    state: Mutex<State>,
    notify: Notify,
    /// Woken when the queue closes (a writer blocked on a slow socket stops).
    on_close: Notify,
    /// Mirrors `state.closed.is_some()` for a lock-free check by publishers.
    closed: AtomicBool,
    /// The hub asked for a WebSocket ping (one sweep for all clients, so an
    /// idle connection owns no timer of its own).
    ping: AtomicBool,
}

impl ClientQueue {
    /// An empty queue for client `id` holding at most `max_bytes` of frames.
    pub fn new(id: u64, max_bytes: usize) -> ClientQueue {
        ClientQueue {
            id,
            max_bytes,
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            on_close: Notify::new(),
            closed: AtomicBool::new(false),
            ping: AtomicBool::new(false),
        }
    }

    /// The client's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues one frame. Never waits. A frame that would take the queue over its
    /// byte limit closes it with [`CloseCode::TooSlow`] (queued frames are
    /// dropped; the client resumes from its last offset after reconnecting).
    /// A single frame larger than the whole limit is still queued when the queue
    /// is empty, so an unusually large event cannot close an idle client.
    pub fn push(&self, frame: Wire) -> Result<(), PushError> {
        let mut state = self.lock();
        if let Some(code) = state.closed {
            return Err(PushError::Closed(code));
        }
        if state.bytes + frame.len() > self.max_bytes && !state.frames.is_empty() {
            state.frames.clear();
            state.bytes = 0;
            state.closed = Some(CloseCode::TooSlow);
            self.closed.store(true, Ordering::Release);
            drop(state);
            self.notify.notify_one();
            self.on_close.notify_waiters();
            return Err(PushError::Overflow);
        }
        let was_empty = state.frames.is_empty();
        state.bytes += frame.len();
        state.frames.push_back(frame);
        drop(state);
        if was_empty {
            self.notify.notify_one();
        }
        Ok(())
    }

    /// Queues several frames in order (stops at the first that fails).
    pub fn push_all(&self, frames: impl IntoIterator<Item = Wire>) -> Result<(), PushError> {
        for frame in frames {
            self.push(frame)?;
        }
        Ok(())
    }

    /// Closes the queue with `code`. Frames already queued are still delivered
    /// (a shutdown flushes), except after [`CloseCode::TooSlow`]. The first close
    /// wins.
    pub fn close(&self, code: CloseCode) {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.closed = Some(code);
            self.closed.store(true, Ordering::Release);
        }
        drop(state);
        self.notify.notify_one();
        self.on_close.notify_waiters();
    }

    /// Resolves once the queue is closed.
    pub async fn closed(&self) {
        loop {
            let notified = self.on_close.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Asks the writer to send a WebSocket ping (ignored once closed).
    pub fn request_ping(&self) {
        if !self.is_closed() {
            self.ping.store(true, Ordering::Release);
            self.notify.notify_one();
        }
    }

    /// True once the queue is closed (the frames may not all be written yet).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The close code, if closed.
    pub fn close_code(&self) -> Option<CloseCode> {
        self.lock().closed
    }

    /// Bytes currently queued.
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Waits until there are frames or the queue is closed and drained. Moves
    /// every queued frame (up to about `max_batch_bytes`, at least one) into `out`.
    pub async fn next_batch(&self, out: &mut Vec<Wire>, max_batch_bytes: usize) -> Batch {
        loop {
            let notified = self.notify.notified();
            {
                let mut state = self.lock();
                if !state.frames.is_empty() {
                    let mut taken = 0;
                    while let Some(frame) = state.frames.front() {
                        if taken > 0 && taken + frame.len() > max_batch_bytes {
                            break;
                        }
                        taken += frame.len();
                        if let Some(frame) = state.frames.pop_front() {
                            out.push(frame);
                        }
                    }
                    state.bytes -= taken;
                    if !state.frames.is_empty() {
                        // More is waiting: make sure the next call does not sleep.
                        self.notify.notify_one();
                    }
                    return Batch::Frames;
                }
                if let Some(code) = state.closed {
                    return Batch::Closed(code);
                }
                if self.ping.swap(false, Ordering::AcqRel) {
                    return Batch::Ping;
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Wire {
        Wire::from("x".repeat(n))
    }

    #[tokio::test]
    async fn batches_everything_queued_meanwhile() {
        let q = ClientQueue::new(1, 1000);
        for _ in 0..5 {
            q.push(frame(10)).unwrap();
        }
        let mut out = Vec::new();
        assert_eq!(q.next_batch(&mut out, 1 << 20).await, Batch::Frames);
        assert_eq!(out.len(), 5);
        assert_eq!(q.queued_bytes(), 0);
    }

    #[tokio::test]
    async fn overflow_closes_with_too_slow_and_drops_frames() {
        let q = ClientQueue::new(1, 100);
        q.push(frame(60)).unwrap();
        assert_eq!(q.push(frame(60)), Err(PushError::Overflow));
        assert_eq!(q.push(frame(1)), Err(PushError::Closed(CloseCode::TooSlow)));
        let mut out = Vec::new();
        assert_eq!(
            q.next_batch(&mut out, 1 << 20).await,
            Batch::Closed(CloseCode::TooSlow)
        );
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn a_large_frame_fits_an_empty_queue() {
        let q = ClientQueue::new(1, 100);
        q.push(frame(500)).unwrap();
        assert_eq!(q.push(frame(1)), Err(PushError::Overflow));
    }

    #[tokio::test]
    async fn shutdown_flushes_before_closing() {
        let q = ClientQueue::new(1, 1000);
        q.push(frame(10)).unwrap();
        q.close(CloseCode::Shutdown);
        let mut out = Vec::new();
        assert_eq!(q.next_batch(&mut out, 1 << 20).await, Batch::Frames);
        assert_eq!(out.len(), 1);
        assert_eq!(
            q.next_batch(&mut out, 1 << 20).await,
            Batch::Closed(CloseCode::Shutdown)
        );
    }

    #[tokio::test]
    async fn batch_size_is_bounded_but_never_empty() {
        let q = ClientQueue::new(1, 10_000);
        for _ in 0..10 {
            q.push(frame(100)).unwrap();
        }
        let mut out = Vec::new();
        q.next_batch(&mut out, 250).await;
        assert_eq!(out.len(), 2);
        out.clear();
        q.next_batch(&mut out, 1).await;
        assert_eq!(out.len(), 1);
    }

    #[tokio::test]
    async fn a_requested_ping_wakes_the_writer_once() {
        let q = ClientQueue::new(1, 1000);
        q.request_ping();
        let mut out = Vec::new();
        assert_eq!(q.next_batch(&mut out, 1 << 20).await, Batch::Ping);
        q.push(frame(3)).unwrap();
        assert_eq!(q.next_batch(&mut out, 1 << 20).await, Batch::Frames);
    }

    #[tokio::test]
    async fn writer_wakes_on_push_from_another_task() {
        let q = std::sync::Arc::new(ClientQueue::new(1, 1000));
        let q2 = q.clone();
        let writer = tokio::spawn(async move {
            let mut out = Vec::new();
            q2.next_batch(&mut out, 1 << 20).await;
            out.len()
        });
        tokio::task::yield_now().await;
        q.push(frame(3)).unwrap();
        assert_eq!(writer.await.unwrap(), 1);
    }
}
