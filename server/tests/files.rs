//! Shared files over real sockets on a 3-node mesh: an upload on one node
//! is read from the others (even once the first is killed right after the
//! ack, even by a node that was down and fetches it), only by those who may
//! read the room, never rendered by the browser unless it is a raster
//! picture; over-size is refused with nothing kept; a delete removes the
//! file from every node's disk.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use meshchat::infra::http::{Response, request};
use serde_json::{Value, json};

async fn upload(node: &NodeProc, token: &str, room: &str, id: &str, name: &str, mime: &str, body: &[u8]) -> Response {
    let url = node.url(&format!("/api/rooms/{room}/files?id={id}"));
    let auth = format!("Bearer {token}");
    let name: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
    let headers = [("Authorization", auth.as_str()), ("Content-Type", mime), ("X-File-Name", name.as_str())];
    request("POST", &url, &headers, Some(body)).await.unwrap()
}

async fn download(node: &NodeProc, token: &str, room: &str, hash: &str, extra: &[(&str, &str)]) -> Response {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    request("GET", &node.url(&format!("/api/rooms/{room}/files/{hash}")), &headers, None).await.unwrap()
}

/// The file once `node` has the message that shares it.
async fn fetched(node: &NodeProc, token: &str, room: &str, hash: &str) -> Response {
    eventually(Duration::from_secs(10), &format!("{} serves {hash}", node.id()), || async {
        download(node, token, room, hash, &[]).await.status == 200
    })
    .await;
    download(node, token, room, hash, &[]).await
}

fn event(posted: &Response) -> Value {
    assert_eq!(posted.status, 201, "{}", posted.text());
    let msg = posted.json()["msg"].clone();
    serde_json::from_str(msg["body"].as_str().unwrap()).unwrap()
}

