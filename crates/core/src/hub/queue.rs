//! The outgoing queue of one client connection: framed bytes waiting for the
//! connection's writer, bounded in bytes. The writer task is the only thing
//! that writes the connection's socket; the queue is how everything else
//! reaches it.
//!
//! The hub pushes shared frames (one allocation per broadcast however many
//! clients receive it) without ever waiting: a push either fits under the byte
//! limit or closes the queue with [`CloseCode::TooSlow`] and drops what was
//! queued, so one client that stops reading never holds up the others
//! (Centrifugo's rule). Entries are the frames' wire bytes ([`Wire::frame`]),
//! plus the control frames the connection's WebSocket reader answers with
//! ([`ClientQueue::push_control`]). The frames a client asked for (a
//! subscription's reply and its snapshot or replay,
//! [`ClientQueue::push_prelude`]) do not count against the limit until they
//! are written: a wallboard subscribing to `all` in a large contact center
//! gets a snapshot of several megabytes, and a resume may replay the whole
//! history; the limit bounds how far a client falls behind on live events.
//! That exemption is an allowance per connection ([`ClientQueue::with_prelude_max`]),
//! spent by every prelude until the client has caught up (its queue found
//! empty): a client that does not read gets it once, however often it
//! subscribes again.
//! The writer takes every frame queued meanwhile in one batch
//! ([`ClientQueue::next_batch`]) and writes them with one vectored write. The
//! writer's wake-up is an [`AtomicWaker`]: a push while the writer has work
//! costs a lock and nothing else.

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

/// A WebSocket ping with no payload, as a server sends it (unmasked).
pub const PING_FRAME: &[u8] = &[0x89, 0x00];

/// The default prelude allowance ([`ClientQueue::with_prelude_max`]), in
/// multiples of the queue's limit: 16 MiB with the default 1 MiB, room for a
/// snapshot of `all` with a few thousand agents and their calls, or for
/// several topics' replays.
pub const PRELUDE_ALLOWANCE: usize = 16;

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
    /// Of `bytes`, those of prelude frames ([`ClientQueue::push_prelude`])
    /// not yet taken by the writer: exempt from the byte limit.
    credit: usize,
    /// Prelude bytes exempted since the queue was last found empty (the
    /// client caught up): at most the queue's prelude allowance.
    prelude_spent: usize,
    closed: Option<Closed>,
    /// The writer took frames and has not found the queue empty since: it
    /// comes back for more without being woken.
    busy: bool,
}

impl State {
    /// Drops the queued frames.
    fn drop_frames(&mut self) {
        self.frames.clear();
        self.bytes = 0;
        self.credit = 0;
    }

    /// The writer found the queue empty: it is woken by the next push; an
    /// empty queue keeps no buffer while idle.
    fn go_idle(&mut self) {
        self.busy = false;
        // Everything queued was written: the client has caught up.
        self.prelude_spent = 0;
        if self.frames.capacity() > 0 {
            self.frames = VecDeque::new();
        }
    }

    /// Moves queued frames (at least one, then up to `max_bytes`) to `out`.
    /// The frames at the front are taken as the prelude's (it is queued
    /// before the live events of its topics): the credit goes with them.
    fn take_frames(&mut self, out: &mut VecDeque<Bytes>, max_bytes: usize) {
        let before = self.bytes;
        if self.bytes <= max_bytes && out.is_empty() {
            // Everything fits: take the whole queue at once.
            std::mem::swap(&mut self.frames, out);
            self.bytes = 0;
        } else {
            let mut taken = 0;
            while let Some(frame) = self.frames.front() {
                if taken > 0 && taken + frame.len() > max_bytes {
                    break;
                }
                taken += frame.len();
                if let Some(frame) = self.frames.pop_front() {
                    out.push_back(frame);
                }
            }
            self.bytes -= taken;
        }
        self.credit -= self.credit.min(before - self.bytes);
    }

    /// Whether `len` more bytes of live frames would take the queue over
    /// `max_bytes` (prelude frames not yet taken do not count).
    fn over(&self, len: usize, max_bytes: usize) -> bool {
        self.bytes - self.credit + len > max_bytes && !self.frames.is_empty()
    }
}

/// The queue of one client. Shared (`Arc`) between the hub, which pushes, and
/// the connection's writer, which drains.
#[derive(Debug)]
pub struct ClientQueue {
    id: u64,
    max_bytes: usize,
    /// Prelude bytes exempt from `max_bytes` until the client catches up.
    prelude_max: usize,
    state: Mutex<State>,
    /// The writer, parked in [`ClientQueue::next_batch`].
    writer: AtomicWaker,
    /// Woken when the queue closes (a writer blocked on a slow socket stops).
    on_close: Notify,
    /// Mirrors `state.closed.is_some()` for a lock-free check by publishers.
    closed: AtomicBool,
}

