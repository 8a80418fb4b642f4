//! The web app built into the binary (`rust-embed`): a release build of
//! `meshchat` carries `dist/` as it was when it was compiled, so one file
//! is a whole node, app included. `--web DIR` still serves a directory
//! instead (see [`super::assets`]); debug builds read `dist/` from disk.
//!
//! Served like the directory: gzip copies to browsers that accept gzip,
//! hashed names cached for good, `index.html` revalidated, unknown paths
//! answered with `index.html` (the app routes itself).

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../dist"]
#[allow_missing = true]
struct Dist;

/// Whether this binary carries a built web app.
pub fn available() -> bool {
    Dist::get("index.html").is_some()
}

/// The app's `index.html`, for the CSP hashes of its inline scripts.
pub fn index_html() -> Option<String> {
    Dist::get("index.html").map(|f| String::from_utf8_lossy(&f.data).into_owned())
}

pub fn service() -> Router {
    Router::new().fallback(serve).layer(axum::middleware::from_fn(super::assets::cache_policy))
}

async fn serve(req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/');
    let gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let (name, file) = match Dist::get(path).filter(|_| !path.is_empty() && !path.ends_with(".gz")) {
        Some(f) => (path.to_owned(), f),
        None => match Dist::get("index.html") {
            Some(f) => ("index.html".to_owned(), f),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    let etag = format!("\"{}\"", file.metadata.sha256_hash().iter().map(|b| format!("{b:02x}")).collect::<String>());
    if req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mime = file.metadata.mimetype().to_owned();
    let zipped = gzip.then(|| Dist::get(&format!("{name}.gz"))).flatten();
    let mut res = match zipped {
        Some(z) => ([(header::CONTENT_ENCODING, "gzip")], z.data.into_owned()).into_response(),
        None => file.data.into_owned().into_response(),
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if name == "index.html" {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    res
}
