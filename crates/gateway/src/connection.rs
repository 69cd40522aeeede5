//! One WebSocket connection: a reader and a writer, as in axum's chat
//! example (two futures joined in the connection's one task, so an idle
//! connection costs one task), generic over the socket's read and write
//! halves (`AsyncRead`/`AsyncWrite`), so that they run over an in-memory pipe
//! in tests.
//!
//! - The **writer** is the only thing that writes the socket. It sleeps
//!   until the client's [`ClientQueue`] has frames, then writes every frame
//!   queued meanwhile with vectored writes straight from the hub's shared
//!   buffers (each event was framed once for every client: `Wire`), waiting
//!   for the socket as long as it must; and sends the close frame when the
//!   queue closes (after the queued frames, except for 4408 which drops
//!   them). A write blocked on a client that does not read is abandoned when
//!   its queue overflows. Whatever closed the queue (4401, 4408, shutdown, a
//!   protocol error, the client's own close), the client has
//!   `limits.close_timeout` to take the rest; then the writer stops and the
//!   socket is closed, read or not, and when the reader is done (the socket
//!   ended, the connection idled out) it stops at once, in the middle of a
//!   write if need be. Pings (the hub's sweep, every `ping_interval`, one
//!   timer for all connections) are frames in the queue like any other.
//! - The **reader** is tungstenite over the read half: it parses each text
//!   frame and runs its command ([`cmd`], boxed, so an idle connection does not
//!   carry the largest command's state), refuses binary frames, closes with
//!   4409 on an oversized frame, with 1002 or 1007 on broken framing or text
//!   that is not UTF-8, and with 4401 when the client has not signed in in
//!   time (its place among the connections not signed in goes back when it
//!   signs in: `admission`), and drops a connection that has been silent (no
//!   frame, no pong) for `idle_timeout`. What tungstenite writes itself (pongs, the
//!   reply to a client's close) goes through the queue too ([`ReadHalf`]).
//!
//! Every close goes through the queue ([`ClientQueue::close`]), so the client
//! always gets the frames queued before it and then one close frame.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures::{FutureExt, Stream, StreamExt};
use switchboard_core::hub::{Batch, ClientQueue};
use switchboard_protocol::CloseCode;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use crate::admission::{PreUpgrade, Unauthenticated};
use crate::cmd::{self, Conn};
use crate::metrics as m;
use crate::state::Shared;

/// Most bytes taken from the queue for one vectored write loop.
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// What the HTTP layer knows about a connection.
#[derive(Debug)]
pub struct ConnectionInfo {
    /// The TCP peer's address.
    pub peer: SocketAddr,
    /// The client's address: the peer's, or the one a trusted proxy forwarded.
    pub client: std::net::IpAddr,
    /// `?access_token=` of the upgrade request, if any.
    pub access_token: Option<String>,
    /// The socket's places (not upgraded, not signed in), from its accept.
    pub(crate) tickets: Option<(PreUpgrade, Unauthenticated)>,
}

/// The tungstenite settings of a connection's reader: frames up to
/// `max_frame_bytes`, and a read buffer allocated as frames arrive rather
/// than up front (clients send a few small commands; an idle connection
/// holds no buffer).
fn reader_config(max_frame_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_frame_bytes))
        .max_frame_size(Some(max_frame_bytes))
        .read_buffer_size(0)
        .write_buffer_size(0)
}

