//! Opening many client sockets on one machine.
//!
//! - File descriptors: [`raise_nofile`] raises `RLIMIT_NOFILE` (soft and, as
//!   root, hard) to what the run needs.
//! - Ephemeral ports: a source address has about 28,000 of them
//!   (`net.ipv4.ip_local_port_range`), and a socket bound before connect keeps
//!   its port for that address alone, so clients are spread over several
//!   loopback source addresses (127.0.0.2, 127.0.0.3...), bound before
//!   connect, when the target is on loopback. Each run takes the next
//!   addresses, starting from a point derived from the process id, so the
//!   sockets a previous run or invocation left in TIME_WAIT are not in the way.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Error as WsError};

/// Why a client could not open its WebSocket.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connection (or the bind before it) failed.
    #[error("TCP connect from {source_addr:?}: {error}")]
    Tcp {
        /// The source address bound, if any.
        source_addr: Option<IpAddr>,
        /// The error.
        error: std::io::Error,
    },
    /// The server answered the upgrade with an HTTP status.
    #[error("WebSocket upgrade answered HTTP {0}")]
    Http(u16),
    /// The WebSocket handshake failed otherwise.
    #[error("WebSocket handshake: {0}")]
    Handshake(tungstenite::Error),
    /// Nothing happened in time.
    #[error("connect timed out after {0:?}")]
    Timeout(Duration),
}

/// Raises `RLIMIT_NOFILE` to at least `needed` descriptors if it can; returns
/// the soft limit in force afterwards.
pub fn raise_nofile(needed: u64) -> std::io::Result<u64> {
    let (soft, hard) = rlimit::Resource::NOFILE.get()?;
    if soft >= needed {
        return Ok(soft);
    }
    if hard >= needed {
        rlimit::Resource::NOFILE.set(needed, hard)?;
    } else if rlimit::Resource::NOFILE.set(needed, needed).is_err() {
        // Not privileged: go as high as the hard limit allows.
        rlimit::Resource::NOFILE.set(hard, hard)?;
    }
    Ok(rlimit::Resource::NOFILE.get()?.0)
}

/// Which source address each client binds before connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePlan {
    /// Clients per source address.
    pub per_address: usize,
    /// Source addresses one run uses.
    pub addresses: usize,
    /// The run (0-based), which shifts the addresses used.
    pub run: usize,
    /// Where the first run's addresses start (0: 127.0.0.2).
    pub base: usize,
}

impl SourcePlan {
    /// The plan for `clients` clients of run `run`, `per_address` each,
    /// starting `base` addresses above 127.0.0.2.
    pub fn new(clients: usize, per_address: usize, run: usize, base: usize) -> SourcePlan {
        let per_address = per_address.max(1);
        SourcePlan {
            per_address,
            addresses: clients.div_ceil(per_address).max(1),
            run,
            base,
        }
    }

    /// A base that differs between processes: from the process id.
    pub fn process_base() -> usize {
        (std::process::id() as usize).wrapping_mul(64)
    }

    /// The source address of client `index`: 127.0.0.2 upwards (within
    /// 127.0.0.0/8, skipping 127.0.0.1), continuing where the previous run's
    /// addresses ended.
    pub fn address(&self, index: usize) -> Ipv4Addr {
        // 127.0.0.2 ..= 127.255.255.254: about 16.7 M addresses to cycle through.
        const SPAN: usize = (1 << 24) - 3;
        let slot = (self.base % SPAN + self.run * self.addresses + index / self.per_address) % SPAN;
        Ipv4Addr::from(0x7f00_0002_u32 + slot as u32)
    }
}

/// The WebSocket configuration of a benchmark client: a small read buffer
/// (allocated up front for every connection) and writes sent at once.
pub fn client_ws_config(read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(0)
}

/// Opens a TCP connection to `target`, from `source` (port chosen by the
/// kernel) when given, with `TCP_NODELAY`, and a fixed receive buffer
/// (`SO_RCVBUF`, which turns the kernel's autotuning off) when given.
pub async fn tcp_connect(
    target: SocketAddr,
    source: Option<IpAddr>,
    receive_buffer: Option<u32>,
) -> Result<TcpStream, ConnectError> {
    let err = |error| ConnectError::Tcp {
        source_addr: source,
        error,
    };
    let socket = match target {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(err)?;
    if let Some(ip) = source {
        socket.set_reuseaddr(true).map_err(err)?;
        socket.bind(SocketAddr::new(ip, 0)).map_err(err)?;
    }
    if let Some(bytes) = receive_buffer {
        socket.set_recv_buffer_size(bytes).map_err(err)?;
    }
    let stream = socket.connect(target).await.map_err(err)?;
    stream.set_nodelay(true).map_err(err)?;
    Ok(stream)
}

/// Opens a WebSocket to `url` over a TCP connection to `target` (from
/// `source` when given), within `timeout`.
pub async fn ws_connect(
    url: &str,
    target: SocketAddr,
    source: Option<IpAddr>,
    config: WebSocketConfig,
    timeout: Duration,
) -> Result<WebSocketStream<TcpStream>, ConnectError> {
    let open = async {
        let tcp = tcp_connect(target, source, None).await?;
        let request = url.into_client_request().map_err(ConnectError::Handshake)?;
        match tokio_tungstenite::client_async_with_config(request, tcp, Some(config)).await {
            Ok((ws, _response)) => Ok(ws),
            Err(WsError::Http(response)) => Err(ConnectError::Http(response.status().as_u16())),
            Err(e) => Err(ConnectError::Handshake(e)),
        }
    };
    tokio::time::timeout(timeout, open)
        .await
        .unwrap_or(Err(ConnectError::Timeout(timeout)))
}

/// The host and port of a `ws://host:port/...` URL, resolved.
pub fn resolve_ws_url(url: &str) -> anyhow::Result<SocketAddr> {
    use anyhow::Context;
    let rest = url
        .strip_prefix("ws://")
        .context("only ws:// URLs are supported")?;
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let with_port = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&with_port)
        .with_context(|| format!("resolving {with_port}"))?
        .next()
        .with_context(|| format!("{with_port} resolves to nothing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_addresses_per_run() {
        let p = SourcePlan::new(50_000, 20_000, 0, 0);
        assert_eq!(p.addresses, 3);
        assert_eq!(p.address(0), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(p.address(19_999), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(p.address(20_000), Ipv4Addr::new(127, 0, 0, 3));
        assert_eq!(p.address(49_999), Ipv4Addr::new(127, 0, 0, 4));
        let p = SourcePlan::new(50_000, 20_000, 1, 0);
        assert_eq!(p.address(0), Ipv4Addr::new(127, 0, 0, 5));
        let p = SourcePlan::new(10, 20_000, 300, 0);
        assert_eq!(p.address(0), Ipv4Addr::new(127, 0, 1, 46));
        let p = SourcePlan::new(10, 20_000, 0, 256);
        assert_eq!(p.address(0), Ipv4Addr::new(127, 0, 1, 2));
        assert_eq!(
            resolve_ws_url("ws://127.0.0.1:8080/ws?x=1").unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
    }
}
