//! The web app built into the binary (`rust-embed`): a release build of
//! `meshchat` carries `dist/` as it was when it was compiled, so one file
//! is a whole node, app included. `--web DIR` still serves a directory
//! instead (see [`super::assets`]); debug builds read `dist/` from disk.
//!
//! Served like the directory: brotli or gzip copies to browsers that
//! accept them, hashed names cached for good, `index.html` revalidated,
//! unknown paths answered with `index.html` (the app routes itself).

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

/// The compressed copies `scripts/build-web` writes, best first: brotli is
/// about a fifth smaller than gzip on the wasm.
const COPIES: [(&str, &str); 2] = [("br", ".br"), ("gzip", ".gz")];

async fn serve(req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/');
    let accept = req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
    let is_copy = COPIES.iter().any(|(_, ext)| path.ends_with(ext));
    let (name, file) = match Dist::get(path).filter(|_| !path.is_empty() && !is_copy) {
        Some(f) => (path.to_owned(), f),
        None => match Dist::get("index.html") {
            Some(f) => ("index.html".to_owned(), f),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    let copy = COPIES
        .iter()
        .filter(|(coding, _)| accepts(accept, coding))
        .find_map(|(coding, ext)| Some((*coding, Dist::get(&format!("{name}{ext}"))?)));
    // Each encoding is a representation of its own: its own tag.
    let hash: String = file.metadata.sha256_hash().iter().map(|b| format!("{b:02x}")).collect();
    let etag = match &copy {
        Some((coding, _)) => format!("\"{hash}-{coding}\""),
        None => format!("\"{hash}\""),
    };
    if req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mime = file.metadata.mimetype().to_owned();
    let mut res = match copy {
        Some((coding, z)) => ([(header::CONTENT_ENCODING, coding)], z.data.into_owned()).into_response(),
        None => file.data.into_owned().into_response(),
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if name == "index.html" {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    res
}

/// Whether an `Accept-Encoding` value takes `coding` (named, and not with
/// `q=0`, which refuses it).
fn accepts(accept: &str, coding: &str) -> bool {
    accept.split(',').any(|item| {
        let mut parts = item.split(';');
        let named = parts.next().is_some_and(|name| name.trim().eq_ignore_ascii_case(coding));
        let refused =
            parts.any(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0));
        named && !refused
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(super::accepts("gzip, deflate, br, zstd", "br"));
        assert!(super::accepts("GZIP;q=0.5", "gzip"));
        assert!(!super::accepts("gzip, br;q=0", "br"));
        assert!(!super::accepts("gzip", "br"));
        assert!(!super::accepts("brotli", "br"));
        assert!(!super::accepts("", "gzip"));
    }
}
