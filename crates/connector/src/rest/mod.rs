//! The Finesse REST client (Finesse Developer Guide: REST APIs): typed reads of SystemInfo, User,
//! Dialogs, Dialog and Team, and the commands (user state, Dialog actions,
//! MAKE_CALL).
//!
//! - **One HTTP client per [`FinesseClient`]**, shared by its clones, so
//!   connections to a Finesse node are reused.
//! - **Every PUT/POST carries a fresh `requestId` header** (a UUID v4) and
//!   returns it as a [`RequestId`] on 200/202: Finesse answers commands before
//!   doing them, and the notifications the command causes (or the
//!   asynchronous CTI error it meets) carry that id in `<Update><requestId>`
//!   (Finesse Developer Guide: requestId).
//! - **Errors are typed** ([`RestError`]): a 4xx/5xx keeps Finesse's
//!   `ApiErrors` (Finesse Developer Guide: API errors); 401, 404 and 503 are told apart by
//!   [`RestError::status`] and its helpers; a timeout, an unreachable node
//!   and an unreadable 200 have their own variants (`error.rs`). The failover
//!   logic uses [`RestError::is_retryable`].
//! - **Redirects are not followed**: credentials are only ever sent to the
//!   configured node; a redirect is a [`RestError::BadResponse`].
//! - **Observability**: one `debug` tracing event per request (method, path,
//!   requestId, status, elapsed) and, through the `metrics` facade, the
//!   counter [`REST_REQUESTS_TOTAL`] (labels `action`, `status`) and the
//!   histogram [`REST_LATENCY_SECONDS`] (label `action`). Labels never hold
//!   a user id, a password or a token; credentials are never logged
//!   ([`Secret`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use switchboard_finesse::{
    Dialog, DialogRequest, MakeCallRequest, SystemInfo, Team, User, UserRequest, UserState,
};

use crate::metrics::{REST_LATENCY_SECONDS, REST_REQUESTS_TOTAL};

mod error;

pub use error::RestError;
use error::{api_errors, bad_response, transport_error};

/// The URL type of [`FinesseEndpoint::base_url`] (the `url` crate's, through reqwest).
pub use reqwest::Url;

/// The HTTP request header carrying the client's request id (Finesse Developer Guide: requestId).
pub const REQUEST_ID_HEADER: &str = "requestId";

const XML: &str = "application/xml";

/// Where a Finesse node's REST API is: its base URL, without the
/// `/finesse/api` part (`https://finesse1.example.com:8445`,
/// `http://127.0.0.1:8082`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinesseEndpoint {
    /// `http` or `https`, a host, an optional port and an optional path
    /// prefix; no credentials, query or fragment.
    pub base_url: Url,
}

impl FinesseEndpoint {
    /// Parses and checks a base URL. Credentials in the URL are refused (they
    /// belong in [`Credentials`]) and are never repeated in the error.
    pub fn parse(base_url: &str) -> Result<FinesseEndpoint, RestError> {
        let invalid = |reason: String| RestError::InvalidUrl {
            url: redact_userinfo(base_url),
            reason,
        };
        let url = Url::parse(base_url.trim()).map_err(|e| invalid(e.to_string()))?;
        FinesseEndpoint::from_url(url).map_err(|e| match e {
            RestError::InvalidUrl { reason, .. } => invalid(reason),
            other => other,
        })
    }

    /// Checks an already parsed base URL (see [`FinesseEndpoint::parse`]).
    pub fn from_url(url: Url) -> Result<FinesseEndpoint, RestError> {
        let invalid = |reason: &str| RestError::InvalidUrl {
            url: redact_userinfo(url.as_str()),
            reason: reason.to_owned(),
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "credentials do not belong in the URL; pass them as Credentials",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("a base URL has no query or fragment"));
        }
        if url.cannot_be_a_base() {
            return Err(invalid("not a base URL"));
        }
        Ok(FinesseEndpoint { base_url: url })
    }

    /// The URL of `segments` below the base URL, each segment percent-encoded
    /// (an id cannot add a path level or a query).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        // Cannot fail: `from_url` refused cannot-be-a-base URLs.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }
}

