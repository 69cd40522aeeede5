//! The web pages, embedded in the binary (no build step): the demo's landing
//! page (served at `/` by `switchboard demo` only, [`demo_landing_page`]), the agent widget `/agent`, the supervisor dashboard `/supervisor`,
//! the client library `/switchboard.js` and their scripts (`pages.js` shared by
//! both pages) and style under `/assets/`. The files live in `crates/gateway/assets/`; docs/client.md
//! describes the library.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The URL path it is served at.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static str,
}

/// Every embedded file.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/agent",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../assets/agent.html"),
    },
    Asset {
        path: "/supervisor",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../assets/supervisor.html"),
    },
    Asset {
        path: "/switchboard.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/switchboard.js"),
    },
    Asset {
        path: "/assets/pages.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/pages.js"),
    },
    Asset {
        path: "/assets/agent.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/agent.js"),
    },
    Asset {
        path: "/assets/supervisor.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/supervisor.js"),
    },
    Asset {
        path: "/assets/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../assets/app.css"),
    },
];

/// The asset at `path` (`/agent.html` is accepted for `/agent`).
pub fn find(path: &str) -> Option<&'static Asset> {
    let path = path.strip_suffix(".html").unwrap_or(path);
    ASSETS.iter().find(|a| a.path == path)
}

/// The demo's landing page: the simulated deployment (its users and their
/// password) and how to drive the simulator, whose REST and scenario API are
/// at `simulator` (e.g. `http://127.0.0.1:8082`).
pub fn demo_landing_page(simulator: &str) -> String {
    include_str!("../assets/index.html").replace("{{SIMULATOR}}", simulator)
}

/// An HTML page built at run time, with the headers of the embedded ones.
pub(crate) fn html(body: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Serves an embedded file, or 404.
pub(crate) fn serve(path: &str) -> Response {
    match find(path) {
        Some(a) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            a.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}
