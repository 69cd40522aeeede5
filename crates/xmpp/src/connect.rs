//! Connecting and signing in: TCP, the stream header, STARTTLS with rustls (the platform's
//! roots plus an optional extra CA) unless plain, SASL and the stream restart, handed to
//! tokio-xmpp's `StanzaStream` through a connector that signs in once and never reconnects.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use sasl::common::Credentials;
use tokio::io::{AsyncBufRead, AsyncWrite, BufStream};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::rustls;
use tokio_xmpp::error::AuthError;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::starttls;
use tokio_xmpp::parsers::stream_features::StreamFeatures;
use tokio_xmpp::stanzastream::{Connection, XmppStream};
use tokio_xmpp::xmlstream::{
    PendingFeaturesRecv, ReadError, StreamHeader, Timeouts, XmppStreamElement, initiate_stream,
};

use crate::config::{TlsMode, XmppConfig};
use crate::error::{XmppError, kebab};

/// The connector handed to [`StanzaStream::new`]: signs in once and reports the outcome on
/// `login`; later calls (reconnects after a lost connection) are parked until the stream is
/// dropped, so the session ends instead of reconnecting.
pub(crate) fn one_shot_connector(
    transport: Transport,
    identity: Jid,
    password: String,
    timeout: Duration,
    login: oneshot::Sender<Result<(), XmppError>>,
) -> Box<dyn FnMut(Option<String>, oneshot::Sender<Connection>) + Send + 'static> {
    let mut login = Some(login);
    Box::new(move |_location, mut slot: oneshot::Sender<Connection>| {
        let Some(login) = login.take() else {
            tokio::spawn(async move { slot.closed().await });
            return;
        };
        let identity = identity.clone();
        let password = password.clone();
        let transport = transport.clone();
        tokio::spawn(async move {
            let result = tokio::select! {
                result = sign_in(&transport, &identity, &password, timeout) => result,
                () = slot.closed() => return,
            };
            match result {
                Ok((features, stream)) => {
                    let _ = login.send(Ok(()));
                    let _ = slot.send(Connection {
                        stream,
                        features,
                        identity,
                    });
                }
                Err(e) => {
                    let _ = login.send(Err(e));
                    slot.closed().await;
                }
            }
        });
    })
}

