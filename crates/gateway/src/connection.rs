//! One WebSocket connection: a reader (this task) and a writer task, as in
//! axum's chat example, generic over `Stream`/`Sink` of tungstenite's
//! [`Message`] so that they run without a socket in tests.
//!
//! - The **writer** owns the sink. It sleeps until the client's
//!   [`ClientQueue`] has frames, writes every frame queued meanwhile and
//!   flushes once (batched writes), sends a ping when the hub's ping sweep
//!   asks (every `ping_interval`, one timer for all connections), and
//!   sends the close frame when the queue closes (after the queued frames,
//!   except for 4408 which drops them). A write blocked on a client that does
//!   not read is abandoned when its queue overflows.
//! - The **reader** parses each text frame and runs its command ([`cmd`]),
//!   refuses binary frames, closes with 4409 on an oversized frame and with
//!   4401 when the client has not signed in in time, and drops a connection
//!   that has been silent (no frame, no pong) for `idle_timeout`.
//!
//! Every close goes through the queue ([`ClientQueue::close`]), so the client
//! always gets the frames queued before it and then one close frame.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{Sink, SinkExt, Stream, StreamExt};
use switchboard_core::hub::{Batch, ClientQueue, Wire};
use switchboard_protocol::CloseCode;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use crate::cmd::{self, Conn};
use crate::metrics as m;
use crate::state::Shared;

/// Most bytes written per flush.
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// What the HTTP layer knows about a connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// `?access_token=` of the upgrade request, if any.
    pub access_token: Option<String>,
}

/// Serves one upgraded WebSocket until it closes.
pub(crate) async fn serve<S, E>(socket: S, shared: Arc<Shared>, info: ConnectionInfo)
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let id = shared
        .next_client
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let queue = Arc::new(ClientQueue::new(id, shared.config.hub.queue_max_bytes));
    let open = shared
        .connections
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel)
        + 1;
    metrics::gauge!(m::CONNECTIONS).set(open as f64);
    let done = CancellationToken::new();
    let (sink, stream) = socket.split();
    // A close frame may wait this long for a client that is not reading.
    let close_timeout = shared.config.limits.idle_timeout;
    let writer = tokio::spawn(write_loop(sink, queue.clone(), close_timeout, done.clone()));

    let mut conn = Conn {
        shared: shared.clone(),
        queue: queue.clone(),
        peer: info.peer,
        identity: None,
        resume_token: None,
        in_flight: Arc::new(Semaphore::new(shared.config.limits.max_commands_in_flight)),
    };
    if open > shared.config.limits.max_connections || shared.shutdown.is_cancelled() {
        metrics::counter!(m::CONNECTIONS_TOTAL, "outcome" => "refused").increment(1);
        queue.close(if shared.shutdown.is_cancelled() {
            CloseCode::Shutdown
        } else {
            CloseCode::TooManyConnections
        });
    } else {
        metrics::counter!(m::CONNECTIONS_TOTAL, "outcome" => "accepted").increment(1);
        shared.hub.connect(queue.clone());
        if let Some(token) = info.access_token.as_deref() {
            cmd::authenticate::with_token(&mut conn, token, None).await;
        }
        if read_loop(stream, &mut conn, &done).await == End::PeerGone {
            done.cancel();
        }
    }
    // Let the writer deliver the close frame, then make sure it stops.
    let _ = tokio::time::timeout(close_timeout, done.cancelled()).await;
    done.cancel();
    let _ = writer.await;
    conn.leave();
    let open = shared
        .connections
        .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
        - 1;
    metrics::gauge!(m::CONNECTIONS).set(open as f64);
}

/// Why the reader stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed, the socket failed, or the connection idled out.
    PeerGone,
    /// The server is closing it (the queue is closed): the writer sends the close frame.
    Closing,
}

