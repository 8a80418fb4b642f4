//! One node's HTTP routes over real sockets, the long poll included.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn node(extra: &[&str]) -> (tempfile::TempDir, NodeProc) {
    let dir = tempfile::tempdir().unwrap();
    let n = start_node("n1", &dir.path().join("n1"), 0, extra);
    (dir, n)
}

fn post_body(name: &str, id: &str, body: &str) -> String {
    json!({"name":name,"id":id,"body":body}).to_string()
}

#[tokio::test]
async fn health_nodes_and_rooms() {
    let (_d, n) = node(&["--public-url", "ws://chat.example:8081/ws"]);
    let (status, h) = http_get(&n.url("/api/health")).await;
    assert_eq!(status, 200);
    assert_eq!((h["node"].as_str(), h["status"].as_str()), (Some("n1"), Some("ok")));
    assert_eq!(h["peers"], json!({}));
    assert!(h["uptime_s"].is_u64());
    let (_, nodes) = http_get(&n.url("/api/nodes")).await;
    assert_eq!(nodes, json!({"nodes":[{"id":"n1","url":"ws://chat.example:8081/ws","up":true}]}));
    let (_, rooms) = http_get(&n.url("/api/rooms")).await;
    assert_eq!(rooms, json!({"rooms":[]}));

    // A joined room exists, with no messages yet.
    let (mut c, _) = Client::hello(&n.ws_url(), "alice").await;
    c.join("lobby", None).await;
    c.join("general", None).await;
    c.say("general", "1", "hi").await;
    let (_, rooms) = http_get(&n.url("/api/rooms")).await;
    assert_eq!(
        rooms,
        json!({"rooms":[{"room":"general","messages":1,"members":1},{"room":"lobby","messages":0,"members":1}]})
    );
}

#[tokio::test]
async fn post_then_page_back_through_messages() {
    let (_d, n) = node(&[]);
    let (mut watcher, _) = Client::hello(&n.ws_url(), "watcher").await;
    watcher.join("r", None).await;
    let mut sent = Vec::new();
    for i in 0..7 {
        let (status, posted) =
            http_post(&n.url("/api/rooms/r/messages"), &post_body("bot", &format!("p{i}"), &format!("#{i}"))).await;
        assert_eq!(status, 200, "{posted}");
        // WebSocket clients in the room see HTTP posts live.
        assert_eq!(watcher.expect("message").await["msg"], posted["msg"]);
        sent.push(posted["msg"].clone());
    }
    // Idempotent like `send`.
    let (status, again) = http_post(&n.url("/api/rooms/r/messages"), &post_body("bot", "p0", "changed")).await;
    assert_eq!((status, &again["msg"]), (200, &sent[0]));

    let (_, page) = http_get(&n.url("/api/rooms/r/messages?limit=3")).await;
    assert_eq!(page["messages"].as_array().unwrap(), &sent[4..]);
    assert_eq!(page["more"], true);
    let b = &sent[4];
    let url = format!(
        "/api/rooms/r/messages?limit=3&before_ts={}&before_origin={}&before_seq={}",
        b["ts"],
        b["origin"].as_str().unwrap(),
        b["seq"]
    );
    let (_, page) = http_get(&n.url(&url)).await;
    assert_eq!(page["messages"].as_array().unwrap(), &sent[1..4]);
    let b = &sent[1];
    let url = format!("/api/rooms/r/messages?before_ts={}&before_origin=n1&before_seq={}", b["ts"], b["seq"]);
    let (_, page) = http_get(&n.url(&url)).await;
    assert_eq!(page, json!({"messages":[sent[0]],"more":false}));
    // An unknown room is simply empty.
    let (status, page) = http_get(&n.url("/api/rooms/nobody-here/messages")).await;
    assert_eq!((status, page), (200, json!({"messages":[],"more":false})));
}

