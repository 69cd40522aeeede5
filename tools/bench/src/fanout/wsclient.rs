//! The load tool's WebSocket client for the event hot path: frames read in
//! place from one large buffer, many per system call, with no per-frame
//! allocation.
//!
//! A general WebSocket library (tungstenite) turns every frame into an owned
//! message and wakes the reading task per message; at millions of frames per
//! second on the same cores as the server, that made the load tool, not the
//! server, the limit. This client does only what a subscriber needs, with
//! tungstenite's own pieces: the opening handshake request
//! ([`generate_request`]) and accept key check, frame headers parsed
//! ([`FrameHeader::parse`]) and formatted (masked, as a client must), and
//! `httparse` for the upgrade response. It answers pings, reports the close
//! code, and refuses fragmented or masked server frames (Switchboard and NATS
//! send neither).

use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::generate_request;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

use super::net::{self, ConnectError};

/// Largest upgrade response accepted.
const MAX_RESPONSE: usize = 16 * 1024;

/// A frame read from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A text frame's payload (not checked as UTF-8 here).
    Text(&'a [u8]),
    /// A binary frame's payload.
    Binary(&'a [u8]),
    /// A close frame: its code, if it has one.
    Close(Option<u16>),
}

/// What went wrong on an open connection.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The socket failed.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the TCP connection.
    #[error("connection ended")]
    Eof,
    /// The server sent something this client does not accept.
    #[error("protocol: {0}")]
    Protocol(String),
}

/// One client connection.
#[derive(Debug)]
pub struct WsClient {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    mask: [u8; 4],
    /// Pongs owed (sent before the next read).
    pongs: Vec<u8>,
}

impl WsClient {
    /// Connects to `url` over TCP to `target` (from `source` when given),
    /// within `timeout`, with a read buffer of `read_buffer` bytes (and a
    /// socket receive buffer of `receive_buffer` bytes when given).
    pub async fn connect(
        url: &str,
        target: SocketAddr,
        source: Option<IpAddr>,
        read_buffer: usize,
        receive_buffer: Option<u32>,
        timeout: Duration,
    ) -> Result<WsClient, ConnectError> {
        let open = async {
            let stream = net::tcp_connect(target, source, receive_buffer).await?;
            handshake(stream, url, read_buffer).await
        };
        tokio::time::timeout(timeout, open)
            .await
            .unwrap_or(Err(ConnectError::Timeout(timeout)))
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        self.send(OpCode::Data(Data::Text), text.as_bytes()).await
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), WsError> {
        self.send(OpCode::Data(Data::Binary), data).await
    }

    /// Sends a close frame (no code) and stops writing.
    pub async fn close(&mut self) -> Result<(), WsError> {
        self.send(OpCode::Control(Control::Close), &[]).await?;
        self.stream.shutdown().await?;
        Ok(())
    }

    async fn send(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), WsError> {
        let bytes = self.frame(opcode, payload);
        self.stream.write_all(&bytes).await?;
        Ok(())
    }