impl ClientQueue {
    /// An empty queue for client `id` holding at most `max_bytes` of frames.
    pub fn new(id: u64, max_bytes: usize) -> ClientQueue {
        ClientQueue {
            id,
            max_bytes,
            prelude_max: max_bytes.saturating_mul(PRELUDE_ALLOWANCE),
            state: Mutex::new(State::default()),
            writer: AtomicWaker::new(),
            on_close: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// Sets the prelude allowance: the bytes of preludes
    /// ([`ClientQueue::push_prelude`]) exempt from the byte limit from one
    /// catch-up to the next (the queue found empty). Default
    /// [`PRELUDE_ALLOWANCE`] times the limit.
    #[must_use]
    pub fn with_prelude_max(mut self, bytes: usize) -> ClientQueue {
        self.prelude_max = bytes;
        self
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
        if state.over(frame.len(), self.max_bytes) {
            return Err(self.overflow(state));
        }
        state.bytes += frame.len();
        state.frames.push_back(frame);
        self.wake_writer(state);
        Ok(())
    }

    /// A push would take the queue over its limit: drops the queued frames
    /// and closes it with [`CloseCode::TooSlow`].
    fn overflow(&self, mut state: MutexGuard<'_, State>) -> PushError {
        state.drop_frames();
        state.closed = Some(Closed::Code(CloseCode::TooSlow));
        self.closed.store(true, Ordering::Release);
        drop(state);
        self.writer.wake();
        self.on_close.notify_waiters();
        PushError::Overflow
    }

    /// Frames were queued: an idle writer is woken (a busy one comes back
    /// for them on its own).
    fn wake_writer(&self, mut state: MutexGuard<'_, State>) {
        if state.busy {
            return;
        }
        state.busy = true;
        drop(state);
        self.writer.wake();
    }

    /// Queues the frames a client asked for, in order: a subscription's reply
    /// and its snapshot or replay. They do not count against the byte limit
    /// until the writer takes them, however large (a snapshot of `all` is one
    /// event per agent and per call); live frames queued after them still
    /// close the queue with [`CloseCode::TooSlow`] when they pass the limit.
    /// The exemption is the queue's prelude allowance
    /// ([`ClientQueue::with_prelude_max`]), spent by every prelude until the
    /// client has caught up (the queue found empty), not only while they
    /// wait: a client that stops reading and subscribes again and again gets
    /// it once. A prelude beyond it counts like live frames (and may close
    /// the queue with [`CloseCode::TooSlow`]).
    pub fn push_prelude<'a>(
        &self,
        frames: impl IntoIterator<Item = &'a Wire>,
    ) -> Result<(), PushError> {
        let frames: Vec<Bytes> = frames.into_iter().map(|f| f.frame().clone()).collect();
        let added: usize = frames.iter().map(Bytes::len).sum();
        let mut state = self.lock();
        if let Some(closed) = state.closed {
            return Err(PushError::Closed(closed.code()));
        }
        if added == 0 {
            return Ok(());
        }
        // Exempt within the allowance since the client last caught up;
        // beyond it a prelude counts like live frames, so a client that
        // does not read cannot pile up snapshots by subscribing again and
        // again.
        let exempt = state.prelude_spent + added <= self.prelude_max;
        // (Not even an empty queue takes a prelude beyond the limit then:
        // the writer may hold everything it took, unwritten.)
        if !exempt && (state.over(added, self.max_bytes) || added > self.max_bytes) {
            return Err(self.overflow(state));
        }
        state.bytes += added;
        if exempt {
            state.credit += added;
            state.prelude_spent += added;
        }
        state.frames.extend(frames);
        self.wake_writer(state);
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

    /// Queues a WebSocket ping (ignored once closed).
    pub fn request_ping(&self) {
        if !self.is_closed() {
            let _ = self.push_bytes(Bytes::from_static(PING_FRAME));
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
            state.take_frames(out, max_batch_bytes);
            state.busy = true;
            return Some(Batch::Frames);
        }
        match state.closed {
            Some(Closed::Code(code)) => return Some(Batch::Closed(code)),
            Some(Closed::Peer) => return Some(Batch::Finished),
            None => {}
        }
        state.go_idle();
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
    use std::sync::Arc;

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
        let q = Arc::new(ClientQueue::new(1, 1000));
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
        let q = Arc::new(ClientQueue::new(1, 100));
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
    async fn a_prelude_beyond_the_limit_is_queued_and_live_frames_are_bounded_after_it() {
        let q = Arc::new(ClientQueue::new(1, 100));
        // A snapshot five times the limit: queued whole, the queue stays open.
        let snapshot: Vec<Wire> = (0..10).map(|_| frame(50)).collect();
        q.push_prelude(&snapshot).unwrap();
        assert_eq!(q.queued_bytes(), 500);
        assert_eq!(q.close_code(), None);
        // Live frames still have the whole limit after it, and no more.
        q.push(&frame(60)).unwrap();
        q.push(&frame(40)).unwrap();
        assert_eq!(q.push(&frame(2)), Err(PushError::Overflow));
        assert_eq!(q.close_code(), Some(CloseCode::TooSlow));
        assert_eq!(
            q.push_prelude(&[frame(10)]),
            Err(PushError::Closed(Some(CloseCode::TooSlow)))
        );
    }

    #[tokio::test]
    async fn the_prelude_stops_counting_once_taken_and_the_limit_is_whole_again() {
        let q = Arc::new(ClientQueue::new(1, 100));
        q.push_prelude(&(0..4).map(|_| frame(50)).collect::<Vec<_>>())
            .unwrap();
        q.push(&frame(90)).unwrap();
        // The writer takes the prelude and part of nothing else (batch of 200).
        let mut out = VecDeque::new();
        assert_eq!(q.next_batch(&mut out, 200).await, Batch::Frames);
        assert_eq!(out.len(), 4);
        assert_eq!(q.queued_bytes(), 90);
        // The live frame left counts: 10 more bytes fit, 11 do not.
        q.push(&frame(10)).unwrap();
        assert_eq!(q.push(&frame(2)), Err(PushError::Overflow));
    }

    #[tokio::test]
    async fn preludes_waiting_beyond_the_allowance_count_against_the_limit() {
        let q = Arc::new(ClientQueue::new(1, 100));
        let snapshot: Vec<Wire> = (0..PRELUDE_ALLOWANCE).map(|_| frame(100)).collect();
        // A client that does not read and subscribes again and again: the
        // allowance takes the first snapshot whole...
        q.push_prelude(&snapshot).unwrap();
        // ...after it, preludes count like live frames: 60 bytes fit the
        // limit, 60 more do not.
        q.push_prelude(&[frame(60)]).unwrap();
        assert_eq!(q.push_prelude(&[frame(60)]), Err(PushError::Overflow));
        assert_eq!(q.close_code(), Some(CloseCode::TooSlow));
        // Taking the prelude is not catching up: a client that does not
        // read (the writer holds what it took) gets no fresh allowance...
        let q = Arc::new(ClientQueue::new(2, 100));
        q.push_prelude(&snapshot).unwrap();
        let mut out = VecDeque::new();
        q.next_batch(&mut out, usize::MAX).await;
        assert_eq!(q.push_prelude(&snapshot), Err(PushError::Overflow));
        // ...once everything is written (the queue found empty), it is whole
        // again.
        let q = Arc::new(ClientQueue::new(3, 100));
        q.push_prelude(&snapshot).unwrap();
        out.clear();
        q.next_batch(&mut out, usize::MAX).await;
        out.clear();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(
            q.poll_next_batch(&mut cx, &mut out, usize::MAX)
                .is_pending()
        );
        q.push_prelude(&snapshot).unwrap();
        assert_eq!(q.close_code(), None);
    }

    #[tokio::test]
    async fn unsubscribing_and_subscribing_again_without_reading_spends_one_allowance() {
        // A client with a 100-byte limit and a 1000-byte allowance that
        // never reads; its writer took the first frame and waits on the
        // socket. Each resubscribe queues a 300-byte snapshot.
        let q = Arc::new(ClientQueue::new(1, 100).with_prelude_max(1000));
        let snapshot: Vec<Wire> = (0..3).map(|_| frame(100)).collect();
        q.push_prelude(&snapshot).unwrap();
        let mut out = VecDeque::new();
        q.next_batch(&mut out, 100).await;
        let mut queued_max = 0;
        let mut pushes = 1;
        while q.push_prelude(&snapshot).is_ok() {
            pushes += 1;
            queued_max = queued_max.max(q.queued_bytes());
            assert!(pushes < 100, "never closed");
        }
        assert_eq!(q.close_code(), Some(CloseCode::TooSlow));
        // Three snapshots in the allowance (900 bytes), no fourth: the
        // queue never held more than the allowance and the limit.
        assert_eq!(pushes, 3);
        assert!(queued_max <= 1000 + 100, "{queued_max}");
    }

    #[tokio::test]
    async fn a_large_frame_fits_an_empty_queue() {
        let q = Arc::new(ClientQueue::new(1, 100));
        q.push(&frame(500)).unwrap();
        assert_eq!(q.push(&frame(2)), Err(PushError::Overflow));
    }

    #[tokio::test]
    async fn shutdown_flushes_before_closing() {
        let q = Arc::new(ClientQueue::new(1, 1000));
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
        let q = Arc::new(ClientQueue::new(1, 10_000));
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
    async fn a_requested_ping_is_queued_in_order() {
        let q = Arc::new(ClientQueue::new(1, 1000));
        q.push(&frame(3)).unwrap();
        q.request_ping();
        let mut out = VecDeque::new();
        assert_eq!(q.next_batch(&mut out, 1 << 20).await, Batch::Frames);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].as_ref(), PING_FRAME);
        q.close(CloseCode::Shutdown);
        out.clear();
        q.request_ping();
        assert_eq!(
            q.next_batch(&mut out, 1 << 20).await,
            Batch::Closed(CloseCode::Shutdown)
        );
        assert!(out.is_empty(), "no ping once closed");
    }

    #[tokio::test]
    async fn control_frames_queue_in_order_and_finish_stops_without_a_close() {
        let q = Arc::new(ClientQueue::new(1, 1000));
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
