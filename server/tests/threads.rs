//! Threads over a real 3-node mesh: a thread started on n1, replies from
//! n2 and n3 (one also sent to the room), n2 killed in the middle and its
//! person going on from n1; every node holds the same thread, search finds
//! a reply and says it is in a thread, and the root's delete leaves the
//! thread.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

async fn thread_reply(ws: &mut Client, id: &str, root: &Value, body: &str, also: bool) -> Value {
    let action = json!({"event": "reply", "origin": root["origin"], "seq": root["seq"], "body": body, "thread": true, "also": also});
    ws.send(json!({"type": "act", "room": "general", "id": id, "action": action})).await;
    ws.wait_for("ack").await
}

/// The thread replies to `root` a node holds: (author, text, also).
async fn thread_on(node: &NodeProc, root: &Value) -> Vec<(String, String, bool)> {
    let mut got: Vec<(String, String, bool)> = all_events_as(node, "general", None)
        .await
        .into_iter()
        .filter_map(|m| {
            let e: Value = serde_json::from_str(m["body"].as_str()?).ok()?;
            let ours = e["event"] == "reply"
                && e["thread"] == true
                && e["origin"] == root["origin"]
                && e["seq"] == root["seq"];
            ours.then(|| {
                (m["author"].as_str().unwrap().to_owned(), e["body"].as_str().unwrap().to_owned(), e["also"] == true)
            })
        })
        .collect();
    got.sort();
    got
}

#[tokio::test]
async fn a_thread_spans_the_mesh_through_a_failover_and_outlives_its_root() {
    let mut m = Mesh::start(3, &[]).await;
    let (mut alice, _) = Client::hello(&m.nodes[0].ws_url(), "alice").await;
    alice.join("general", None).await;
    let root = alice.say("general", "r1", "the deploy plan").await;

    let (mut bob, _) = Client::hello(&m.nodes[1].ws_url(), "bob").await;
    bob.join("general", None).await;
    thread_reply(&mut bob, "t1", &root, "looks good @carol", false).await;
    let (mut carol, _) = Client::hello(&m.nodes[2].ws_url(), "carol").await;
    carol.join("general", None).await;
    thread_reply(&mut carol, "t2", &root, "agreed, shipping", true).await;

    // n2 dies; bob goes on from n1 and replies again.
    m.nodes[1].kill9();
    let (mut bob, _) = Client::hello(&m.nodes[0].ws_url(), "bob").await;
    bob.join("general", None).await;
    thread_reply(&mut bob, "t3", &root, "one more thing", false).await;

    let want = vec![
        ("bob".to_owned(), "looks good @carol".to_owned(), false),
        ("bob".into(), "one more thing".into(), false),
        ("carol".into(), "agreed, shipping".into(), true),
    ];
    m.nodes[1].restart().unwrap();
    for node in &m.nodes {
        eventually(Duration::from_secs(20), "the whole thread on every node", || async {
            thread_on(node, &root).await == want
        })
        .await;
    }

    // Search finds a reply and names its thread.
    let (status, found) = api("GET", &m.nodes[2].url("/api/search?q=shipping"), None, None).await;
    assert_eq!(status, 200, "{found}");
    let hit = &found["results"][0];
    assert_eq!(hit["thread"], json!([root["origin"], root["seq"]]), "{found}");

    // The root deleted by its author: its text goes, the thread stays.
    let del = json!({"event": "deleted", "origin": root["origin"], "seq": root["seq"]});
    alice.send(json!({"type": "act", "room": "general", "id": "d1", "action": del})).await;
    alice.wait_for("ack").await;
    for node in &m.nodes {
        eventually(Duration::from_secs(10), "the root erased everywhere", || async {
            let msgs = all_messages_as(node, "general", None).await;
            msgs.iter().any(|x| x["id"] == "r1" && x["body"] != "the deploy plan")
        })
        .await;
        assert_eq!(thread_on(node, &root).await, want, "{}: the thread outlives its root", node.id());
    }
}

