//! How to connect ([`XmppConfig`]): address, credentials, transport security
//! ([`TlsMode`]), resource, timeouts.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

#[cfg(doc)]
use crate::{ReceivedItem, XmppError};

/// The default sign-in and request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Transport security of the client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// TCP, then STARTTLS (required: a server that does not offer it is refused with
    /// [`XmppError::Tls`]); the certificate must be valid for the JID's domain and chain to
    /// a platform root or to [`XmppConfig::extra_root_cert_pem`]. Finesse's port 5222.
    #[default]
    StartTls,
    /// Plaintext TCP, credentials in the clear: loopback tests only.
    Plain,
}

/// How to connect: address, credentials, resource, timeouts.
#[derive(Clone)]
pub struct XmppConfig {
    /// The server's client port, e.g. `switchboard_testkit::Prosody::addr` in tests.
    pub addr: SocketAddr,
    /// The bare JID to sign in as, `user@domain`.
    pub jid: String,
    /// The password (in the clear with SASL PLAIN unless [`TlsMode::StartTls`]).
    pub password: String,
    /// Transport security (default [`TlsMode::StartTls`]).
    pub tls: TlsMode,
    /// PEM certificates (CAs) trusted in addition to the platform's roots, for
    /// [`TlsMode::StartTls`] (e.g. a test CA); empty by default.
    pub extra_root_cert_pem: Option<Vec<u8>>,
    /// The resource to bind; `None` lets the server choose.
    pub resource: Option<String>,
    /// Sign-in timeout and default request timeout ([`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// Send available presence (priority 0) after binding, as Finesse requires for
    /// notifications to be delivered (default true).
    pub send_presence: bool,
    /// Capacity of the [`ReceivedItem`] channel (default 1024). A full channel never stalls
    /// the session: further items wait in an in-memory backlog, in order.
    pub item_capacity: usize,
}

impl XmppConfig {
    /// A config with the defaults: server-chosen resource, [`DEFAULT_TIMEOUT`], presence sent.
    pub fn new(addr: SocketAddr, jid: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            addr,
            jid: jid.into(),
            password: password.into(),
            tls: TlsMode::default(),
            extra_root_cert_pem: None,
            resource: None,
            timeout: DEFAULT_TIMEOUT,
            send_presence: true,
            item_capacity: 1024,
        }
    }

    /// Sets the resource to bind.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Sets the transport security ([`TlsMode::Plain`] only for loopback tests).
    pub fn tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    /// Trusts the CA certificates in `pem` (PEM, one or more) in addition to the platform's
    /// roots, for [`TlsMode::StartTls`].
    pub fn extra_root_cert_pem(mut self, pem: Vec<u8>) -> Self {
        self.extra_root_cert_pem = Some(pem);
        self
    }

    /// Sets the sign-in and default request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets whether available presence is sent after binding.
    pub fn send_presence(mut self, send: bool) -> Self {
        self.send_presence = send;
        self
    }
}

impl fmt::Debug for XmppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XmppConfig")
            .field("addr", &self.addr)
            .field("jid", &self.jid)
            .field("password", &"<hidden>")
            .field("tls", &self.tls)
            .field(
                "extra_root_cert_pem",
                &self.extra_root_cert_pem.as_ref().map(|p| p.len()),
            )
            .field("resource", &self.resource)
            .field("timeout", &self.timeout)
            .field("send_presence", &self.send_presence)
            .field("item_capacity", &self.item_capacity)
            .finish()
    }
}
