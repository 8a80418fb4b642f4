//! Rooms that belong to people, over real sockets on a 3-node mesh:
//! private rooms no outsider can read by any path, removal and bans that
//! take effect on every node, moderators deleting messages, direct
//! messages across nodes and through a failover.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

async fn create(node: &NodeProc, token: &str, room: &str, private: bool) -> (u16, Value) {
    let body = json!({"room": room, "topic": "plans", "private": private});
    api("POST", &node.url("/api/rooms"), Some(token), Some(body)).await
}

async fn act(node: &NodeProc, token: &str, room: &str, id: &str, action: Value) -> (u16, Value) {
    let url = node.url(&format!("/api/rooms/{room}/actions"));
    api("POST", &url, Some(token), Some(json!({"id": id, "action": action}))).await
}

/// A signed-in WebSocket on `node`.
async fn ws(node: &NodeProc, token: &str) -> Client {
    let (c, welcome) = ws_with_token(node, token).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    c
}

/// Every way `token` could read `room` on `node`: each refused or empty.
async fn cannot_read(node: &NodeProc, token: &str, room: &str) {
    let who = node.id();
    let (status, body) = api("GET", &node.url(&format!("/api/rooms/{room}/messages")), Some(token), None).await;
    assert_eq!(status, 404, "{who}: messages: {body}");
    let (status, body) = api("GET", &node.url(&format!("/api/rooms/{room}/poll?timeout_s=0")), Some(token), None).await;
    assert_eq!(status, 404, "{who}: poll: {body}");
    let (status, body) = api("GET", &node.url(&format!("/api/rooms/{room}")), Some(token), None).await;
    assert_eq!(status, 404, "{who}: info: {body}");
    let (_, list) = api("GET", &node.url("/api/rooms"), Some(token), None).await;
    assert!(!list.to_string().contains(room), "{who}: the room list names it: {list}");
    let (_, dir) = api("GET", &node.url("/api/directory"), Some(token), None).await;
    assert!(!dir.to_string().contains(room), "{who}: the directory names it: {dir}");
    let (_, metrics) = http_text("GET", &node.url("/metrics"), None).await;
    assert!(!metrics.contains(room), "{who}: the metrics name it");
    let mut c = ws(node, token).await;
    c.send(json!({"type":"join","room":room})).await;
    let refused = c.wait_for("error").await;
    assert_eq!(refused["code"], "forbidden", "{who}: join: {refused}");
    c.send(json!({"type":"history","room":room})).await;
    let refused = c.wait_for("error").await;
    assert_eq!(refused["code"], "not_found", "{who}: history: {refused}");
}