/// Where and how to connect: the address and, for STARTTLS, the rustls client config.
#[derive(Clone)]
pub(crate) struct Transport {
    addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Transport {
    pub(crate) fn new(config: &XmppConfig) -> Result<Self, XmppError> {
        let tls = match config.tls {
            TlsMode::Plain => None,
            TlsMode::StartTls => Some(tls_config(
                config.addr,
                config.extra_root_cert_pem.as_deref(),
            )?),
        };
        Ok(Self {
            addr: config.addr,
            tls,
        })
    }
}

/// The platform's root certificates (rustls-native-certs: the system store, or
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`), loaded once per process.
pub(crate) fn platform_roots() -> &'static rustls::RootCertStore {
    static ROOTS: std::sync::OnceLock<rustls::RootCertStore> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::warn!("platform root certificates: {e}");
        }
        let mut roots = rustls::RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!("platform root certificates: {added} loaded, {ignored} ignored");
        roots
    })
}

/// The rustls client config: aws-lc-rs, the platform's roots plus `extra_pem`. Without
/// `extra_pem`, one config is shared by every session of the process.
pub(crate) fn tls_config(
    addr: SocketAddr,
    extra_pem: Option<&[u8]>,
) -> Result<Arc<rustls::ClientConfig>, XmppError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    static SHARED: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    let tls_error = |detail: String| XmppError::Tls { addr, detail };
    if extra_pem.is_none()
        && let Some(shared) = SHARED.get()
    {
        return Ok(Arc::clone(shared));
    }
    let mut roots = platform_roots().clone();
    if let Some(pem) = extra_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| tls_error(format!("bad extra root certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| tls_error(format!("bad extra root certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(tls_error(
                "no certificate in the extra root certificate PEM".into(),
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    if extra_pem.is_none() {
        return Ok(Arc::clone(SHARED.get_or_init(|| config)));
    }
    Ok(config)
}

/// TCP connect, stream header, STARTTLS (unless plain), SASL, stream restart: the stream
/// ready for resource binding.
pub(crate) async fn sign_in(
    transport: &Transport,
    identity: &Jid,
    password: &str,
    timeout: Duration,
) -> Result<(StreamFeatures, XmppStream), XmppError> {
    let addr = transport.addr;
    let connect_error = |detail: String| XmppError::Connect { addr, detail };
    let tls_error = |detail: String| XmppError::Tls { addr, detail };
    let timeouts = Timeouts {
        read_timeout: Duration::from_secs(60),
        response_timeout: timeout.max(Duration::from_secs(2)),
    };
    let domain = identity.domain().as_str();
    let header = || StreamHeader {
        to: Some(Cow::Borrowed(domain)),
        from: None,
        id: None,
    };
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let pending = initiate_stream(BufStream::new(tcp), ns::JABBER_CLIENT, header(), timeouts)
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let Some(tls) = &transport.tls else {
        return login(
            pending,
            sasl::common::ChannelBinding::None,
            identity,
            password,
            addr,
            true,
        )
        .await;
    };
    let (features, mut stream) = pending
        .recv_features::<tokio_xmpp::xmlstream::FallibleStreamElement>()
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    if !features.can_starttls() {
        return Err(tls_error(
            "the server does not offer STARTTLS, which is required (TlsMode::StartTls)".into(),
        ));
    }
    stream
        .send(&XmppStreamElement::Starttls(starttls::Nonza::Request(
            starttls::Request,
        )))
        .await
        .map_err(|e| tls_error(format!("sending <starttls/>: {e}")))?;
    loop {
        match stream
            .next()
            .await
            .map(|v| v.and_then(|v| v.into_read_error()))
        {
            Some(Ok(XmppStreamElement::Starttls(starttls::Nonza::Proceed(_)))) => break,
            Some(Ok(XmppStreamElement::Starttls(_))) => {
                return Err(tls_error("the server refused STARTTLS (<failure/>)".into()));
            }
            Some(Ok(_)) | Some(Err(ReadError::SoftTimeout)) => {}
            Some(Err(e)) => return Err(tls_error(format!("during STARTTLS: {e}"))),
            None => {
                return Err(tls_error(
                    "the server closed the stream during STARTTLS".into(),
                ));
            }
        }
    }
    let tcp = stream.into_inner().into_inner();
    let server_name = rustls::pki_types::ServerName::try_from(domain.to_owned())
        .map_err(|e| tls_error(format!("{domain:?} is not a valid server name: {e}")))?;
    let tls_stream = tokio_rustls::TlsConnector::from(Arc::clone(tls))
        .connect(server_name, tcp)
        .await
        .map_err(|e| tls_error(e.to_string()))?;
    let (_, connection) = tls_stream.get_ref();
    // Channel binding as tokio-xmpp does it: tls-exporter on TLS 1.3 only.
    let binding = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => connection
            .export_keying_material(vec![0u8; 32], b"EXPORTER-Channel-Binding", None)
            .map(sasl::common::ChannelBinding::TlsExporter)
            .unwrap_or(sasl::common::ChannelBinding::None),
        _ => sasl::common::ChannelBinding::None,
    };
    let pending = initiate_stream(
        BufStream::new(tls_stream),
        ns::JABBER_CLIENT,
        header(),
        timeouts,
    )
    .await
    .map_err(|e| connect_error(e.to_string()))?;
    login(pending, binding, identity, password, addr, false).await
}

/// Stream features, SASL, stream restart, stream features again.
pub(crate) async fn login<S: AsyncBufRead + AsyncWrite + Unpin + Send + 'static>(
    pending: PendingFeaturesRecv<S>,
    binding: sasl::common::ChannelBinding,
    identity: &Jid,
    password: &str,
    addr: SocketAddr,
    plain: bool,
) -> Result<(StreamFeatures, XmppStream), XmppError> {
    let connect_error = |detail: String| XmppError::Connect { addr, detail };
    let (features, stream) = pending
        .recv_features()
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    if plain
        && features.sasl_mechanisms.is_empty()
        && features.starttls.as_ref().is_some_and(|s| s.required)
    {
        return Err(XmppError::Tls {
            addr,
            detail: "the server requires STARTTLS and offers no sign-in without it, \
                     but the client is configured with TlsMode::Plain"
                .into(),
        });
    }
    let user = identity
        .node()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    let credentials = Credentials::default()
        .with_username(user)
        .with_password(password)
        .with_channel_binding(binding);
    let stream = tokio_xmpp::client_login(stream, features.sasl_mechanisms, credentials)
        .await
        .map_err(|e| match e {
            tokio_xmpp::Error::Auth(AuthError::Fail(condition)) => XmppError::Auth {
                jid: identity.to_bare().to_string(),
                condition: kebab(&format!("{condition:?}")),
            },
            tokio_xmpp::Error::Auth(other) => XmppError::Auth {
                jid: identity.to_bare().to_string(),
                condition: other.to_string(),
            },
            other => connect_error(other.to_string()),
        })?;
    let stream = stream
        .send_header(StreamHeader {
            to: Some(Cow::Borrowed(identity.domain().as_str())),
            from: None,
            id: None,
        })
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let (features, stream) = stream
        .recv_features()
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    Ok((features, stream.box_stream()))
}