    /// A masked frame (RFC 6455 §5.3: every client frame is masked).
    fn frame(&mut self, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            opcode,
            mask: Some(self.mask),
            ..FrameHeader::default()
        };
        let frame = Frame::from_payload(header, payload.to_vec().into());
        // The next frame gets another key.
        self.mask = u32::from_le_bytes(self.mask)
            .wrapping_mul(0x9E37_79B9)
            .wrapping_add(1)
            .to_le_bytes();
        let mut out = Vec::with_capacity(payload.len() + 14);
        // Formatting into a Vec cannot fail.
        let _ = frame.format(&mut out);
        out
    }

    /// Waits for data, reads what the socket has (up to the buffer's free
    /// space), and calls `each` for every complete frame, in order, until it
    /// returns `false`. Pings are answered. Returns whether `each` asked to go
    /// on.
    pub async fn read_frames(
        &mut self,
        mut each: impl FnMut(Incoming<'_>) -> bool,
    ) -> Result<bool, WsError> {
        if !self.pongs.is_empty() {
            let pongs = std::mem::take(&mut self.pongs);
            self.stream.write_all(&pongs).await?;
        }
        if !self.has_frame() {
            self.fill().await?;
        }
        loop {
            let mut cursor = Cursor::new(&self.buf[self.start..self.end]);
            let Some((header, len)) = FrameHeader::parse(&mut cursor)
                .map_err(|e| WsError::Protocol(format!("frame header: {e}")))?
            else {
                return Ok(true);
            };
            let at = self.start + cursor.position() as usize;
            let len = usize::try_from(len)
                .map_err(|_| WsError::Protocol(format!("frame of {len} bytes")))?;
            if self.end - at < len {
                // Incomplete: make room for the whole frame.
                self.reserve(at - self.start + len);
                return Ok(true);
            }
            if header.mask.is_some() || !header.is_final {
                return Err(WsError::Protocol(
                    "masked or fragmented frame from the server".into(),
                ));
            }
            let payload = at..at + len;
            self.start = at + len;
            let go_on = match header.opcode {
                OpCode::Data(Data::Text) => each(Incoming::Text(&self.buf[payload])),
                OpCode::Data(Data::Binary) => each(Incoming::Binary(&self.buf[payload])),
                OpCode::Control(Control::Ping) => {
                    let data = self.buf[payload].to_vec();
                    let pong = self.frame(OpCode::Control(Control::Pong), &data);
                    self.pongs.extend_from_slice(&pong);
                    true
                }
                OpCode::Control(Control::Pong) => true,
                OpCode::Control(Control::Close) => {
                    let p = &self.buf[payload];
                    let code = (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]]));
                    each(Incoming::Close(code));
                    return Ok(false);
                }
                other => return Err(WsError::Protocol(format!("unexpected {other} frame"))),
            };
            if !go_on {
                return Ok(false);
            }
        }
    }

    /// Whether a whole frame is buffered (left by a callback that stopped).
    fn has_frame(&self) -> bool {
        let mut cursor = Cursor::new(&self.buf[self.start..self.end]);
        match FrameHeader::parse(&mut cursor) {
            Ok(Some((_, len))) => (self.end - self.start) as u64 >= cursor.position() + len,
            // A bad header: let the parse report it.
            Err(_) => true,
            Ok(None) => false,
        }
    }

    /// Makes the buffer hold at least `frame` bytes from `start`.
    fn reserve(&mut self, frame: usize) {
        if self.start + frame > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if frame > self.buf.len() {
                self.buf.resize(frame, 0);
            }
        }
    }

    async fn fill(&mut self) -> Result<(), WsError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        // `AsyncRead::read`, not `readable` + `try_read`: tokio clears the
        // socket's readiness after a read that did not fill the buffer (the
        // socket is drained), so the next fill waits for new data instead of
        // making a read system call that can only answer `WouldBlock`; with
        // `try_read` every wake cost two `recvfrom`s.
        match self.stream.read(&mut self.buf[self.end..]).await? {
            0 => Err(WsError::Eof),
            n => {
                self.end += n;
                Ok(())
            }
        }
    }
}

