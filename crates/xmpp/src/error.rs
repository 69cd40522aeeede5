//! The XMPP client's errors ([`XmppError`]) and the conversion of a stanza error or a SASL
//! failure into one.

use std::net::SocketAddr;
use std::time::Duration;

use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::stanza_error::StanzaError;

#[cfg(doc)]
use crate::TlsMode;

/// Errors of the XMPP client.
#[derive(Debug, Clone, thiserror::Error)]
pub enum XmppError {
    /// A JID that does not parse, or a bare JID without a user part.
    #[error("invalid JID {jid:?}: {reason}")]
    InvalidJid {
        /// The JID as given.
        jid: String,
        /// Why it was refused.
        reason: String,
    },
    /// The TCP connection or the stream negotiation failed.
    #[error("cannot connect to {addr}: {detail}")]
    Connect {
        /// The server address.
        addr: SocketAddr,
        /// What failed.
        detail: String,
    },
    /// TLS could not be set up: the server does not offer STARTTLS although
    /// [`TlsMode::StartTls`] requires it, the certificate is not trusted (unknown issuer,
    /// wrong name, expired), the handshake failed, or the server requires TLS and the client
    /// is configured with [`TlsMode::Plain`]. Never retried.
    #[error("TLS with {addr} failed: {detail}")]
    Tls {
        /// The server address.
        addr: SocketAddr,
        /// What failed.
        detail: String,
    },
    /// The server refused the credentials (or no SASL mechanism matched).
    #[error("sign-in failed for {jid}: {condition}")]
    Auth {
        /// The bare JID that tried to sign in.
        jid: String,
        /// The SASL failure condition, e.g. `not-authorized`.
        condition: String,
    },
    /// No answer in time.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        after: Duration,
    },
    /// The session ended (server shutdown, socket error, or closed by us).
    #[error("the XMPP session ended: {reason}")]
    Disconnected {
        /// Why.
        reason: String,
    },
    /// The server answered an IQ with an error.
    #[error("{what} failed: <{condition}/>{}", .text.as_deref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Stanza {
        /// The request, e.g. `subscribe to /finesse/api/User/1001001`.
        what: String,
        /// The defined condition, e.g. `item-not-found`, `conflict`, `forbidden`.
        condition: String,
        /// The server's explanation, if any.
        text: Option<String>,
    },
    /// A payload that cannot be sent as XML (control characters, U+FFFE/U+FFFF).
    #[error("invalid payload: {0}")]
    InvalidPayload(String),
}

impl XmppError {
    /// The stanza error condition (`conflict`, `item-not-found`...), for [`XmppError::Stanza`].
    pub fn condition(&self) -> Option<&str> {
        match self {
            Self::Stanza { condition, .. } => Some(condition),
            _ => None,
        }
    }

    /// Whether this is a sign-in failure.
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Auth { .. })
    }

    /// Whether this is a TLS failure ([`XmppError::Tls`]).
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls { .. })
    }
}

pub(crate) fn stanza_error(what: &str, error: StanzaError) -> XmppError {
    let text = error
        .texts
        .values()
        .next()
        .cloned()
        .filter(|t| !t.is_empty());
    let element = Element::from(error);
    let condition = element
        .children()
        .find(|c| c.ns() == ns::XMPP_STANZAS && c.name() != "text")
        .map(|c| c.name().to_owned())
        .unwrap_or_else(|| "undefined-condition".to_owned());
    XmppError::Stanza {
        what: what.to_owned(),
        condition,
        text,
    }
}

/// `NotAuthorized` -> `not-authorized`.
pub(crate) fn kebab(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_conditions_are_kebab_case() {
        assert_eq!(kebab("NotAuthorized"), "not-authorized");
    }
}
