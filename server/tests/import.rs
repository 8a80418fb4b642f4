//! A room exported from one mesh and imported into another keeps its
//! history: the same authors, times, texts, replies, edits, reactions and
//! files, in the same order (exported again from the new mesh, it is the
//! same export but for where each message was first stored), on every node
//! of the new mesh. Only admins import, and only into a name nobody uses.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::*;
use meshchat::infra::http::request;
use serde_json::{Value, json};

async fn post(node: &NodeProc, tok: &str, path: &str, body: Value) -> Value {
    let (status, answer) = api("POST", &node.url(path), Some(tok), Some(body)).await;
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
    answer
}

async fn export(node: &NodeProc, tok: &str, room: &str) -> Vec<u8> {
    let auth = format!("Bearer {tok}");
    let url = node.url(&format!("/api/admin/rooms/{room}/export"));
    let r = request("GET", &url, &[("Authorization", &auth)], None).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.body
}

/// The export's lines as history: where each message was stored replaced
/// by its place in the export, so two meshes' exports compare.
fn history(zip: &[u8]) -> Vec<Value> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("messages.jsonl").unwrap(), &mut text).unwrap();
    let mut place: HashMap<(String, u64), usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        place.insert((v["origin"].as_str().unwrap().to_owned(), v["seq"].as_u64().unwrap()), i);
        let obj = v.as_object_mut().unwrap();
        obj.remove("origin");
        obj.remove("seq");
        if let Some(e) = obj.get_mut("event").and_then(Value::as_object_mut)
            && let (Some(o), Some(s)) = (e.remove("origin"), e.remove("seq"))
        {
            e.insert("target".into(), json!(place[&(o.as_str().unwrap().to_owned(), s.as_u64().unwrap())]));
        }
        out.push(v);
    }
    out
}

#[tokio::test]
async fn an_exported_room_imported_into_another_mesh_keeps_its_history() {
    let a = Mesh::start_accounts(2, &[]).await;
    let root = account_everywhere(&a, "root").await;
    let bob = account_everywhere(&a, "bob").await;
    let carol = account_everywhere(&a, "carol").await;
    let (n1, n2) = (&a.nodes[0], &a.nodes[1]);
    post(n1, &bob, "/api/rooms", json!({"room": "plans", "title": "Plans", "topic": "Q3", "private": false})).await;
    // Made on n1: acted on from n2 once it is there.
    room_everywhere(&a, &bob, "plans").await;
    let act = |node: &NodeProc, tok: &str, id: &str, action: Value| {
        let (url, tok, body) =
            (node.url("/api/rooms/plans/actions"), tok.to_owned(), json!({"id": id, "action": action}));
        async move {
            let (status, m) = api("POST", &url, Some(&tok), Some(body)).await;
            assert_eq!(status, 200, "{m}");
            m["msg"].clone()
        }
    };
    act(n2, &carol, "j", json!({"event": "joined"})).await;
    let first =
        post(n1, &bob, "/api/rooms/plans/messages", json!({"id": "m1", "body": "first words"})).await["msg"].clone();
    let at = |m: &Value| (m["origin"].clone(), m["seq"].clone());
    let (o, s) = at(&first);
    post(n2, &carol, "/api/rooms/plans/messages", json!({"id": "m2", "body": "second words"})).await;
    act(n2, &carol, "r1", json!({"event": "reply", "origin": o, "seq": s, "body": "a reply"})).await;
    act(n1, &bob, "e1", json!({"event": "edited", "origin": o, "seq": s, "body": "first words, edited"})).await;
    act(n2, &carol, "x1", json!({"event": "reacted", "origin": o, "seq": s, "emoji": "🎉", "on": true})).await;
    let gone =
        post(n1, &bob, "/api/rooms/plans/messages", json!({"id": "m3", "body": "taken back"})).await["msg"].clone();
    let (go, gs) = at(&gone);
    act(n1, &bob, "d1", json!({"event": "deleted", "origin": go, "seq": gs})).await;
    let auth = format!("Bearer {bob}");
    let url = n1.url("/api/rooms/plans/files?id=f1");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "text/plain"), ("X-File-Name", "notes.txt")];
    assert_eq!(request("POST", &url, &headers, Some(b"the plan's notes")).await.unwrap().status, 201);
    wait_converged_as(&[n1, n2], "plans", 6, Some(&bob)).await;
    let zip = export(n1, &root, "plans").await;
    let before = history(&zip);
    assert!(!serde_json::to_string(&before).unwrap().contains("taken back"), "an erased text is not exported");

    // Another mesh: its admin imports the room under the same name.
    let b = Mesh::start_accounts(2, &[]).await;
    let admin = account_everywhere(&b, "admin").await;
    let member = account_everywhere(&b, "member").await;
    let import = |tok: &str, room: &str| {
        let (url, auth) = (b.nodes[0].url(&format!("/api/admin/rooms/{room}/import")), format!("Bearer {tok}"));
        let zip = zip.clone();
        async move {
            let headers =
                [("Authorization", auth.as_str()), ("Content-Type", "application/zip"), ("X-File-Name", "plans.zip")];
            request("POST", &url, &headers, Some(&zip)).await.unwrap()
        }
    };
    assert_eq!(import(&member, "plans").await.status, 403, "admins only");
    let r = import(&admin, "plans").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let done: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        (done["messages"].as_u64(), done["files"].as_u64(), done["skipped"].as_u64()),
        (Some(before.len() as u64), Some(1), Some(0)),
        "{done}"
    );
    assert_eq!(import(&admin, "plans").await.status, 409, "not into a room that exists");
    let nodes: Vec<&NodeProc> = b.nodes.iter().collect();
    wait_converged_as(&nodes, "plans", 6, Some(&admin)).await;
    for node in &b.nodes {
        assert_eq!(history(&export(node, &admin, "plans").await), before, "{}", node.id());
    }
    let (_, info) = api("GET", &b.nodes[1].url("/api/rooms/plans"), Some(&admin), None).await;
    assert_eq!((info["title"].as_str(), info["topic"].as_str()), (Some("Plans"), Some("Q3")), "{info}");
}

/// A zip as an export makes it: `room.json` and these lines.
fn zip_of(lines: &[Value]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("room.json", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(b"{}").unwrap();
    zip.start_file("messages.jsonl", zip::write::SimpleFileOptions::default()).unwrap();
    for l in lines {
        zip.write_all(format!("{l}\n").as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[tokio::test]
async fn an_import_is_a_new_room_within_the_nodes_limits() {
    let dir = tempfile::tempdir().unwrap();
    let n = start_node_accounts("n1", &dir.path().join("n1"), 0, &["--max-rooms", "1"], None);
    let admin = token(&register(&n, "admin", "admin password").await.1);
    let created = json!({"room": "r", "author": "ann", "origin": "n9", "seq": 1, "ts": 1_000,
        "event": {"event": "created", "title": "", "topic": "", "private": false}, "admin": false, "own": false});
    let said = json!({"room": "r", "author": "ann", "origin": "n9", "seq": 2, "ts": 2_000, "id": "m1", "body": "hi"});
    let zip = zip_of(&[created, said]);
    let auth = format!("Bearer {admin}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/zip"), ("X-File-Name", "r.zip")];
    let r = request("POST", &n.url("/api/admin/rooms/r/import"), &headers, Some(&zip)).await.unwrap();
    assert_eq!(r.status, 429, "past the node's rooms: {}", r.text());
    assert_eq!(api("GET", &n.url("/api/rooms/r"), Some(&admin), None).await.0, 404, "no room made");
}