#[tokio::test]
async fn a_private_room_is_read_by_its_members_only_by_every_path_on_every_node() {
    let m = Mesh::start_accounts(3, &[]).await;
    let alice = account_everywhere(&m, "alice").await;
    let bob = account_everywhere(&m, "bob").await;
    let carol = account_everywhere(&m, "carol").await;
    let (status, info) = create(&m.nodes[0], &alice, "secret-plans", true).await;
    assert_eq!(status, 201, "{info}");
    assert_eq!((info["private"].as_bool(), info["role"].as_str()), (Some(true), Some("owner")));
    // A second creation of the name, on another node, is refused.
    eventually(Duration::from_secs(5), "the room reaches n2", || async {
        create(&m.nodes[1], &bob, "secret-plans", false).await.0 == 409
    })
    .await;
    let mut a = ws(&m.nodes[0], &alice).await;
    a.join("secret-plans", None).await;
    a.say_busy("secret-plans", "s1", "the launch is on friday").await;
    let (status, _) =
        act(&m.nodes[0], &alice, "secret-plans", "inv-bob", json!({"event":"invited","user":"Bob"})).await;
    assert_eq!(status, 200);

    // Bob, on n3, is a member now: he reads and writes.
    let mut b = ws(&m.nodes[2], &bob).await;
    eventually(Duration::from_secs(5), "bob can read on n3", || async {
        api("GET", &m.nodes[2].url("/api/rooms/secret-plans"), Some(&bob), None).await.0 == 200
    })
    .await;
    let (_, backlog, _) = b.join("secret-plans", None).await;
    assert!(backlog.iter().any(|m| m["body"] == "the launch is on friday"), "{backlog:?}");
    let (_, mine) = api("GET", &m.nodes[2].url("/api/me/rooms"), Some(&bob), None).await;
    assert!(mine.to_string().contains("secret-plans"), "{mine}");
    // Carol cannot, on any node, by any path.
    for node in &m.nodes {
        cannot_read(node, &carol, "secret-plans").await;
    }

    // Alice removes bob on n1: his connection on n3 leaves the room.
    let t = Instant::now();
    let (status, _) =
        act(&m.nodes[0], &alice, "secret-plans", "kick-bob", json!({"event":"kicked","user":"bob","reason":"spam"}))
            .await;
    assert_eq!(status, 200);
    let removed = b.wait_for("removed").await;
    let took = t.elapsed();
    eprintln!("removal reached bob's connection on n3 in {took:?}");
    assert!(took < Duration::from_secs(5), "bound: 5 s, took {took:?}");
    assert_eq!(removed["room"], "secret-plans");
    b.send(json!({"type":"send","room":"secret-plans","id":"late","body":"still here?"})).await;
    let refused = b.wait_for("error").await;
    assert_eq!(refused["code"], "not_joined", "{refused}");
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "bob is out everywhere", || async {
            api("GET", &node.url("/api/rooms/secret-plans"), Some(&bob), None).await.0 == 404
        })
        .await;
        cannot_read(node, &bob, "secret-plans").await;
    }
    // The notice is part of the room, in words.
    let page = api("GET", &m.nodes[1].url("/api/rooms/secret-plans/messages"), Some(&alice), None).await.1;
    let bodies: Vec<&str> = page["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert!(bodies.contains(&"bob was removed by alice: spam"), "{bodies:?}");
}

#[tokio::test]
async fn bans_moderators_and_deleted_messages_hold_on_every_node() {
    let m = Mesh::start_accounts(3, &[]).await;
    let alice = account_everywhere(&m, "alice").await;
    let bob = account_everywhere(&m, "bob").await;
    let mallory = account_everywhere(&m, "mallory").await;
    assert_eq!(create(&m.nodes[0], &alice, "town-square", false).await.0, 201);
    // Anyone joins a public room: joining makes a member.
    let mut b = ws(&m.nodes[1], &bob).await;
    let mut x = ws(&m.nodes[2], &mallory).await;
    eventually(Duration::from_secs(5), "the room reaches n2 and n3", || async {
        let n2 = api("GET", &m.nodes[1].url("/api/rooms/town-square"), Some(&bob), None).await.0;
        let n3 = api("GET", &m.nodes[2].url("/api/rooms/town-square"), Some(&mallory), None).await.0;
        n2 == 200 && n3 == 200
    })
    .await;
    b.join("town-square", None).await;
    x.join("town-square", None).await;
    // The directory is the rooms' settings as the store keeps them: it
    // follows the room's governance a moment later (seen empty under load).
    eventually(Duration::from_secs(5), "n3's directory lists the room", || async {
        let (_, dir) = api("GET", &m.nodes[2].url("/api/directory?q=town"), Some(&mallory), None).await;
        dir["rooms"][0]["room"] == "town-square"
    })
    .await;
    // A member may not moderate.
    let (status, _) = act(&m.nodes[2], &mallory, "town-square", "coup", json!({"event":"banned","user":"alice"})).await;
    assert_eq!(status, 403);
    // Alice makes bob a moderator; bob deletes mallory's message and bans her.
    let role = json!({"event":"role","user":"bob","role":"moderator"});
    assert_eq!(act(&m.nodes[0], &alice, "town-square", "mod-bob", role).await.0, 200);
    let spam = x.say_busy("town-square", "spam-1", "buy cheap watches").await;
    let (origin, seq) = (spam["origin"].as_str().unwrap().to_owned(), spam["seq"].as_u64().unwrap());
    b.wait_for("message").await;
    eventually(Duration::from_secs(5), "bob is a moderator on n2", || async {
        let (_, info) = api("GET", &m.nodes[1].url("/api/rooms/town-square"), Some(&bob), None).await;
        info["role"] == "moderator"
    })
    .await;
    let del = json!({"event":"deleted","origin":origin,"seq":seq});
    assert_eq!(act(&m.nodes[1], &bob, "town-square", "del-1", del).await.0, 200);
    let deleted = x.wait_for("deleted").await;
    assert_eq!((deleted["origin"].as_str(), deleted["seq"].as_u64()), (Some(origin.as_str()), Some(seq)));
    // The text is gone from every node's storage, not only hidden.
    // (In the raw bytes of every file of its data directory: the WAL too.)
    for i in 0..m.nodes.len() {
        let data = m.dir.path().join(format!("n{}", i + 1));
        eventually(Duration::from_secs(5), "the text erased on disk", || async {
            files_holding(&data, "cheap watches").is_empty()
        })
        .await;
    }
    let ban = json!({"event":"banned","user":"mallory","reason":"spam"});
    assert_eq!(act(&m.nodes[1], &bob, "town-square", "ban-1", ban).await.0, 200);
    x.wait_for("removed").await;
    // Banned: she cannot come back, on any node; the deleted message is
    // gone from every node's history.
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "the ban and the deletion everywhere", || async {
            let page = api("GET", &node.url("/api/rooms/town-square/messages"), Some(&alice), None).await.1;
            let text = page.to_string();
            !text.contains("buy cheap watches") && text.contains("mallory was banned by bob: spam")
        })
        .await;
        let mut again = ws(node, &mallory).await;
        again.send(json!({"type":"join","room":"town-square"})).await;
        assert_eq!(again.wait_for("error").await["code"], "forbidden", "{}", node.id());
    }
}

