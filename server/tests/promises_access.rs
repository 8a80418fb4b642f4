//! Who may do what, tried on the paths next to those the other tests
//! check (an attack found each of these open): a shared file through a
//! forged `file` action over HTTP, a direct conversation's name taken
//! before its people start it, an open room taken over by creating it,
//! sign-in and password guesses sent at once, API tokens without end, file
//! names that show as another name, refusals a client cannot match to its
//! request, and a room one may read missing from one's room list.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use meshchat::infra::http::request;
use serde_json::json;

async fn upload(node: &NodeProc, token: &str, room: &str, id: &str, name: &str, body: &[u8]) -> (u16, String) {
    let url = node.url(&format!("/api/rooms/{room}/files?id={id}"));
    let auth = format!("Bearer {token}");
    let name: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/pdf"), ("X-File-Name", &name)];
    let r = request("POST", &url, &headers, Some(body)).await.unwrap();
    (r.status, r.text())
}

async fn fetch_file(node: &NodeProc, token: &str, room: &str, hash: &str) -> u16 {
    let auth = format!("Bearer {token}");
    let url = node.url(&format!("/api/rooms/{room}/files/{hash}"));
    request("GET", &url, &[("Authorization", auth.as_str())], None).await.unwrap().status
}

#[tokio::test]
async fn a_private_rooms_file_cannot_be_shared_by_naming_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &[], None);
    let alice = token(&register(&node, "alice", "alice password").await.1);
    let mallory = token(&register(&node, "mallory", "mallory password").await.1);
    let secret = json!({"room": "secret", "private": true});
    assert_eq!(api("POST", &node.url("/api/rooms"), Some(&alice), Some(secret)).await.0, 201);
    let (status, posted) = upload(&node, &alice, "secret", "f1", "plans.pdf", b"the private plans").await;
    assert_eq!(status, 201, "{posted}");
    let posted: serde_json::Value = serde_json::from_str(&posted).unwrap();
    let event: serde_json::Value = serde_json::from_str(posted["msg"]["body"].as_str().unwrap()).unwrap();
    let hash = event["hash"].as_str().unwrap();
    // Mallory's own room, and a `file` action naming alice's bytes.
    assert_eq!(api("POST", &node.url("/api/rooms"), Some(&mallory), Some(json!({"room": "mine"}))).await.0, 201);
    let forged = json!({"id": "x1", "action": {"event": "file", "hash": hash, "name": "plans.pdf", "size": 17,
        "type": "application/pdf"}});
    let (status, err) = api("POST", &node.url("/api/rooms/mine/actions"), Some(&mallory), Some(forged)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid")), "{err}");
    assert_eq!(fetch_file(&node, &mallory, "mine", hash).await, 404, "the bytes are not mallory's to serve");
    assert_eq!(fetch_file(&node, &mallory, "secret", hash).await, 404);
    // Over the WebSocket, the same rule (the same function).
    let (mut ws, _) = ws_with_token(&node, &mallory).await;
    ws.join("mine", None).await;
    let forged = json!({"type": "act", "room": "mine", "id": "x2", "action": {"event": "file", "hash": hash,
        "name": "plans.pdf", "size": 17, "type": "application/pdf"}});
    ws.send(forged).await;
    assert_eq!(ws.expect_error().await, ("invalid".to_owned(), Some("§x2".to_owned())));
}

