//! One node over real WebSockets on 127.0.0.1: the client protocol.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

fn node(extra: &[&str]) -> (tempfile::TempDir, NodeProc) {
    let dir = tempfile::tempdir().unwrap();
    let n = start_node("n1", &dir.path().join("n1"), 0, extra);
    (dir, n)
}

#[tokio::test]
async fn two_clients_chat_both_ways() {
    let (_d, n) = node(&[]);
    let (mut alice, welcome) = Client::hello(&n.ws_url(), "alice").await;
    assert_eq!(welcome["node"], "n1");
    assert_eq!(welcome["name"], "alice");
    assert_eq!(welcome["v"], 1);
    assert_eq!(welcome["nodes"][0]["url"], n.ws_url());
    let (mut bob, _) = Client::hello(&n.ws_url(), "bob").await;
    let (members, backlog, synced) = alice.join("general", None).await;
    assert_eq!(members, ["alice"]);
    assert!(backlog.is_empty());
    assert_eq!(synced["gap"], false);
    let (members, _, _) = bob.join("general", None).await;
    assert_eq!(members, ["alice", "bob"]);

    let sent = alice.say("general", "a1", "hi bob").await;
    assert_eq!(sent["author"], "alice");
    assert_eq!((sent["origin"].as_str(), sent["seq"].as_u64()), (Some("n1"), Some(1)));
    assert_eq!(sent["vc"], json!({"n1":1}));
    let got = bob.expect("message").await;
    assert_eq!(got["msg"], sent);

    let reply = bob.say("general", "b1", "hi alice").await;
    assert_eq!(alice.expect("message").await["msg"], reply);
    assert!(reply["ts"].as_u64() > sent["ts"].as_u64());
    // The sender gets its ack, never a copy of its own message.
    assert!(alice.try_recv(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn backlog_is_the_latest_fifty_or_exactly_what_since_lacks() {
    let (_d, n) = node(&["--catchup-limit", "100"]);
    let (mut alice, _) = Client::hello(&n.ws_url(), "alice").await;
    alice.join("r", None).await;
    let mut sent = Vec::new();
    for i in 0..60 {
        sent.push(alice.say("r", &format!("m{i}"), &format!("message {i}")).await);
    }
    let (mut bob, _) = Client::hello(&n.ws_url(), "bob").await;
    let (_, backlog, synced) = bob.join("r", None).await;
    assert_eq!(backlog, sent[10..]);
    assert_eq!(synced["vector"], json!({"n1":60}));
    assert_eq!(synced["gap"], false);

    // Resume from seq 55: exactly the five after it.
    let (mut carol, _) = Client::hello(&n.ws_url(), "carol").await;
    let (_, backlog, synced) = carol.join("r", Some(json!({"n1":55}))).await;
    assert_eq!(backlog, sent[55..]);
    assert_eq!((synced["vector"].clone(), synced["gap"].clone()), (json!({"n1":60}), json!(false)));
    // Up to date: nothing.
    let (_, backlog, _) = carol.join("r", Some(json!({"n1":60}))).await;
    assert!(backlog.is_empty());
    // From the beginning, within the catch-up limit: all sixty, in order.
    let (mut dave, _) = Client::hello(&n.ws_url(), "dave").await;
    let (_, backlog, synced) = dave.join("r", Some(json!({}))).await;
    assert_eq!(backlog, sent);
    assert_eq!(synced["gap"], false);
}

#[tokio::test]
async fn a_resume_past_the_catch_up_limit_gets_the_latest_and_gap() {
    let (_d, n) = node(&["--catchup-limit", "20"]);
    let (mut alice, _) = Client::hello(&n.ws_url(), "alice").await;
    alice.join("r", None).await;
    let mut sent = Vec::new();
    for i in 0..80 {
        sent.push(alice.say("r", &format!("m{i}"), "x").await);
    }
    let (mut bob, _) = Client::hello(&n.ws_url(), "bob").await;
    let (_, backlog, synced) = bob.join("r", Some(json!({"n1":10}))).await;
    assert_eq!(synced["gap"], true);
    assert_eq!(backlog, sent[30..]);
    assert_eq!(synced["vector"], json!({"n1":80}));
}

#[tokio::test]
async fn a_resume_ahead_of_the_node_is_not_sent_again() {
    // A client that resumes with more than this node has (it came from a
    // node that was ahead) holds the union; nothing it has is resent.
    let (_d, n) = node(&[]);
    let (mut alice, _) = Client::hello(&n.ws_url(), "alice").await;
    alice.join("r", None).await;
    alice.say("r", "a1", "one").await;
    let (mut bob, _) = Client::hello(&n.ws_url(), "bob").await;
    let (_, backlog, synced) = bob.join("r", Some(json!({"n1":1,"n9":4}))).await;
    assert!(backlog.is_empty());
    assert_eq!(synced["vector"], json!({"n1":1,"n9":4}));
    let m = alice.say("r", "a2", "two").await;
    assert_eq!(bob.expect("message").await["msg"], m);
}

#[tokio::test]
async fn a_repeated_send_is_acked_with_the_original_and_stored_once() {
    let (_d, n) = node(&[]);
    let (mut alice, _) = Client::hello(&n.ws_url(), "alice").await;
    let (mut bob, _) = Client::hello(&n.ws_url(), "bob").await;
    alice.join("r", None).await;
    bob.join("r", None).await;
    let first = alice.say("r", "same-id", "first").await;
    assert_eq!(bob.expect("message").await["msg"], first);
    let again = alice.say("r", "same-id", "second body, same id").await;
    assert_eq!(again, first);
    // On a fresh connection too (a client that reconnected and resent).
    let (mut alice2, _) = Client::hello(&n.ws_url(), "alice").await;
    alice2.join("r", None).await;
    assert_eq!(alice2.say("r", "same-id", "third").await, first);
    // Nobody saw a second message, and the room holds one.
    assert!(bob.try_recv(Duration::from_millis(300)).await.is_none());
    let (_, page) = http_get(&n.url("/api/rooms/r/messages")).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    // The same id from another author is another message.
    let other = bob.say("r", "same-id", "bob's own").await;
    assert_eq!(other["seq"], 2);
}

#[tokio::test]
async fn idempotency_holds_beyond_the_cache_and_across_a_restart() {
    let (_d, mut n) = node(&["--rate", "100000", "--burst", "100000"]);
    let (mut alice, _) = Client::hello(&n.ws_url(), "alice").await;
    alice.join("r", None).await;
    let first = alice.say("r", "old", "the oldest").await;
    // Push it out of the room's in-memory cache (256 messages).
    for i in 0..300 {
        alice.send(json!({"type":"send","room":"r","id":format!("f{i}"),"body":"filler"})).await;
    }
    for _ in 0..300 {
        alice.expect("ack").await;
    }
    assert_eq!(alice.say("r", "old", "again").await, first);
    drop(alice);
    n.terminate();
    n.restart().unwrap();
    let (mut alice, _) = Client::hello(&n.ws_url(), "alice").await;
    alice.join("r", None).await;
    assert_eq!(alice.say("r", "old", "after restart").await, first);
}

#[tokio::test]
async fn history_pages_back_to_the_beginning() {
    let (_d, n) = node(&[]);
    let (mut alice, _) = Client::hello(&n.ws_url(), "alice").await;
    alice.join("r", None).await;
    let mut sent = Vec::new();
    for i in 0..45 {
        sent.push(alice.say("r", &format!("m{i}"), &format!("{i}")).await);
    }
    let mut seen: Vec<Value> = Vec::new();
    let mut before: Option<Value> = None;
    let mut pages = 0;
    loop {
        let mut f = json!({"type":"history","room":"r","limit":20});
        if let Some(b) = &before {
            f["before"] = b.clone();
        }
        alice.send(f).await;
        let h = alice.expect("history").await;
        pages += 1;
        let msgs = h["messages"].as_array().unwrap().clone();
        assert!(msgs.windows(2).all(|w| key(&w[0]) < key(&w[1])), "ascending");
        before = msgs.first().map(|m| json!({"ts":m["ts"],"origin":m["origin"],"seq":m["seq"]}));
        seen.splice(0..0, msgs);
        if h["more"] == false {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, sent);
    // Default limit is 50; history does not need a join.
    let (mut bob, _) = Client::hello(&n.ws_url(), "bob").await;
    bob.send(json!({"type":"history","room":"r"})).await;
    let h = bob.expect("history").await;
    assert_eq!(h["messages"].as_array().unwrap().len(), 45);
    assert_eq!(h["more"], false);
}

#[tokio::test]
async fn presence_counts_a_name_with_two_tabs_once() {
    let (_d, n) = node(&["--presence-grace-ms", "1500"]);
    let (mut watcher, _) = Client::hello(&n.ws_url(), "watcher").await;
    watcher.join("r", None).await;
    let (mut tab1, _) = Client::hello(&n.ws_url(), "bob").await;
    tab1.join("r", None).await;
    let p = watcher.expect("presence").await;
    assert_eq!((p["room"].as_str(), p["name"].as_str(), p["online"].as_bool()), (Some("r"), Some("bob"), Some(true)));
    let (mut tab2, _) = Client::hello(&n.ws_url(), "bob").await;
    let (members, _, _) = tab2.join("r", None).await;
    assert_eq!(members, ["bob", "watcher"]);
    // The second tab changes nothing for others.
    assert!(watcher.try_recv(Duration::from_millis(300)).await.is_none());
    // Closing one tab: still online.
    drop(tab1);
    assert!(watcher.try_recv(Duration::from_millis(500)).await.is_none());
    // Leaving with the last one: offline, once.
    tab2.send(json!({"type":"leave","room":"r"})).await;
    let p = watcher.recv().await;
    assert_eq!(
        (p["type"].as_str(), p["name"].as_str(), p["online"].as_bool()),
        (Some("presence"), Some("bob"), Some(false))
    );
    let (_, rooms) = http_get(&n.url("/api/rooms")).await;
    assert_eq!(rooms["rooms"][0]["members"], 1);
    // A connection that ends without leaving: carol lingers for the grace,
    // and back by then (a phone changing networks) nobody hears a thing.
    let (mut carol, _) = Client::hello(&n.ws_url(), "carol").await;
    carol.join("r", None).await;
    assert_eq!(watcher.expect("presence").await["online"], true);
    drop(carol);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut carol, _) = Client::hello(&n.ws_url(), "carol").await;
    carol.join("r", None).await;
    assert!(watcher.try_recv(Duration::from_millis(2_000)).await.is_none(), "carol never seemed to go");
    // Gone for good: offline once the grace is over, and not before.
    drop(carol);
    assert!(watcher.try_recv(Duration::from_millis(1_000)).await.is_none(), "offline only after the grace");
    let p = watcher.expect("presence").await;
    assert_eq!((p["name"].as_str(), p["online"].as_bool()), (Some("carol"), Some(false)));
}

#[tokio::test]
async fn typing_reaches_the_others_not_the_sender() {
    let (_d, n) = node(&[]);
    let (mut alice, _) = Client::hello(&n.ws_url(), "alice").await;
    let (mut alice_tab, _) = Client::hello(&n.ws_url(), "alice").await;
    let (mut bob, _) = Client::hello(&n.ws_url(), "bob").await;
    alice.join("r", None).await;
    alice_tab.join("r", None).await;
    bob.join("r", None).await;
    alice.try_recv(Duration::from_millis(200)).await; // bob's presence
    alice_tab.try_recv(Duration::from_millis(200)).await;
    alice.send(json!({"type":"typing","room":"r"})).await;
    let t = bob.expect("typing").await;
    assert_eq!((t["room"].as_str(), t["name"].as_str()), (Some("r"), Some("alice")));
    assert!(alice.try_recv(Duration::from_millis(300)).await.is_none());
    assert!(alice_tab.try_recv(Duration::from_millis(100)).await.is_none());
    // Typing in a room not joined is refused.
    bob.send(json!({"type":"typing","room":"elsewhere"})).await;
    assert_eq!(bob.expect_error().await.0, "not_joined");
}

#[tokio::test]
async fn every_error_code() {
    let (_d, n) = node(&["--rate", "5", "--burst", "12", "--room-mailbox", "1"]);
    let mut c = Client::connect(&n.ws_url()).await;
    c.send_raw(WsMessage::text("not json")).await;
    assert_eq!(c.expect_error().await.0, "bad_frame");
    c.send(json!({"type":"join","room":"r"})).await;
    assert_eq!(c.expect_error().await.0, "no_hello");
    c.send(json!({"type":"hello","v":7,"name":"x"})).await;
    assert_eq!(c.expect_error().await.0, "unsupported_version");
    c.send(json!({"type":"hello","v":1,"name":"x"})).await;
    c.expect("welcome").await;
    c.send(json!({"type":"join","room":"No Caps"})).await;
    assert_eq!(c.expect_error().await.0, "invalid");
    c.send(json!({"type":"send","room":"r","id":"s1","body":"hi"})).await;
    assert_eq!(c.expect_error().await, ("not_joined".into(), Some("s1".into())));
    c.send(json!({"type":"leave","room":"r"})).await;
    assert_eq!(c.expect_error().await.0, "not_joined");

    // Overload: a room whose mailbox holds one command refuses a burst.
    c.join("busy", None).await;
    for i in 0..5 {
        c.send(json!({"type":"send","room":"busy","id":format!("b{i}"),"body":"x"})).await;
    }
    let mut unavailable = Vec::new();
    let mut acked = 0;
    let mut rate_limited = Vec::new();
    while acked + unavailable.len() + rate_limited.len() < 5 {
        let f = c.recv().await;
        match (f["type"].as_str(), f["code"].as_str()) {
            (Some("ack"), _) => acked += 1,
            (Some("error"), Some("unavailable")) => unavailable.push(f["id"].as_str().unwrap().to_owned()),
            (Some("error"), Some("rate_limited")) => rate_limited.push(f["id"].as_str().unwrap().to_owned()),
            _ => panic!("unexpected {f}"),
        }
    }
    assert!(acked >= 1 && !unavailable.is_empty(), "acked {acked}, unavailable {unavailable:?}");

    // The rate limit: a flood is refused with the send's id.
    for i in 0..20 {
        c.send(json!({"type":"send","room":"busy","id":format!("r{i}"),"body":"x"})).await;
        tokio::task::yield_now().await;
    }
    let mut seen_limited = false;
    while let Some(f) = c.try_recv(Duration::from_millis(500)).await {
        if f["code"] == "rate_limited" {
            assert!(f["id"].as_str().unwrap().starts_with('r'));
            seen_limited = true;
        }
    }
    assert!(seen_limited);
    assert!(metric(&n, "meshchat_errors_total").await >= 1);
}

#[tokio::test]
async fn field_rules_are_enforced_with_invalid() {
    let (_d, n) = node(&[]);
    let (mut c, _) = Client::hello(&n.ws_url(), "alice").await;
    c.join("r", None).await;
    let cases = [
        json!({"type":"send","room":"r","id":"1","body":"x".repeat(4001)}),
        json!({"type":"send","room":"r","id":"1","body":" \n\t "}),
        json!({"type":"send","room":"r","id":"","body":"hi"}),
        json!({"type":"send","room":"r","id":"x".repeat(65),"body":"hi"}),
        json!({"type":"send","room":"r","id":"ü","body":"hi"}),
        json!({"type":"join","room":"x".repeat(49)}),
        json!({"type":"join","room":"r","since":{"N1":3}}),
        json!({"type":"history","room":"r","limit":0}),
        json!({"type":"history","room":"r","limit":201}),
    ];
    for f in cases {
        c.send(f.clone()).await;
        assert_eq!(c.expect_error().await.0, "invalid", "{f}");
    }
    // 4000 characters of four bytes each is within the limit.
    let m = c.say("r", "emoji", &"🦀".repeat(4000)).await;
    assert_eq!(m["body"].as_str().unwrap().chars().count(), 4000);
    // Bodies are verbatim.
    let html = c.say("r", "html", "<script>alert(1)</script>\n  two lines  ").await;
    assert_eq!(html["body"], "<script>alert(1)</script>\n  two lines  ");
    // Names count characters: 32 of them is fine, 33 is not.
    let (_, w) = Client::hello(&n.ws_url(), &"é".repeat(32)).await;
    assert_eq!(w["name"], "é".repeat(32));
    let mut c2 = Client::connect(&n.ws_url()).await;
    c2.send(json!({"type":"hello","v":1,"name":"é".repeat(33)})).await;
    assert_eq!(c2.expect_error().await.0, "invalid");
    c2.send(json!({"type":"hello","v":1,"name":"tab\there"})).await;
    assert_eq!(c2.expect_error().await.0, "invalid");
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_with_1009() {
    let (_d, n) = node(&[]);
    let (mut c, _) = Client::hello(&n.ws_url(), "alice").await;
    // Exactly 64 KiB is still a frame (answered: the body is too long).
    let head = r#"{"type":"send","room":"r","id":"1","body":""#;
    let pad = 64 * 1024 - head.len() - 2;
    let exact = format!("{head}{}\"}}", "x".repeat(pad));
    assert_eq!(exact.len(), 64 * 1024);
    c.send_raw(WsMessage::text(exact)).await;
    assert_eq!(c.expect_error().await.0, "invalid");
    c.send_raw(WsMessage::text("x".repeat(64 * 1024 + 1))).await;
    assert_eq!(c.close_code().await, Some(1009));
    // The node is fine.
    let (status, _) = http_get(&n.url("/api/health")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_not_buffered() {
    let args = ["--queue", "16", "--rate", "100000", "--burst", "100000", "--presence-grace-ms", "500"];
    let (_d, n) = node(&args);
    let (mut slow, _) = Client::hello(&n.ws_url(), "slow").await;
    slow.join("r", None).await;
    let (mut fast, _) = Client::hello(&n.ws_url(), "fast").await;
    fast.join("r", None).await;
    // `slow` reads nothing from here on. Big bodies fill the socket buffers.
    let body = "x".repeat(3900);
    let mut sent = 0;
    // `fast` reads its acks as it goes: it is a well-behaved client.
    while metric(&n, "meshchat_slow_disconnects_total").await == 0 {
        assert!(sent < 20_000, "never disconnected");
        for _ in 0..25 {
            for _ in 0..8 {
                fast.send(json!({"type":"send","room":"r","id":format!("m{sent}"),"body":body})).await;
                sent += 1;
            }
            for _ in 0..8 {
                fast.expect("ack").await;
            }
        }
    }
    // The sender never stalled, and the slow client's stream ends.
    let mut frames = 0;
    while slow.try_recv(Duration::from_secs(5)).await.is_some() {
        frames += 1;
    }
    assert!(frames < sent, "read {frames} of {sent}");
    // Gone once the presence grace is over (it might have come back).
    eventually(Duration::from_secs(5), "slow left the room", || async {
        http_get(&n.url("/api/rooms")).await.1["rooms"][0]["members"] == 1
    })
    .await;
}

#[tokio::test]
async fn sigterm_closes_clients_with_1012_and_exits_cleanly() {
    let (_d, mut n) = node(&[]);
    let (mut c, _) = Client::hello(&n.ws_url(), "alice").await;
    c.join("r", None).await;
    c.say("r", "1", "before stop").await;
    n.signal("TERM");
    assert_eq!(c.close_code().await, Some(1012));
    let status = n.wait_exit(Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");
    n.restart().unwrap();
    let (_, page) = http_get(&n.url("/api/rooms/r/messages")).await;
    assert_eq!(page["messages"][0]["body"], "before stop");
}