fn blobs(m: &Mesh, i: usize) -> Vec<PathBuf> {
    let dir = m.dir.path().join(format!("n{}", i + 1)).join("files");
    let mut out = Vec::new();
    for shard in std::fs::read_dir(dir).unwrap().flatten() {
        if shard.file_name().len() == 2 {
            out.extend(std::fs::read_dir(shard.path()).unwrap().flatten().map(|f| f.path()));
        }
    }
    out
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn files_replicate_serve_safely_to_readers_only_and_go_when_deleted() {
    let m = Mesh::start_accounts(3, &["--max-file-bytes", "200000"]).await;
    let alice = account_everywhere(&m, "alice").await;
    let bob = account_everywhere(&m, "bob").await;
    for (room, private) in [("work", false), ("secret", true)] {
        let body = json!({"room": room, "private": private});
        assert_eq!(api("POST", &m.nodes[0].url("/api/rooms"), Some(&alice), Some(body)).await.0, 201);
    }
    for node in &m.nodes {
        eventually(Duration::from_secs(10), "the rooms reach every node", || async {
            api("GET", &node.url("/api/rooms/work"), Some(&bob), None).await.0 == 200
        })
        .await;
    }

    // An HTML page: stored, replicated, served as an inert attachment.
    let page = b"<html><script>alert(1)</script>plans</html>".to_vec();
    let posted = upload(&m.nodes[0], &alice, "work", "f1", "plans.html", "text/html", &page).await;
    let file = event(&posted);
    assert_eq!(
        (file["event"].as_str(), file["name"].as_str(), file["size"].as_u64()),
        (Some("file"), Some("plans.html"), Some(page.len() as u64))
    );
    let hash = file["hash"].as_str().unwrap().to_owned();
    for node in &m.nodes {
        let got = fetched(node, &bob, "work", &hash).await;
        assert_eq!(got.body, page, "{}", node.id());
        assert_eq!(got.header("content-type"), Some("application/octet-stream"));
        assert!(got.header("content-disposition").unwrap().starts_with("attachment; filename*=UTF-8''plans.html"));
        assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
        assert!(got.header("content-security-policy").unwrap().contains("sandbox"));
    }
    // Ranges, for large files.
    let part = download(&m.nodes[1], &bob, "work", &hash, &[("Range", "bytes=0-5")]).await;
    assert_eq!((part.status, part.body.as_slice()), (206, &page[..6]));

    // SVG is never inline; a PNG is, with a thumbnail the node makes.
    let svg = upload(&m.nodes[1], &alice, "work", "f2", "logo.svg", "image/svg+xml", b"<svg onload=alert(1)/>").await;
    let svg_hash = event(&svg)["hash"].as_str().unwrap().to_owned();
    let got = fetched(&m.nodes[2], &bob, "work", &svg_hash).await;
    assert!(got.header("content-disposition").unwrap().starts_with("attachment"));
    let picture = png(800, 600);
    let posted = upload(&m.nodes[0], &alice, "work", "f3", "photo.png", "image/png", &picture).await;
    let pic_hash = event(&posted)["hash"].as_str().unwrap().to_owned();
    let got = fetched(&m.nodes[2], &bob, "work", &pic_hash).await;
    assert_eq!((got.header("content-type"), got.body.len()), (Some("image/png"), picture.len()));
    assert!(got.header("content-disposition").unwrap().starts_with("inline"));
    let thumb = request(
        "GET",
        &m.nodes[1].url(&format!("/api/rooms/work/files/{pic_hash}?thumb=1")),
        &[("Authorization", &format!("Bearer {bob}"))],
        None,
    )
    .await
    .unwrap();
    let small = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!((small.width(), small.height()), (320, 240));

    // A private room's file: not for bob, by its room or by another.
    let secret = upload(&m.nodes[0], &alice, "secret", "s1", "keys.txt", "text/plain", b"the keys").await;
    let secret_hash = event(&secret)["hash"].as_str().unwrap().to_owned();
    for node in &m.nodes {
        // There for alice first, so that bob's refusal means something.
        fetched(node, &alice, "secret", &secret_hash).await;
        assert_eq!(download(node, &bob, "secret", &secret_hash, &[]).await.status, 404, "{}", node.id());
        assert_eq!(download(node, &bob, "work", &secret_hash, &[]).await.status, 404, "{}", node.id());
    }

    // What the node stores is in its metrics: the three files of the public
    // room and the secret one, once each.
    let stored = (page.len() + 22 + picture.len() + 8) as u64;
    for node in &m.nodes {
        assert_eq!(metric(node, "meshchat_files_bytes").await, stored, "{}", node.id());
    }

    // Over the limit: refused, and nothing kept.
    let before: Vec<_> = (0..3).map(|i| blobs(&m, i).len()).collect();
    let big = vec![7u8; 200_001];
    let refused = upload(&m.nodes[0], &alice, "work", "f4", "big.bin", "application/octet-stream", &big).await;
    assert_eq!(refused.status, 413, "{}", refused.text());
    assert_eq!(refused.json()["error"]["code"], "limit_reached");
    assert_eq!((0..3).map(|i| blobs(&m, i).len()).collect::<Vec<_>>(), before);

    // Deleted: gone from every node's disk, and from every reader.
    let target =
        json!({"event": "deleted", "origin": posted.json()["msg"]["origin"], "seq": posted.json()["msg"]["seq"]});
    let url = m.nodes[1].url("/api/rooms/work/actions");
    assert_eq!(api("POST", &url, Some(&alice), Some(json!({"id": "d1", "action": target}))).await.0, 200);
    for i in 0..3 {
        eventually(Duration::from_secs(10), "the picture leaves every disk", || async {
            !blobs(&m, i).iter().any(|p| p.ends_with(&pic_hash))
        })
        .await;
        assert_eq!(download(&m.nodes[i], &bob, "work", &pic_hash, &[]).await.status, 404);
    }
}

#[tokio::test]
async fn a_file_survives_its_node_killed_after_the_ack_and_a_node_that_was_down_fetches_it() {
    let mut m = Mesh::start_accounts(3, &[]).await;
    let alice = account_everywhere(&m, "alice").await;
    let body = json!({"room": "work", "private": false});
    assert_eq!(api("POST", &m.nodes[0].url("/api/rooms"), Some(&alice), Some(body)).await.0, 201);
    m.nodes[2].kill9();
    let bytes: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let posted = upload(&m.nodes[0], &alice, "work", "f1", "data.bin", "application/octet-stream", &bytes).await;
    let hash = event(&posted)["hash"].as_str().unwrap().to_owned();
    // Killed right after the ack: the peer that took it serves it.
    m.nodes[0].kill9();
    eventually(Duration::from_secs(10), "n2 serves the file", || async {
        let got = download(&m.nodes[1], &alice, "work", &hash, &[]).await;
        got.status == 200 && got.body == bytes
    })
    .await;
    // n3 was down through all of it: it learns the message, then fetches
    // the file from n2 when asked for it.
    m.nodes[2].restart().unwrap();
    eventually(Duration::from_secs(20), "n3 fetches the file from a peer", || async {
        let got = download(&m.nodes[2], &alice, "work", &hash, &[]).await;
        got.status == 200 && got.body == bytes
    })
    .await;
}

/// Everyone in a room asks for a new picture's thumbnail at once (each
/// browser showing it does): each gets the whole thumbnail, never the
/// part another request had written so far (it was written in place, and
/// read back by the next request: a browser then showed a broken picture,
/// and a node killed mid-write would have served the stump for good).
#[tokio::test]
async fn a_thumbnail_asked_for_by_many_at_once_is_whole_for_each() {
    let dir = tempfile::tempdir().unwrap();
    let n = start_node_accounts("n1", &dir.path().join("n1"), 0, &["--http-burst", "5000"], None);
    let alice = token(&register(&n, "alice", "alice's password").await.1);
    let hello = json!({"id": "hello", "body": "pictures follow"});
    assert_eq!(api("POST", &n.url("/api/rooms/general/messages"), Some(&alice), Some(hello)).await.0, 200);
    let mut broken = Vec::new();
    for i in 0..30u32 {
        let id = format!("p{i}");
        let picture = png(1200 + i, 900);
        let hash = event(&upload(&n, &alice, "general", &id, "p.png", "image/png", &picture).await)["hash"]
            .as_str()
            .unwrap()
            .to_owned();
        let thumbs = (0..8).map(|_| {
            let url = n.url(&format!("/api/rooms/general/files/{hash}?thumb=1"));
            let auth = format!("Bearer {alice}");
            async move { request("GET", &url, &[("Authorization", auth.as_str())], None).await.unwrap() }
        });
        for t in futures_util::future::join_all(thumbs).await {
            let whole = image::load_from_memory(&t.body).is_ok_and(|img| img.width() == 320);
            if t.status != 200 || !whole {
                broken.push((i, t.status, t.body.len()));
            }
        }
    }
    assert!(broken.is_empty(), "(picture, status, bytes) of thumbnails not whole: {broken:?}");
}

/// A file shared in a thread (`&thread=origin:seq`): its event names the
/// root on every node, search says it is in the thread, and its delete is
/// marked with the thread (its tombstone stays there). A malformed root is
/// refused with nothing kept.
#[tokio::test]
async fn a_file_shared_in_a_thread_names_its_root_everywhere() {
    let m = Mesh::start_accounts(2, &[]).await;
    let alice = account_everywhere(&m, "alice").await;
    let bob = account_everywhere(&m, "bob").await;
    let body = json!({"room": "work", "private": false});
    assert_eq!(api("POST", &m.nodes[0].url("/api/rooms"), Some(&alice), Some(body)).await.0, 201);
    room_everywhere(&m, &bob, "work").await;
    let join = json!({"id": "j1", "action": {"event": "joined"}});
    assert_eq!(api("POST", &m.nodes[1].url("/api/rooms/work/actions"), Some(&bob), Some(join)).await.0, 200);
    let (status, root) = api(
        "POST",
        &m.nodes[0].url("/api/rooms/work/messages"),
        Some(&alice),
        Some(json!({"id": "r1", "body": "plans?"})),
    )
    .await;
    assert_eq!(status, 200, "{root}");
    let root = root["msg"].clone();
    let thread = format!("{}:{}", root["origin"].as_str().unwrap(), root["seq"]);

    let share = |thread: String, id: &'static str| {
        let (node, bob) = (&m.nodes[1], bob.clone());
        async move {
            let url = node.url(&format!("/api/rooms/work/files?id={id}&thread={thread}"));
            let auth = format!("Bearer {bob}");
            let headers =
                [("Authorization", auth.as_str()), ("Content-Type", "text/plain"), ("X-File-Name", "minutes.txt")];
            request("POST", &url, &headers, Some(b"agreed: ship friday".as_slice())).await.unwrap()
        }
    };
    eventually(Duration::from_secs(10), "n2 holds the root", || async {
        all_messages_as(&m.nodes[1], "work", Some(&bob)).await.iter().any(|x| x["id"] == "r1")
    })
    .await;
    assert_eq!(share("n1-3".into(), "f0").await.status, 400);
    assert!(blobs(&m, 1).is_empty(), "a refused file is not kept");

    let posted = share(thread.clone(), "f1").await;
    let file = event(&posted);
    assert_eq!((&file["origin"], &file["seq"]), (&root["origin"], &root["seq"]), "{file}");
    let msg = posted.json()["msg"].clone();
    for node in &m.nodes {
        eventually(Duration::from_secs(10), &format!("{} holds the file in the thread", node.id()), || async {
            all_events_as(node, "work", Some(&alice)).await.iter().any(|x| {
                let e: Value = serde_json::from_str(x["body"].as_str().unwrap_or("{}")).unwrap_or_default();
                x["id"] == msg["id"] && e["event"] == "file" && e["origin"] == root["origin"] && e["seq"] == root["seq"]
            })
        })
        .await;
    }
    let (_, found) = api("GET", &m.nodes[0].url("/api/search?q=minutes"), Some(&alice), None).await;
    let hit = &found["results"][0];
    assert_eq!(hit["thread"], json!([root["origin"], root["seq"]]), "{found}");

    // Its delete names the thread, so clients keep the tombstone there.
    let del = json!({"id": "d1", "action": {"event": "deleted", "origin": msg["origin"], "seq": msg["seq"]}});
    let (status, deleted) = api("POST", &m.nodes[1].url("/api/rooms/work/actions"), Some(&bob), Some(del)).await;
    assert_eq!(status, 200, "{deleted}");
    let events = all_events_as(&m.nodes[1], "work", Some(&bob)).await;
    let stored = events.iter().find(|x| x["id"] == deleted["id"]).unwrap();
    let stored: Value = serde_json::from_str(stored["body"].as_str().unwrap()).unwrap();
    assert_eq!(stored["in_thread"], json!([root["origin"], root["seq"]]), "{stored}");
}