#[tokio::test]
async fn a_direct_conversation_belongs_to_its_people_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &[], None);
    let carol = token(&register(&node, "carol", "carol password").await.1);
    register(&node, "dave", "dave password").await;
    let mallory = token(&register(&node, "mallory", "mallory password").await.1);
    let room = meshchat_shared::rooms::dm_room(&["carol".into(), "dave".into()]);
    // Created as mallory's own room (public or private): refused.
    for private in [false, true] {
        let body = json!({"room": room, "private": private});
        let (status, err) = api("POST", &node.url("/api/rooms"), Some(&mallory), Some(body)).await;
        assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid")), "{err}");
    }
    // Used as an open room: nobody may join or post there before the conversation starts.
    let (mut ws, _) = ws_with_token(&node, &mallory).await;
    ws.send(json!({"type": "join", "room": room})).await;
    assert_eq!(ws.expect_error().await.0, "forbidden");
    let post = json!({"id": "m1", "body": "waiting for you"});
    let (status, _) = api("POST", &node.url(&format!("/api/rooms/{room}/messages")), Some(&mallory), Some(post)).await;
    assert!(status == 403 || status == 404, "{status}");
    // Carol starts it: the room is hers and dave's, and mallory reads nothing.
    let (status, info) = api("POST", &node.url("/api/dm"), Some(&carol), Some(json!({"users": ["dave"]}))).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!((info["room"].as_str(), info["dm"].clone()), (Some(room.as_str()), json!(["carol", "dave"])));
    let post = json!({"id": "c1", "body": "just between us"});
    assert_eq!(api("POST", &node.url(&format!("/api/rooms/{room}/messages")), Some(&carol), Some(post)).await.0, 200);
    let (status, _) = api("GET", &node.url(&format!("/api/rooms/{room}/messages")), Some(&mallory), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_open_room_in_use_cannot_be_created_over() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &[], None);
    let bob = token(&register(&node, "bob", "bob password").await.1);
    let mallory = token(&register(&node, "mallory", "mallory password").await.1);
    let post = json!({"id": "b1", "body": "morning all"});
    assert_eq!(api("POST", &node.url("/api/rooms/general/messages"), Some(&bob), Some(post)).await.0, 200);
    let take = json!({"room": "general", "private": true});
    let (status, err) = api("POST", &node.url("/api/rooms"), Some(&mallory), Some(take)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("name_taken")), "{err}");
    let (status, page) = api("GET", &node.url("/api/rooms/general/messages"), Some(&bob), None).await;
    assert_eq!((status, page["messages"].as_array().unwrap().len()), (200, 1));
}

#[tokio::test]
async fn guesses_sent_at_once_are_counted_before_they_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &[], None);
    let alice = token(&register(&node, "alice", "alice password").await.1);
    // Forty wrong sign-ins for one name at once: ten are checked (then one a minute).
    let url = node.url("/api/login");
    let tries =
        (0..40).map(|i| {
            let url = url.clone();
            async move {
                api("POST", &url, None, Some(json!({"name": "alice", "password": format!("guess {i:04}")}))).await.0
            }
        });
    let statuses = futures_util::future::join_all(tries).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(checked + statuses.iter().filter(|s| **s == 429).count(), 40, "{statuses:?}");
    assert!(checked <= 10, "{checked} guesses were checked: {statuses:?}");
    // A stolen session guessing the password: five, then it waits.
    let url = node.url("/api/password");
    let tries = (0..25).map(|i| {
        let (url, alice) = (url.clone(), alice.clone());
        async move {
            let body = json!({"old": format!("guess {i:04}"), "new": "a new password"});
            api("POST", &url, Some(&alice), Some(body)).await.0
        }
    });
    let statuses = futures_util::future::join_all(tries).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= 5 && statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
}

/// Makes `tries` tokens for `token` as fast as they are answered: (made, codes of the refusals).
async fn make_tokens(node: &NodeProc, token: &str, tries: usize) -> (usize, Vec<String>) {
    let mut made = 0;
    let mut refused = Vec::new();
    for i in 0..tries {
        let body = json!({"label": format!("bot {i}")});
        match api("POST", &node.url("/api/tokens"), Some(token), Some(body)).await {
            (200 | 201, _) => made += 1,
            (429, e) => refused.push(e["error"]["code"].as_str().unwrap().to_owned()),
            (other, e) => panic!("{other}: {e}"),
        }
    }
    (made, refused)
}

#[tokio::test]
async fn api_tokens_are_bounded_per_account() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &[], None);
    let alice = token(&register(&node, "alice", "alice password").await.1);
    // Three hundred as fast as they go: ten, then one every six minutes.
    let (made, refused) = make_tokens(&node, &alice, 300).await;
    assert_eq!(made, 10);
    assert!(refused.iter().all(|c| c == "rate_limited"), "{refused:?}");
    let (_, listed) = api("GET", &node.url("/api/tokens"), Some(&alice), None).await;
    assert_eq!(listed["tokens"].as_array().unwrap().len(), made);
    // Where an operator lets people make more at once, fifty live ones at most.
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &["--tokens-at-once", "100"], None);
    let bob = token(&register(&node, "bob", "bob password").await.1);
    let (made, refused) = make_tokens(&node, &bob, 60).await;
    assert_eq!(made, meshchat::accounts::MAX_TOKENS);
    assert!(refused.len() == 10 && refused.iter().all(|c| c == "limit_reached"), "{refused:?}");
}

