//! Hostile and broken clients (issue 22): every connection is bounded from
//! its first byte. Clients that stop reading, sockets that never finish
//! their request, resubscribe loops, too many topics and broken framing,
//! each against the real gateway (Prosody, the simulator, real sockets),
//! with small limits so that each case is quick.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_harness::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const A1: (&str, &str) = ("1001001", "5001");
const SUP: (&str, &str) = ("2001001", "5999");

/// Kernel buffers small enough that a client that does not read blocks the
/// server's writes after a few kilobytes.
const SMALL_BUFFER: usize = 4096;

/// Waits until `cond` holds, at most `within`; panics with `what` and the
/// value `show` gives.
async fn holds_within<T: std::fmt::Debug>(
    within: Duration,
    what: &str,
    mut show: impl FnMut() -> T,
    cond: impl Fn(&T) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let v = show();
        if cond(&v) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{what}: still {v:?} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A WebSocket client that reads nothing from now on and sends `pings`
/// pings of 125 bytes: the server's pongs (127 bytes each) fill the small
/// kernel buffers and block the server's writer.
async fn stop_reading_and_ping(c: &mut WsClient, pings: usize) {
    for _ in 0..pings {
        c.send_message(Message::Ping(vec![7u8; 125].into())).await;
    }
}

/// A plain TCP connection to the gateway from `from` (any 127.x address).
async fn tcp_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a TCP socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .unwrap_or_else(|e| panic!("bind {from:?}: {e}"));
    socket.connect(to).await.expect("connect to the gateway")
}

