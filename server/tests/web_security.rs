//! What comes with sessions on the web: `Origin` checks, JSON-only posts,
//! security headers, and HTTPS/wss:// served by the node itself, with a
//! certificate that can be replaced while it runs.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use meshchat::infra::http::{Response, request, request_via};
use meshchat::infra::tls::{TlsClient, open};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn with_headers(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Response {
    request(method, url, headers, body.map(str::as_bytes)).await.unwrap()
}

#[tokio::test]
async fn requests_from_pages_of_other_sites_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &[], None);
    let own = node.url("").trim_end_matches('/').to_owned();
    let login = json!({"name":"x","password":"long enough"}).to_string();
    let json_type = ("Content-Type", "application/json");
    // A page of another site may not post, even JSON.
    let r =
        with_headers("POST", &node.url("/api/login"), &[json_type, ("Origin", "https://evil.example")], Some(&login))
            .await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (403, Some("forbidden")), "{}", r.text());
    // The node's own page may; so may a client that is no browser.
    let r = with_headers("POST", &node.url("/api/login"), &[json_type, ("Origin", &own)], Some(&login)).await;
    assert_eq!(r.status, 401, "{}", r.text());
    // A form post (not JSON) is refused whatever its origin.
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let r = with_headers("POST", &node.url("/api/login"), &[form], Some("name=x&password=y")).await;
    assert_eq!(r.status, 415);
    // WebSockets: another site's page cannot open one.
    let mut req = node.ws_url().into_client_request().unwrap();
    req.headers_mut().insert("Origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("a WebSocket from another site: {other:?}"),
    }
    let mut req = node.ws_url().into_client_request().unwrap();
    req.headers_mut().insert("Origin", own.parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
}

/// A page whose node is down signs in through another node: the mesh's
/// other pages get CORS answers, other sites do not.
#[tokio::test]
async fn the_meshs_own_pages_may_call_any_node_and_no_other_site_may() {
    let m = Mesh::start_accounts(2, &[]).await;
    let other_page = m.nodes[1].url("").trim_end_matches('/').to_owned();
    let login = m.nodes[0].url("/api/login");
    let preflight = |origin: &str| {
        let headers = [
            ("Origin", origin.to_owned()),
            ("Access-Control-Request-Method", "POST".to_owned()),
            ("Access-Control-Request-Headers", "content-type,authorization".to_owned()),
        ];
        let login = login.clone();
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            with_headers("OPTIONS", &login, &h, None).await
        }
    };
    let r = preflight(&other_page).await;
    assert_eq!(r.header("access-control-allow-origin"), Some(other_page.as_str()), "{:?}", r.headers);
    let methods = r.header("access-control-allow-methods").unwrap_or_default().to_owned();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = r.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{allowed}");
    let r = preflight("https://evil.example").await;
    assert_eq!(r.header("access-control-allow-origin"), None, "{:?}", r.headers);
    // The answer itself carries the header, so the page can read it.
    let body = json!({"name":"x","password":"long enough"}).to_string();
    let json_type = ("Content-Type", "application/json");
    let r = with_headers("POST", &login, &[json_type, ("Origin", &other_page)], Some(&body)).await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (401, Some(other_page.as_str())));
}