/// Serves one upgraded WebSocket until it closes. `pre_read` is what the
/// HTTP layer read past the upgrade request (usually nothing).
///
/// The returned future is what every idle connection holds, so it is built
/// to be small: the setup runs here, before the future exists; the reader's
/// stages are chained with `then`, so each stage's state is dropped when the
/// next starts; and the rare paths (a command, sign-in, the close) are boxed.
/// (An `async fn` or an `async move` block would keep every argument beside
/// the running connection for its whole life.)
pub(crate) fn serve<R, W>(
    read: R,
    write: W,
    pre_read: Vec<u8>,
    shared: Arc<Shared>,
    info: ConnectionInfo,
) -> impl Future<Output = ()> + Send
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Abort + Unpin + Send + 'static,
{
    let id = shared
        .next_client
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let queue = Arc::new(
        ClientQueue::new(id, shared.config.hub.queue_max_bytes)
            .with_prelude_max(shared.config.hub.prelude_max_bytes),
    );
    let (pre_upgrade, unauthenticated) = info.tickets.unzip();
    // A WebSocket now: counted as one from here.
    drop(pre_upgrade);
    let open = shared
        .connections
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel)
        + 1;
    metrics::gauge!(m::CONNECTIONS_OPEN).set(open as f64);
    // The sockets not upgraded count against the limit too.
    let admitted = open + shared.admission.pre_upgrade() <= shared.config.limits.max_connections
        && !shared.shutdown.is_cancelled();
    if admitted {
        metrics::counter!(m::CONNECTIONS_TOTAL, "outcome" => "accepted").increment(1);
        shared.hub.connect(queue.clone());
    } else {
        metrics::counter!(m::CONNECTIONS_TOTAL, "outcome" => "refused").increment(1);
        queue.close(if shared.shutdown.is_cancelled() {
            CloseCode::Shutdown
        } else {
            CloseCode::TooManyConnections
        });
    }
    let done = CancellationToken::new();
    // A closing connection's last frames may wait this long for a client
    // that is not reading; then its socket is closed.
    let close_timeout = shared.config.limits.close_timeout;
    let config = reader_config(shared.config.limits.max_frame_bytes);
    let in_flight = Arc::new(Semaphore::new(shared.config.limits.max_commands_in_flight));
    let mut conn = Conn {
        commands: std::sync::Mutex::new(crate::rate::Bucket::new(
            shared.config.limits.commands_per_second,
            shared.config.limits.command_burst,
        )),
        shared,
        queue: queue.clone(),
        client: info.client,
        identity: None,
        resume_token: None,
        in_flight,
    };
    let writer = write_loop(write, queue.clone(), close_timeout, done.clone());
    let token = info.access_token.filter(|_| admitted);
    let reader = WebSocketStream::from_partially_read(
        ReadHalf { read, queue },
        pre_read,
        Role::Server,
        Some(config),
    )
    .then(move |stream| async move {
        if let Some(token) = token {
            Box::pin(cmd::authenticate::with_token(&mut conn, &token, None)).await;
        }
        (stream, conn)
    })
    .then(move |(stream, conn)| {
        read_half(stream, conn, unauthenticated, admitted, done, close_timeout)
    });
    // Both halves in this one task: an idle connection is one task.
    futures::future::join(reader, writer).map(|(mut conn, ())| {
        conn.leave();
        let open = conn
            .shared
            .connections
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            - 1;
        metrics::gauge!(m::CONNECTIONS_OPEN).set(open as f64);
    })
}

/// The read half as tungstenite sees it: reads come from the socket; what
/// tungstenite writes on its own (a pong, the reply to a close) is already a
/// complete frame and joins the client's queue, in order with the events.
#[derive(Debug)]
pub(crate) struct ReadHalf<R> {
    read: R,
    queue: Arc<ClientQueue>,
}

impl<R: AsyncRead + Unpin> AsyncRead for ReadHalf<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl<R: Unpin> AsyncWrite for ReadHalf<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        // A closed queue means the connection is going away: the bytes have
        // nowhere to go, which is not an error of the reader's.
        let _ = self.queue.push_control(Bytes::copy_from_slice(buf));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A write half whose socket can be reset: closed with its unsent bytes
/// dropped (`SO_LINGER` 0), so that a client that does not read leaves
/// nothing behind in the kernel either (a plain close would keep them, up to
/// the send buffer, until the kernel gives up on the peer). What the socket
/// cannot reach (a TLS stream through a split) closes normally.
pub(crate) trait Abort {
    /// Makes the socket's close a reset.
    fn abort(&self) {}
}

impl Abort for OwnedWriteHalf {
    fn abort(&self) {
        let tcp: &tokio::net::TcpStream = self.as_ref();
        let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
    }
}

impl<T> Abort for tokio::io::WriteHalf<T> {}

/// Why the reader stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client sent a close frame (tungstenite queued the reply).
    PeerClosed,
    /// The socket ended or failed, or the connection idled out.
    PeerGone,
    /// The queue is closed: by the server (the writer sends the close frame),
    /// or by the writer when the socket failed.
    Closing,
}

