//! [`GatewayEnv`]: the gateway end to end. A [`FinesseEnv`], the
//! connector's notification sessions reaching it, and the gateway on a free
//! port; clients are [`WsClient`]s. Every log line is kept (see [`logs`]) so
//! a test can check that no password leaks; [`Relay`] stands between the
//! gateway's REST client and the simulator when a test makes Finesse answer
//! late.

use std::io::Write;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_connector::{FinesseClient, RestConfig, SessionConfig, SessionManager};
use switchboard_core::{CacheConfig, StateCache};
use switchboard_finesse::{UserRequest, UserState};
use switchboard_gateway::{FinesseRest, Gateway, GatewayConfig, Parts};
use switchboard_sim::{CallKind, CallOptions, RequestRecord, SimConfig};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::finesse::{FinesseEnv, FinesseOptions};
use crate::ws::{WsClient, is, response_type};

/// Every user's password in a [`GatewayEnv`]: distinctive, so a leak is found by grep.
pub const PASSWORD: &str = "Pa55-e2e-Zq81-secret";

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter("debug,hyper=info,h2=info,tokio_xmpp=info,rustls=info,reqwest=info")
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .init();
    });
}

/// The log text captured so far (every [`GatewayEnv`] of this test binary).
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().expect("logs")).into_owned()
}

/// A running gateway on a free port, its notification sessions reaching
/// a [`FinesseEnv`]; every user's password is [`PASSWORD`]. Dropping it
/// shuts the gateway down.
#[derive(Debug)]
pub struct GatewayEnv {
    /// Prosody and the simulator.
    pub finesse: FinesseEnv,
    /// The gateway.
    pub gateway: Gateway,
    /// Cancelled on drop: stops the gateway, its sessions and the relay.
    pub shutdown: CancellationToken,
    /// The WebSocket URL (`ws://addr/ws`).
    pub url: String,
    /// The relay the gateway's REST requests go through, when started with one.
    pub relay: Option<Relay>,
}

/// A TCP relay between the gateway's REST client and the simulator that can
/// hold each request back before passing it on (Finesse answering late: the
/// request still reaches the simulator and is carried out, after the delay).
#[derive(Debug)]
pub struct Relay {
    /// The relay's address (the gateway's REST goes here).
    pub addr: std::net::SocketAddr,
    delay: Arc<Mutex<Duration>>,
}

impl Relay {
    /// Starts a relay to `upstream` on a free port, until `shutdown`.
    pub async fn start(upstream: std::net::SocketAddr, shutdown: CancellationToken) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("relay");
        let addr = listener.local_addr().expect("relay");
        let delay = Arc::new(Mutex::new(Duration::ZERO));
        let held = delay.clone();
        tokio::spawn(async move {
            loop {
                let (client, _) = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => return },
                };
                let held = held.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(upstream) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut ur, mut uw) = upstream.into_split();
                    // Client -> simulator, each chunk held back by the delay
                    // in force when it arrived. The simulator's write half is
                    // kept open after the client goes (a closed half would
                    // cancel the request being held).
                    let up = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let d = *held.lock().expect("relay");
                            if !d.is_zero() {
                                tokio::time::sleep(d).await;
                            }
                            if uw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        drop(uw);
                    });
                    let _ = tokio::io::copy(&mut ur, &mut cw).await;
                    up.abort();
                });
            }
        });
        Relay { addr, delay }
    }

    /// Holds every request that arrives from now on back by `d`.
    pub fn delay_requests(&self, d: Duration) {
        *self.delay.lock().expect("relay") = d;
    }
}

impl GatewayEnv {
    /// Starts everything; `tweak` adjusts the gateway's configuration.
    pub async fn start(tweak: impl FnOnce(&mut GatewayConfig)) -> GatewayEnv {
        GatewayEnv::start_with(RestConfig::default(), false, tweak).await
    }

    /// Starts everything with `rest` as the REST client's settings and, when
    /// `relay`, the gateway's REST requests through a [`Relay`].
    pub async fn start_with(
        rest: RestConfig,
        relay: bool,
        tweak: impl FnOnce(&mut GatewayConfig),
    ) -> GatewayEnv {
        GatewayEnv::start_full(rest, relay, |_| {}, tweak).await
    }