#[tokio::test]
async fn allowed_origins_replace_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node("n1", dir.path(), 0, &["--allowed-origins", "https://chat.example.org"]);
    let post = json!({"name":"g","id":"1","body":"hi"}).to_string();
    let url = node.url("/api/rooms/r/messages");
    let json_type = ("Content-Type", "application/json");
    let r = with_headers("POST", &url, &[json_type, ("Origin", "https://chat.example.org")], Some(&post)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let own = node.url("").trim_end_matches('/').to_owned();
    let r = with_headers("POST", &url, &[json_type, ("Origin", &own)], Some(&post)).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist");
    let mut extra = vec![];
    let web_arg = web.display().to_string();
    if web.join("index.html").exists() {
        extra.extend(["--web", web_arg.as_str()]);
    }
    let node = start_node_accounts("n1", dir.path(), 0, &extra, None);
    for path in ["/", "/api/health", "/api/me", "/api/nope"] {
        let r = with_headers("GET", &node.url(path), &[], None).await;
        let csp = r.header("content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
        for part in ["default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "frame-ancestors 'none'"] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(csp.contains(&format!("connect-src 'self' http://{}", node.http)), "{path}: {csp}");
        assert!(csp.contains(&format!("ws://{}", node.http)), "{path}: {csp}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("strict-transport-security"), None, "{path}: no HSTS over plain HTTP");
    }
}

/// A CA and a certificate for 127.0.0.1 in `dir` (`ca.pem`, `n1.pem`, `n1.key`).
fn test_ca(dir: &Path) {
    make_certs(dir, &["n1"]);
}

/// Copies the certificate and key of `from` to where the node reads them.
fn install(from: &Path, to: &Path) {
    // The key first: a node that reads in between sees a mismatched pair
    // and keeps its certificate until the next check.
    std::fs::copy(from.join("n1.key"), to.join("key.pem")).unwrap();
    std::fs::copy(from.join("n1.pem"), to.join("cert.pem")).unwrap();
}

async fn https_get(tls: &TlsClient, url: &str) -> Result<Response, meshchat::infra::http::HttpError> {
    request_via(tls, Duration::from_secs(5), "GET", url, &[], None).await
}

#[tokio::test]
async fn the_node_serves_https_and_wss_and_takes_a_new_certificate_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_a, ca_b, live) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("live"));
    test_ca(&ca_a);
    test_ca(&ca_b);
    std::fs::create_dir_all(&live).unwrap();
    install(&ca_a, &live);
    let (cert, key) = (live.join("cert.pem").display().to_string(), live.join("key.pem").display().to_string());
    let args = ["--tls-cert", cert.as_str(), "--tls-key", key.as_str(), "--tls-reload-ms", "200", "--guests"];
    let node = start_node_accounts("n1", &dir.path().join("data"), 0, &args, None);
    let base = format!("https://{}", node.http);
    let trusts_a = TlsClient::new(Some(&ca_a.join("ca.pem"))).unwrap();
    let trusts_b = TlsClient::new(Some(&ca_b.join("ca.pem"))).unwrap();

    let r = https_get(&trusts_a, &format!("{base}/api/nodes")).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["nodes"][0]["url"], format!("wss://{}/ws", node.http), "the node list carries wss://");
    assert_eq!(r.header("strict-transport-security"), Some("max-age=31536000"));
    assert!(https_get(&TlsClient::public(), &format!("{base}/api/health")).await.is_err(), "an unknown CA");
    // Plain HTTP on the TLS port gets nowhere.
    assert!(request_via(&trusts_a, Duration::from_secs(5), "GET", &node.url("/api/health"), &[], None).await.is_err());

    // wss:// with the native client's connector.
    let url = format!("wss://{}/ws", node.http);
    let stream = open(&url, &trusts_a).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), stream).await.unwrap();
    use futures_util::{SinkExt, StreamExt};
    ws.send(WsMessage::text(json!({"type":"hello","v":1,"name":"tls-guest"}).to_string())).await.unwrap();
    let welcome = loop {
        if let Some(Ok(WsMessage::Text(t))) = ws.next().await {
            break serde_json::from_str::<serde_json::Value>(&t).unwrap();
        }
    };
    assert_eq!(welcome["type"], "welcome");

    // A new certificate (another CA's) is served without a restart.
    install(&ca_b, &live);
    let t = Instant::now();
    while https_get(&trusts_b, &format!("{base}/api/health")).await.is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "the new certificate was not picked up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // (A fresh client: one that connected before may resume its TLS
    // session, which skips the certificate.)
    let fresh_a = TlsClient::new(Some(&ca_a.join("ca.pem"))).unwrap();
    assert!(https_get(&fresh_a, &format!("{base}/api/health")).await.is_err(), "the old one is gone");
    // A broken file leaves the current certificate in place.
    std::fs::write(live.join("cert.pem"), "not a certificate").unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(https_get(&trusts_b, &format!("{base}/api/health")).await.unwrap().status, 200);
}
