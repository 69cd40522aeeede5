//! `switchboard-bench minimal-server`: the reference point of issue 7, a
//! minimal tokio + tungstenite broadcast server, measured with the same load
//! tool as Switchboard.
//!
//! It does what the issue says made the minimal server fast, and nothing
//! else: each message is framed once into shared bytes and queued for every
//! subscriber (bounded in bytes); the subscriber's writer task writes
//! everything that queued meanwhile in one vectored, non-blocking write. No
//! sign-in, no state, no history, no offsets. With `--direct` (the issue's
//! words read literally), a subscriber with nothing queued is written to
//! straight from the publishing task with a non-blocking `try_write`, and
//! frames queue only when its socket would block: one `send` per delivery
//! while the sockets keep up, so frames are never coalesced (165 k deliveries/s
//! in s1 at window 64, against about 1.5 M/s with the queue).
//!
//! To be driven by `switchboard-bench fanout --target nats`, it speaks the
//! few NATS operations that tool uses, over WebSocket: a client's first frame
//! holds `CONNECT`, `SUB <subject> <sid>` and `PING`, answered with `PONG`;
//! every `PUB <subject> <n>` from any connection is sent as
//! `MSG <subject> <sid> <n>` to every connection subscribed to that exact
//! subject (no wildcards). Frames are read with tungstenite; what tungstenite
//! would write back by itself (pong, close reply) is dropped: the load tool's
//! clients send neither pings nor anything after subscribing.

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};

use anyhow::Context as _;
use bytes::{Buf, Bytes};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::fanout::nats::{Op, parse_op};

/// Arguments of `switchboard-bench minimal-server`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18500")]
    pub listen: SocketAddr,
    /// Read buffer per connection, bytes (tungstenite's, allocated as frames
    /// arrive).
    #[arg(long, default_value_t = 4096)]
    pub read_buffer: usize,
    /// Bytes queued for one subscriber before it is disconnected.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub max_queued: usize,
    /// Most frames in one vectored write.
    #[arg(long, default_value_t = 64)]
    pub max_iov: usize,
    /// Write to a subscriber's socket from the publishing task while nothing
    /// is queued for it (one `send` per frame); without it, every frame goes
    /// through the queue and the writer task (one write per batch).
    #[arg(long)]
    pub direct: bool,
}

/// Runs the server on `args.listen` until the process is stopped.
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    eprintln!(
        "minimal-server: listening on ws://{}",
        listener.local_addr()?
    );
    serve(listener, args).await
}

/// Serves the connections of `listener` (forever).
pub async fn serve(listener: TcpListener, args: &Args) -> anyhow::Result<()> {
    let server = Arc::new(Server {
        subjects: RwLock::new(HashMap::new()),
        args: args.clone(),
        next_id: AtomicU64::new(1),
    });
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, most likely: wait a little.
                eprintln!("minimal-server: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let _ = server.connection(tcp).await;
        });
    }
}

/// The subscriptions, by subject.
struct Server {
    subjects: RwLock<HashMap<String, Vec<Subscriber>>>,
    args: Args,
    next_id: AtomicU64,
}

/// One subscription.
#[derive(Clone)]
struct Subscriber {
    conn: u64,
    sid: String,
    outbox: Arc<Outbox>,
}