/// A file may be the first thing said in an open room, as a message may
/// (the nemesis found a file refused `404` by a node that had not yet
/// heard of the room a message had opened elsewhere); a room one may not
/// read stays unknown to an upload.
#[tokio::test]
async fn a_file_opens_a_new_room_as_a_message_does() {
    let dir = tempfile::tempdir().unwrap();
    let n = start_node_accounts("n1", &dir.path().join("n1"), 0, &[], None);
    let alice = token(&register(&n, "alice", "alice's password").await.1);
    let bob = token(&register(&n, "bob", "bob's own password").await.1);
    let posted = upload(&n, &alice, "fresh", "f1", "notes.txt", "text/plain", b"first words").await;
    assert_eq!(event(&posted)["name"], "notes.txt");
    let (s, page) = api("GET", &n.url("/api/rooms/fresh/messages"), Some(&bob), None).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["messages"].as_array().unwrap().len(), 1, "{page}");
    let private = json!({"room": "hidden", "title": "Hidden", "topic": "", "private": true});
    assert_eq!(api("POST", &n.url("/api/rooms"), Some(&alice), Some(private)).await.0, 201);
    let refused = upload(&n, &bob, "hidden", "f2", "x.txt", "text/plain", b"let me in").await;
    assert_eq!(refused.status, 404, "{}", refused.text());
}