#[tokio::test]
async fn direct_messages_across_nodes_and_through_a_failover() {
    let mut m = Mesh::start_accounts(3, &[]).await;
    let alice = account_everywhere(&m, "alice").await;
    let bob = account_everywhere(&m, "bob").await;
    let carol = account_everywhere(&m, "carol").await;
    let (status, dm) = api("POST", &m.nodes[0].url("/api/dm"), Some(&alice), Some(json!({"users":["Bob"]}))).await;
    assert_eq!(status, 200, "{dm}");
    let room = dm["room"].as_str().unwrap().to_owned();
    assert_eq!(dm["dm"], json!(["alice", "bob"]));
    // Started by bob on another node: the same conversation.
    eventually(Duration::from_secs(5), "bob finds the same room", || async {
        let (_, d) = api("POST", &m.nodes[1].url("/api/dm"), Some(&bob), Some(json!({"users":["alice"]}))).await;
        d["room"] == room.as_str()
    })
    .await;
    let mut a = ws(&m.nodes[0], &alice).await;
    let mut b = ws(&m.nodes[1], &bob).await;
    let (_, _, synced) = a.join(&room, None).await;
    b.join(&room, None).await;
    a.say(&room, "d1", "hi bob, just us").await;
    assert_eq!(b.wait_for("message").await["msg"]["body"], "hi bob, just us");
    for node in &m.nodes {
        cannot_read(node, &carol, &room).await;
    }
    // Alice's node dies; she resumes on n3 and nothing is lost.
    let since = synced["vector"].clone();
    m.nodes[0].kill9();
    b.say(&room, "d2", "are you still there?").await;
    let url = m.nodes[2].url(&format!("/api/rooms/{room}/messages"));
    eventually(Duration::from_secs(5), "n3 holds bob's message", || async {
        api("GET", &url, Some(&alice), None).await.1.to_string().contains("are you still there?")
    })
    .await;
    let mut a2 = ws(&m.nodes[2], &alice).await;
    let (_, backlog, _) = a2.join(&room, Some(since)).await;
    assert_eq!(
        backlog.iter().filter(|m| m["body"] == "are you still there?").count(),
        1,
        "exactly what she missed: {backlog:?}"
    );
    a2.say(&room, "d3", "yes, moved to n3").await;
    assert_eq!(b.wait_for("message").await["msg"]["body"], "yes, moved to n3");
    m.nodes[0].restart().unwrap();
}

