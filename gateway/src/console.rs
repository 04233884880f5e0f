//! The web console: three static files compiled into the binary, served
//! at `/console` without authentication (they hold no data). The page asks
//! for a token and keeps it in the tab's `sessionStorage`, sending it only
//! as a bearer header to the same API the CLI uses: no cookie is ever set,
//! so another site cannot make a browser send an authenticated request
//! (no CSRF), and no secret is ever in a URL. The content security policy
//! allows only the console's own script and style (no inline code, no
//! framing, no form posts).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa_axum::{router::OpenApiRouter, routes};

const INDEX: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/app.js");
const STYLE: &str = include_str!("console/app.css");

/// The policy every console response carries.
pub const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /console`: the web console.
#[utoipa::path(get, path = "/console", tag = "console", security(()),
    responses((status = 200, description = "the web console (HTML; its script and style at /console/app.js and /console/app.css)", content_type = "text/html", body = String)))]
async fn console() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// The console's page, documented.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new().routes(routes!(console))
}

/// The page under `/console/` and its script and style (part of
/// `/console` in the OpenAPI document).
pub(crate) fn assets<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/console/", get(console))
        .route(
            "/console/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/console/app.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_runs_no_inline_code_and_keeps_tokens_out_of_storage_that_persists() {
        // The CSP forbids inline script and style; the files must not
        // need them.
        assert!(!INDEX.contains("<script>") && !INDEX.contains("<style"));
        assert!(!INDEX.contains(" style=") && !INDEX.contains(" onclick="));
        assert!(INDEX.contains("/console/app.js") && INDEX.contains("/console/app.css"));
        // The token lives in the tab's session storage and travels as a
        // header; nothing writes cookies or persistent storage, and no
        // server text is parsed as HTML.
        assert!(SCRIPT.contains("sessionStorage"));
        for banned in [
            "localStorage.setItem",
            "document.cookie =",
            ".innerHTML =",
            "eval(",
        ] {
            assert!(!SCRIPT.contains(banned), "app.js uses {banned}");
        }
    }
}