impl Server {
    async fn connection(self: Arc<Self>, mut tcp: TcpStream) -> anyhow::Result<()> {
        tcp.set_nodelay(true)?;
        let config = WebSocketConfig::default()
            .read_buffer_size(self.args.read_buffer)
            .max_message_size(Some(1 << 20))
            .max_frame_size(Some(1 << 20));
        // The handshake on a borrowed stream, so that the socket can be split
        // afterwards. The client sends nothing before the 101 response, so
        // tungstenite holds no unread bytes when it is dropped.
        tokio_tungstenite::accept_async_with_config(&mut tcp, Some(config)).await?;
        let (read, write) = tcp.into_split();
        let outbox = Arc::new(Outbox::new(write, self.args.max_queued, self.args.direct));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut ws =
            WebSocketStream::from_raw_socket(ReadOnly(read), Role::Server, Some(config)).await;
        let writer = tokio::spawn(outbox.clone().writer(self.args.max_iov));
        let mut subscribed: Vec<String> = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(Ok(msg)) = ws.next().await {
            match msg {
                Message::Binary(b) => buf.extend_from_slice(&b),
                Message::Text(t) => buf.extend_from_slice(t.as_bytes()),
                Message::Close(_) => break,
                _ => continue,
            }
            let mut used = 0;
            while let Ok(Some((op, n))) = parse_op(&buf[used..]) {
                match op {
                    Op::Ping => outbox.send(&frame(b"PONG\r\n")),
                    Op::Other(line) if line.starts_with("SUB ") => {
                        let mut parts = line[4..].split_ascii_whitespace();
                        if let (Some(subject), Some(sid)) = (parts.next(), parts.next()) {
                            self.subscribe(subject, id, sid, &outbox);
                            subscribed.push(subject.to_owned());
                        }
                    }
                    Op::Other(line) if line.starts_with("PUB ") => {
                        // `PUB <subject> <n>`, then the payload line.
                        let Some((subject, len)) = pub_line(line) else {
                            break;
                        };
                        let start = used + line.len() + 2;
                        let end = start + len;
                        if buf.len() < end + 2 {
                            break;
                        }
                        self.publish(subject, &buf[start..end]);
                        used = end + 2;
                        continue;
                    }
                    _ => {}
                }
                used += n;
            }
            buf.drain(..used);
        }
        outbox.close();
        self.unsubscribe(id, &subscribed);
        let _ = writer.await;
        Ok(())
    }

    fn subscribe(&self, subject: &str, conn: u64, sid: &str, outbox: &Arc<Outbox>) {
        if let Ok(mut map) = self.subjects.write() {
            map.entry(subject.to_owned()).or_default().push(Subscriber {
                conn,
                sid: sid.to_owned(),
                outbox: outbox.clone(),
            });
        }
    }

    fn unsubscribe(&self, conn: u64, subjects: &[String]) {
        if let Ok(mut map) = self.subjects.write() {
            for s in subjects {
                if let Some(list) = map.get_mut(s) {
                    list.retain(|sub| sub.conn != conn);
                }
            }
        }
    }

    /// Frames `payload` once per subject (the sid is the benchmark's `1` for
    /// every subscriber; another sid gets a frame of its own) and hands it to
    /// every subscriber.
    fn publish(&self, subject: &str, payload: &[u8]) {
        let Ok(map) = self.subjects.read() else {
            return;
        };
        let Some(subscribers) = map.get(subject) else {
            return;
        };
        let mut framed: Option<(&str, Bytes)> = None;
        for sub in subscribers {
            let wire = match &framed {
                Some((sid, wire)) if *sid == sub.sid => wire.clone(),
                _ => {
                    let mut body =
                        format!("MSG {subject} {} {}\r\n", sub.sid, payload.len()).into_bytes();
                    body.extend_from_slice(payload);
                    body.extend_from_slice(b"\r\n");
                    let wire = frame(&body);
                    framed = Some((sub.sid.as_str(), wire.clone()));
                    wire
                }
            };
            sub.outbox.send(&wire);
        }
    }
}

/// `PUB <subject> <n>` (no reply-to): the subject and `n`.
fn pub_line(line: &str) -> Option<(&str, usize)> {
    let mut parts = line.split_ascii_whitespace().skip(1);
    let subject = parts.next()?;
    let len = parts.next()?.parse().ok()?;
    Some((subject, len))
}

/// A binary frame, unmasked, as a server sends it.
fn frame(payload: &[u8]) -> Bytes {
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Binary),
        ..FrameHeader::default()
    };
    let mut buf = Vec::with_capacity(14 + payload.len());
    let _ = header.format(payload.len() as u64, &mut buf);
    buf.extend_from_slice(payload);
    Bytes::from(buf)
}

/// One connection's way out: straight to the socket while it takes the bytes,
/// else queued for the writer task.
struct Outbox {
    socket: OwnedWriteHalf,
    state: Mutex<OutState>,
    wake: Notify,
    max_queued: usize,
    /// Write from the publishing task while the socket takes the bytes.
    direct: bool,
}