#[tokio::test]
async fn a_file_name_shows_as_itself_or_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &[], None);
    let alice = token(&register(&node, "alice", "alice password").await.1);
    let hello = json!({"id": "m1", "body": "the room begins"});
    assert_eq!(api("POST", &node.url("/api/rooms/general/messages"), Some(&alice), Some(hello)).await.0, 200);
    for name in ["invoice\u{202e}gnp.exe", "report\u{200b}.pdf", "a\u{2066}b.txt", "bell\u{7}.txt"] {
        let (status, err) = upload(&node, &alice, "general", "f1", name, b"x").await;
        assert_eq!(status, 400, "{name:?}: {err}");
    }
    let (status, posted) = upload(&node, &alice, "general", "f2", "👩‍💻 notes.txt", b"x").await;
    assert_eq!(status, 201, "an emoji joined by a zero-width joiner is a name: {posted}");
}

#[tokio::test]
async fn every_refusal_of_a_send_or_act_names_its_request() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &["--rate", "2", "--burst", "4"], None);
    let alice = token(&register(&node, "alice", "alice password").await.1);
    let (mut ws, _) = ws_with_token(&node, &alice).await;
    ws.join("general", None).await;
    let m = ws.say("general", "m1", "hello").await;
    // Invalid: an emoji too long; a malformed action.
    let long = json!({"type": "act", "room": "general", "id": "a1",
        "action": {"event": "reacted", "origin": m["origin"], "seq": m["seq"], "emoji": "x".repeat(40), "on": true}});
    ws.send(long).await;
    assert_eq!(ws.expect_error().await, ("invalid".to_owned(), Some("§a1".to_owned())));
    ws.send(json!({"type": "act", "room": "general", "id": "a2", "action": {"event": "nonsense"}})).await;
    assert_eq!(ws.expect_error().await.1.as_deref(), Some("§a2"));
    // Rate limited: every refused act says which.
    for i in 0..10 {
        let read = json!({"type": "act", "room": "general", "id": format!("r{i}"), "action": {"event": "read"}});
        ws.send(read).await;
    }
    let mut limited = Vec::new();
    while let Some(f) = ws.try_recv(std::time::Duration::from_millis(500)).await {
        if f["type"] == "error" {
            assert_eq!(f["code"], "rate_limited", "{f}");
            limited.push(f["id"].as_str().expect("the refused act's id").to_owned());
        }
    }
    assert!(!limited.is_empty() && limited.iter().all(|id| id.starts_with("§r")), "{limited:?}");
}

/// A peer's event lets a person read a room the moment it arrives, before
/// this node's commit lists the membership: the room list says so too.
#[tokio::test]
async fn a_room_one_may_read_is_in_ones_room_list_at_once() {
    let m = Mesh::start_accounts(2, &["--http-rate", "10000", "--http-burst", "10000"]).await;
    let alice = account_everywhere(&m, "alice").await;
    let bob = account_everywhere(&m, "bob").await;
    let (n1, n2) = (&m.nodes[0], &m.nodes[1]);
    for i in 0..30 {
        let room = format!("team{i}");
        assert_eq!(
            api("POST", &n1.url("/api/rooms"), Some(&alice), Some(json!({"room": room, "private": true}))).await.0,
            201
        );
        let invite = json!({"id": format!("i{i}"), "action": {"event": "invited", "user": "bob"}});
        assert_eq!(
            api("POST", &n1.url(&format!("/api/rooms/{room}/actions")), Some(&alice), Some(invite)).await.0,
            200
        );
        // The moment n2 lets bob read it, n2 lists it.
        let url = n2.url(&format!("/api/rooms/{room}"));
        eventually(std::time::Duration::from_secs(5), "bob reads it on n2", || async {
            api("GET", &url, Some(&bob), None).await.0 == 200
        })
        .await;
        let (_, mine) = api("GET", &n2.url("/api/me/rooms"), Some(&bob), None).await;
        let listed: Vec<&str> = mine["rooms"].as_array().unwrap().iter().map(|r| r["room"].as_str().unwrap()).collect();
        assert!(listed.contains(&room.as_str()), "{room} readable but not listed: {listed:?}");
    }
}