/// Whether the server has closed `tcp` (EOF or reset), waiting at most `wait`.
async fn closed_by_server(tcp: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_that_do_not_read_are_closed_by_the_sign_in_timeout() {
    // The issue's figure: 200 such clients stayed 284 s.
    const N: usize = 200;
    // The default: room to set up 200 clients on a busy machine.
    let sign_in = Duration::from_secs(10);
    let close = Duration::from_millis(500);
    let env = GatewayEnv::start(|c| {
        c.limits.sign_in_timeout = sign_in;
        c.limits.close_timeout = close;
        c.limits.socket_send_buffer = Some(SMALL_BUFFER);
    })
    .await;
    let start = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..N {
        clients.push(WsClient::connect_small_buffer(&env.url, env.gateway.local_addr()).await);
    }
    // 25 KB of pongs each: far more than the kernel buffers hold, far less
    // than the queue's limit (1 MiB: no 4408).
    futures::future::join_all(clients.iter_mut().map(|c| stop_reading_and_ping(c, 200))).await;
    // One more, on a raw socket, to see how the server ends it.
    let socket = TcpSocket::new_v4().expect("a TCP socket");
    socket
        .set_recv_buffer_size(SMALL_BUFFER as u32)
        .expect("SO_RCVBUF");
    let tcp = socket
        .connect(env.gateway.local_addr())
        .await
        .expect("connect");
    let (mut raw, _) = tokio_tungstenite::client_async(&env.url, tcp)
        .await
        .expect("WebSocket handshake");
    for _ in 0..200 {
        raw.send(Message::Ping(vec![7u8; 125].into()))
            .await
            .expect("ping");
    }
    let last_connected = Instant::now();
    assert!(
        start.elapsed() < sign_in,
        "the clients took {:?} to connect",
        start.elapsed()
    );
    assert_eq!(env.gateway.connections(), N + 1);
    assert_eq!(env.gateway.unauthenticated(), N + 1);
    // The writers are stuck behind the pongs: frames wait in the queues.
    assert!(env.gateway.hub_stats().queued_bytes > 0);
    // Every one is closed within the sign-in timeout, the close timeout and
    // 3 s of slack, and its place is given back.
    holds_within(
        (sign_in + close + Duration::from_secs(3)).saturating_sub(last_connected.elapsed()),
        "connections of clients that do not read",
        || env.gateway.connections(),
        |n| *n == 0,
    )
    .await;
    assert!(
        start.elapsed() >= sign_in,
        "closed before the sign-in timeout"
    );
    assert_eq!(env.gateway.unauthenticated(), 0);
    assert_eq!(env.gateway.hub_stats().queued_bytes, 0);
    // The server closed the sockets: each client reads its pongs, then the
    // end of the stream (the 4401 close frame only if the kernel took it
    // before the deadline).
    for c in &mut clients {
        while c.read(Duration::from_secs(5)).await.is_some() {}
        let (code, _) = c.closed.clone().expect("the connection ended");
        assert!(code == 4401 || code == 1006, "closed with {code}");
    }
    // Reset, not closed behind the unread bytes: the kernel keeps nothing
    // of it (a plain close would hold them until the client read them all).
    let mut buf = vec![0u8; 64 * 1024];
    let end = loop {
        match tokio::time::timeout(WAIT, raw.get_mut().read(&mut buf)).await {
            Ok(Ok(0)) => break "end of stream",
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => break "reset",
            Ok(Err(e)) => panic!("{e}"),
            Err(_) => break "still open",
        }
    };
    assert_eq!(end, "reset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_client_that_stops_reading_is_dropped_at_its_idle_timeout() {
    let idle = Duration::from_millis(1500);
    let env = GatewayEnv::start(|c| {
        c.limits.ping_interval = Duration::from_millis(500);
        c.limits.idle_timeout = idle;
        c.limits.close_timeout = Duration::from_millis(500);
        c.limits.socket_send_buffer = Some(SMALL_BUFFER);
    })
    .await;
    let mut c = WsClient::connect_small_buffer(&env.url, env.gateway.local_addr()).await;
    c.sign_in(A1.0, A1.1).await;
    let mut live = env.agent("1001002", "5002").await;
    stop_reading_and_ping(&mut c, 400).await;
    let sent = Instant::now();
    // Silent from now on, and not reading: dropped after the idle timeout
    // (+3 s slack), while the live client (reading, so answering the
    // server's pings) stays.
    while env.gateway.connections() > 1 {
        assert!(
            sent.elapsed() < idle + Duration::from_secs(3),
            "the client that stopped reading is still connected"
        );
        live.read(Duration::from_millis(50)).await;
    }
    assert!(sent.elapsed() >= idle, "dropped before the idle timeout");
    assert!(live.closed.is_none(), "{:?}", live.closed);
    live.ping().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_no_connection_after_its_grace_even_with_clients_that_do_not_read() {
    let grace = Duration::from_secs(3);
    let env = GatewayEnv::start(|c| {
        c.shutdown_grace = grace;
        c.limits.close_timeout = Duration::from_millis(500);
        c.limits.sign_in_timeout = Duration::from_secs(60);
        c.limits.socket_send_buffer = Some(SMALL_BUFFER);
    })
    .await;
    let mut stuck = Vec::new();
    for _ in 0..20 {
        let mut c = WsClient::connect_small_buffer(&env.url, env.gateway.local_addr()).await;
        stop_reading_and_ping(&mut c, 400).await;
        stuck.push(c);
    }
    let mut reading = env.agent(A1.0, A1.1).await;
    // A socket that never finished its request is closed too.
    let mut half = tcp_from([127, 0, 0, 1], env.gateway.local_addr()).await;
    half.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert_eq!(env.gateway.connections(), 21);
    let start = Instant::now();
    env.gateway.shutdown().await;
    assert!(start.elapsed() < grace, "shutdown took its whole grace");
    assert_eq!(env.gateway.connections(), 0);
    assert_eq!(reading.wait_close().await, 4000);
    assert!(closed_by_server(&mut half, Duration::from_secs(2)).await);
    assert_eq!(env.gateway.pre_upgrade_sockets(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_sockets_are_closed_by_the_header_timeout_and_never_block_other_clients() {
    const PER_ADDRESS: usize = 30;
    let header = Duration::from_secs(6);
    let env = GatewayEnv::start(|c| {
        c.limits.header_read_timeout = header;
        c.limits.max_unauthenticated_per_address = PER_ADDRESS;
        c.limits.max_unauthenticated = 1000;
    })
    .await;
    let addr = env.gateway.local_addr();
    let start = Instant::now();
    // The attacker, from 127.0.0.2: half of its sockets send nothing, the
    // other half a request head one byte at a time.
    let mut silent = Vec::new();
    for _ in 0..PER_ADDRESS / 2 {
        silent.push(tcp_from([127, 0, 0, 2], addr).await);
    }
    let mut slow = Vec::new();
    for _ in 0..PER_ADDRESS / 2 {
        let mut s = tcp_from([127, 0, 0, 2], addr).await;
        s.write_all(b"GET /ws HTTP/1.1\r\n").await.unwrap();
        slow.push(s);
    }
    let trickle = tokio::spawn(async move {
        // A header byte each, 5 a second, until past the header timeout:
        // trickling does not extend it.
        let until = start + header + Duration::from_secs(1);
        while Instant::now() < until {
            for s in &mut slow {
                let _ = s.write_all(b"X").await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        slow
    });
    holds_within(
        Duration::from_secs(2),
        "sockets not upgraded",
        || env.gateway.pre_upgrade_sockets(),
        |n| *n >= PER_ADDRESS,
    )
    .await;
    // At its cap, the attacker's next socket is answered 503 at once...
    let mut more = tcp_from([127, 0, 0, 2], addr).await;
    let response = answer(&mut more).await;
    assert!(response.starts_with("HTTP/1.1 503"), "{response:?}");
    // ...while /readyz and a new client from another address are served.
    let ready = reqwest::get(env.http("/readyz")).await.unwrap();
    assert!(ready.status() == 200 || ready.status() == 503);
    let v: Value = ready.json().await.unwrap();
    assert!(v["connections"].is_u64(), "{v}");
    let mut agent = env.agent(A1.0, A1.1).await;
    agent.ping().await;
    assert!(start.elapsed() < header, "the test was too slow to check");
    // Every attacker socket is closed by the header timeout (+3 s slack).
    for s in &mut silent {
        let left = (header + Duration::from_secs(3)).saturating_sub(start.elapsed());
        assert!(
            closed_by_server(s, left).await,
            "a silent socket still open"
        );
    }
    let mut slow = trickle.await.unwrap();
    for s in &mut slow {
        let left = (header + Duration::from_secs(3)).saturating_sub(start.elapsed());
        assert!(closed_by_server(s, left).await, "a slow socket still open");
    }
    holds_within(
        Duration::from_secs(2),
        "sockets not upgraded",
        || env.gateway.pre_upgrade_sockets(),
        |n| *n == 0,
    )
    .await;
    // The address has its places back.
    let again = tcp_from([127, 0, 0, 2], addr).await;
    let url = format!("ws://{addr}/ws");
    let (mut ws, _) = tokio_tungstenite::client_async(&url, again)
        .await
        .expect("the attacker's address can connect again");
    ws.send(Message::text(
        json!({"channel":"Broker","topic":"Session","subtopic":"Ping","data":{}}).to_string(),
    ))
    .await
    .unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Text(_)))));
    assert!(agent.closed.is_none());
}

/// Reads what the server answers on `tcp` until it closes it (2 s at most).
async fn answer(tcp: &mut TcpStream) -> String {
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(2), tcp.read_to_string(&mut response))
        .await
        .expect("the socket is closed at once")
        .ok();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_total_cap_the_oldest_waiting_socket_makes_room_and_a_proxy_counts_there_only() {
    let env = GatewayEnv::start(|c| {
        c.limits.max_unauthenticated_per_address = 4;
        c.limits.max_unauthenticated = 10;
        c.trusted_proxies = vec!["127.0.0.3".parse().unwrap()];
    })
    .await;
    let addr = env.gateway.local_addr();
    let mut held = Vec::new();
    // The proxy goes past the per-address cap...
    for _ in 0..8 {
        held.push(tcp_from([127, 0, 0, 3], addr).await);
    }
    // ...another address has its own cap within what is left of the total.
    for _ in 0..2 {
        held.push(tcp_from([127, 0, 0, 2], addr).await);
    }
    holds_within(
        Duration::from_secs(2),
        "sockets not upgraded",
        || env.gateway.pre_upgrade_sockets(),
        |n| *n == 10,
    )
    .await;
    // At the cap in all, a new client gets in: the oldest socket that has
    // not sent a request is closed for it.
    let mut agent = env.agent(A1.0, A1.1).await;
    agent.ping().await;
    assert!(
        closed_by_server(&mut held[0], Duration::from_secs(2)).await,
        "the oldest waiting socket is still open"
    );
    assert!(
        !closed_by_server(&mut held[1], Duration::from_millis(200)).await,
        "more than the oldest was closed"
    );
    // The client signed in: the others (9) are all that is not signed in.
    holds_within(
        Duration::from_secs(2),
        "connections not signed in",
        || env.gateway.unauthenticated(),
        |n| *n == 9,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_not_upgraded_count_against_max_connections() {
    let env = GatewayEnv::start(|c| c.limits.max_connections = 3).await;
    let addr = env.gateway.local_addr();
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(tcp_from([127, 0, 0, 2], addr).await);
    }
    holds_within(
        Duration::from_secs(2),
        "sockets not upgraded",
        || env.gateway.pre_upgrade_sockets(),
        |n| *n == 2,
    )
    .await;
    let mut a1 = env.agent(A1.0, A1.1).await;
    let mut over = WsClient::connect(&env.url).await;
    assert_eq!(over.wait_close().await, 4429);
    drop(held);
    holds_within(
        Duration::from_secs(2),
        "sockets not upgraded",
        || env.gateway.pre_upgrade_sockets(),
        |n| *n == 0,
    )
    .await;
    let mut a2 = env.agent("1001002", "5002").await;
    a2.ping().await;
    a1.ping().await;
}

async fn subscribe(c: &mut WsClient, topics: &[&str]) -> Value {
    let rid = c.request_id();
    c.send(
        json!({"channel":"Broker","topic":"Subscription","subtopic":"Subscribe",
        "data":{"topics":topics},"requestId":rid}),
    )
    .await;
    c.wait_for("Subscribed", |v| {
        is(v, "Broker", "Subscription", "Subscribed") && v["requestId"] == rid.as_str()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubscribe_loop_without_reading_spends_one_snapshot_allowance() {
    const QUEUE: usize = 16 * 1024;
    const PRELUDE: usize = 64 * 1024;
    let env = GatewayEnv::start(|c| {
        c.hub.queue_max_bytes = QUEUE;
        c.hub.prelude_max_bytes = PRELUDE;
        c.limits.socket_send_buffer = Some(SMALL_BUFFER);
        c.limits.close_timeout = Duration::from_millis(500);
    })
    .await;
    let mut sup = WsClient::connect_small_buffer(&env.url, env.gateway.local_addr()).await;
    sup.sign_in(SUP.0, SUP.1).await;
    subscribe(&mut sup, &["team/5000"]).await;
    // From now on the supervisor reads nothing and resubscribes to its
    // team again and again: each time a fresh snapshot.
    let unsub = json!({"channel":"Broker","topic":"Subscription","subtopic":"Unsubscribe",
        "data":{"topics":["team/5000"]}})
    .to_string();
    let sub = json!({"channel":"Broker","topic":"Subscription","subtopic":"Subscribe",
        "data":{"topics":["team/5000"]}})
    .to_string();
    let mut most = 0;
    let mut rounds = 0;
    while env.gateway.connections() > 0 && rounds < 2000 {
        if !(sup.try_send_text(&unsub).await && sup.try_send_text(&sub).await) {
            break;
        }
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
        most = most.max(env.gateway.hub_stats().queued_bytes);
    }
    // Closed 4408 once the allowance was spent, having held at most the
    // allowance and the live limit.
    holds_within(
        Duration::from_secs(5),
        "connections",
        || env.gateway.connections(),
        |n| *n == 0,
    )
    .await;
    assert!(
        most <= PRELUDE + QUEUE,
        "{most} bytes queued, more than {PRELUDE} + {QUEUE}"
    );
    assert!(rounds < 2000, "never closed");
    assert_eq!(env.gateway.hub_stats().queued_bytes, 0);
    // It was closed for its queue (4408; the close frame itself may not
    // reach a client that does not read).
    let metrics = env.metrics().await;
    assert!(
        metrics.contains(r#"switchboard_closes_total{code="too_slow"}"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_per_connection_are_capped() {
    const MAX: usize = 8;
    let env = GatewayEnv::start(|c| c.limits.max_topics = MAX).await;
    let mut sup = WsClient::connect(&env.url).await;
    sup.sign_in(SUP.0, SUP.1).await;
    // Signing in subscribed the supervisor to its own topics: fill up to the cap.
    let own = env.gateway.hub_stats().subscriptions;
    assert!(own < MAX - 2, "{own} topics after sign-in");
    let fill: Vec<String> = (1..=MAX - own).map(|i| format!("queue/{i}")).collect();
    let fill: Vec<&str> = fill.iter().map(String::as_str).collect();
    let ok = subscribe(&mut sup, &fill).await;
    assert_eq!(
        ok["data"]["topics"].as_array().unwrap().len(),
        fill.len(),
        "{ok}"
    );
    assert_eq!(env.gateway.hub_stats().subscriptions, MAX);
    // One more is refused whole, with the documented error; the topics it
    // already had stay (and are listed).
    let from = sup.frames.len();
    let refused = subscribe(&mut sup, &["queue/100", "queue/1"]).await;
    assert_eq!(refused["data"]["topics"], json!(["queue/1"]));
    let rid = refused["requestId"].as_str().unwrap().to_owned();
    let (_, error) = sup
        .wait_from(from, "SetAPIError", |v| {
            v["subtopic"] == "SetAPIError" && v["requestId"] == rid.as_str()
        })
        .await;
    assert_eq!(
        error["data"]["data"]["errorType"], "Too Many Requests",
        "{error}"
    );
    assert!(
        error["data"]["data"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("subscribed to 8 at most"),
        "{error}"
    );
    assert_eq!(env.gateway.hub_stats().subscriptions, MAX);
    // After an unsubscribe there is room again.
    let rid = sup.request_id();
    sup.send(
        json!({"channel":"Broker","topic":"Subscription","subtopic":"Unsubscribe",
        "data":{"topics":["queue/1"]},"requestId":rid}),
    )
    .await;
    sup.wait_for("Unsubscribed", |v| v["requestId"] == rid.as_str())
        .await;
    let ok = subscribe(&mut sup, &["queue/100"]).await;
    assert_eq!(ok["data"]["topics"], json!(["queue/100"]));
    assert_eq!(env.gateway.hub_stats().subscriptions, MAX);
}

/// Opens a WebSocket, sends `raw` bytes (one hand-made frame) and returns
/// the close code the server answers with.
async fn close_code_for(env: &GatewayEnv, raw: &[u8]) -> Option<u16> {
    let tcp = TcpStream::connect(env.gateway.local_addr())
        .await
        .expect("connect to the gateway");
    let (mut ws, _) = tokio_tungstenite::client_async(&env.url, tcp)
        .await
        .expect("WebSocket handshake");
    ws.get_mut().write_all(raw).await.expect("send the frame");
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.ok()? {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

/// A masked client frame (mask 0: the payload as is).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_get_their_close_code() {
    let env = GatewayEnv::start(|c| c.limits.max_frame_bytes = 4096).await;
    let ping = br#"{"channel":"Broker","topic":"Session","subtopic":"Ping","data":{}}"#;
    let cases: [(&str, Vec<u8>, u16); 5] = [
        ("reserved bits", frame(0xC1, ping), 1002),
        ("an unknown opcode", frame(0x83, b"x"), 1002),
        ("a fragmented ping", frame(0x09, b"x"), 1002),
        (
            "text that is not UTF-8",
            frame(0x81, &[0xff, 0xfe, 0x41]),
            1007,
        ),
        (
            "a frame over the limit",
            {
                let mut f = vec![0x81, 0x80 | 127];
                f.extend_from_slice(&(1u64 << 20).to_be_bytes());
                f.extend_from_slice(&[0, 0, 0, 0]);
                f
            },
            4409,
        ),
    ];
    for (what, raw, code) in cases {
        assert_eq!(
            close_code_for(&env, &raw).await,
            Some(code),
            "{what}: the close frame"
        );
    }
    // The server keeps serving.
    let mut a1 = env.agent(A1.0, A1.1).await;
    a1.ping().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_body_never_ends_is_closed() {
    let header = Duration::from_secs(2);
    let env = GatewayEnv::start(|c| c.limits.header_read_timeout = header).await;
    let mut s = tcp_from([127, 0, 0, 1], env.gateway.local_addr()).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    // A body byte every 100 ms, for longer than the header timeout.
    let mut answered = String::new();
    let mut buf = [0u8; 1024];
    let closed = loop {
        if start.elapsed() > header + Duration::from_secs(5) {
            break false;
        }
        let _ = s.write_all(b"x").await;
        match tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(n)) => answered.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    };
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered:?}");
    assert!(
        closed,
        "the socket was still open after {:?}",
        start.elapsed()
    );
    holds_within(
        Duration::from_secs(2),
        "sockets not upgraded",
        || env.gateway.pre_upgrade_sockets(),
        |n| *n == 0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_socket_that_never_finishes_its_handshake_is_closed_by_the_header_timeout() {
    let header = Duration::from_secs(2);
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let dir = tempfile::tempdir().expect("temporary folder");
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).expect("write");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write");
    let env = GatewayEnv::start(|c| {
        c.limits.header_read_timeout = header;
        c.tls = Some(switchboard_gateway::TlsFiles {
            cert: cert_path,
            key: key_path,
        });
    })
    .await;
    let addr = env.gateway.local_addr();
    let start = Instant::now();
    // One socket silent, one sending the first bytes of a ClientHello only.
    let mut silent = tcp_from([127, 0, 0, 1], addr).await;
    let mut partial = tcp_from([127, 0, 0, 1], addr).await;
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
        .await
        .unwrap();
    holds_within(
        Duration::from_secs(2),
        "sockets not upgraded",
        || env.gateway.pre_upgrade_sockets(),
        |n| *n == 2,
    )
    .await;
    for s in [&mut silent, &mut partial] {
        let left = (header + Duration::from_secs(3)).saturating_sub(start.elapsed());
        assert!(closed_by_server(s, left).await, "a TLS socket still open");
    }
    assert!(
        start.elapsed() >= header,
        "closed before the header timeout"
    );
    holds_within(
        Duration::from_secs(2),
        "sockets not upgraded",
        || env.gateway.pre_upgrade_sockets(),
        |n| *n == 0,
    )
    .await;
}