#[derive(Default)]
struct OutState {
    /// Frames (or the rest of one) the socket has not taken yet.
    queue: VecDeque<Bytes>,
    queued_bytes: usize,
    /// The writer owns the socket until the queue is empty.
    writing: bool,
    closed: bool,
}

impl Outbox {
    fn new(socket: OwnedWriteHalf, max_queued: usize, direct: bool) -> Outbox {
        Outbox {
            socket,
            state: Mutex::new(OutState::default()),
            wake: Notify::new(),
            max_queued,
            direct,
        }
    }

    fn send(&self, wire: &Bytes) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if st.closed {
            return;
        }
        if !st.writing && !self.direct {
            st.queued_bytes += wire.len();
            st.queue.push_back(wire.clone());
            st.writing = true;
            drop(st);
            self.wake.notify_one();
            return;
        }
        if !st.writing {
            // Nothing queued: write now, without waking anything.
            let rest = match self.socket.try_write(wire) {
                Ok(n) if n == wire.len() => return,
                Ok(n) => wire.slice(n..),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wire.clone(),
                Err(_) => {
                    st.closed = true;
                    drop(st);
                    self.wake.notify_one();
                    return;
                }
            };
            st.queued_bytes += rest.len();
            st.queue.push_back(rest);
            st.writing = true;
            drop(st);
            self.wake.notify_one();
            return;
        }
        st.queued_bytes += wire.len();
        st.queue.push_back(wire.clone());
        if st.queued_bytes > self.max_queued {
            // A slow consumer: drop it.
            st.closed = true;
            st.queue.clear();
            drop(st);
            self.wake.notify_one();
        }
    }

    fn close(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.closed = true;
        }
        self.wake.notify_one();
    }

    /// Writes what queued, everything that queued meanwhile per vectored
    /// write, until the connection closes.
    async fn writer(self: Arc<Self>, max_iov: usize) {
        let mut batch = Frames {
            frames: VecDeque::new(),
            max_iov,
        };
        loop {
            self.wake.notified().await;
            loop {
                {
                    let Ok(mut st) = self.state.lock() else {
                        return;
                    };
                    if st.closed {
                        return;
                    }
                    if st.queue.is_empty() {
                        st.writing = false;
                        break;
                    }
                    st.queued_bytes = 0;
                    std::mem::swap(&mut st.queue, &mut batch.frames);
                }
                // `&OwnedWriteHalf` is not a writer; a shared reference to
                // the socket is enough for readiness + try_write.
                if write_all(&self.socket, &mut batch).await.is_err() {
                    self.close();
                    return;
                }
            }
        }
    }
}

/// Writes `batch` entirely: vectored `try_write`s, waiting for writability.
async fn write_all(socket: &OwnedWriteHalf, batch: &mut Frames) -> io::Result<()> {
    while batch.has_remaining() {
        let result = {
            let mut slices = [IoSlice::new(&[]); 64];
            let n = batch.chunks_vectored(&mut slices);
            socket.try_write_vectored(&slices[..n])
        };
        match result {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => batch.advance(written),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                socket.writable().await?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Queued frames as one [`Buf`], for vectored writes.
struct Frames {
    frames: VecDeque<Bytes>,
    max_iov: usize,
}

impl Buf for Frames {
    fn remaining(&self) -> usize {
        self.frames.iter().map(Bytes::len).sum()
    }

    fn chunk(&self) -> &[u8] {
        self.frames.front().map_or(&[], |f| f.as_ref())
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, f) in dst.iter_mut().zip(self.frames.iter().take(self.max_iov)) {
            *slot = IoSlice::new(f);
            n += 1;
        }
        n
    }

    fn advance(&mut self, mut cnt: usize) {
        while cnt > 0 {
            let Some(front) = self.frames.front_mut() else {
                return;
            };
            if cnt >= front.len() {
                cnt -= front.len();
                self.frames.pop_front();
            } else {
                front.advance(cnt);
                cnt = 0;
            }
        }
    }

    fn has_remaining(&self) -> bool {
        !self.frames.is_empty()
    }
}

/// The read half as a stream for tungstenite: what it writes by itself is
/// dropped (see the module's documentation).
struct ReadOnly(OwnedReadHalf);

impl AsyncRead for ReadOnly {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ReadOnly {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
