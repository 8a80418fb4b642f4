//! What every response and request goes through: security headers, the
//! `Origin` of browser requests that change things, JSON-only posts, and
//! the session that protected routes need.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use meshchat_shared::ErrorCode;

use super::AppState;
use super::auth::bearer;
use super::error::ApiError;

/// The origin (`scheme://host:port`) of a node's WebSocket URL, as its page
/// is served: `ws://h:p/ws` → `http://h:p`.
pub fn page_origin(ws_url: &str) -> Option<String> {
    let (scheme, rest) = ws_url.split_once("://")?;
    let host = rest.split('/').next()?;
    let scheme = match scheme {
        "ws" => "http",
        "wss" => "https",
        other => other,
    };
    Some(format!("{scheme}://{host}"))
}

/// Origins allowed to open WebSockets and post: the configured list, or
/// every node's page (a browser moving between nodes keeps its page's
/// origin, so any node's page may talk to any node).
fn allowed(app: &AppState, origin: &str) -> bool {
    if !app.allowed_origins.is_empty() {
        return app.allowed_origins.iter().any(|o| o == origin);
    }
    app.cluster.nodes().iter().filter_map(|n| page_origin(&n.url)).any(|o| o == origin)
}

/// Cross-origin calls from the mesh's other pages: a browser whose node is
/// down signs in (and polls) through another node, from its page's origin.
/// Only origins [`allowed`] get the headers; the rest stay same-origin.
pub fn cors(app: Arc<AppState>) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origin = AllowOrigin::predicate(move |origin: &HeaderValue, _| origin.to_str().is_ok_and(|o| allowed(&app, o)));
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, super::files::FILE_NAME])
        .max_age(std::time::Duration::from_secs(600))
        // The layer sets `Vary` on every answer, replacing any other: the
        // app's files differ by `Accept-Encoding` (brotli, gzip or plain
        // copies), which a cache must know.
        .vary([
            header::ORIGIN,
            header::ACCESS_CONTROL_REQUEST_METHOD,
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            header::ACCEPT_ENCODING,
        ])
}

/// Browsers say where a request comes from: a WebSocket or a change from a
/// page that is not one of the mesh's is refused (`403`). Other clients
/// (bots, curl) send no `Origin` and are not browsers' victims.
pub async fn check_origin(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let upgrade = req.headers().contains_key(header::UPGRADE);
    if changes || upgrade {
        if let Some(origin) = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok())
            && !allowed(&app, origin)
        {
            let msg = format!("requests from {origin} are not allowed here");
            return ApiError::new(ErrorCode::Forbidden, msg).with_status(StatusCode::FORBIDDEN).into_response();
        }
        // A form cannot post JSON: changes must say they are JSON. Uploads
        // carry their file name in a header no form can set instead.
        let upload = req.headers().contains_key(super::files::FILE_NAME);
        if changes && req.headers().contains_key(header::CONTENT_LENGTH) && !is_json(&req) && !upload {
            let err = ApiError::invalid("the body must be application/json");
            return err.with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE).into_response();
        }
    }
    next.run(req).await
}

fn is_json(req: &Request) -> bool {
    let len =
        req.headers().get(header::CONTENT_LENGTH).and_then(|l| l.to_str().ok()).and_then(|l| l.parse::<u64>().ok());
    if len == Some(0) {
        return true;
    }
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")))
}

/// Routes that need a session (unless the node takes guests).
pub async fn require_session(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if !app.accounts.guests() {
        let Some(token) = bearer(req.headers()) else {
            return ApiError::from(ErrorCode::Unauthorized).into_response();
        };
        if let Err(e) = app.accounts.authenticate(token) {
            return ApiError::from(e).into_response();
        }
    }
    next.run(req).await
}

/// Security headers on every response: the app may load only itself and
/// talk only to the mesh's nodes; no sniffing, no framing, no referrer.
pub async fn headers(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let mut connect = vec!["'self'".to_owned()];
    for n in app.cluster.nodes() {
        if let Some(page) = page_origin(&n.url) {
            connect.push(page);
        }
        // The WebSocket's own origin: `ws://host:port`.
        connect.push(n.url.split('/').take(3).collect::<Vec<_>>().join("/"));
    }
    connect.sort();
    connect.dedup();
    let scripts: String = app.inline_scripts.iter().map(|h| format!(" '{h}'")).collect();
    let csp = format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'{scripts}; style-src 'self'; \
         img-src 'self' data: blob:; font-src 'self'; connect-src {}; manifest-src 'self'; worker-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        connect.join(" ")
    );
    let h = res.headers_mut();
    // A shared file keeps the stricter policy it was served with (sandbox).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(v) = HeaderValue::from_str(&csp)
    {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if app.tls {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodes_page_origin_comes_from_its_websocket_url() {
        assert_eq!(page_origin("ws://127.0.0.1:8081/ws").as_deref(), Some("http://127.0.0.1:8081"));
        assert_eq!(page_origin("wss://chat.example.org/ws").as_deref(), Some("https://chat.example.org"));
        assert_eq!(page_origin("nonsense"), None);
    }
}
