//! The NATS side, for comparison: the same clients and scenarios speaking the
//! NATS client protocol over NATS's WebSocket listener.
//!
//! A client sends `CONNECT`, `SUB <subject> 1` and `PING` in one frame; the
//! `PONG` that answers says the subscription is in place. The publisher is
//! one more WebSocket connection sending `PUB <subject> <n>` with a payload
//! of `--payload-bytes` (1 KB by default) that starts with the event's global
//! sequence number, its agent, its offset in the subject (numbered from 1 per
//! subject, like a Switchboard stream) and its send time, padded with `x`.
//! Server `PING`s are answered with `PONG`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::board::{Board, Sent};
use super::client::{ClientSetup, ClientStats, Outcome};
use super::latency::{self, Clock};
use super::net;
use super::token::ClientTopic;
use super::wsclient::{Incoming, WsClient, WsError};

/// The `CONNECT` of every connection: no `+OK`s, no echo.
const CONNECT: &str = concat!(
    r#"CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"#,
    r#""name":"switchboard-bench","lang":"rust","version":"0.1.0","protocol":1,"echo":false}"#,
    "\r\n"
);

/// A protocol error from the server's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatsError {
    /// A `MSG` line that does not parse.
    #[error("malformed MSG line: {0}")]
    BadMsg(String),
    /// A payload not made by this benchmark.
    #[error("payload not from this benchmark")]
    BadPayload,
}