#[tokio::test]
async fn refused_requests_get_a_4xx_with_the_error_body() {
    let (_d, n) = node(&[]);
    let cases: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        ("GET", "/api/rooms/Bad Room/messages".replace(' ', "%20"), None, 400, "invalid"),
        ("GET", "/api/rooms/r/messages?limit=0".into(), None, 400, "invalid"),
        ("GET", "/api/rooms/r/messages?limit=201".into(), None, 400, "invalid"),
        ("GET", "/api/rooms/r/messages?limit=abc".into(), None, 400, "invalid"),
        ("GET", "/api/rooms/r/messages?before_ts=5".into(), None, 400, "invalid"),
        ("GET", "/api/rooms/r/poll?since=garbage".into(), None, 400, "invalid"),
        ("GET", "/api/rooms/r/poll?timeout_s=61".into(), None, 400, "invalid"),
        ("POST", "/api/rooms/r/messages".into(), Some("{oops".into()), 400, "bad_frame"),
        ("POST", "/api/rooms/r/messages".into(), Some(r#"{"name":"a"}"#.into()), 400, "invalid"),
        ("POST", "/api/rooms/r/messages".into(), Some(post_body(" a", "1", "hi")), 400, "invalid"),
        ("POST", "/api/rooms/r/messages".into(), Some(post_body("a", "", "hi")), 400, "invalid"),
        ("POST", "/api/rooms/r/messages".into(), Some(post_body("a", "1", "   ")), 400, "invalid"),
        ("POST", "/api/rooms/r/messages".into(), Some(post_body("a", "1", &"x".repeat(4001))), 400, "invalid"),
        ("POST", "/api/rooms/r/messages".into(), Some(post_body("a", "1", &"x".repeat(70_000))), 413, "invalid"),
        ("GET", "/api/nothing-here".into(), None, 404, "not_found"),
        ("DELETE", "/api/rooms/r/messages".into(), None, 405, "invalid"),
    ];
    for (method, path, body, status, code) in cases {
        let (got, v) = http(method, &n.url(&path), body.as_deref()).await;
        assert_eq!(got, status, "{method} {path}: {v}");
        assert_eq!(v["error"]["code"], code, "{method} {path}: {v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
    // Nothing was stored by any of it.
    let (_, page) = http_get(&n.url("/api/rooms/r/messages")).await;
    assert_eq!(page["messages"], json!([]));
}

#[tokio::test]
async fn the_long_poll_answers_at_once_waits_for_news_or_times_out() {
    let (_d, n) = node(&[]);
    let post = |id: &str| {
        let url = n.url("/api/rooms/r/messages");
        let body = post_body("bot", id, id);
        async move { http_post(&url, &body).await.1["msg"].clone() }
    };
    let m1 = post("one").await;
    // Something past since: at once.
    let (status, p) = http_get(&n.url("/api/rooms/r/poll?since=&timeout_s=20")).await;
    assert_eq!(status, 200);
    assert_eq!(p, json!({"messages":[m1],"vector":{"n1":1},"gap":false}));
    // Nothing new: waits, then empty at the timeout.
    let t0 = Instant::now();
    let (_, p) = http_get(&n.url("/api/rooms/r/poll?since=n1:1&timeout_s=1")).await;
    assert!(t0.elapsed() >= Duration::from_millis(900));
    assert_eq!(p, json!({"messages":[],"vector":{"n1":1},"gap":false}));
    // A poll waiting when a message arrives gets it.
    let waiting = tokio::spawn({
        let url = n.url("/api/rooms/r/poll?since=n1:1&timeout_s=20");
        async move { http_get(&url).await.1 }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m2 = post("two").await;
    let p = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
    assert_eq!(p, json!({"messages":[m2],"vector":{"n1":2},"gap":false}));
}

#[tokio::test]
async fn metrics_and_the_web_app() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web");
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(web.join("index.html"), "<!doctype html><title>meshchat app</title>").unwrap();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let (mut c, _) = Client::hello(&n.ws_url(), "alice").await;
    c.join("r", None).await;
    c.say("r", "1", "hi").await;
    let (status, text) = http_text("GET", &n.url("/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(text.contains("# TYPE meshchat_connections gauge"));
    assert!(text.contains("meshchat_messages_accepted_total{node=\"n1\"} 1"), "{text}");
    assert!(text.contains("meshchat_connections{node=\"n1\"} 1"));
    let (status, page) = http_text("GET", &n.url("/"), None).await;
    assert_eq!(status, 200);
    assert!(page.contains("meshchat app"));
    // Client-side routes fall back to the app.
    let (status, page) = http_text("GET", &n.url("/rooms/general"), None).await;
    assert_eq!((status, page.contains("meshchat app")), (200, true));
}

/// A GET with `Accept-Encoding: gzip`: the status line and headers
/// (lower-cased) and the body.
async fn get_gzip(url: &str) -> (String, Vec<u8>) {
    get_encoded(url, "gzip").await
}

/// A GET with this `Accept-Encoding`, as [`get_gzip`].
async fn get_encoded(url: &str, accept: &str) -> (String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: {accept}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase(), buf[split + 4..].to_vec())
}

#[tokio::test]
async fn the_web_app_is_served_gzipped_and_cached_by_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web");
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(web.join("index.html"), "<!doctype html><title>meshchat app</title>").unwrap();
    std::fs::write(web.join("index.html.gz"), "gzipped index").unwrap();
    std::fs::write(web.join("app-0123456789abcdef_bg.wasm"), "plain wasm").unwrap();
    std::fs::write(web.join("app-0123456789abcdef_bg.wasm.gz"), "gzipped wasm").unwrap();
    std::fs::write(web.join("app-0123456789abcdef_bg.wasm.br"), "brotli wasm").unwrap();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);

    // Brotli to a browser that takes it (Chromium's own header), gzip to
    // one that refuses it.
    let (head, body) = get_encoded(&n.url("/app-0123456789abcdef_bg.wasm"), "gzip, deflate, br, zstd").await;
    let vary = head.lines().find_map(|l| l.strip_prefix("vary: ")).unwrap_or_default().to_owned();
    assert!(head.contains("content-encoding: br") && vary.contains("accept-encoding"), "{head}");
    assert_eq!(body, b"brotli wasm");
    let (head, body) = get_encoded(&n.url("/app-0123456789abcdef_bg.wasm"), "br;q=0, gzip").await;
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert_eq!(body, b"gzipped wasm");

    let (head, body) = get_gzip(&n.url("/app-0123456789abcdef_bg.wasm")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("content-type: application/wasm"), "{head}");
    assert!(head.contains("cache-control: public, max-age=31536000, immutable"), "{head}");
    assert_eq!(body, b"gzipped wasm");
    // Without gzip in Accept-Encoding, the plain file.
    let (status, text) = http_text("GET", &n.url("/app-0123456789abcdef_bg.wasm"), None).await;
    assert_eq!((status, text.as_str()), (200, "plain wasm"));

    // The page names the hashed files, so it is revalidated on every load,
    // and so is the app's fallback for client-side routes.
    for path in ["/", "/rooms/general"] {
        let (head, body) = get_gzip(&n.url(path)).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("cache-control: no-cache"), "{path}: {head}");
        assert_eq!(body, b"gzipped index", "{path}");
    }
    // A missing hashed file is not cached for a year.
    let (head, _) = get_gzip(&n.url("/gone-0123456789abcdef.js")).await;
    assert!(!head.contains("immutable"), "{head}");
}

/// The web app built into the binary (a debug build reads `dist/` as the
/// release build embeds it): served with no `--web`, gzipped, cached by
/// content hash, client routes falling back to the page.
#[tokio::test]
async fn the_binary_serves_its_own_web_app_without_a_flag() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist");
    assert!(dist.join("index.html").exists(), "the web app is not built: run scripts/build-web first");
    let dir = tempfile::tempdir().unwrap();
    let n = start_node("n1", &dir.path().join("n1"), 0, &[]);
    let (head, body) = get_gzip(&n.url("/")).await;
    assert!(head.starts_with("http/1.1 200") && head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("cache-control: no-cache"), "{head}");
    assert_eq!(body, std::fs::read(dist.join("index.html.gz")).unwrap());
    let wasm = std::fs::read_dir(&dist)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|f| f.ends_with("_bg.wasm"))
        .unwrap();
    let (head, body) = get_gzip(&n.url(&format!("/{wasm}"))).await;
    assert!(head.contains("content-type: application/wasm"), "{head}");
    assert!(head.contains("cache-control: public, max-age=31536000, immutable"), "{head}");
    assert_eq!(body, std::fs::read(dist.join(format!("{wasm}.gz"))).unwrap());
    // Brotli to a browser that takes it, under a tag of its own (a cache
    // must not answer a gzip request with it); the copies themselves are
    // not served as files.
    let (head, body) = get_encoded(&n.url(&format!("/{wasm}")), "gzip, deflate, br, zstd").await;
    let vary = head.lines().find_map(|l| l.strip_prefix("vary: ")).unwrap_or_default().to_owned();
    assert!(head.contains("content-encoding: br") && vary.contains("accept-encoding"), "{head}");
    assert_eq!(body, std::fs::read(dist.join(format!("{wasm}.br"))).unwrap());
    let tag = |head: &str| head.lines().find_map(|l| l.strip_prefix("etag: ")).map(str::to_owned);
    assert_ne!(tag(&head), tag(&get_gzip(&n.url(&format!("/{wasm}"))).await.0), "{head}");
    let (status, page) = http_text("GET", &n.url(&format!("/{wasm}.br")), None).await;
    assert_eq!((status, page.as_bytes()), (200, std::fs::read(dist.join("index.html")).unwrap().as_slice()));
    let (status, page) = http_text("GET", &n.url("/rooms/general"), None).await;
    assert_eq!(status, 200);
    assert_eq!(page.as_bytes(), std::fs::read(dist.join("index.html")).unwrap());
    // The page's inline script is allowed by the policy, by its hash.
    let (head, _) = get_gzip(&n.url("/")).await;
    let csp = head.lines().find(|l| l.starts_with("content-security-policy:")).unwrap().to_owned();
    assert!(csp.contains("'sha256-"), "{csp}");
}

