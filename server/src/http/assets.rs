//! The web app's files: trunk's build output, served as it is.
//!
//! trunk names the wasm, JS and CSS after a hash of their content, so those
//! may be cached for good; `index.html` names them and is revalidated on
//! every load, so a new build reaches browsers at once. `scripts/build-web`
//! writes a gzip copy of each file next to it, served to browsers that
//! accept gzip: no compression work per request.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::services::{ServeDir, ServeFile};

const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// Serves `dir`; unknown paths get `index.html` (the app routes itself).
pub fn service(dir: &Path) -> Router {
    // The fallback page marks itself, so that a missing hashed name (an old
    // build's) is not cached as if it were that file.
    let index = Router::new()
        .fallback_service(ServeFile::new(dir.join("index.html")).precompressed_gzip())
        .layer(middleware::from_fn(revalidate));
    let files = ServeDir::new(dir).precompressed_gzip().fallback(index);
    Router::new().fallback_service(files).layer(middleware::from_fn(cache_policy))
}

async fn revalidate(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut().insert(header::CACHE_CONTROL, REVALIDATE);
    res
}

async fn cache_policy(req: Request, next: Next) -> Response {
    let immutable = is_hashed(req.uri().path());
    let mut res = next.run(req).await;
    if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
        res.headers_mut().entry(header::CACHE_CONTROL).or_insert(if immutable { IMMUTABLE } else { REVALIDATE });
    }
    res
}

/// Whether the file name carries trunk's content hash: `name-<hex>` then an
/// optional `_bg` and the extension. trunk prints the 64-bit hash without
/// leading zeros, so it is up to 16 digits (fewer than 8: once in 4 billion).
fn is_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let stem = file.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(name, hash)| {
        !name.is_empty() && (8..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::is_hashed;

    #[test]
    fn only_trunk_hashed_names_are_immutable() {
        assert!(is_hashed("/meshchat-web-c6bdacd0ac98ec1f_bg.wasm"));
        assert!(is_hashed("/meshchat-web-c6bdacd0ac98ec1f.js"));
        assert!(is_hashed("/theme-b391460da1e83666.css"));
        // Leading zeros are not printed.
        assert!(is_hashed("/responsive-3f44edc0b9c80e.css"));
        assert!(!is_hashed("/"));
        assert!(!is_hashed("/index.html"));
        assert!(!is_hashed("/style.css"));
        assert!(!is_hashed("/-b391460da1e83666.css"));
        assert!(!is_hashed("/theme-b391460.css"));
        assert!(!is_hashed("/theme-b391460da1e836660.css"));
        assert!(!is_hashed("/theme-b391460da1e8366z.css"));
        assert!(!is_hashed("/some/room-name"));
    }
}
