//! The web app's files: trunk's build output, served as it is.
//!
//! trunk names the wasm, JS and CSS after a hash of their content, so those
//! may be cached for good; `index.html` names them and is revalidated on
//! every load, so a new build reaches browsers at once. `scripts/build-web`
//! writes a brotli and a gzip copy of each file next to it, served to
//! browsers that accept them: no compression work per request.

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
        .fallback_service(ServeFile::new(dir.join("index.html")).precompressed_br().precompressed_gzip())
        .layer(middleware::from_fn(revalidate));
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip().fallback(index);
    Router::new().fallback_service(files).layer(middleware::from_fn(cache_policy))
}

async fn revalidate(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut().insert(header::CACHE_CONTROL, REVALIDATE);
    res
}

pub(super) async fn cache_policy(req: Request, next: Next) -> Response {
    let immutable = is_hashed(req.uri().path());
    let mut res = next.run(req).await;
    if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
        res.headers_mut().entry(header::CACHE_CONTROL).or_insert(if immutable { IMMUTABLE } else { REVALIDATE });
    }
    res
}

/// The CSP hashes (`sha256-…`) of the inline scripts of the app's
/// `index.html`: the policy allows those and the app's own files, nothing
/// else.
pub fn inline_script_hashes(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("index.html")).map(|h| script_hashes(&h)).unwrap_or_default()
}

/// [`inline_script_hashes`] of a page.
pub fn script_hashes(html: &str) -> Vec<String> {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find("<script") {
        let tag_end = match rest[open..].find('>') {
            Some(i) => open + i + 1,
            None => break,
        };
        let tag = &rest[open..tag_end];
        let Some(close) = rest[tag_end..].find("</script>") else { break };
        let body = &rest[tag_end..tag_end + close];
        if !tag.contains("src=") {
            let digest = Sha256::digest(body.as_bytes());
            hashes.push(format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(digest)));
        }
        rest = &rest[tag_end + close..];
    }
    hashes
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
    fn inline_scripts_are_hashed_for_the_csp() {
        let dir = tempfile::tempdir().unwrap();
        let html = "<html><script>a()</script><script src=\"/x.js\"></script><script type=\"module\">b()</script>";
        std::fs::write(dir.path().join("index.html"), html).unwrap();
        let hashes = super::inline_script_hashes(dir.path());
        assert_eq!(hashes.len(), 2);
        // sha256("a()"), base64.
        assert_eq!(hashes[0], "sha256-qVpDBgj7bpq5hMAcGp3AOc79J3Y1Z4HvySTwKrWDoy4=");
    }

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