/// One operation the server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// `INFO {...}`.
    Info,
    /// `MSG <subject> <sid> [reply-to] <#bytes>` and its payload.
    Msg {
        /// The subject.
        subject: &'a str,
        /// The payload.
        payload: &'a [u8],
    },
    /// `PING`: answer `PONG`.
    Ping,
    /// `PONG`.
    Pong,
    /// `+OK`.
    Ok,
    /// `-ERR '<message>'`.
    Err(&'a str),
    /// Anything else (a line).
    Other(&'a str),
}

/// Parses the first operation of `buf`: `Ok(None)` when it is not complete
/// yet, else the operation and the bytes it took.
pub fn parse_op(buf: &[u8]) -> Result<Option<(Op<'_>, usize)>, NatsError> {
    // The line's end: the first `\n` when it follows a `\r` (always, from a
    // server), else the first `\r\n`.
    let eol = match memchr::memchr(b'\n', buf) {
        Some(at) if at > 0 && buf[at - 1] == b'\r' => at - 1,
        Some(_) => match memchr::memmem::find(buf, b"\r\n") {
            Some(at) => at,
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    let line = std::str::from_utf8(&buf[..eol]).unwrap_or("");
    let after = eol + 2;
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let op = if verb.eq_ignore_ascii_case("MSG") {
        // `<subject> <sid> [reply-to] <#bytes>`: the subject first, the
        // length last, three or four fields.
        let bad = || NatsError::BadMsg(line.to_owned());
        let mut fields = rest.split_ascii_whitespace();
        let subject = fields.next().ok_or_else(bad)?;
        let (count, last) = fields.fold((1, ""), |(n, _), f| (n + 1, f));
        if !(3..=4).contains(&count) {
            return Err(bad());
        }
        let len: usize = last.parse().map_err(|_| bad())?;
        let end = after + len;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        return Ok(Some((
            Op::Msg {
                subject,
                payload: &buf[after..end],
            },
            end + 2,
        )));
    } else if verb.eq_ignore_ascii_case("PING") {
        Op::Ping
    } else if verb.eq_ignore_ascii_case("PONG") {
        Op::Pong
    } else if verb.eq_ignore_ascii_case("INFO") {
        Op::Info
    } else if verb == "+OK" {
        Op::Ok
    } else if verb == "-ERR" {
        Op::Err(rest.trim())
    } else {
        Op::Other(line)
    };
    Ok(Some((op, after)))
}

/// What the benchmark writes at the start of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Global sequence number of the event.
    pub seq: u64,
    /// The agent it stands for (index).
    pub agent: usize,
    /// Its offset in its subject (from 1).
    pub offset: u64,
    /// Send time, nanoseconds since the run's start.
    pub nanos: u64,
}

/// A payload of `size` bytes (at least the stamp) starting with `stamp`.
pub fn payload(stamp: Stamp, size: usize) -> Vec<u8> {
    let mut p = format!(
        "{} {} {} {} ",
        stamp.seq, stamp.agent, stamp.offset, stamp.nanos
    )
    .into_bytes();
    if p.len() < size {
        p.resize(size, b'x');
    }
    p
}

/// Reads the stamp at the start of a payload.
pub fn read_stamp(payload: &[u8]) -> Result<Stamp, NatsError> {
    let mut numbers = payload
        .split(|&b| b == b' ')
        .map(|n| -> Result<u64, NatsError> {
            if n.is_empty() || n.len() > 19 || !n.iter().all(u8::is_ascii_digit) {
                return Err(NatsError::BadPayload);
            }
            Ok(n.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0')))
        });
    let mut next = || numbers.next().unwrap_or(Err(NatsError::BadPayload));
    Ok(Stamp {
        seq: next()?,
        agent: next()? as usize,
        offset: next()?,
        nanos: next()?,
    })
}

/// One NATS client: connects, subscribes, counts every message until the
/// run stops.
pub async fn client(
    index: usize,
    source: Option<IpAddr>,
    setup: Arc<ClientSetup>,
    board: Arc<Board>,
) -> ClientStats {
    let mut st = ClientStats::default();
    let (kind, place) = setup.population.place(index);
    let topic = ClientTopic::for_client(kind, place, &setup.agents, &setup.team);
    let gate = tokio::select! {
        permit = setup.gate.clone().acquire_owned() => permit.ok(),
        _ = board.stop.cancelled() => None,
    };
    let Some(gate) = gate else {
        return st;
    };
    let deadline = Instant::now() + setup.setup_timeout;
    let mut ws = match WsClient::connect(
        &setup.url,
        setup.target,
        source,
        setup.read_buffer,
        None,
        setup.connect_timeout,
    )
    .await
    {
        Ok(ws) => ws,
        Err(e) => {
            st.fail(Outcome::ConnectError, e);
            board.client_failed();
            return st;
        }
    };
    let hello = format!("{CONNECT}SUB {} 1\r\nPING\r\n", topic.subject);
    if let Err(e) = ws.send_binary(hello.as_bytes()).await {
        st.fail(Outcome::Failed, format!("sending CONNECT: {e}"));
        board.client_failed();
        return st;
    }
    // Made once: a new `cancelled()` per frame costs a registration each time.
    let stop = board.stop.cancelled();
    tokio::pin!(stop);
    let setup_deadline = tokio::time::sleep_until(deadline);
    tokio::pin!(setup_deadline);
    let mut sub = Subscriber {
        st,
        board: &board,
        topic: &topic,
        gate: Some(gate),
        live: false,
        pong: false,
        failed: false,
        now: None,
        latencies: latency::Batch::default(),
    };
    // Bytes of an operation that a frame left incomplete (NATS operations
    // may span frames); whole operations are read in place from the frame.
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let mut closed: Option<Option<u16>> = None;
        let mut broken: Option<NatsError> = None;
        sub.now = None;
        let live = sub.live;
        let read = ws.read_frames(|incoming| match incoming {
            Incoming::Binary(data) | Incoming::Text(data) => {
                let used = if buf.is_empty() {
                    sub.ops(data)
                        .map(|used| buf.extend_from_slice(&data[used..]))
                } else {
                    buf.extend_from_slice(data);
                    sub.ops(&buf).map(|used| {
                        buf.drain(..used);
                    })
                };
                if let Err(e) = used {
                    broken = Some(e);
                }
                broken.is_none() && !sub.failed
            }
            Incoming::Close(code) => {
                closed = Some(code);
                false
            }
        });
        let result = tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = &mut setup_deadline, if !live => {
                sub.st.fail(Outcome::Failed, format!("no PONG after {:?}", setup.setup_timeout));
                board.client_failed();
                break;
            }
            result = read => result,
        };
        // The frames of a read are handled when it completes.
        sub.latencies.record();
        if sub.failed {
            break;
        }
        if let Some(e) = broken {
            end(&mut sub.st, sub.live, &board, e);
            break;
        }
        if let Some(code) = closed {
            sub.st.close_code = code;
            end(&mut sub.st, sub.live, &board, "closed by the server");
            break;
        }
        match result {
            Ok(_) => {}
            Err(WsError::Eof) => {
                end(&mut sub.st, sub.live, &board, "connection ended");
                break;
            }
            Err(e) => {
                end(&mut sub.st, sub.live, &board, e);
                break;
            }
        }
        if buf.capacity() > 64 * 1024 && buf.len() < 4096 {
            buf.shrink_to(4096);
        }
        if std::mem::take(&mut sub.pong) && ws.send_binary(b"PONG\r\n").await.is_err() {
            end(&mut sub.st, sub.live, &board, "sending PONG failed");
            break;
        }
    }
    let Subscriber { mut st, gate, .. } = sub;
    drop(gate);
    if st.outcome == Outcome::Ready && !board.stop.is_cancelled() {
        st.dropped = true;
    }
    let _ = tokio::time::timeout(Duration::from_millis(200), ws.close()).await;
    st
}

/// One subscriber's state while it reads.
struct Subscriber<'a> {
    st: ClientStats,
    board: &'a Board,
    topic: &'a ClientTopic,
    /// Held until subscribed (limits the clients in setup at once).
    gate: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Subscribed (the `PONG` after `SUB` came).
    live: bool,
    /// A `PONG` is owed.
    pong: bool,
    /// The setup failed (counted): stop.
    failed: bool,
    /// The board's clock, read once per read of the socket.
    now: Option<u64>,
    /// The latencies of the current read.
    latencies: latency::Batch,
}

