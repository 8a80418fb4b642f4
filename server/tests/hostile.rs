//! Hostile clients and peers, over real sockets: each test is one way an
//! anonymous client (or a peer gone wrong) tried to exhaust, stall or split
//! a node, with the node's memory read from `/proc` where it matters.
//! `MESHCHAT_EXE=<older build>` runs them against another binary.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const MIB: u64 = 1024;

fn node(extra: &[&str]) -> (tempfile::TempDir, NodeProc) {
    let dir = tempfile::tempdir().unwrap();
    // An older build (MESHCHAT_EXE) has no limits to lift: only its flags.
    let older = std::env::var_os("MESHCHAT_EXE").is_some();
    let lifts = ["--http-rate", "--http-burst"];
    let mut args: Vec<&str> = Vec::new();
    let mut it = extra.iter();
    while let Some(a) = it.next() {
        if older && lifts.contains(a) {
            it.next();
        } else if older && *a == "--guests" {
        } else {
            args.push(a);
        }
    }
    let n = start_node("n1", &dir.path().join("n1"), 0, &args);
    (dir, n)
}

/// `count` messages of 16,000 bytes each in `room`.
async fn fill(n: &NodeProc, room: &str, count: usize) {
    let body = "🦀".repeat(4000);
    let posts = (0..count).map(|i| (room.to_owned(), format!("fill-{i}"), body.clone())).collect();
    let statuses = post_many(&n.http, posts).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

/// A WebSocket that says hello, then only writes.
async fn writer(n: &NodeProc, name: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(n.ws_url()).await.unwrap();
    ws.send(WsMessage::text(json!({"type":"hello","v":1,"name":name}).to_string())).await.unwrap();
    ws
}

#[tokio::test]
async fn a_client_that_asks_for_much_and_never_reads_costs_little() {
    let (_d, n) = node(&["--http-rate", "100000", "--http-burst", "100000"]);
    fill(&n, "big", 1000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = n.rss_kib().unwrap();
    // 100 joins, each asking for all but the first message (16 MB), and 200
    // history pages of 200 (3.2 MB each): about 2.3 GB if it were all queued.
    let mut joins = writer(&n, "greedy").await;
    for _ in 0..100 {
        joins.send(WsMessage::text(json!({"type":"join","room":"big","since":{"n1":1}}).to_string())).await.unwrap();
    }
    let mut pages = writer(&n, "greedier").await;
    for _ in 0..199 {
        pages.send(WsMessage::text(json!({"type":"history","room":"big","limit":200}).to_string())).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = n.rss_kib().unwrap();
    eprintln!("RSS {before} KiB before, {after} KiB with two clients that never read");
    assert!(after.saturating_sub(before) < 64 * MIB, "grew {} KiB", after - before);
    drop((joins, pages));
    // The node is still fine.
    let (mut c, _) = Client::hello(&n.ws_url(), "reader").await;
    let (_, backlog, _) = c.join("big", None).await;
    assert_eq!(backlog.len(), 50);
}

#[tokio::test]
async fn rooms_an_address_creates_stop_at_the_cap_and_polls_create_none() {
    // Five connections from one address try 1,500 rooms; the default cap
    // is 1,000 an hour per address.
    let (_d, n) = node(&["--rate", "100000", "--burst", "100000", "--http-rate", "100000", "--http-burst", "100000"]);
    let before = n.rss_kib().unwrap();
    let mut tasks = Vec::new();
    for c in 0..5 {
        let url = n.ws_url();
        tasks.push(tokio::spawn(async move {
            let (mut client, _) = Client::hello(&url, &format!("maker{c}")).await;
            for r in 0..300 {
                client.send(json!({"type":"join","room":format!("r{c}-{r}")})).await;
            }
            let (mut joined, mut refused) = (0, 0);
            while joined + refused < 300 {
                let f = client.recv().await;
                match f["type"].as_str().unwrap() {
                    "joined" => joined += 1,
                    "error" => {
                        assert_eq!(f["code"], "limit_reached", "{f}");
                        refused += 1;
                    }
                    _ => {}
                }
            }
            (joined, refused)
        }));
    }
    let mut joined = 0;
    for t in tasks {
        joined += t.await.unwrap().0;
    }
    assert_eq!(joined, 1000);
    // Posting to a new room is creating one too.
    let (status, body) =
        http_post(&n.url("/api/rooms/one-more/messages"), r#"{"name":"x","id":"1","body":"hi"}"#).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("limit_reached")), "{body}");
    // Polls on rooms that do not exist wait, answer empty, and create nothing.
    for i in 0..200 {
        let (status, p) = http_get(&n.url(&format!("/api/rooms/ghost-{i}/poll?timeout_s=0"))).await;
        assert_eq!((status, p["messages"].as_array().unwrap().len()), (200, 0));
    }
    let (_, page) = http_get(&n.url("/api/rooms?limit=100")).await;
    assert_eq!(page["rooms"].as_array().unwrap().len(), 100);
    assert!(page["next"].is_string(), "a next page: {page}");
    let mut total = 0;
    let mut after = String::new();
    loop {
        let (_, page) = http_get(&n.url(&format!("/api/rooms?limit=1000&after={after}"))).await;
        total += page["rooms"].as_array().unwrap().len();
        match page["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(total, 1000, "the rooms that were created, and no ghost");
    let grew = n.rss_kib().unwrap().saturating_sub(before);
    assert!(grew < 64 * MIB, "grew {grew} KiB");
}

#[tokio::test]
async fn idle_sockets_cannot_take_the_node_from_others() {
    let dir = tempfile::tempdir().unwrap();
    let spec = meshchat::tools::harness::NodeSpec {
        exe: exe(),
        id: "n1".into(),
        http: "127.0.0.1:0".into(),
        data: dir.path().join("n1"),
        args: ["--guests", "--header-timeout-ms", "2000", "--hello-timeout-ms", "1000", "--idle-timeout-ms", "3000"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        log: Some(dir.path().join("n1.log")),
        nofile: Some(1024),
        netns: None,
    };
    let n = NodeProc::start(spec).unwrap();
    // 1,100 sockets from another local address that never send a byte.
    let mut idle = Vec::new();
    for _ in 0..1100 {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        match tokio::time::timeout(Duration::from_secs(2), s.connect(n.http.parse().unwrap())).await {
            Ok(Ok(stream)) => idle.push(stream),
            _ => break,
        }
    }
    assert!(idle.len() > 1000, "opened {}", idle.len());
    let t = Instant::now();
    let r = meshchat::infra::http::request_within(Duration::from_secs(5), "GET", &n.url("/api/health"), &[], None)
        .await
        .expect("health answers while the node is full of idle sockets");
    assert_eq!(r.status, 200);
    eprintln!("health answered in {:?} with {} idle sockets open", t.elapsed(), idle.len());
    drop(idle);

    // A request whose headers never end is cut at the header timeout.
    let mut half = tokio::net::TcpStream::connect(&n.http).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    half.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 256];
    let _ = tokio::time::timeout(Duration::from_secs(10), half.read(&mut buf)).await.expect("closed in time");
    assert!(t.elapsed() < Duration::from_secs(5), "held {:?}", t.elapsed());

    // A WebSocket that never says hello (it answers pings) is closed.
    let mut silent = Client::connect(&n.ws_url()).await;
    assert_eq!(silent.close_code().await, Some(1008));
    // One that said hello but then sends nothing at all is closed too.
    let (mut quiet, _) = Client::hello(&n.ws_url(), "quiet").await;
    let t = Instant::now();
    assert_eq!(quiet.close_code().await, Some(1008));
    assert!(t.elapsed() >= Duration::from_secs(2), "not before the idle timeout: {:?}", t.elapsed());
    let log = std::fs::read_to_string(dir.path().join("n1.log")).unwrap();
    assert!(!log.contains("Too many open files"), "{log}");
}

#[tokio::test]
async fn http_writes_are_rate_limited_per_address() {
    let (_d, n) = node(&[]);
    let posts = (0..1000).map(|i| ("r".to_owned(), format!("m{i}"), "hi".to_owned())).collect();
    let statuses = post_many(&n.http, posts).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    eprintln!("1,000 POSTs on one connection: {ok} accepted, {limited} rate-limited");
    assert!(ok < 400 && limited > 600, "{ok} accepted, {limited} limited");
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let (_d, n) = node(&[]);
    let (mut c, _) = Client::hello(&n.ws_url(), "bytes").await;
    let frame = Frame::message(vec![0x68, 0xff, 0xfe, 0x69], OpCode::Data(Data::Text), true);
    c.send_raw(WsMessage::Frame(frame)).await;
    assert_eq!(c.close_code().await, Some(1007));
}

#[tokio::test]
async fn names_are_normalised_and_look_alikes_and_invisible_characters_refused() {
    let (_d, n) = node(&[]);
    let (_c, welcome) = Client::hello(&n.ws_url(), "Re\u{301}my").await;
    assert_eq!(welcome["name"], "Rémy", "NFC");
    let mut sneaky = Client::connect(&n.ws_url()).await;
    sneaky.send(json!({"type":"hello","v":1,"name":"alice\u{200B}"})).await;
    assert_eq!(sneaky.expect_error().await.0, "invalid");
    sneaky.send(json!({"type":"hello","v":1,"name":"\u{202E}ecila"})).await;
    assert_eq!(sneaky.expect_error().await.0, "invalid");
    let (mut alice, _) = Client::hello(&n.ws_url(), "alice").await;
    alice.join("r", None).await;
    let (mut fake, _) = Client::hello(&n.ws_url(), "аlice").await; // a Cyrillic а
    fake.send(json!({"type":"join","room":"r"})).await;
    assert_eq!(fake.expect_error().await.0, "name_taken");
    fake.send(json!({"type":"send","room":"r","id":"1","body":"I am alice"})).await;
    assert_eq!(fake.expect_error().await.0, "not_joined");
}

#[tokio::test]
async fn the_terminal_client_shows_control_characters_as_text() {
    use std::io::Read;
    let (_d, n) = node(&[]);
    let evil = "hi\u{1b}]0;pwned\u{7}\u{1b}[2J";
    let (status, _) =
        http_post(&n.url("/api/rooms/r/messages"), &json!({"name":"eve","id":"1","body":evil}).to_string()).await;
    assert_eq!(status, 200);
    let mut child = std::process::Command::new(exe())
        .args(["client", "--name", "watcher", "--room", "r", "--nodes", &n.ws_url()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && !String::from_utf8_lossy(&buf).contains("pwned") {
            match out.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf
    });
    let buf = reader.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.contains("pwned"), "{text:?}");
    assert!(!buf.contains(&0x1b) && !buf.contains(&0x07), "raw control bytes reached the terminal: {text:?}");
}

#[tokio::test]
async fn logs_written_to_a_file_are_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("n1.log");
    let n = start_node_logged("n1", &dir.path().join("n1"), 0, &["-v"], Some(&log));
    let (mut c, _) = Client::hello(&n.ws_url(), "a").await;
    c.join("r", None).await;
    drop(n);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("INFO"), "{text}");
    assert!(!text.contains('\u{1b}'), "ANSI colour codes in a log file: {text:?}");
}

/// A mesh of `n` nodes with extra flags for some, logging to files; only
/// the first `run` are started.
async fn mesh_with(n: usize, run: usize, extra: &[(usize, &[&str])]) -> (tempfile::TempDir, Vec<NodeProc>, Vec<u16>) {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = meshchat::tools::harness::MeshSpec::new(&exe(), dir.path(), n);
    spec.logs = true;
    spec.args = vec!["--guests".into()];
    let mut specs = spec.node_specs().unwrap();
    for (i, args) in extra {
        specs[*i].args.extend(args.iter().map(|s| s.to_string()));
    }
    let ports: Vec<u16> =
        specs.iter().map(|s| s.arg("--mesh").and_then(|a| a.rsplit(':').next()?.parse().ok()).unwrap()).collect();
    let nodes: Vec<NodeProc> = specs.into_iter().take(run).map(|s| NodeProc::start(s).unwrap()).collect();
    for node in &nodes {
        wait_peers_up(node, run - 1).await;
    }
    (dir, nodes, ports)
}

#[tokio::test]
async fn a_peer_twenty_years_ahead_cannot_drag_the_clock() {
    let twenty_years = (20 * 365 * 86_400_000u64).to_string();
    let (_d, nodes, _) = mesh_with(2, 2, &[(1, &["--clock-offset-ms", &twenty_years])]).await;
    let (status, _) =
        http_post(&nodes[1].url("/api/rooms/r/messages"), r#"{"name":"ahead","id":"1","body":"from 2046"}"#).await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&nodes[0], "meshchat_clock_skew_refused_total").await == 0 {
        assert!(Instant::now() < deadline, "n1 never refused n2's message");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, posted) =
        http_post(&nodes[0].url("/api/rooms/r/messages"), r#"{"name":"here","id":"2","body":"from now"}"#).await;
    assert_eq!(status, 200);
    let now = meshchat::infra::clock::now_ms();
    let ts = posted["msg"]["ts"].as_u64().unwrap();
    assert!(ts < now + 60_000, "n1 stamps sanely: {ts} against {now}");
    let held = all_messages(&nodes[0], "r").await;
    assert!(held.iter().all(|m| m["body"] != "from 2046"), "{held:?}");
}

#[tokio::test]
async fn a_peer_cannot_write_as_another_node_or_take_its_seqs() {
    use meshchat::mesh::proto::{self, Control, LaneFrame, MESH_VERSION, WireMsg};
    use meshchat_shared::Message;
    // n3's certificate is valid, but n3 is not running: a rogue holds it.
    let (dir, nodes, ports) = mesh_with(3, 2, &[]).await;
    let id = meshchat::trust::tls::Identity::load(&dir.path().join("certs"), "n3").unwrap();
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(meshchat::mesh::tls::client_config(&id, meshchat::mesh::proto::alpn()).unwrap());
    let conn = endpoint.connect(format!("127.0.0.1:{}", ports[0]).parse().unwrap(), "n1").unwrap().await.unwrap();
    let (mut control, mut replies) = conn.open_bi().await.unwrap();
    let hello = Control::Hello { node: "n3".into(), version: MESH_VERSION, url: String::new() };
    control.write_all(&proto::encode(&hello).unwrap()).await.unwrap();
    let _their_hello: (Control, usize) = proto::read_frame(&mut replies).await.unwrap().unwrap();
    // A message "from n2" (seq 1, unsigned), and one of its own.
    let forged =
        Message { author: "mallory".into(), id: "f".into(), body: "forged".into(), ..Message::sample("r", "n2", 1) };
    let own =
        Message { author: "mallory".into(), id: "o".into(), body: "mine".into(), ..Message::sample("r", "n3", 1) };
    let msgs = vec![WireMsg { msg: forged, sig: None }, WireMsg { msg: own, sig: None }];
    let mut lane = conn.open_uni().await.unwrap();
    lane.write_all(&proto::encode(&LaneFrame::Msgs { room: "r".into(), msgs }).unwrap()).await.unwrap();
    // And a want for everything there could ever be.
    let want = Control::Want {
        room: "r".into(),
        ranges: vec![meshchat::core::Range { origin: "n1".into(), after: 0, upto: u64::MAX }],
    };
    control.write_all(&proto::encode(&want).unwrap()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // n2's real first message in that room.
    let (status, _) =
        http_post(&nodes[1].url("/api/rooms/r/messages"), r#"{"name":"bob","id":"real","body":"real"}"#).await;
    assert_eq!(status, 200);
    // n1 took the rogue's own message (the handshake proved it is n3), not
    // the one it wrote as n2; n2's real seq 1 arrives and is kept.
    let deadline = Instant::now() + Duration::from_secs(15);
    let bodies = loop {
        let held = all_messages(&nodes[0], "r").await;
        let bodies: Vec<String> = held.iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect();
        if bodies.len() >= 2 || Instant::now() > deadline {
            break bodies;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(bodies, ["mine", "real"], "on n1");
    assert!(metric(&nodes[0], "meshchat_mesh_refused_messages_total").await >= 1);
    // Unsigned, the rogue's message goes no further: n2 refuses it from n1.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let on_n2: Vec<String> =
        all_messages(&nodes[1], "r").await.iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect();
    assert_eq!(on_n2, ["real"]);
    assert!(metric(&nodes[1], "meshchat_mesh_refused_messages_total").await >= 1);
    conn.close(0u32.into(), b"done");
}
