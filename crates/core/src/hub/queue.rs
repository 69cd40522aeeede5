//! The outgoing queue of one client connection: framed bytes waiting for the
//! connection's writer, bounded in bytes.
//!
//! The hub pushes shared frames (one allocation per broadcast however many
//! clients receive it) without ever waiting: a push either fits under the byte
//! limit or closes the queue with [`CloseCode::TooSlow`] and drops what was
//! queued, so one client that stops reading never holds up the others
//! (Centrifugo's rule). Entries are the frames' wire bytes ([`Wire::frame`]),
//! plus the control frames the connection's WebSocket reader answers with
//! ([`ClientQueue::push_control`]). The writer takes every frame queued
//! meanwhile in one batch ([`ClientQueue::next_batch`]) and writes them with
//! one vectored write. The writer's wake-up is an [`AtomicWaker`]: a push onto
//! a non-empty queue costs a lock and nothing else.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::task::AtomicWaker;
use switchboard_protocol::CloseCode;
use tokio::sync::Notify;

use super::Wire;

/// Why a push did not queue its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The queue was already closed (with this code, or `None` when the
    /// client closed the connection).
    Closed(Option<CloseCode>),
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
    /// The client closed the connection and everything queued (the close
    /// reply included) is written: stop without a close frame of our own.
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    /// By the server, with this code.
    Code(CloseCode),
    /// By the client ([`ClientQueue::finish`]).
    Peer,
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Bytes>,
    bytes: usize,
    closed: Option<Closed>,
}

/// The queue of one client. Shared (`Arc`) between the hub, which pushes, and
/// the connection's writer, which drains.
#[derive(Debug)]
pub struct ClientQueue {
    id: u64,
    max_bytes: usize,
    state: Mutex<State>,
    /// The writer, parked in [`ClientQueue::next_batch`].
    writer: AtomicWaker,
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
            writer: AtomicWaker::new(),
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
    pub fn push(&self, frame: &Wire) -> Result<(), PushError> {
        self.push_bytes(frame.frame().clone())
    }

    /// Queues a control frame, already framed (the WebSocket reader's pong or
    /// close reply), under the same rules as [`ClientQueue::push`].
    pub fn push_control(&self, frame: Bytes) -> Result<(), PushError> {
        self.push_bytes(frame)
    }

    fn push_bytes(&self, frame: Bytes) -> Result<(), PushError> {
        let mut state = self.lock();
        if let Some(closed) = state.closed {
            return Err(PushError::Closed(closed.code()));
        }
        if state.bytes + frame.len() > self.max_bytes && !state.frames.is_empty() {
            state.frames.clear();
            state.bytes = 0;
            state.closed = Some(Closed::Code(CloseCode::TooSlow));
            self.closed.store(true, Ordering::Release);
            drop(state);
            self.writer.wake();
            self.on_close.notify_waiters();
            return Err(PushError::Overflow);
        }
        let was_empty = state.frames.is_empty();
        state.bytes += frame.len();
        state.frames.push_back(frame);
        drop(state);
        if was_empty {
            self.writer.wake();
        }
        Ok(())
    }

    /// Queues several frames in order (stops at the first that fails).
    pub fn push_all<'a>(
        &self,
        frames: impl IntoIterator<Item = &'a Wire>,
    ) -> Result<(), PushError> {
        for frame in frames {
            self.push(frame)?;
        }
        Ok(())
    }

    /// Closes the queue with `code`. Frames already queued are still delivered
    /// (a shutdown flushes), except after [`CloseCode::TooSlow`]. The first close
    /// wins.
    pub fn close(&self, code: CloseCode) {
        self.close_with(Closed::Code(code));
    }

    /// Closes the queue because the client closed the connection: what is
    /// queued (the close reply) is still written, then the writer stops
    /// without sending a close frame of its own.
    pub fn finish(&self) {
        self.close_with(Closed::Peer);
    }

    fn close_with(&self, closed: Closed) {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.closed = Some(closed);
            self.closed.store(true, Ordering::Release);
        }
        drop(state);
        self.writer.wake();
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
            self.writer.wake();
        }
    }

    /// True once the queue is closed (the frames may not all be written yet).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The close code, if the server closed the queue.
    pub fn close_code(&self) -> Option<CloseCode> {
        self.lock().closed.and_then(Closed::code)
    }

    /// Bytes currently queued.
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Waits until there are frames or the queue is closed and drained. Moves
    /// every queued frame (up to about `max_batch_bytes`, at least one) into
    /// `out`.
    pub async fn next_batch(&self, out: &mut VecDeque<Bytes>, max_batch_bytes: usize) -> Batch {
        poll_fn(|cx| self.poll_next_batch(cx, out, max_batch_bytes)).await
    }

    /// [`ClientQueue::next_batch`] as a poll function.
    pub fn poll_next_batch(
        &self,
        cx: &mut Context<'_>,
        out: &mut VecDeque<Bytes>,
        max_batch_bytes: usize,
    ) -> Poll<Batch> {
        if let Some(batch) = self.take(out, max_batch_bytes) {
            return Poll::Ready(batch);
        }
        self.writer.register(cx.waker());
        match self.take(out, max_batch_bytes) {
            Some(batch) => Poll::Ready(batch),
            None => {
                // Going idle: an idle connection keeps no batch buffer.
                if out.capacity() > 0 {
                    *out = VecDeque::new();
                }
                Poll::Pending
            }
        }
    }

    fn take(&self, out: &mut VecDeque<Bytes>, max_batch_bytes: usize) -> Option<Batch> {
        let mut state = self.lock();
        if !state.frames.is_empty() {
            if state.bytes <= max_batch_bytes && out.is_empty() {
                // Everything fits: take the whole queue at once.
                std::mem::swap(&mut state.frames, out);
                state.bytes = 0;
            } else {
                let mut taken = 0;
                while let Some(frame) = state.frames.front() {
                    if taken > 0 && taken + frame.len() > max_batch_bytes {
                        break;
                    }
                    taken += frame.len();
                    if let Some(frame) = state.frames.pop_front() {
                        out.push_back(frame);
                    }
                }
                state.bytes -= taken;
            }
            return Some(Batch::Frames);
        }
        match state.closed {
            Some(Closed::Code(code)) => return Some(Batch::Closed(code)),
            Some(Closed::Peer) => return Some(Batch::Finished),
            None => {}
        }
        if state.frames.capacity() > 0 {
            // Nothing queued: keep no buffer while idle.
            state.frames = VecDeque::new();
        }
        drop(state);
        if self.ping.swap(false, Ordering::AcqRel) {
            return Some(Batch::Ping);
        }
        None
    }
}