impl FromStr for FinesseEndpoint {
    type Err = RestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FinesseEndpoint::parse(s)
    }
}

impl fmt::Display for FinesseEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base_url.as_str())
    }
}

/// `scheme://user:pass@host/...` with the user information replaced by `***`,
/// for error messages about a URL that may not even parse.
fn redact_userinfo(raw: &str) -> String {
    let raw = raw.trim();
    let Some(scheme_end) = raw.find("://") else {
        return raw.to_owned();
    };
    let authority_start = scheme_end + 3;
    let rest = &raw[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_len].rfind('@') {
        Some(at) => format!("{}***{}", &raw[..authority_start], &rest[at..]),
        None => raw.to_owned(),
    }
}

/// Timeouts and identification of the REST client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestConfig {
    /// The whole request, from connecting to the last byte of the answer
    /// (default 6 s: shorter than the gateway's command timeout of 10 s, so
    /// that a slow command ends here, as a [`RestError::Timeout`] naming its
    /// `requestId`, even after a connect attempt on the other node).
    pub request_timeout: Duration,
    /// Establishing the TCP (and TLS) connection (default 3 s).
    pub connect_timeout: Duration,
    /// The `User-Agent` header (default `switchboard/<version>`).
    pub user_agent: String,
    /// The largest answer body read; a longer one is a
    /// [`RestError::BadResponse`] (default 8 MiB).
    pub max_response_bytes: usize,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            request_timeout: Duration::from_secs(6),
            connect_timeout: Duration::from_secs(3),
            user_agent: concat!("switchboard/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_response_bytes: 8 * 1024 * 1024,
        }
    }
}

/// A password or token. Its `Debug` prints `***`; it has no `Display`, and
/// the only way to read it is [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// How a request authenticates to Finesse (Finesse Developer Guide: REST APIs): HTTP Basic with
/// the user's id and password (non-SSO), or an SSO access token.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// The Finesse user id (login id).
        user: String,
        /// The user's password.
        password: Secret,
    },
    /// `Authorization: Bearer <token>` (SSO).
    Bearer {
        /// The access token.
        token: Secret,
    },
}

impl Credentials {
    /// Basic credentials.
    pub fn basic(user: impl Into<String>, password: impl Into<Secret>) -> Credentials {
        Credentials::Basic {
            user: user.into(),
            password: password.into(),
        }
    }

    /// SSO bearer credentials.
    pub fn bearer(token: impl Into<Secret>) -> Credentials {
        Credentials::Bearer {
            token: token.into(),
        }
    }

    /// The user id of Basic credentials (a token does not say whose it is).
    pub fn user(&self) -> Option<&str> {
        match self {
            Credentials::Basic { user, .. } => Some(user),
            Credentials::Bearer { .. } => None,
        }
    }

    /// Adds the `Authorization` header, marked sensitive (hyper and reqwest
    /// then never print it).
    fn apply(&self, req: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, RestError> {
        match self {
            Credentials::Basic { user, password } => {
                if user.contains(':') {
                    return Err(RestError::InvalidCredentials {
                        reason: "a Basic user id cannot contain ':'",
                    });
                }
                Ok(req.basic_auth(user, Some(password.expose())))
            }
            Credentials::Bearer { token } => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| RestError::InvalidCredentials {
                        reason: "the token holds characters not allowed in an HTTP header",
                    })?;
                value.set_sensitive(true);
                Ok(req.header(AUTHORIZATION, value))
            }
        }
    }
}

/// The `requestId` sent with a PUT/POST (a UUID v4); Finesse echoes it in
/// the `<Update><requestId>` of every notification the request causes
/// (Finesse Developer Guide: requestId).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub String);