    /// As [`GatewayEnv::start_with`], with `users` adjusting the simulator's users
    /// and teams first.
    pub async fn start_full(
        rest: RestConfig,
        relay: bool,
        users: impl FnOnce(&mut SimConfig),
        tweak: impl FnOnce(&mut GatewayConfig),
    ) -> GatewayEnv {
        init_logs();
        let mut config = SimConfig::default();
        users(&mut config);
        let finesse = FinesseEnv::start(FinesseOptions {
            config,
            password: Some(PASSWORD.into()),
            ..FinesseOptions::default()
        })
        .await;
        let shutdown = CancellationToken::new();
        let relay = if relay {
            Some(Relay::start(finesse.sim.primary, shutdown.clone()).await)
        } else {
            None
        };
        let rest_addr = relay.as_ref().map_or(finesse.sim.primary, |r| r.addr);
        let rest = FinesseClient::new(&format!("http://{rest_addr}"), rest).expect("REST client");
        let session_config = Arc::new(SessionConfig {
            resource: "switchboard-e2e".into(),
            ..finesse.session_config(rest.clone())
        });
        let cache = Arc::new(StateCache::new(CacheConfig::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        let sessions = SessionManager::new(
            session_config,
            cache.clone(),
            tx.clone(),
            Duration::from_secs(5),
            &shutdown,
        );
        let mut config = GatewayConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            readiness_probe_interval: Duration::from_millis(200),
            ..GatewayConfig::default()
        };
        tweak(&mut config);
        let gateway = Gateway::start(
            config,
            Parts {
                cache,
                finesse: FinesseRest::new(vec![rest]),
                notifications: Arc::new(sessions),
                changes_tx: tx,
                changes_rx: rx,
                metrics: switchboard_gateway::metrics::install(),
            },
            &shutdown,
        )
        .await
        .expect("gateway");
        let url = format!("ws://{}/ws", gateway.local_addr());
        GatewayEnv {
            finesse,
            gateway,
            shutdown,
            url,
            relay,
        }
    }

    /// The `/metrics` text (the Prometheus recorder is the test process's:
    /// every gateway of the binary counts into it).
    pub async fn metrics(&self) -> String {
        reqwest::get(self.http("/metrics"))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the /metrics text")
    }

    /// `http://` + the gateway's address + `path`.
    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway.local_addr())
    }

    /// Starts a call of `kind` at `agent` (READY) in the simulator; its dialog id.
    pub fn start_call(&self, agent: &str, kind: CallKind) -> String {
        self.finesse
            .sim
            .sim
            .apply(|w| w.start_call(agent, kind, &CallOptions::default()))
            .unwrap_or_else(|e| panic!("start_call: {e:?}"))
    }

    /// Changes an agent's state directly in the simulator (as Finesse would on its own).
    pub fn set_state(&self, agent: &str, state: UserState) {
        self.finesse
            .sim
            .sim
            .apply(|w| {
                let out = w.put_user(
                    agent,
                    agent,
                    &UserRequest {
                        state,
                        reason_code_id: None,
                        extension: None,
                    },
                    None,
                )?;
                Ok(((), out))
            })
            .unwrap_or_else(|e| panic!("set_state: {e:?}"));
    }

    /// Waits until `n` notification sessions are online (and resynced), as
    /// `/readyz` reports, so that later changes arrive as notifications and not
    /// mixed with a session's first resync.
    pub async fn sessions_online(&self, n: u64) {
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(self.http("/readyz")).await
                && let Ok(v) = r.json::<Value>().await
                && v["sessionsOnline"].as_u64() >= Some(n)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} notification sessions were not online within 15 s");
    }

    /// The simulator's REST request log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.finesse.sim.sim.request_log()
    }

    /// Dialog PUTs (call control) the simulator received.
    pub fn dialog_puts(&self) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/Dialog/"))
            .collect()
    }

    /// A client signed in as agent `id` at `extension` and made READY
    /// (its `SetReadyState` answered with ResponseType 0, the READY event
    /// received).
    pub async fn ready_agent(&self, (id, extension): (&str, &str)) -> WsClient {
        let mut c = self.agent(id, extension).await;
        let r = c
            .command("Cisco", "Agent", "SetReadyState", json!({}))
            .await;
        assert_eq!(response_type(&r), 0, "{r}");
        c.wait_for("READY", |v| {
            is(v, "Cisco", "Agent", "SetAgentState") && v["data"]["state"] == "READY"
        })
        .await;
        c
    }

    /// A signed-in client.
    pub async fn agent(&self, id: &str, extension: &str) -> WsClient {
        let mut c = WsClient::connect(&self.url).await;
        c.sign_in(id, extension).await;
        c
    }
}

impl Drop for GatewayEnv {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