/// Reads every body of `room` in node `i`'s SQLite file.
fn stored_bodies(m: &Mesh, i: usize, room: &str) -> Vec<String> {
    let db = m.dir.path().join(format!("n{}", i + 1)).join("meshchat.db");
    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st = c.prepare("SELECT body FROM messages WHERE room = ?1").unwrap();
    st.query_map([room], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

#[tokio::test]
async fn authors_edit_and_delete_their_own_messages_and_anyone_reacts() {
    let m = Mesh::start_accounts(3, &[]).await;
    let alice = account_everywhere(&m, "alice").await;
    let bob = account_everywhere(&m, "bob").await;
    assert_eq!(create(&m.nodes[0], &alice, "work", false).await.0, 201);
    let mut a = ws(&m.nodes[0], &alice).await;
    a.join("work", None).await;
    // Bob asks for room events as they are, to apply them himself.
    let mut b = Client::connect(&m.nodes[1].ws_url()).await;
    b.send(json!({"type":"hello","v":1,"token":bob,"events":true})).await;
    b.expect("welcome").await;
    eventually(Duration::from_secs(5), "the room reaches n2", || async {
        api("GET", &m.nodes[1].url("/api/rooms/work"), Some(&bob), None).await.0 == 200
    })
    .await;
    b.join("work", None).await;
    let mine = a.say_busy("work", "a1", "the plan is on tuesday").await;
    let (origin, seq) = (mine["origin"].as_str().unwrap().to_owned(), mine["seq"].as_u64().unwrap());
    let target = json!({"origin": origin, "seq": seq});
    let theirs = b.say_busy("work", "b1", "my secret draft").await;

    // Bob may not edit alice's message; alice may.
    let mut forged = target.clone();
    forged["event"] = json!("edited");
    forged["body"] = json!("the plan is cancelled");
    b.send(json!({"type":"act","room":"work","id":"e1","action":forged})).await;
    let refused = b.wait_for("error").await;
    assert_eq!((refused["code"].as_str(), refused["id"].as_str()), (Some("forbidden"), Some("§e1")), "{refused}");
    let mut edit = target.clone();
    edit["event"] = json!("edited");
    edit["body"] = json!("the plan is on wednesday");
    a.send(json!({"type":"act","room":"work","id":"e2","action":edit})).await;
    assert_eq!(a.wait_for("ack").await["id"], "§e2");
    // Bob gets the edit as it is: he applies it.
    let got = loop {
        let f = b.wait_for("message").await;
        if f["msg"]["id"] == "§e2" {
            break f;
        }
    };
    let event: Value = serde_json::from_str(got["msg"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(event["body"], "the plan is on wednesday");
    // Anyone in the room reacts.
    let mut react = target.clone();
    react["event"] = json!("reacted");
    react["emoji"] = json!("🎉");
    react["on"] = json!(true);
    b.send(json!({"type":"act","room":"work","id":"r1","action":react})).await;
    assert_eq!(b.wait_for("ack").await["id"], "§r1");
    // Bob deletes his own message: its text leaves every node's storage.
    let del = json!({"event":"deleted","origin":theirs["origin"],"seq":theirs["seq"]});
    b.send(json!({"type":"act","room":"work","id":"d1","action":del})).await;
    assert_eq!(b.wait_for("ack").await["id"], "§d1");
    for i in 0..3 {
        let data = m.dir.path().join(format!("n{}", i + 1));
        eventually(Duration::from_secs(5), "the text erased on every node", || async {
            !stored_bodies(&m, i, "work").is_empty() && files_holding(&data, "my secret draft").is_empty()
        })
        .await;
    }
    // A history page carries the room as it is: without `events`, notices.
    let page = api("GET", &m.nodes[2].url("/api/rooms/work/messages"), Some(&alice), None).await.1;
    let text = page.to_string();
    assert!(text.contains("alice edited a message") && text.contains("(message deleted)"), "{text}");
    assert!(!text.contains("my secret draft"));
}
