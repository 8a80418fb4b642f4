//! Search over real sockets on a 3-node mesh: a message is found on every
//! node, private rooms stay private, edits and deletes reach the index of
//! every node, and no query can use FTS5's syntax.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

async fn search(node: &NodeProc, token: Option<&str>, q: &str) -> (u16, Value) {
    let q: String = url_encode(q);
    api("GET", &node.url(&format!("/api/search?q={q}")), token, None).await
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The texts of the results, hits in brackets.
fn found(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| {
            r["parts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let t = p["text"].as_str().unwrap();
                    if p["hit"] == true { format!("[{t}]") } else { t.to_owned() }
                })
                .collect()
        })
        .collect()
}

/// Waits until `q` by `token` finds exactly `expect` on every node.
async fn everywhere(m: &Mesh, token: Option<&str>, q: &str, expect: &[&str]) {
    for node in &m.nodes {
        eventually(Duration::from_secs(10), &format!("{q:?} on {}", node.id()), || async {
            let (status, v) = search(node, token, q).await;
            status == 200 && found(&v) == expect
        })
        .await;
    }
}

async fn act(node: &NodeProc, token: &str, room: &str, id: &str, action: Value) -> u16 {
    let url = node.url(&format!("/api/rooms/{room}/actions"));
    api("POST", &url, Some(token), Some(json!({"id": id, "action": action}))).await.0
}

async fn post(node: &NodeProc, token: &str, room: &str, id: &str, body: &str) -> Value {
    let url = node.url(&format!("/api/rooms/{room}/messages"));
    let (status, v) = api("POST", &url, Some(token), Some(json!({"id": id, "body": body}))).await;
    assert!(status == 200 || status == 201, "{status} {v}");
    v["msg"].clone()
}

#[tokio::test]
async fn search_finds_what_each_reader_may_read_on_every_node_and_forgets_deleted_text() {
    let m = Mesh::start_accounts(3, &[]).await;
    let alice = account_everywhere(&m, "alice").await;
    let bob = account_everywhere(&m, "bob").await;
    for (room, private) in [("work", false), ("secret", true)] {
        let body = json!({"room": room, "private": private});
        assert_eq!(api("POST", &m.nodes[0].url("/api/rooms"), Some(&alice), Some(body)).await.0, 201);
    }
    let public = post(&m.nodes[0], &alice, "work", "w1", "the quarterly deploy is on Friday").await;
    post(&m.nodes[0], &alice, "secret", "s1", "secret launch codes: deploy at dawn").await;

    // Alice finds both, newest first, on every node; bob only the public one.
    everywhere(
        &m,
        Some(&alice),
        "deploy",
        &["secret launch codes: [deploy] at dawn", "the quarterly [deploy] is on Friday"],
    )
    .await;
    everywhere(&m, Some(&bob), "deploy", &["the quarterly [deploy] is on Friday"]).await;
    assert_eq!(search(&m.nodes[0], None, "deploy").await.0, 401, "this mesh takes no guests");
    everywhere(&m, Some(&bob), "launch codes", &[]).await;
    let (status, _) = search(&m.nodes[1], Some(&bob), "deploy in:secret").await;
    assert_eq!(status, 404, "a private room is not found for others");
    // Filters and phrases.
    everywhere(&m, Some(&alice), "deploy in:work from:alice", &["the quarterly [deploy] is on Friday"]).await;
    everywhere(&m, Some(&alice), "deploy from:bob", &[]).await;
    everywhere(&m, Some(&alice), "\"on friday\"", &["the quarterly deploy is [on Friday]"]).await;
    everywhere(&m, Some(&alice), "deploy before:1999-01-01", &[]).await;
    everywhere(&m, Some(&alice), "quart", &["the [quarterly] deploy is on Friday"]).await;

    // An edit replaces the text the index holds, on every node.
    let target = json!({"origin": public["origin"], "seq": public["seq"]});
    let mut edit = target.clone();
    edit["event"] = json!("edited");
    edit["body"] = json!("the quarterly release is on Friday");
    assert_eq!(act(&m.nodes[1], &alice, "work", "e1", edit).await, 200);
    everywhere(&m, Some(&bob), "release", &["the quarterly [release] is on Friday"]).await;
    everywhere(&m, Some(&bob), "deploy", &[]).await;

    // A delete takes the text out of every node's index.
    let mut del = target.clone();
    del["event"] = json!("deleted");
    assert_eq!(act(&m.nodes[2], &alice, "work", "d1", del).await, 200);
    everywhere(&m, Some(&alice), "quarterly", &[]).await;
    for i in 0..3 {
        let db = m.dir.path().join(format!("n{}", i + 1)).join("meshchat.db");
        let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let left: i64 =
            c.query_row("SELECT count(*) FROM search_content WHERE c0 LIKE '%quarterly%'", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0, "n{}: the index keeps a deleted text", i + 1);
    }

    // FTS5's syntax is text in a query, never a way in.
    for q in ["text:* OR NEAR(a b)", "\"unclosed", "deploy^ -x", "*", "AND OR NOT"] {
        let (status, v) = search(&m.nodes[0], Some(&alice), q).await;
        assert!(status == 200 || status == 400, "{q:?}: {status} {v}");
    }
}

/// The nodes' own rooms are nobody's to search: the account log (password
/// hashes, second factors, sessions) and people's pictures were found by
/// any member searching everywhere. They are not indexed, a data directory
/// that indexed them loses those rows at its next start, and no read path
/// takes a person into them.
#[tokio::test]
async fn the_nodes_own_rooms_are_never_found() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("n1");
    let mut n = start_node_accounts("n1", &data, 0, &[], None);
    let admin = token(&register(&n, "admin", "admin's password").await.1);
    let bob = token(&register(&n, "bob", "bob's password").await.1);
    let (status, _) = api("POST", &n.url("/api/2fa/setup"), Some(&admin), Some(json!({}))).await;
    assert_eq!(status, 200);
    let (status, _) = api("POST", &n.url("/api/profile"), Some(&admin), Some(json!({"status": "sessionless"}))).await;
    assert_eq!(status, 204);
    for q in ["argon2id", "created", "session", "two_factor", "profile", "sessionless", "meshchat"] {
        let (status, v) = search(&n, Some(&bob), q).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(found(&v), Vec::<String>::new(), "{q:?} found in the nodes' own rooms: {v}");
    }
    // No read path takes a person into them, an admin included.
    for path in ["/api/rooms/!accounts/messages", "/api/rooms/%21accounts/messages", "/api/rooms/!avatars"] {
        let (status, _) = api("GET", &n.url(path), Some(&admin), None).await;
        assert!(status == 400 || status == 404, "{path}: {status}");
    }

    // A data directory an older version indexed: its rows go at the next start.
    n.kill9();
    let db = data.join("meshchat.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute(
            "INSERT INTO search (rowid, text, room, author, ts, edit) VALUES (999999, 'argon2id leaked', '!accounts', 'meshchat', 0, '')",
            [],
        )
        .unwrap();
        c.execute("DELETE FROM meta WHERE key = 'search_without_system_rooms'", []).unwrap();
    }
    n.restart().unwrap();
    let (_, v) = search(&n, Some(&bob), "argon2id").await;
    assert_eq!(found(&v), Vec::<String>::new(), "{v}");
    n.kill9();
    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let left: i64 = c.query_row("SELECT count(*) FROM search WHERE room LIKE '!%'", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0, "the nodes' own rooms in the search index");
}