impl Subscriber<'_> {
    /// Handles every whole operation at the start of `bytes`; returns the
    /// bytes they took (the rest is an incomplete operation).
    fn ops(&mut self, bytes: &[u8]) -> Result<usize, NatsError> {
        let mut used = 0;
        while let Some((op, n)) = parse_op(&bytes[used..])? {
            used += n;
            match op {
                Op::Msg { subject, payload } => {
                    let board = self.board;
                    let now = *self.now.get_or_insert_with(|| board.now_nanos());
                    self.st.deliveries += 1;
                    self.st.bytes += payload.len() as u64;
                    match read_stamp(payload) {
                        Ok(s) => {
                            self.st.offsets.event(subject, s.offset);
                            let us = board.delivered(
                                s.agent,
                                Sent {
                                    seq: s.seq,
                                    nanos: s.nanos,
                                },
                                now,
                            );
                            self.latencies.push(Clock::Sent, us);
                        }
                        Err(_) => self.st.unmatched += 1,
                    }
                }
                Op::Ping => self.pong = true,
                Op::Pong if !self.live => {
                    self.live = true;
                    self.st.outcome = Outcome::Ready;
                    self.st.offsets.start(&self.topic.subject, 0);
                    let topic = self.topic;
                    self.board.client_ready(|a| topic.covers(a));
                    self.gate = None;
                }
                Op::Err(e) => {
                    let e = format!("server error: {e}");
                    if self.live {
                        self.st.error.get_or_insert(e);
                    } else {
                        self.st.fail(Outcome::Failed, e);
                        self.board.client_failed();
                        self.failed = true;
                        return Ok(used);
                    }
                }
                _ => {}
            }
        }
        Ok(used)
    }
}

fn end(st: &mut ClientStats, live: bool, board: &Board, why: impl std::fmt::Display) {
    if live {
        st.dropped = true;
        st.error.get_or_insert_with(|| why.to_string());
    } else {
        st.fail(Outcome::Failed, format!("{why} before being subscribed"));
        board.client_failed();
    }
}

/// The publishing connection.
#[derive(Debug)]
pub struct Publisher {
    ws: WebSocketStream<TcpStream>,
    buf: Vec<u8>,
}

impl Publisher {
    /// Connects and waits for the server to answer a `PING`.
    pub async fn connect(url: &str, target: SocketAddr) -> anyhow::Result<Publisher> {
        let mut ws = net::ws_connect(
            url,
            target,
            None,
            net::client_ws_config(64 * 1024),
            Duration::from_secs(10),
        )
        .await
        .with_context(|| format!("publisher connecting to {url}"))?;
        ws.send(Message::binary(format!("{CONNECT}PING\r\n").into_bytes()))
            .await?;
        let mut p = Publisher {
            ws,
            buf: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let msg = tokio::time::timeout_at(deadline, p.ws.next())
                .await
                .context("publisher: no PONG within 10 s")?;
            if p.handle(msg).await? {
                return Ok(p);
            }
        }
    }

