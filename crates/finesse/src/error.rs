//! The one error type of this crate: what was wrong with a Finesse document, said plainly.

use thiserror::Error;

/// What was wrong with a Finesse XML document.
///
/// Every variant names the element or the problem so that a log line or a
/// `switchboard translate` error tells the operator what to look at.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The text is not well-formed XML.
    #[error("malformed XML at byte {position}: {message}")]
    Xml {
        /// Byte offset in the document where the reader stopped.
        position: u64,
        /// What the XML reader reported.
        message: String,
    },
    /// The document holds no element at all.
    #[error("the document has no root element")]
    NoRoot,
    /// The root element is not one this parser accepts here.
    #[error("expected {expected} but the document's root element is <{found}>")]
    UnexpectedRoot {
        /// What was expected, e.g. `<message> or <Update>`.
        expected: &'static str,
        /// The root element found.
        found: String,
    },
    /// A required element is absent or empty.
    #[error("<{element}> is missing or empty in <{parent}>")]
    Missing {
        /// The required element.
        element: &'static str,
        /// The element it belongs in.
        parent: &'static str,
    },
    /// An element holds a value that cannot be used.
    #[error("invalid value {value:?} in <{element}>: {reason}")]
    InvalidValue {
        /// The element.
        element: &'static str,
        /// The value found (cut to 64 characters).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A pubsub message without a `<notification>` payload.
    #[error("the XMPP message carries no pubsub <notification> item")]
    NoNotification,
    /// A `<notification>` element with nothing in it.
    #[error("the <notification> payload is empty")]
    EmptyNotification,
    /// The escaped `<Update>` carried inside `<notification>` is itself bad.
    #[error("in the <Update> carried by <notification>: {0}")]
    Payload(Box<Error>),
}

impl Error {
    pub(crate) fn invalid(element: &'static str, value: &str, reason: &'static str) -> Self {
        let value: String = value.chars().take(64).collect();
        Error::InvalidValue {
            element,
            value,
            reason,
        }
    }
}
