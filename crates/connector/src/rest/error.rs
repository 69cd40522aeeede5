//! Why a Finesse REST request failed ([`RestError`]), and how a failed
//! exchange (no answer, an error status, an unreadable body) becomes one.

use reqwest::StatusCode;
use switchboard_finesse::ApiError;

/// Why a Finesse REST request failed. No variant holds a password or token;
/// `what` names the request with its full URL, which never holds credentials
/// (`PUT https://finesse1:8445/finesse/api/Dialog/42 (ACCEPT)`).
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// Finesse answered 4xx/5xx. `errors` is its `ApiErrors` body
    /// (Finesse Developer Guide: API errors), or one synthetic error holding the HTTP reason when
    /// the body is not `ApiErrors`. See [`RestError::is_unauthorized`] (401),
    /// [`RestError::is_not_found`] (404), [`RestError::is_unavailable`] (503).
    #[error("Finesse answered {status} to {what}: {}", summarize(.errors))]
    Finesse {
        /// The request.
        what: String,
        /// The HTTP status.
        status: u16,
        /// Finesse's errors (at least one).
        errors: Vec<ApiError>,
        /// The `requestId` sent (PUT/POST only).
        request_id: Option<String>,
    },
    /// No complete answer within [`RestConfig::request_timeout`](super::RestConfig::request_timeout) (or no
    /// connection within [`RestConfig::connect_timeout`](super::RestConfig::connect_timeout)). A PUT/POST may
    /// still have been carried out: watch for `request_id`.
    #[error("{what}: Finesse did not answer in time")]
    Timeout {
        /// The request.
        what: String,
        /// The `requestId` sent (PUT/POST only).
        request_id: Option<String>,
    },
    /// The node could not be reached or the connection broke (refused,
    /// reset, DNS, TLS): Finesse is unreachable. A PUT/POST whose connection
    /// broke after sending may still have been carried out.
    #[error("{what}: cannot reach Finesse: {}", root_cause(.source))]
    Connect {
        /// The request.
        what: String,
        /// The `requestId` sent (PUT/POST only).
        request_id: Option<String>,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx (or a redirect) whose body could not be used: not the expected
    /// document, too large, or a redirect (never followed).
    #[error("{what}: unusable answer from Finesse: {reason}")]
    BadResponse {
        /// The request.
        what: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The base URL is not a usable Finesse address (user information, if
    /// any, is replaced by `***`).
    #[error("invalid Finesse base URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given, without credentials.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The credentials cannot be put in an HTTP header.
    #[error("the credentials cannot be sent: {reason}")]
    InvalidCredentials {
        /// Why (never the credentials themselves).
        reason: &'static str,
    },
    /// The HTTP client could not be built (TLS setup, invalid user agent).
    #[error("cannot set up the HTTP client: {source}")]
    Setup {
        /// The builder's error.
        #[source]
        source: reqwest::Error,
    },
}

impl RestError {
    /// The HTTP status Finesse answered with, if it answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::Finesse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// 503: the node is out of service (Finesse Developer Guide: SystemInfo); try the other node.
    pub fn is_unavailable(&self) -> bool {
        self.status() == Some(503)
    }

    /// 401: wrong credentials, or a user asking for another user's objects.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// 404: no such user, dialog or team.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the same request may succeed later or on the other node: a
    /// timeout, an unreachable node, or 503. (For a PUT/POST the caller
    /// decides whether retrying is safe: see [`RestError::Timeout`].)
    pub fn is_retryable(&self) -> bool {
        matches!(self, RestError::Timeout { .. } | RestError::Connect { .. })
            || self.is_unavailable()
    }

    /// Finesse's `ApiErrors` (empty for errors without an HTTP answer).
    pub fn api_errors(&self) -> &[ApiError] {
        match self {
            RestError::Finesse { errors, .. } => errors,
            _ => &[],
        }
    }

    /// The `requestId` the failed PUT/POST was sent with.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            RestError::Finesse { request_id, .. }
            | RestError::Timeout { request_id, .. }
            | RestError::Connect { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }
}

/// `Type: message [data]; ...` for an error message.
fn summarize(errors: &[ApiError]) -> String {
    let mut out = String::new();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        out.push_str(&e.error_type);
        if !e.error_message.is_empty() {
            out.push_str(": ");
            out.push_str(&e.error_message);
        }
        if let Some(data) = &e.error_data {
            out.push_str(" [");
            out.push_str(data);
            out.push(']');
        }
    }
    out
}

/// The innermost cause of a transport error (`Connection refused (os error
/// 111)` rather than reqwest's `error sending request for url (...)`).
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

pub(super) fn transport_error(
    what: String,
    request_id: Option<String>,
    source: reqwest::Error,
) -> RestError {
    if source.is_timeout() {
        RestError::Timeout { what, request_id }
    } else {
        RestError::Connect {
            what,
            request_id,
            source,
        }
    }
}

pub(super) fn bad_response(what: String, e: switchboard_finesse::Error) -> RestError {
    RestError::BadResponse {
        what,
        reason: e.to_string(),
    }
}

/// The `ApiErrors` of an error body, or one synthetic error naming the HTTP
/// status when the body is something else (a proxy's page, nothing).
pub(super) fn api_errors(status: StatusCode, body: &str) -> Vec<ApiError> {
    match ApiError::list_from_xml(body) {
        Ok(errors) if !errors.is_empty() => errors,
        _ => vec![ApiError {
            error_type: status.canonical_reason().unwrap_or("HTTP error").to_owned(),
            error_message: format!("HTTP {}", status.as_u16()),
            error_data: None,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_api_error_when_the_body_is_not_api_errors() {
        let errors = api_errors(StatusCode::BAD_GATEWAY, "<html>oops</html>");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].error_type, "Bad Gateway");
        assert_eq!(errors[0].error_message, "HTTP 502");
    }

    #[test]
    fn summary_lists_every_error() {
        let errors = vec![
            ApiError {
                error_type: "Invalid Input".into(),
                error_message: "INVALID_INPUT".into(),
                error_data: Some("extension".into()),
            },
            ApiError {
                error_type: "Parameter Missing".into(),
                error_message: String::new(),
                error_data: None,
            },
        ];
        assert_eq!(
            summarize(&errors),
            "Invalid Input: INVALID_INPUT [extension]; Parameter Missing"
        );
    }
}
