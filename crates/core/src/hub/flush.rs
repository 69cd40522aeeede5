//! The flushers: a few threads that write queued frames straight to the
//! clients' sockets, so that a broadcast to thousands of connections does not
//! wake thousands of tasks.
//!
//! A [`ClientQueue`] attached to a socket ([`ClientQueue::attach`]) is put on
//! its flusher's list when a frame lands in it while nobody is draining it.
//! The flusher takes the list, and for each queue takes every frame queued
//! meanwhile and writes them with one non-blocking vectored write
//! ([`DirectSocket::try_write_vectored`]). While a flusher works through its
//! list, the queues it has not reached yet keep collecting frames, so a busy
//! flusher coalesces more frames per write, as the connection's writer task
//! does. When a socket would block (the client reads slowly) or the queue
//! closes, the flusher hands the queue back to the connection's writer task,
//! which waits for the socket with the runtime; the queue returns to the
//! flusher once the writer has drained it.
//!
//! The flushers are plain threads, each with a share of the connections (by
//! client id): the fan-out of one broadcast can be spread over several cores,
//! and the runtime's workers stay free for reading commands. A TLS connection
//! is never attached (its bytes must go through the TLS session): its writer
//! task writes everything.

use std::fmt;
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::ClientQueue;

/// A socket the flushers can write to from their own threads, without the
/// async runtime: a non-blocking vectored write that returns
/// [`io::ErrorKind::WouldBlock`] when the socket cannot take anything.
pub trait DirectSocket: Send + Sync + fmt::Debug {
    /// Writes as much of `bufs` as the socket takes now.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
}

/// Counters of the flushers, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushStats {
    /// Vectored writes made by the flushers.
    pub writes: u64,
    /// Queues handed back to their writer task because the socket would block
    /// (or failed, or the queue closed).
    pub handoffs: u64,
}

/// One flusher thread's list of queues to visit.
#[derive(Debug, Default)]
pub(crate) struct Shard {
    pending: Mutex<Pending>,
    wake: Condvar,
    writes: AtomicU64,
    handoffs: AtomicU64,
}

#[derive(Debug, Default)]
struct Pending {
    queues: Vec<Arc<ClientQueue>>,
    stop: bool,
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Puts `queue` on the list (the caller made the flusher its drainer).
    pub(crate) fn schedule(&self, queue: Arc<ClientQueue>) {
        let mut pending = self.lock();
        if pending.stop {
            drop(pending);
            queue.hand_back_all();
            return;
        }
        let was_empty = pending.queues.is_empty();
        pending.queues.push(queue);
        drop(pending);
        if was_empty {
            self.wake.notify_one();
        }
    }