async fn read_loop<R, E>(mut stream: R, conn: &mut Conn, done: &CancellationToken) -> End
where
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    let limits = conn.shared.config.limits;
    // One timer per connection: the sign-in deadline until signed in, then the
    // idle deadline, pushed back by every frame received (pongs included).
    let mut signing_in = conn.identity.is_none();
    let deadline = tokio::time::sleep(if signing_in {
        limits.sign_in_timeout
    } else {
        limits.idle_timeout
    });
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = done.cancelled() => return End::PeerGone,
            _ = conn.queue.closed() => return End::Closing,
            _ = &mut deadline => {
                if conn.identity.is_none() {
                    conn.queue.close(CloseCode::NotSignedIn);
                    return End::Closing;
                }
                tracing::debug!(client = conn.queue.id(), "idle timeout: connection dropped");
                return End::PeerGone;
            }
            message = stream.next() => {
                if !signing_in {
                    deadline.as_mut().reset(Instant::now() + limits.idle_timeout);
                }
                match message {
                    None | Some(Ok(Message::Close(_))) => return End::PeerGone,
                    Some(Ok(Message::Text(text))) => {
                        if text.len() > limits.max_frame_bytes {
                            too_large(conn);
                            return End::Closing;
                        }
                        cmd::handle_text(conn, text.as_str()).await;
                        if signing_in && conn.identity.is_some() {
                            signing_in = false;
                            deadline.as_mut().reset(Instant::now() + limits.idle_timeout);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        metrics::counter!(m::FRAMES_TOTAL, "outcome" => "binary").increment(1);
                        conn.send(switchboard_protocol::reply::api_error(
                            switchboard_protocol::ErrorType::InvalidInput,
                            "binary frames are not accepted: send one JSON object per text frame",
                            None,
                        ));
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Err(e)) => {
                        if is_capacity_error(&e) {
                            too_large(conn);
                            return End::Closing;
                        }
                        tracing::debug!(client = conn.queue.id(), error = %e, "read error");
                        return End::PeerGone;
                    }
                }
            }
        }
    }
}

fn too_large(conn: &Conn) {
    metrics::counter!(m::FRAMES_TOTAL, "outcome" => "too_large").increment(1);
    conn.queue.close(CloseCode::FrameTooLarge);
}

/// Whether a read error is tungstenite's "message or frame too long".
fn is_capacity_error<E: std::error::Error + 'static>(e: &E) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(t) = err.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
            return matches!(t, tokio_tungstenite::tungstenite::Error::Capacity(_));
        }
        source = err.source();
    }
    false
}

async fn write_loop<K>(
    mut sink: K,
    queue: Arc<ClientQueue>,
    close_timeout: Duration,
    done: CancellationToken,
) where
    K: Sink<Message> + Unpin,
{
    let mut batch: Vec<Wire> = Vec::new();
    loop {
        tokio::select! {
            biased;
            _ = done.cancelled() => break,
            next = queue.next_batch(&mut batch, MAX_BATCH_BYTES) => match next {
                Batch::Frames => {
                    let written = tokio::select! {
                        ok = write_batch(&mut sink, &mut batch) => ok,
                        // The client stopped reading and its queue overflowed:
                        // stop waiting for the socket and send the close frame.
                        _ = queue.closed() => queue.close_code() != Some(CloseCode::TooSlow),
                    };
                    batch.clear();
                    if !written {
                        if queue.close_code() == Some(CloseCode::TooSlow) {
                            send_close(&mut sink, CloseCode::TooSlow, close_timeout).await;
                        }
                        break;
                    }
                }
                Batch::Ping => {
                    if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                        break;
                    }
                }
                Batch::Closed(code) => {
                    send_close(&mut sink, code, close_timeout).await;
                    break;
                }
            },
        }
    }
    done.cancel();
}

async fn write_batch<K: Sink<Message> + Unpin>(sink: &mut K, batch: &mut Vec<Wire>) -> bool {
    // Each frame is the shared, already UTF-8-checked text: no copy, no check here.
    for frame in batch.drain(..) {
        if sink.feed(Message::Text(frame)).await.is_err() {
            return false;
        }
    }
    sink.flush().await.is_ok()
}

async fn send_close<K: Sink<Message> + Unpin>(sink: &mut K, code: CloseCode, wait: Duration) {
    metrics::counter!(m::CLOSES_TOTAL, "code" => code.as_str()).increment(1);
    let frame = Message::Close(Some(CloseFrame {
        code: code.code().into(),
        reason: Utf8Bytes::from_static(code.reason()),
    }));
    let _ = tokio::time::timeout(wait, sink.send(frame)).await;
}