/// The reader, once the stream is set up (and signed in with the upgrade's
/// token, if any): reads until the connection ends, then waits (at most
/// `close_timeout`) for the writer to deliver what is queued, the close frame
/// included. Returns the connection for its clean-up.
///
/// (A plain function returning an `async move` block: an `async fn` would hold
/// its arguments twice, the stream included.)
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold its arguments twice"
)]
fn read_half<R, E>(
    mut stream: R,
    mut conn: Conn,
    mut unauthenticated: Option<Unauthenticated>,
    admitted: bool,
    done: CancellationToken,
    close_timeout: Duration,
) -> impl Future<Output = Conn> + Send
where
    R: Stream<Item = Result<Message, E>> + Unpin + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    async move {
        if admitted {
            match read_loop(&mut stream, &mut conn, &mut unauthenticated).await {
                // The client's close: tungstenite queued its reply; write it, then stop.
                End::PeerClosed => conn.queue.finish(),
                End::PeerGone => done.cancel(),
                End::Closing => {}
            }
        }
        drop(unauthenticated);
        // Let the writer deliver the close frame (it gives up after
        // `close_timeout` itself), then make sure it stops.
        let _ = tokio::time::timeout(close_timeout, done.cancelled()).await;
        done.cancel();
        conn
    }
}

/// What the reader does with a frame once it has looked at it.
enum Step {
    /// Nothing more: read the next frame.
    Next,
    /// Stop reading.
    End(End),
    /// Run this command frame.
    Command(Utf8Bytes),
    /// The client sent a close frame.
    PeerClose,
}

/// Reads until the connection ends. `unauthenticated` (the connection's
/// place among those not signed in) is given back once it signs in.
async fn read_loop<R, E>(
    stream: &mut R,
    conn: &mut Conn,
    unauthenticated: &mut Option<Unauthenticated>,
) -> End
where
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    let limits = &conn.shared.config.limits;
    let (sign_in_timeout, idle_timeout) = (limits.sign_in_timeout, limits.idle_timeout);
    // One timer per connection: the sign-in deadline until signed in, then the
    // idle deadline, pushed back by every frame received (pongs included).
    let mut signing_in = conn.identity.is_none();
    if !signing_in {
        *unauthenticated = None;
    }
    let deadline = tokio::time::sleep(if signing_in {
        sign_in_timeout
    } else {
        idle_timeout
    });
    tokio::pin!(deadline);
    loop {
        // The frame is looked at in a step of its own, so that neither it
        // nor the select's output is held across the awaits below (this
        // future is part of every idle connection).
        let step = tokio::select! {
            () = conn.queue.closed() => Step::End(End::Closing),
            () = &mut deadline => {
                if conn.identity.is_none() {
                    conn.queue.close(CloseCode::NotSignedIn);
                    Step::End(End::Closing)
                } else {
                    tracing::debug!(client = conn.queue.id(), "idle timeout: connection dropped");
                    Step::End(End::PeerGone)
                }
            }
            message = stream.next() => {
                if !signing_in {
                    deadline.as_mut().reset(Instant::now() + idle_timeout);
                }
                look_at(message, conn)
            }
        };
        match step {
            Step::Next => {}
            Step::End(end) => return end,
            Step::Command(text) => {
                Box::pin(cmd::handle_text(conn, text.as_str())).await;
                if signing_in && conn.identity.is_some() {
                    signing_in = false;
                    *unauthenticated = None;
                    deadline.as_mut().reset(Instant::now() + idle_timeout);
                }
            }
            Step::PeerClose => {
                // Polling once more has tungstenite queue its close reply (a
                // server then ends the stream).
                let _ = Box::pin(tokio::time::timeout(Duration::from_secs(1), stream.next())).await;
                return End::PeerClosed;
            }
        }
    }
}