async fn upload_size(n: &NodeProc, bytes: usize) -> u16 {
    let url = n.url("/api/rooms/general/files?id=f&name=ada");
    let headers = [("Content-Type", "text/plain"), ("X-File-Name", "a.txt")];
    meshchat::infra::http::request("POST", &url, &headers, Some(&vec![b'x'; bytes])).await.unwrap().status
}

/// `--config FILE` sets what flags set; a flag on the command line wins; a
/// key no setting has stops the node with a message naming it.
#[tokio::test]
async fn a_config_file_sets_flags_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("meshchat.toml");
    std::fs::write(&config, "max_file_bytes = 1000\nhttp-rate = 500\n").unwrap();
    let c = config.to_str().unwrap();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--config", c]);
    let (mut ada, _) = Client::hello(&n.ws_url(), "ada").await;
    ada.join("general", None).await;
    assert_eq!(upload_size(&n, 1_500).await, 413, "the file's limit");
    assert_eq!(upload_size(&n, 900).await, 201);
    drop(n);
    let n = start_node("n1", &dir.path().join("n2"), 0, &["--config", c, "--max-file-bytes", "5000"]);
    let (mut ada, _) = Client::hello(&n.ws_url(), "ada").await;
    ada.join("general", None).await;
    assert_eq!(upload_size(&n, 1_500).await, 201, "the flag over the file");

    std::fs::write(&config, "max_file_byte = 1000\n").unwrap();
    let out = std::process::Command::new(exe())
        .args(["node", "--config", c, "--id", "n1", "--data"])
        .arg(dir.path().join("n3"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`max_file_byte`"), "{err}");
}