    pub(crate) fn count_handoff(&self) {
        self.handoffs.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    fn run(&self) {
        let mut visiting: Vec<Arc<ClientQueue>> = Vec::new();
        let mut scratch = std::collections::VecDeque::new();
        loop {
            {
                let mut pending = self.lock();
                while pending.queues.is_empty() && !pending.stop {
                    pending = self
                        .wake
                        .wait(pending)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                if pending.stop {
                    // Whatever is left goes back to the writer tasks.
                    let left = std::mem::take(&mut pending.queues);
                    drop(pending);
                    for queue in left {
                        queue.hand_back_all();
                    }
                    return;
                }
                std::mem::swap(&mut pending.queues, &mut visiting);
            }
            for queue in visiting.drain(..) {
                queue.flush(self, &mut scratch);
            }
            if visiting.capacity() > 4096 {
                visiting.shrink_to(4096);
            }
        }
    }
}

/// The flusher threads. Dropping this stops them (queues still on their lists
/// go back to their writer tasks).
#[derive(Debug)]
pub struct Flusher {
    shards: Vec<Arc<Shard>>,
    threads: Vec<JoinHandle<()>>,
    stopped: AtomicBool,
}

impl Flusher {
    /// Starts `threads` flusher threads (at least one).
    pub fn start(threads: usize) -> io::Result<Flusher> {
        let mut flusher = Flusher {
            shards: Vec::new(),
            threads: Vec::new(),
            stopped: AtomicBool::new(false),
        };
        for i in 0..threads.max(1) {
            let shard = Arc::new(Shard::default());
            let runner = shard.clone();
            let thread = std::thread::Builder::new()
                .name(format!("sb-flusher-{i}"))
                .spawn(move || runner.run())?;
            flusher.shards.push(shard);
            flusher.threads.push(thread);
        }
        Ok(flusher)
    }

    /// Attaches `queue` to `socket`: from now on this flusher writes its frames
    /// while the socket takes them.
    pub fn attach(&self, queue: &ClientQueue, socket: Arc<dyn DirectSocket>) {
        let i = usize::try_from(queue.id() % self.shards.len() as u64).unwrap_or(0);
        queue.attach(socket, self.shards[i].clone());
    }

    /// Counters summed over the threads.
    pub fn stats(&self) -> FlushStats {
        self.shards
            .iter()
            .fold(FlushStats::default(), |acc, s| FlushStats {
                writes: acc.writes + s.writes.load(Ordering::Relaxed),
                handoffs: acc.handoffs + s.handoffs.load(Ordering::Relaxed),
            })
    }

    /// Stops the threads and waits for them.
    pub fn stop(&mut self) {
        self.signal_stop();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }

    fn signal_stop(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        for shard in &self.shards {
            shard.lock().stop = true;
            shard.wake.notify_all();
        }
    }
}

impl Drop for Flusher {
    /// Tells the threads to stop, without waiting (a drop may run on the
    /// async runtime; a thread ends after the visit it is making).
    fn drop(&mut self) {
        self.signal_stop();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::Duration;

    use bytes::Bytes;
    use switchboard_protocol::CloseCode;

    use super::*;
    use crate::hub::{Batch, Wire};

    /// A socket that takes a random part of what it is given, or nothing
    /// (`WouldBlock`), and fails the test if two writers use it at once.
    #[derive(Debug)]
    struct FakeSocket {
        written: Mutex<Vec<u8>>,
        busy: AtomicBool,
        rng: Mutex<fastrand::Rng>,
        /// Out of 8 writes, how many would block.
        blocking: u8,
    }

    impl FakeSocket {
        fn new(seed: u64, blocking: u8) -> Arc<FakeSocket> {
            Arc::new(FakeSocket {
                written: Mutex::new(Vec::new()),
                busy: AtomicBool::new(false),
                rng: Mutex::new(fastrand::Rng::with_seed(seed)),
                blocking,
            })
        }

        /// The writer task's write: always takes everything.
        fn write_all(&self, frames: &VecDeque<Bytes>) {
            assert!(
                !self.busy.swap(true, Ordering::AcqRel),
                "two writers at once"
            );
            let mut out = self.written.lock().unwrap();
            for f in frames {
                out.extend_from_slice(f);
            }
            drop(out);
            self.busy.store(false, Ordering::Release);
        }
    }

    impl DirectSocket for FakeSocket {
        fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            assert!(
                !self.busy.swap(true, Ordering::AcqRel),
                "two writers at once"
            );
            let total: usize = bufs.iter().map(|b| b.len()).sum();
            let mut rng = self.rng.lock().unwrap();
            let result = if rng.u8(0..8) < self.blocking {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                let mut n = if rng.bool() {
                    total
                } else {
                    rng.usize(1..=total)
                };
                let taken = n;
                let mut out = self.written.lock().unwrap();
                for b in bufs {
                    let k = n.min(b.len());
                    out.extend_from_slice(&b[..k]);
                    n -= k;
                }
                Ok(taken)
            };
            drop(rng);
            self.busy.store(false, Ordering::Release);
            result
        }
    }

    /// Drains `queue` as a connection's writer does, into `socket`, until it
    /// closes. It also polls now and then without being woken (a spurious
    /// wake-up must not let it write while a flusher does).
    fn writer(queue: Arc<ClientQueue>, socket: Arc<FakeSocket>) -> tokio::task::JoinHandle<Batch> {
        tokio::spawn(async move {
            let mut batch = VecDeque::new();
            loop {
                let next = tokio::time::timeout(
                    Duration::from_micros(100),
                    queue.next_batch(&mut batch, 1 << 20),
                );
                match next.await {
                    Err(_elapsed) => {}
                    Ok(Batch::Frames { .. }) => {
                        socket.write_all(&batch);
                        batch.clear();
                    }
                    Ok(end) => return end,
                }
            }
        })
    }

    async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..1000 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("timed out waiting for {what}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_byte_arrives_once_in_order_whoever_writes_it() {
        for seed in 0..12u64 {
            let flusher = Flusher::start(1 + usize::try_from(seed % 2).unwrap()).unwrap();
            let socket = FakeSocket::new(seed, u8::try_from(seed % 4).unwrap());
            let queue = Arc::new(ClientQueue::new(seed, usize::MAX));
            flusher.attach(&queue, socket.clone());
            let task = writer(queue.clone(), socket.clone());
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut expected = Vec::new();
            for i in 0..3000u32 {
                let text: String = std::iter::repeat_n(
                    char::from(b'a' + u8::try_from(i % 26).unwrap()),
                    rng.usize(1..300),
                )
                .collect();
                let frame = Wire::from(text);
                expected.extend_from_slice(frame.frame());
                queue.push(&frame).unwrap();
                if rng.u8(0..16) == 0 {
                    tokio::time::sleep(Duration::from_micros(rng.u64(0..300))).await;
                }
                if rng.u16(0..500) == 0 {
                    queue.request_ping();
                    expected.extend_from_slice(crate::hub::PING_FRAME);
                }
            }
            queue.close(CloseCode::Shutdown);
            assert_eq!(task.await.unwrap(), Batch::Closed(CloseCode::Shutdown));
            let written = socket.written.lock().unwrap().clone();
            assert_eq!(written.len(), expected.len(), "seed {seed}");
            assert!(written == expected, "seed {seed}: bytes differ");
            let stats = flusher.stats();
            assert!(stats.writes > 0, "seed {seed}: the flusher wrote nothing");
            if seed % 4 > 0 {
                assert!(
                    stats.handoffs > 0,
                    "seed {seed}: never handed to the writer"
                );
            }
        }
    }

    /// A socket that takes `n` bytes, then blocks for ever.
    #[derive(Debug)]
    struct Stuck {
        left: Mutex<usize>,
        written: Mutex<Vec<u8>>,
    }

    impl Stuck {
        /// A socket that takes `left` bytes and then would block.
        fn taking(left: usize) -> Arc<Stuck> {
            Arc::new(Stuck {
                left: Mutex::new(left),
                written: Mutex::new(Vec::new()),
            })
        }
    }

    impl DirectSocket for Stuck {
        fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut left = self.left.lock().unwrap();
            if *left == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut taken = 0;
            for b in bufs {
                let k = (*left).min(b.len());
                self.written.lock().unwrap().extend_from_slice(&b[..k]);
                *left -= k;
                taken += k;
            }
            Ok(taken)
        }
    }

    #[tokio::test]
    async fn a_blocked_socket_goes_to_the_writer_with_the_cut_frame_first() {
        let flusher = Flusher::start(1).unwrap();
        let socket = Stuck::taking(30);
        let queue = Arc::new(ClientQueue::new(1, 1000));
        flusher.attach(&queue, socket.clone());
        let first = Wire::from("x".repeat(98));
        queue.push(&first).unwrap();
        wait_for("the hand-off", || flusher.stats().handoffs == 1).await;
        assert_eq!(socket.written.lock().unwrap().len(), 30);
        // The client does not read: the queue overflows; the frame cut short
        // is kept so that the close frame does not land inside it.
        queue.push(&Wire::from("y".repeat(600))).unwrap();
        assert_eq!(
            queue.push(&Wire::from("z".repeat(600))),
            Err(crate::hub::PushError::Overflow)
        );
        let mut out = VecDeque::new();
        assert_eq!(
            queue.next_batch(&mut out, 1 << 20).await,
            Batch::Frames { rest_first: true }
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref(), &first.frame()[30..]);
        out.clear();
        assert_eq!(
            queue.next_batch(&mut out, 1 << 20).await,
            Batch::Closed(CloseCode::TooSlow)
        );
    }

    #[tokio::test]
    async fn the_writer_drains_then_the_flusher_takes_over_again() {
        let flusher = Flusher::start(1).unwrap();
        let socket = Stuck::taking(0);
        let queue = Arc::new(ClientQueue::new(1, 1 << 20));
        flusher.attach(&queue, socket.clone());
        queue.push(&Wire::from("a")).unwrap();
        wait_for("the hand-off", || flusher.stats().handoffs == 1).await;
        let mut out = VecDeque::new();
        assert_eq!(
            queue.next_batch(&mut out, 1 << 20).await,
            Batch::Frames { rest_first: false }
        );
        assert_eq!(out.len(), 1);
        // The socket takes bytes again; the writer finds the queue empty and
        // lets go of it.
        *socket.left.lock().unwrap() = 1000;
        out.clear();
        let pending = futures::poll!(std::pin::pin!(queue.next_batch(&mut out, 1 << 20)));
        assert!(pending.is_pending());
        let writes = flusher.stats().writes;
        queue.push(&Wire::from("b")).unwrap();
        wait_for("the flusher's write", || flusher.stats().writes > writes).await;
        assert_eq!(socket.written.lock().unwrap().as_slice(), b"\x81\x01b");
    }

    #[tokio::test]
    async fn stopping_or_detaching_hands_the_queues_to_their_writers() {
        let mut flusher = Flusher::start(1).unwrap();
        let socket = FakeSocket::new(1, 0);
        let queue = Arc::new(ClientQueue::new(1, 1 << 20));
        flusher.attach(&queue, socket.clone());
        flusher.stop();
        queue.push(&Wire::from("a")).unwrap();
        let mut out = VecDeque::new();
        assert_eq!(
            queue.next_batch(&mut out, 1 << 20).await,
            Batch::Frames { rest_first: false }
        );

        let flusher = Flusher::start(1).unwrap();
        let queue = Arc::new(ClientQueue::new(2, 1 << 20));
        flusher.attach(&queue, socket);
        queue.detach();
        queue.push(&Wire::from("b")).unwrap();
        let mut out = VecDeque::new();
        assert_eq!(
            queue.next_batch(&mut out, 1 << 20).await,
            Batch::Frames { rest_first: false }
        );
        assert_eq!(flusher.stats().writes, 0);
    }
}