impl Closed {
    fn code(self) -> Option<CloseCode> {
        match self {
            Closed::Code(code) => Some(code),
            Closed::Peer => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame taking `n` bytes on the wire (header included).
    fn frame(n: usize) -> Wire {
        let header = if n <= 127 { 2 } else { 4 };
        let w = Wire::from("x".repeat(n - header));
        assert_eq!(w.wire_len(), n);
        w
    }

    #[tokio::test]
    async fn batches_everything_queued_meanwhile() {
        let q = ClientQueue::new(1, 1000);
        for _ in 0..5 {
            q.push(&frame(10)).unwrap();
        }
        let mut out = VecDeque::new();
        assert_eq!(q.next_batch(&mut out, 1 << 20).await, Batch::Frames);
        assert_eq!(out.len(), 5);
        assert_eq!(q.queued_bytes(), 0);
    }

    #[tokio::test]
    async fn overflow_closes_with_too_slow_and_drops_frames() {
        let q = ClientQueue::new(1, 100);
        q.push(&frame(60)).unwrap();
        assert_eq!(q.push(&frame(60)), Err(PushError::Overflow));
        assert_eq!(
            q.push(&frame(2)),
            Err(PushError::Closed(Some(CloseCode::TooSlow)))
        );
        let mut out = VecDeque::new();
        assert_eq!(
            q.next_batch(&mut out, 1 << 20).await,
            Batch::Closed(CloseCode::TooSlow)
        );
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn a_large_frame_fits_an_empty_queue() {
        let q = ClientQueue::new(1, 100);
        q.push(&frame(500)).unwrap();
        assert_eq!(q.push(&frame(2)), Err(PushError::Overflow));
    }

    #[tokio::test]
    async fn shutdown_flushes_before_closing() {
        let q = ClientQueue::new(1, 1000);
        q.push(&frame(10)).unwrap();
        q.close(CloseCode::Shutdown);
        let mut out = VecDeque::new();
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
            q.push(&frame(100)).unwrap();
        }
        let mut out = VecDeque::new();
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
        let mut out = VecDeque::new();
        assert_eq!(q.next_batch(&mut out, 1 << 20).await, Batch::Ping);
        q.push(&frame(3)).unwrap();
        assert_eq!(q.next_batch(&mut out, 1 << 20).await, Batch::Frames);
    }

    #[tokio::test]
    async fn control_frames_queue_in_order_and_finish_stops_without_a_close() {
        let q = ClientQueue::new(1, 1000);
        q.push(&frame(10)).unwrap();
        q.push_control(Bytes::from_static(&[0x8a, 0x00])).unwrap();
        q.finish();
        assert_eq!(q.push(&frame(10)), Err(PushError::Closed(None)));
        let mut out = VecDeque::new();
        assert_eq!(q.next_batch(&mut out, 1 << 20).await, Batch::Frames);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].as_ref(), &[0x8a, 0x00]);
        assert_eq!(q.next_batch(&mut out, 1 << 20).await, Batch::Finished);
        assert_eq!(q.close_code(), None);
    }

    #[tokio::test]
    async fn writer_wakes_on_push_from_another_task() {
        let q = std::sync::Arc::new(ClientQueue::new(1, 1000));
        let q2 = q.clone();
        let writer = tokio::spawn(async move {
            let mut out = VecDeque::new();
            q2.next_batch(&mut out, 1 << 20).await;
            out.len()
        });
        tokio::task::yield_now().await;
        q.push(&frame(3)).unwrap();
        assert_eq!(writer.await.unwrap(), 1);
    }
}