impl RequestId {
    /// A fresh random id (UUID v4, hyphenated, lower case).
    pub fn generate() -> RequestId {
        RequestId(uuid::Uuid::new_v4().to_string())
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A Finesse REST client for one node. Cheap to clone: clones share one
/// HTTP client, hence its connection pool.
#[derive(Clone)]
pub struct FinesseClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: FinesseEndpoint,
    config: RestConfig,
}

impl fmt::Debug for FinesseClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinesseClient")
            .field("endpoint", &self.inner.endpoint.base_url.as_str())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// One request to send.
struct Op<'a> {
    method: Method,
    url: Url,
    /// The metric label (`PUT Dialog ACCEPT`): no ids.
    action: String,
    /// For logs and errors (`PUT https://finesse1:8445/finesse/api/Dialog/42 (ACCEPT)`).
    what: String,
    creds: Option<&'a Credentials>,
    body: Option<String>,
    request_id: Option<RequestId>,
}

impl FinesseClient {
    /// A client for the node at `base_url` (`https://finesse1:8445`).
    pub fn new(base_url: &str, config: RestConfig) -> Result<FinesseClient, RestError> {
        FinesseClient::with_endpoint(FinesseEndpoint::parse(base_url)?, config)
    }

    /// A client for an already checked endpoint.
    pub fn with_endpoint(
        endpoint: FinesseEndpoint,
        config: RestConfig,
    ) -> Result<FinesseClient, RestError> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.as_str())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| RestError::Setup { source })?;
        Ok(FinesseClient {
            inner: Arc::new(Inner {
                http,
                endpoint,
                config,
            }),
        })
    }

    /// The node this client talks to.
    pub fn endpoint(&self) -> &FinesseEndpoint {
        &self.inner.endpoint
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &RestConfig {
        &self.inner.config
    }

    /// `GET /finesse/api/SystemInfo` (Finesse Developer Guide: SystemInfo), without credentials:
    /// the node's status and both nodes' hosts.
    pub async fn system_info(&self) -> Result<SystemInfo, RestError> {
        let op = self.get(None, "SystemInfo", &["SystemInfo"]);
        let what = op.what.clone();
        let body = self.send(op).await?;
        SystemInfo::from_xml(&body).map_err(|e| bad_response(what, e))
    }

    /// `GET /finesse/api/User/{id}` (Finesse Developer Guide: User: sign in and change state).
    /// With the user's own
    /// credentials this is also the sign-in check: wrong ones give
    /// [`RestError::is_unauthorized`].
    pub async fn user(&self, creds: &Credentials, id: &str) -> Result<User, RestError> {
        let op = self.get(Some(creds), "User", &["User", id]);
        let what = op.what.clone();
        let body = self.send(op).await?;
        User::from_xml(&body).map_err(|e| bad_response(what, e))
    }

    /// `GET /finesse/api/User/{id}/Dialogs`: the user's current dialogs.
    pub async fn dialogs(
        &self,
        creds: &Credentials,
        user_id: &str,
    ) -> Result<Vec<Dialog>, RestError> {
        let op = self.get(Some(creds), "Dialogs", &["User", user_id, "Dialogs"]);
        let what = op.what.clone();
        let body = self.send(op).await?;
        Dialog::list_from_xml(&body).map_err(|e| bad_response(what, e))
    }

    /// `GET /finesse/api/Dialog/{id}`.
    pub async fn dialog(&self, creds: &Credentials, id: &str) -> Result<Dialog, RestError> {
        let op = self.get(Some(creds), "Dialog", &["Dialog", id]);
        let what = op.what.clone();
        let body = self.send(op).await?;
        Dialog::from_xml(&body).map_err(|e| bad_response(what, e))
    }

    /// `GET /finesse/api/Team/{id}` (a supervisor's team, with its members).
    pub async fn team(&self, creds: &Credentials, id: &str) -> Result<Team, RestError> {
        let op = self.get(Some(creds), "Team", &["Team", id]);
        let what = op.what.clone();
        let body = self.send(op).await?;
        Team::from_xml(&body).map_err(|e| bad_response(what, e))
    }

    /// `PUT /finesse/api/User/{id}` (Finesse Developer Guide: User: sign in and change state):
    /// sign in (LOGIN with an
    /// extension), READY, NOT_READY, LOGOUT. Returns the `requestId` sent;
    /// the result arrives as notifications carrying it.
    pub async fn put_user(
        &self,
        creds: &Credentials,
        id: &str,
        request: &UserRequest,
    ) -> Result<RequestId, RestError> {
        self.put_user_with_id(creds, id, request, RequestId::generate())
            .await
    }

    /// [`FinesseClient::put_user`] with a `requestId` chosen by the caller (who
    /// registers it before sending, so that a CTI error for it can never arrive
    /// unrecognised).
    pub async fn put_user_with_id(
        &self,
        creds: &Credentials,
        id: &str,
        request: &UserRequest,
        request_id: RequestId,
    ) -> Result<RequestId, RestError> {
        let state = match &request.state {
            UserState::Other(_) => "OTHER",
            known => known.as_str(),
        };
        self.command(
            Method::PUT,
            creds,
            &["User", id],
            format!("PUT User {state}"),
            state,
            request.to_xml(),
            request_id,
        )
        .await
    }

    /// `PUT /finesse/api/Dialog/{id}` (Finesse Developer Guide: Dialog actions): ANSWER, HOLD,
    /// ACCEPT, UPDATE_SCHEDULED_CALLBACK... Returns the `requestId` sent.
    pub async fn dialog_action(
        &self,
        creds: &Credentials,
        dialog_id: &str,
        request: &DialogRequest,
    ) -> Result<RequestId, RestError> {
        self.dialog_action_with_id(creds, dialog_id, request, RequestId::generate())
            .await
    }

    /// [`FinesseClient::dialog_action`] with a `requestId` chosen by the caller.
    pub async fn dialog_action_with_id(
        &self,
        creds: &Credentials,
        dialog_id: &str,
        request: &DialogRequest,
        request_id: RequestId,
    ) -> Result<RequestId, RestError> {
        let action = request.action.action();
        let action = action.as_str();
        self.command(
            Method::PUT,
            creds,
            &["Dialog", dialog_id],
            format!("PUT Dialog {action}"),
            action,
            request.to_xml(),
            request_id,
        )
        .await
    }

    /// `POST /finesse/api/User/{id}/Dialogs` with MAKE_CALL (Finesse Developer Guide:
    /// Dialog: make a call). Returns the `requestId` sent.
    pub async fn make_call(
        &self,
        creds: &Credentials,
        user_id: &str,
        request: &MakeCallRequest,
    ) -> Result<RequestId, RestError> {
        self.make_call_with_id(creds, user_id, request, RequestId::generate())
            .await
    }

    /// [`FinesseClient::make_call`] with a `requestId` chosen by the caller.
    pub async fn make_call_with_id(
        &self,
        creds: &Credentials,
        user_id: &str,
        request: &MakeCallRequest,
        request_id: RequestId,
    ) -> Result<RequestId, RestError> {
        self.command(
            Method::POST,
            creds,
            &["User", user_id, "Dialogs"],
            "POST MAKE_CALL".to_owned(),
            "MAKE_CALL",
            request.to_xml(),
            request_id,
        )
        .await
    }

    fn get<'a>(&self, creds: Option<&'a Credentials>, noun: &str, path: &[&str]) -> Op<'a> {
        let url = self.url(path);
        Op {
            what: format!("GET {url}"),
            method: Method::GET,
            url,
            action: format!("GET {noun}"),
            creds,
            body: None,
            request_id: None,
        }
    }

    #[allow(clippy::too_many_arguments)] // one private helper behind the three typed commands
    async fn command(
        &self,
        method: Method,
        creds: &Credentials,
        path: &[&str],
        action: String,
        detail: &str,
        body: String,
        request_id: RequestId,
    ) -> Result<RequestId, RestError> {
        let url = self.url(path);
        let op = Op {
            what: format!("{method} {url} ({detail})"),
            method,
            url,
            action,
            creds: Some(creds),
            body: Some(body),
            request_id: Some(request_id.clone()),
        };
        self.send(op).await?;
        Ok(request_id)
    }

    fn url(&self, path: &[&str]) -> Url {
        let mut segments = Vec::with_capacity(path.len() + 2);
        segments.extend(["finesse", "api"]);
        segments.extend_from_slice(path);
        self.inner.endpoint.url(&segments)
    }

    /// Sends `op`, records the metrics and the debug event, and returns the
    /// body of a 2xx answer.
    async fn send(&self, op: Op<'_>) -> Result<String, RestError> {
        let mut req = self
            .inner
            .http
            .request(op.method.clone(), op.url.clone())
            .header(ACCEPT, XML);
        if let Some(creds) = op.creds {
            req = creds.apply(req)?;
        }
        if let Some(id) = &op.request_id {
            req = req.header(REQUEST_ID_HEADER, id.as_str());
        }
        if let Some(body) = op.body {
            req = req.header(CONTENT_TYPE, XML).body(body);
        }

        let started = Instant::now();
        let result = self.exchange(req).await;
        let elapsed = started.elapsed();
        let status: String = match &result {
            Ok((status, _)) | Err(Failure::Body { status, .. }) => status.as_u16().to_string(),
            Err(Failure::Transport(e)) if e.is_timeout() => "timeout".to_owned(),
            Err(Failure::Transport(_)) => "connect".to_owned(),
        };
        metrics::counter!(
            REST_REQUESTS_TOTAL,
            "action" => op.action.clone(),
            "status" => status.clone(),
        )
        .increment(1);
        metrics::histogram!(REST_LATENCY_SECONDS, "action" => op.action)
            .record(elapsed.as_secs_f64());
        tracing::debug!(
            method = %op.method,
            path = op.url.path(),
            request_id = op.request_id.as_ref().map(RequestId::as_str),
            status = status.as_str(),
            elapsed_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
            "Finesse REST request"
        );

        let request_id = op.request_id.map(|id| id.0);
        let (status, body) = match result {
            Ok(answer) => answer,
            Err(Failure::Transport(e)) => return Err(transport_error(op.what, request_id, e)),
            Err(Failure::Body { reason, .. }) => {
                return Err(RestError::BadResponse {
                    what: op.what,
                    reason,
                });
            }
        };
        if status.is_success() {
            Ok(body)
        } else if status.is_redirection() {
            Err(RestError::BadResponse {
                what: op.what,
                reason: format!("unexpected redirect ({status}); redirects are not followed"),
            })
        } else {
            Err(RestError::Finesse {
                what: op.what,
                status: status.as_u16(),
                errors: api_errors(status, &body),
                request_id,
            })
        }
    }

    /// The HTTP exchange itself: the status and the (bounded) body.
    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, String), Failure> {
        let mut resp = req.send().await.map_err(Failure::Transport)?;
        let status = resp.status();
        let max = self.inner.config.max_response_bytes;
        let too_large = || Failure::Body {
            status,
            reason: format!("the body is larger than {max} bytes"),
        };
        if resp.content_length().is_some_and(|len| len > max as u64) {
            return Err(too_large());
        }
        let mut buf = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(Failure::Transport)? {
            if buf.len() + chunk.len() > max {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        let body = match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok((status, body))
    }
}

/// How an exchange failed, before it becomes a [`RestError`].
enum Failure {
    /// reqwest failed (connect, timeout, reset).
    Transport(reqwest::Error),
    /// An answer came but its body could not be taken.
    Body { status: StatusCode, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_checks_and_paths() {
        let e = FinesseEndpoint::parse("http://127.0.0.1:8082").expect("valid");
        assert_eq!(
            e.url(&["finesse", "api", "User", "1001001"]).as_str(),
            "http://127.0.0.1:8082/finesse/api/User/1001001"
        );
        let e = FinesseEndpoint::parse("https://proxy.example/fin/").expect("valid");
        assert_eq!(
            e.url(&["finesse", "api", "Dialog", "a/b?c"]).as_str(),
            "https://proxy.example/fin/finesse/api/Dialog/a%2Fb%3Fc"
        );
        for bad in ["ftp://x", "not a url", "http://x/?q=1", "mailto:a@b"] {
            assert!(
                matches!(
                    FinesseEndpoint::parse(bad),
                    Err(RestError::InvalidUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn url_credentials_are_refused_and_never_repeated() {
        for raw in [
            "http://agent:hunter2@host:8082/x",
            "http://agent:hunter2@ho st",
        ] {
            let err = FinesseEndpoint::parse(raw).expect_err("refused");
            assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
        }
    }
}