/// What a frame (or the stream's end, or a read error) means for the reader.
fn look_at<E>(message: Option<Result<Message, E>>, conn: &Conn) -> Step
where
    E: std::error::Error + Send + Sync + 'static,
{
    match message {
        Some(Ok(Message::Close(_))) => Step::PeerClose,
        None => Step::End(End::PeerGone),
        Some(Ok(Message::Text(text))) => {
            if text.len() > conn.shared.config.limits.max_frame_bytes {
                too_large(conn);
                return Step::End(End::Closing);
            }
            Step::Command(text)
        }
        Some(Ok(Message::Binary(_))) => {
            metrics::counter!(m::FRAMES_TOTAL, "outcome" => "binary").increment(1);
            conn.send(switchboard_protocol::reply::api_error(
                switchboard_protocol::ErrorType::InvalidInput,
                "binary frames are not accepted: send one JSON object per text frame",
                None,
            ));
            Step::Next
        }
        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Step::Next,
        Some(Err(e)) => match protocol_error(&e) {
            Some(CloseCode::FrameTooLarge) => {
                too_large(conn);
                Step::End(End::Closing)
            }
            Some(code) => {
                tracing::debug!(client = conn.queue.id(), error = %e, "protocol error");
                metrics::counter!(m::FRAMES_TOTAL, "outcome" => code.as_str()).increment(1);
                conn.queue.close(code);
                Step::End(End::Closing)
            }
            None => {
                tracing::debug!(client = conn.queue.id(), error = %e, "read error");
                Step::End(End::PeerGone)
            }
        },
    }
}

fn too_large(conn: &Conn) {
    metrics::counter!(m::FRAMES_TOTAL, "outcome" => "too_large").increment(1);
    conn.queue.close(CloseCode::FrameTooLarge);
}

/// The close code a read error is answered with (RFC 6455 §7.4.1), or
/// `None` when the socket failed or ended (nothing can be answered): a frame
/// over the limit 4409, text that is not UTF-8 1007, any other breach of the
/// framing 1002.
fn protocol_error<E: std::error::Error + 'static>(e: &E) -> Option<CloseCode> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(t) = err.downcast_ref::<WsError>() {
            return match t {
                WsError::Capacity(_) => Some(CloseCode::FrameTooLarge),
                WsError::Utf8(_) => Some(CloseCode::InvalidPayload),
                WsError::Protocol(
                    ProtocolError::ResetWithoutClosingHandshake
                    | ProtocolError::SendAfterClosing
                    | ProtocolError::ReceivedAfterClosing,
                ) => None,
                WsError::Protocol(_) | WsError::AttackAttempt => Some(CloseCode::ProtocolError),
                _ => None,
            };
        }
        source = err.source();
    }
    None
}

/// The writer: writes what the queue holds until it closes, then the close
/// frame. Whatever the reason of the close, the client has `close_timeout`
/// from it to take the last frames: after that the writer stops, and the
/// socket is closed, whether or not the client reads. It stops at once when
/// the reader is done with the connection (`done`: the socket ended or
/// failed, or the connection idled out), even in the middle of a write.
async fn write_loop<W>(
    mut socket: W,
    queue: Arc<ClientQueue>,
    close_timeout: Duration,
    done: CancellationToken,
) where
    W: AsyncWrite + Abort + Unpin,
{
    let abandoned = tokio::select! {
        biased;
        () = done.cancelled() => true,
        () = closing_for(&queue, close_timeout) => {
            tracing::debug!(
                client = queue.id(),
                code = ?queue.close_code(),
                "the client did not take its last frames in time: socket closed"
            );
            true
        }
        () = drain(&mut socket, &queue, close_timeout) => false,
    };
    if abandoned {
        // What is unwritten will never be read.
        socket.abort();
    }
    done.cancel();
}

/// Resolves `wait` after the queue closed.
async fn closing_for(queue: &ClientQueue, wait: Duration) {
    queue.closed().await;
    tokio::time::sleep(wait).await;
}

/// Writes the queue's frames until it closes and is drained, then the close
/// frame.
async fn drain<W>(socket: &mut W, queue: &ClientQueue, close_timeout: Duration)
where
    W: AsyncWrite + Unpin,
{
    let mut batch: VecDeque<Bytes> = VecDeque::new();
    loop {
        match queue.next_batch(&mut batch, MAX_BATCH_BYTES).await {
            Batch::Frames => {
                let mut partial = false;
                let written = tokio::select! {
                    ok = write_frames(socket, &mut batch, &mut partial) => ok,
                    // The client stopped reading and its queue overflowed:
                    // stop waiting for the socket and send the close frame.
                    () = overflowed(queue) => false,
                };
                if !written {
                    if queue.close_code() == Some(CloseCode::TooSlow) {
                        // A frame cut short would garble the close frame:
                        // its rest goes first.
                        batch.truncate(usize::from(partial));
                        let rest = batch.pop_front().unwrap_or_default();
                        Box::pin(send_close(socket, &rest, CloseCode::TooSlow, close_timeout))
                            .await;
                    } else {
                        // The socket failed: nothing more can be written.
                        // Closing the queue stops the publishers and tells
                        // the reader.
                        queue.finish();
                    }
                    return;
                }
                batch.clear();
            }
            Batch::Closed(code) => {
                Box::pin(send_close(socket, &[], code, close_timeout)).await;
                return;
            }
            Batch::Finished => {
                let _ = tokio::time::timeout(close_timeout, socket.shutdown()).await;
                return;
            }
        }
    }
}