    /// Handles what the server sent; true on a `PONG`.
    async fn handle(
        &mut self,
        msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> anyhow::Result<bool> {
        let data = match msg {
            Some(Ok(Message::Binary(b))) => b,
            Some(Ok(Message::Text(t))) => t.into(),
            Some(Ok(Message::Close(c))) => bail!("publisher closed by the server: {c:?}"),
            Some(Ok(_)) => return Ok(false),
            Some(Err(e)) => return Err(e.into()),
            None => bail!("publisher connection ended"),
        };
        self.buf.extend_from_slice(&data);
        let mut used = 0;
        let mut pong = false;
        let mut ping = false;
        while let Some((op, n)) = parse_op(&self.buf[used..])? {
            used += n;
            match op {
                Op::Pong => pong = true,
                Op::Ping => ping = true,
                Op::Err(e) => bail!("publisher: server error: {e}"),
                _ => {}
            }
        }
        self.buf.drain(..used);
        if ping {
            self.ws.send(Message::binary(&b"PONG\r\n"[..])).await?;
        }
        Ok(pong)
    }

    /// Publishes until `until`: with the board's window, as many events as it
    /// allows (batched into one frame); with `interval`, one per tick (open
    /// loop, catching up when late). Event k stands for agent k mod the
    /// number of agents that have subscribers, on that agent's subject.
    /// Returns the events published.
    pub async fn drive(
        &mut self,
        board: &Board,
        subjects: &[String],
        driven: &[usize],
        payload_bytes: usize,
        interval: Option<Duration>,
        until: Instant,
    ) -> anyhow::Result<u64> {
        anyhow::ensure!(!driven.is_empty(), "no agent has subscribers");
        let mut offsets = vec![0u64; subjects.len()];
        let mut made = 0u64;
        let mut ticks = interval.map(|every| {
            let mut t = tokio::time::interval(every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            t
        });
        loop {
            if Instant::now() >= until {
                break;
            }
            let mut batch = 0usize;
            tokio::select! {
                msg = self.ws.next() => {
                    self.handle(msg).await?;
                }
                permit = async {
                    match &board.window {
                        Some(w) => w.acquire().await.ok(),
                        None => None,
                    }
                }, if board.window.is_some() => {
                    if let Some(p) = permit {
                        p.forget();
                        batch = 1;
                        if let Some(w) = &board.window {
                            while batch < 64 {
                                match w.try_acquire() {
                                    Ok(p) => { p.forget(); batch += 1; }
                                    Err(_) => break,
                                }
                            }
                        }
                    }
                }
                _ = async {
                    match &mut ticks {
                        Some(t) => { t.tick().await; }
                        None => std::future::pending::<()>().await,
                    }
                }, if ticks.is_some() => { batch = 1; }
                _ = tokio::time::sleep_until(until) => break,
            }
            if batch == 0 {
                continue;
            }
            let mut frame = Vec::with_capacity(batch * (payload_bytes + 40));
            for _ in 0..batch {
                let seq = board.publish_seq();
                let agent = driven[seq as usize % driven.len()];
                let subject_index = if subjects.len() == 1 { 0 } else { agent };
                offsets[subject_index] += 1;
                let body = payload(
                    Stamp {
                        seq,
                        agent,
                        offset: offsets[subject_index],
                        nanos: board.now_nanos(),
                    },
                    payload_bytes,
                );
                frame.extend_from_slice(
                    format!("PUB {} {}\r\n", subjects[subject_index], body.len()).as_bytes(),
                );
                frame.extend_from_slice(&body);
                frame.extend_from_slice(b"\r\n");
            }
            self.ws.send(Message::binary(frame)).await?;
            made += batch as u64;
        }
        Ok(made)
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(500), self.ws.close(None)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_split_anywhere() {
        let p = payload(
            Stamp {
                seq: 7,
                agent: 3,
                offset: 8,
                nanos: 123_456,
            },
            64,
        );
        let mut wire = b"INFO {\"x\":1}\r\nPING\r\n".to_vec();
        wire.extend_from_slice(format!("MSG all 1 {}\r\n", p.len()).as_bytes());
        wire.extend_from_slice(&p);
        wire.extend_from_slice(b"\r\n-ERR 'Slow Consumer'\r\n");
        let mut ops = Vec::new();
        let mut used = 0;
        while let Some((op, n)) = parse_op(&wire[used..]).unwrap() {
            ops.push(format!("{op:?}").chars().take(12).collect::<String>());
            used += n;
        }
        assert_eq!(used, wire.len());
        assert_eq!(ops.len(), 4);
        for cut in 0..wire.len() {
            // A prefix parses to complete operations only.
            let mut used = 0;
            while let Ok(Some((_, n))) = parse_op(&wire[used..cut]) {
                used += n;
            }
            assert!(used <= cut);
        }
        let s = read_stamp(&p).unwrap();
        assert_eq!((s.seq, s.agent, s.offset, s.nanos), (7, 3, 8, 123_456));
        assert_eq!(p.len(), 64);
    }
}