async fn handshake(
    mut stream: TcpStream,
    url: &str,
    read_buffer: usize,
) -> Result<WsClient, ConnectError> {
    let protocol = |e: String| {
        ConnectError::Handshake(tokio_tungstenite::tungstenite::Error::Io(
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        ))
    };
    let io = |e: std::io::Error| ConnectError::Handshake(e.into());
    let request = url.into_client_request().map_err(ConnectError::Handshake)?;
    let (bytes, key) = generate_request(request).map_err(ConnectError::Handshake)?;
    stream.write_all(&bytes).await.map_err(io)?;
    let mut buf = vec![0; read_buffer.max(MAX_RESPONSE)];
    let mut end = 0;
    loop {
        stream.readable().await.map_err(io)?;
        match stream.try_read(&mut buf[end..]) {
            Ok(0) => return Err(protocol("connection closed during the handshake".into())),
            Ok(n) => end += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(io(e)),
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buf[..end]) {
            Ok(httparse::Status::Complete(head)) => {
                let status = response.code.unwrap_or(0);
                if status != 101 {
                    return Err(ConnectError::Http(status));
                }
                let accept = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"))
                    .map(|h| h.value);
                if accept != Some(derive_accept_key(key.as_bytes()).as_bytes()) {
                    return Err(protocol("wrong Sec-WebSocket-Accept".into()));
                }
                let mask = u32::from(stream.local_addr().map_or(0, |a| a.port()))
                    .wrapping_mul(0x0101_0101)
                    .to_le_bytes();
                buf.resize(read_buffer.max(4096).max(end), 0);
                return Ok(WsClient {
                    stream,
                    buf,
                    start: head,
                    end,
                    mask,
                    pongs: Vec::new(),
                });
            }
            Ok(httparse::Status::Partial) if end < MAX_RESPONSE => {}
            Ok(httparse::Status::Partial) => {
                return Err(protocol("upgrade response too long".into()));
            }
            Err(e) => return Err(protocol(format!("upgrade response: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;

    #[tokio::test]
    async fn reads_frames_across_reads_answers_pings_and_reports_the_close_code() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let hello = ws.next().await.unwrap().unwrap();
            assert_eq!(hello, Message::text("hello"));
            for i in 0..1000 {
                ws.feed(Message::text(format!("{{\"n\":{i}}}")))
                    .await
                    .unwrap();
            }
            ws.feed(Message::Ping(vec![1, 2, 3].into())).await.unwrap();
            // Larger than the client's read buffer.
            ws.feed(Message::binary(vec![7u8; 70_000])).await.unwrap();
            ws.flush().await.unwrap();
            let pong = loop {
                match ws.next().await.unwrap().unwrap() {
                    Message::Pong(p) => break p,
                    _ => continue,
                }
            };
            ws.send(Message::Close(Some(CloseFrame {
                code: 4408.into(),
                reason: "too slow".into(),
            })))
            .await
            .unwrap();
            pong
        });
        let url = format!("ws://{addr}/ws");
        let mut c = WsClient::connect(&url, addr, None, 4096, None, Duration::from_secs(5))
            .await
            .unwrap();
        c.send_text("hello").await.unwrap();
        let mut texts = Vec::new();
        let mut binary = 0;
        let mut close = None;
        let mut stops = 0;
        loop {
            let read = c.read_frames(|f| {
                match f {
                    // Stop after every 100th frame, as the bench does after
                    // `Ready`: the next call must go on from the buffer.
                    Incoming::Text(t) if texts.len() % 100 == 99 => {
                        texts.push(String::from_utf8(t.to_vec()).unwrap());
                        stops += 1;
                        return false;
                    }
                    Incoming::Text(t) => texts.push(String::from_utf8(t.to_vec()).unwrap()),
                    Incoming::Binary(b) => binary = b.len(),
                    Incoming::Close(code) => close = code,
                }
                true
            });
            let go_on = tokio::time::timeout(Duration::from_secs(10), read)
                .await
                .expect("frames already buffered are read without new data")
                .unwrap();
            if !go_on && close.is_some() {
                break;
            }
        }
        assert_eq!(texts.len(), 1000);
        assert!(stops > 0, "the callback stopped and resumed mid-buffer");
        assert!(
            texts
                .iter()
                .enumerate()
                .all(|(i, t)| *t == format!("{{\"n\":{i}}}"))
        );
        assert_eq!(binary, 70_000);
        assert_eq!(close, Some(4408));
        assert_eq!(server.await.unwrap().as_ref(), &[1, 2, 3]);
    }

    #[tokio::test]
    async fn a_refused_upgrade_reports_the_status() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut tcp, &mut buf).await;
            tcp.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        let err = WsClient::connect(
            &format!("ws://{addr}/ws"),
            addr,
            None,
            4096,
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ConnectError::Http(403)), "{err}");
    }
}