/// Resolves when the queue is closed because it overflowed.
async fn overflowed(queue: &ClientQueue) {
    queue.closed().await;
    if queue.close_code() != Some(CloseCode::TooSlow) {
        std::future::pending::<()>().await;
    }
}

/// The frames of one batch as one buffer: `write_all_buf` writes them with
/// vectored writes (up to 64 frames per system call).
struct Frames<'a> {
    frames: &'a mut VecDeque<Bytes>,
    remaining: usize,
    /// Whether the first frame is partly written.
    partial: &'a mut bool,
}

impl Buf for Frames<'_> {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.frames.front().map_or(&[], |f| f.as_ref())
    }

    fn chunks_vectored<'b>(&'b self, dst: &mut [IoSlice<'b>]) -> usize {
        let mut n = 0;
        for (slot, frame) in dst.iter_mut().zip(self.frames.iter()) {
            *slot = IoSlice::new(frame);
            n += 1;
        }
        n
    }

    fn advance(&mut self, mut cnt: usize) {
        self.remaining -= cnt.min(self.remaining);
        while cnt > 0 {
            let Some(front) = self.frames.front_mut() else {
                return;
            };
            if cnt < front.len() {
                front.advance(cnt);
                *self.partial = true;
                return;
            }
            cnt -= front.len();
            self.frames.pop_front();
            *self.partial = false;
        }
    }
}

async fn write_frames<W: AsyncWrite + Unpin>(
    socket: &mut W,
    batch: &mut VecDeque<Bytes>,
    partial: &mut bool,
) -> bool {
    // Empty frames never come from the queue (every frame has a header), so
    // each `IoSlice` is non-empty.
    let remaining = batch.iter().map(Bytes::len).sum();
    let mut frames = Frames {
        frames: batch,
        remaining,
        partial,
    };
    socket.write_all_buf(&mut frames).await.is_ok() && socket.flush().await.is_ok()
}

async fn write_all<W: AsyncWrite + Unpin>(socket: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    socket.write_all(bytes).await?;
    socket.flush().await
}

/// Writes `rest` (the end of a frame cut short), then the close frame.
async fn send_close<W: AsyncWrite + Unpin>(
    socket: &mut W,
    rest: &[u8],
    code: CloseCode,
    wait: Duration,
) {
    metrics::counter!(m::CLOSES_TOTAL, "code" => code.as_str()).increment(1);
    let mut bytes = rest.to_vec();
    // Formatting into a Vec cannot fail.
    let _ = Frame::close(Some(CloseFrame {
        code: code.code().into(),
        reason: code.reason().into(),
    }))
    .format(&mut bytes);
    let _ = tokio::time::timeout(wait, async {
        if write_all(socket, &bytes).await.is_ok() {
            let _ = socket.shutdown().await;
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_buffer_walks_partial_writes() {
        let mut q: VecDeque<Bytes> = ["ab", "cde", "f"]
            .into_iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        let mut partial = false;
        let mut f = Frames {
            remaining: 6,
            frames: &mut q,
            partial: &mut partial,
        };
        let mut slices = [IoSlice::new(&[]); 2];
        assert_eq!(f.chunks_vectored(&mut slices), 2);
        assert_eq!(&*slices[1], b"cde");
        f.advance(3);
        assert_eq!(f.remaining(), 3);
        assert_eq!(f.chunk(), b"de");
        f.advance(3);
        assert!(!f.has_remaining());
        assert!(q.is_empty());
        assert!(!partial, "the last frame was written whole");
    }
}
