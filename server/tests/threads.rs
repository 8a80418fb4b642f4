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