/// The people of a thread over a 3-node mesh, on the native client (its
/// real loop: rotation, resume, outbox): the root's author and someone a
/// reply names follow it; each has its unread replies and its notices
/// (news as a mention is), through the author's node killed; a thread read
/// marker clears one person's count and no other's; a moderator's delete
/// of the root leaves the thread followed.
#[tokio::test]
async fn followers_count_and_are_told_across_the_mesh_through_a_failover() {
    use meshchat::tools::client::{ClientConfig, ClientHandle, Snapshot};
    use meshchat_shared::rooms::RoomEvent;

    let mut m = Mesh::start_accounts(3, &[]).await;
    let admin = account_everywhere(&m, "admin").await; // the first account: the mesh's admin
    let (alice, bob, carol, dave) = (
        account_everywhere(&m, "alice").await,
        account_everywhere(&m, "bob").await,
        account_everywhere(&m, "carol").await,
        account_everywhere(&m, "dave").await,
    );
    let urls: Vec<String> = m.nodes.iter().map(NodeProc::ws_url).collect();
    let client = |name: &str, token: &str, first: usize| {
        let mut nodes = urls.clone();
        nodes.rotate_left(first);
        let config = ClientConfig {
            name: name.into(),
            token: Some(token.into()),
            nodes,
            rooms: vec!["general".into()],
            tls: meshchat::infra::tls::TlsClient::public(),
        };
        ClientHandle::start(config).0
    };
    let (on_alice, on_dave) = (client("alice", &alice, 0), client("dave", &dave, 2));
    // Both look at another room: what general gets is counted.
    on_alice.join("elsewhere");
    on_dave.join("elsewhere");
    // (thread root's seq, replies, unread), and (unread, mentions) in general.
    let seen = |s: Snapshot| {
        let threads: Vec<(u64, usize, usize)> = s.threads.iter().map(|f| (f.root.1, f.replies, f.unread)).collect();
        let counts = s.counts.iter().find(|c| c.0 == "general").map(|c| (c.1, c.2)).unwrap_or_default();
        (threads, counts)
    };

    on_alice.send("general", "the plan");
    let root = held(&m.nodes[0], &admin, "alice", "the plan").await;
    let seq = root["seq"].as_u64().unwrap();
    assert_eq!(thread_reply_on(&m.nodes[1], &bob, "b1", &root, "looks fine").await.0, 200);
    assert_eq!(thread_reply_on(&m.nodes[2], &carol, "c1", &root, "@dave can you check?").await.0, 200);
    // alice wrote the root: both replies are news to her (2 unread, both
    // told as mentions are). dave is named in the second: it is news to him
    // as a mention, the first (before he followed) is not, the root is news
    // (2 unread, 1 told as a mention); both replies count in his thread.
    eventually(Duration::from_secs(10), "both follow the thread", || async {
        seen(on_alice.snapshot().await) == (vec![(seq, 2, 2)], (2, 2))
            && seen(on_dave.snapshot().await) == (vec![(seq, 2, 2)], (2, 1))
    })
    .await;

    // alice's node dies; her client moves on; another reply reaches both.
    m.nodes[0].kill9();
    assert_eq!(thread_reply_on(&m.nodes[1], &bob, "b2", &root, "one more").await.0, 200);
    eventually(Duration::from_secs(20), "the third reply, alice on another node", || async {
        let s = on_alice.snapshot().await;
        s.node.as_deref().is_some_and(|n| n != "n1") && seen(s) == (vec![(seq, 3, 3)], (3, 3))
    })
    .await;
    eventually(Duration::from_secs(10), "dave's third", || async {
        seen(on_dave.snapshot().await) == (vec![(seq, 3, 3)], (3, 2))
    })
    .await;

    // alice reads the thread: her count goes, dave's stays.
    on_alice.act("general", RoomEvent::ReadThread { origin: root["origin"].as_str().unwrap().into(), seq });
    eventually(Duration::from_secs(10), "alice read it", || async {
        on_alice.snapshot().await.threads.iter().map(|f| f.unread).collect::<Vec<_>>() == [0]
    })
    .await;
    assert_eq!(seen(on_dave.snapshot().await).0, [(seq, 3, 3)]);

    // A moderator (the admin) deletes the root: the thread stays followed.
    let del = json!({"event": "deleted", "origin": root["origin"], "seq": root["seq"]});
    let (status, body) = api(
        "POST",
        &m.nodes[2].url("/api/rooms/general/actions"),
        Some(&admin),
        Some(json!({"id": "d1", "action": del})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for (who, c) in [("alice", &on_alice), ("dave", &on_dave)] {
        eventually(Duration::from_secs(10), &format!("{who}: the root deleted, the thread kept"), || async {
            let s = c.snapshot().await;
            s.threads.len() == 1 && s.threads[0].deleted && s.threads[0].replies == 3
        })
        .await;
    }
    m.nodes[0].restart().unwrap();
}

/// `author`'s message `body` in `node`'s general, once there (10 s).
async fn held(node: &NodeProc, token: &str, author: &str, body: &str) -> Value {
    for _ in 0..100 {
        let msgs = all_messages_as(node, "general", Some(token)).await;
        if let Some(m) = msgs.into_iter().find(|x| x["author"] == author && x["body"] == body) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{author}'s {body:?} not on {}", node.id());
}
