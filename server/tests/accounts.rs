//! Accounts over real sockets: sessions that work on every node and die
//! everywhere, names that belong to one account across the mesh even when
//! asked for at once, registration that needs a majority, throttled
//! guessing, guests, invitations, API tokens.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_session_from_one_node_works_on_every_node_and_dies_everywhere_on_logout() {
    let m = Mesh::start_accounts(3, &[]).await;
    let (status, s) = register(&m.nodes[0], "Alice", "correct horse").await;
    assert_eq!(status, 201, "{s}");
    assert_eq!((s["name"].as_str(), s["role"].as_str()), (Some("Alice"), Some("admin")), "the first account is admin");
    // Names are one across the mesh, whatever their case.
    assert_eq!(register(&m.nodes[1], "alice", "another one").await.0, 409);
    let session = token(&s);
    for node in &m.nodes {
        // The account reaches the other nodes in moments; meanwhile they
        // say `unavailable` (try again), never `unauthorized`.
        eventually(Duration::from_secs(5), "every node learns of Alice", || async {
            let (status, who) = me(node, &session).await;
            assert!(status == 200 || status == 503, "{}: {status} {who}", node.id());
            status == 200 && who["name"] == "Alice"
        })
        .await;
    }
    let (status, s2) = login(&m.nodes[1], "ALICE", "correct horse").await;
    assert_eq!(status, 200, "{s2}");
    // Signed in over the WebSocket on n3; messages are hers.
    let (mut ws, welcome) = ws_with_token(&m.nodes[2], &session).await;
    assert_eq!((welcome["type"].as_str(), welcome["name"].as_str()), (Some("welcome"), Some("Alice")));
    ws.join("lobby", None).await;
    let msg = ws.say("lobby", "m1", "hello").await;
    assert_eq!(msg["author"], "Alice");
    // Logout on n2: the session stops on every node, and n3 closes her socket.
    let (status, _) = api("POST", &m.nodes[1].url("/api/logout"), Some(&session), None).await;
    assert_eq!(status, 204);
    let t = Instant::now();
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "logout reaches every node", || async { me(node, &session).await.0 == 401 })
            .await;
    }
    assert_eq!(ws.close_code().await, Some(1008), "the open WebSocket is closed");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // The other session (from login on n2) lives on.
    assert_eq!(me(&m.nodes[2], &token(&s2)).await.0, 200);
}

#[tokio::test]
async fn a_password_change_ends_every_other_session() {
    let m = Mesh::start_accounts(2, &[]).await;
    let (_, s) = register(&m.nodes[0], "bob", "first password").await;
    eventually(Duration::from_secs(5), "n2 learns of bob", || async { me(&m.nodes[1], &token(&s)).await.0 == 200 })
        .await;
    let (_, other) = login(&m.nodes[1], "bob", "first password").await;
    let (mut ws, _) = ws_with_token(&m.nodes[1], &token(&other)).await;
    let body = json!({"old": "wrong password", "new": "second password"});
    let (status, err) = api("POST", &m.nodes[0].url("/api/password"), Some(&token(&s)), Some(body)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (401, Some("bad_credentials")));
    let body = json!({"old": "first password", "new": "second password"});
    let (status, fresh) = api("POST", &m.nodes[0].url("/api/password"), Some(&token(&s)), Some(body)).await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(ws.close_code().await, Some(1008));
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "old sessions end", || async { me(node, &token(&other)).await.0 == 401 })
            .await;
        eventually(Duration::from_secs(5), "the new session works", || async {
            me(node, &token(&fresh)).await.0 == 200
        })
        .await;
    }
    assert_eq!(login(&m.nodes[1], "bob", "first password").await.0, 401);
    assert_eq!(login(&m.nodes[1], "bob", "second password").await.0, 200);
}

#[tokio::test]
async fn accounts_survive_restarts_and_a_node_that_was_down_catches_up() {
    let mut m = Mesh::start_accounts(3, &[]).await;
    let (_, s) = register(&m.nodes[0], "carol", "carol's password").await;
    m.nodes[2].kill9();
    // Registered while n3 is away (n1 and n2 are a majority).
    let (status, d) = register(&m.nodes[0], "dave", "dave's password").await;
    assert_eq!(status, 201, "{d}");
    m.nodes[2].restart().unwrap();
    let n3 = &m.nodes[2];
    // (Sessions, not logins: failed logins while it catches up would be
    // throttled.)
    eventually(Duration::from_secs(20), "n3 learns of dave", || async { me(n3, &token(&d)).await.0 == 200 }).await;
    assert_eq!(login(n3, "dave", "dave's password").await.0, 200);
    // Restart n1 too: its accounts and sessions are on disk.
    m.nodes[0].terminate();
    m.nodes[0].restart().unwrap();
    assert_eq!(me(&m.nodes[0], &token(&s)).await.0, 200);
    assert_eq!(login(&m.nodes[0], "carol", "carol's password").await.0, 200);
}

#[tokio::test]
async fn a_name_asked_for_on_two_nodes_at_once_goes_to_exactly_one() {
    let m = Mesh::start_accounts(3, &["--registrations-per-hour", "1000"]).await;
    for round in 0..40u64 {
        let name = format!("racer{round}");
        let t = Instant::now();
        let (a, b) =
            tokio::join!(register(&m.nodes[0], &name, "password one"), register(&m.nodes[1], &name, "password two"));
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}: {a:?} {b:?}");
        eprintln!("round {round}: decided in {:?}", t.elapsed());
        // Every node agrees on whose it is.
        let winner = if a.0 == 201 { "password one" } else { "password two" };
        let loser = if a.0 == 201 { "password two" } else { "password one" };
        let session = token(if a.0 == 201 { &a.1 } else { &b.1 });
        for node in &m.nodes {
            eventually(Duration::from_secs(10), "every node knows the winner", || async {
                me(node, &session).await.0 == 200
            })
            .await;
            assert_eq!(login(node, &name, winner).await.0, 200, "round {round} on {}", node.id());
        }
        // (One node a round: failed logins from one address are throttled.)
        let node = &m.nodes[round as usize % 3];
        assert_eq!(login(node, &name, loser).await.0, 401, "round {round} on {}", node.id());
    }
}

#[tokio::test]
async fn a_minority_cannot_register_but_chats_on() {
    let m = Mesh::start_accounts(3, &[]).await;
    let (_, s) = register(&m.nodes[0], "erin", "erin's password").await;
    m.nodes[1].signal("STOP");
    m.nodes[2].signal("STOP");
    wait_peers_up(&m.nodes[0], 0).await;
    let (status, err) = register(&m.nodes[0], "frank", "frank's password").await;
    assert_eq!((status, err["error"]["code"].as_str()), (503, Some("unavailable")), "{err}");
    // Sign-in and chat go on.
    assert_eq!(login(&m.nodes[0], "erin", "erin's password").await.0, 200);
    let (mut ws, _) = ws_with_token(&m.nodes[0], &token(&s)).await;
    ws.join("alone", None).await;
    ws.say("alone", "m1", "still here").await;
    m.nodes[1].signal("CONT");
    m.nodes[2].signal("CONT");
    wait_peers_up(&m.nodes[0], 2).await;
    let (status, f) = register(&m.nodes[0], "frank", "frank's password").await;
    assert_eq!(status, 201, "{f}");
}

#[tokio::test]
async fn wrong_passwords_are_throttled_and_say_nothing_about_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &[], None);
    assert_eq!(register(&node, "gina", "gina's password").await.0, 201);
    let (s1, unknown) = login(&node, "nobody", "some password").await;
    let (s2, wrong) = login(&node, "gina", "wrong password").await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(unknown, wrong, "the same answer for an unknown name and a wrong password");
    assert_eq!(wrong["error"]["code"], "bad_credentials");
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(login(&node, "gina", "wrong password").await.0);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // Throttled, even with the right password, for a while.
    let (status, err) = login(&node, "gina", "gina's password").await;
    assert_eq!((status, err["error"]["code"].as_str()), (429, Some("rate_limited")));
}

#[tokio::test]
async fn without_a_token_nothing_but_sign_in_answers() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &[], None);
    for path in ["/api/rooms", "/api/rooms/lobby/messages", "/api/rooms/lobby/poll", "/api/me", "/api/tokens"] {
        let (status, err) = api("GET", &node.url(path), None, None).await;
        assert_eq!((status, err["error"]["code"].as_str()), (401, Some("unauthorized")), "{path}");
    }
    let (status, _) = api("GET", &node.url("/api/rooms"), Some("mc1.bogus.token"), None).await;
    assert_eq!(status, 401);
    let post = json!({"name": "mallory", "id": "x", "body": "hi"});
    assert_eq!(api("POST", &node.url("/api/rooms/lobby/messages"), None, Some(post)).await.0, 401);
    for path in ["/api/health", "/api/nodes", "/api/auth"] {
        assert_eq!(api("GET", &node.url(path), None, None).await.0, 200, "{path}");
    }
    // The WebSocket: unauthorized, then close 1008; a name alone is no sign-in.
    for hello in [json!({"type":"hello","v":1,"name":"mallory"}), json!({"type":"hello","v":1,"token":"forged"})] {
        let mut c = Client::connect(&node.ws_url()).await;
        c.send(hello).await;
        assert_eq!(c.expect_error().await.0, "unauthorized");
        assert_eq!(c.close_code().await, Some(1008));
    }
}

#[tokio::test]
async fn guests_chat_as_in_version_1_but_never_under_an_accounts_name() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node("n1", dir.path(), 0, &[]);
    let (_, s) = register(&node, "Heidi", "heidi's password").await;
    for name in ["Heidi", "heidi", "HEIDI"] {
        let mut c = Client::connect(&node.ws_url()).await;
        c.send(json!({"type":"hello","v":1,"name":name})).await;
        assert_eq!(c.expect_error().await.0, "name_taken", "{name}");
    }
    let (mut guest, welcome) = Client::hello(&node.ws_url(), "ivan").await;
    assert_eq!(welcome["name"], "ivan");
    guest.join("lobby", None).await;
    guest.say("lobby", "g1", "a guest").await;
    // Over HTTP: no token is version 1, unless the name is an account's.
    let url = node.url("/api/rooms/lobby/messages");
    assert_eq!(api("POST", &url, None, Some(json!({"name":"judy","id":"j1","body":"hi"}))).await.0, 200);
    let (status, err) = api("POST", &url, None, Some(json!({"name":"heidi","id":"h1","body":"fake"}))).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("name_taken")));
    // With a token the author is the account's, whatever `name` says.
    let (status, posted) =
        api("POST", &url, Some(&token(&s)), Some(json!({"name":"judy","id":"h1","body":"real"}))).await;
    assert_eq!((status, posted["msg"]["author"].as_str()), (200, Some("Heidi")), "{posted}");
}

#[tokio::test]
async fn message_ids_belong_to_their_author() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &[], None);
    let (_, bot) = register(&node, "deploy-bot", "bot's password").await;
    let (_, eve) = register(&node, "eve", "eve's password").await;
    let url = node.url("/api/rooms/releases/messages");
    let (status, fake) =
        api("POST", &url, Some(&token(&eve)), Some(json!({"id":"release-1.4.3","body":"fake release"}))).await;
    assert_eq!((status, fake["msg"]["author"].as_str()), (200, Some("eve")));
    let (status, real) =
        api("POST", &url, Some(&token(&bot)), Some(json!({"id":"release-1.4.3","body":"real release"}))).await;
    assert_eq!(status, 200);
    assert_eq!(
        (real["msg"]["author"].as_str(), real["msg"]["body"].as_str()),
        (Some("deploy-bot"), Some("real release"))
    );
    // And a retry by the bot is still idempotent.
    let (_, again) =
        api("POST", &url, Some(&token(&bot)), Some(json!({"id":"release-1.4.3","body":"real release"}))).await;
    assert_eq!(again["msg"], real["msg"]);
}

#[tokio::test]
async fn bots_use_named_tokens_that_can_be_revoked() {
    let m = Mesh::start_accounts(2, &[]).await;
    let (_, s) = register(&m.nodes[0], "kim", "kim's password").await;
    let tokens = m.nodes[0].url("/api/tokens");
    let (status, t) = api("POST", &tokens, Some(&token(&s)), Some(json!({"label":"ci bot"}))).await;
    assert_eq!(status, 201, "{t}");
    let bot = token(&t);
    let url = m.nodes[1].url("/api/rooms/ci/messages");
    eventually(Duration::from_secs(5), "the token works on n2", || async {
        api("POST", &url, Some(&bot), Some(json!({"id":"b1","body":"build green"}))).await.0 == 200
    })
    .await;
    let (_, list) = api("GET", &tokens, Some(&token(&s)), None).await;
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1, "{list}");
    assert!(list["tokens"][0].get("token").is_none_or(Value::is_null), "a token is shown once: {list}");
    let id = t["id"].as_str().unwrap();
    let (status, _) = api("DELETE", &m.nodes[0].url(&format!("/api/tokens/{id}")), Some(&token(&s)), None).await;
    assert_eq!(status, 204);
    eventually(Duration::from_secs(5), "the revoked token stops on n2", || async {
        api("POST", &url, Some(&bot), Some(json!({"id":"b2","body":"again"}))).await.0 == 401
    })
    .await;
}

#[tokio::test]
async fn invitations_are_single_use_and_only_admins_make_them() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &["--registration", "invite"], None);
    let (status, admin) = register(&node, "lena", "lena's password").await;
    assert_eq!((status, admin["role"].as_str()), (201, Some("admin")), "the first account needs no invitation");
    let (status, err) = register(&node, "mia", "mia's password").await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("registration_closed")));
    let (status, inv) = api("POST", &node.url("/api/invites"), Some(&token(&admin)), None).await;
    assert_eq!(status, 201, "{inv}");
    assert!(inv["url"].as_str().unwrap().ends_with(&format!("#invite={}", inv["code"].as_str().unwrap())));
    let with = |name: &str| json!({"name": name, "password": "a good password", "invite": inv["code"]});
    let (status, mia) = api("POST", &node.url("/api/register"), None, Some(with("mia"))).await;
    assert_eq!((status, mia["role"].as_str()), (201, Some("member")), "{mia}");
    assert_eq!(api("POST", &node.url("/api/register"), None, Some(with("nina"))).await.0, 400, "used once");
    // Members cannot invite; an admin can make them admins.
    assert_eq!(api("POST", &node.url("/api/invites"), Some(&token(&mia)), None).await.0, 403);
    let role = node.url("/api/users/mia/role");
    assert_eq!(api("POST", &role, Some(&token(&mia)), Some(json!({"role":"admin"}))).await.0, 403);
    assert_eq!(api("POST", &role, Some(&token(&admin)), Some(json!({"role":"admin"}))).await.0, 204);
    assert_eq!(me(&node, &token(&mia)).await.1["role"], "admin");
    assert_eq!(api("POST", &node.url("/api/invites"), Some(&token(&mia)), None).await.0, 201);
}

#[tokio::test]
async fn closed_registration_takes_only_the_first_account() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &["--registration", "closed"], None);
    assert_eq!(register(&node, "olga", "olga's password").await.0, 201);
    let (status, err) = register(&node, "pete", "pete's password").await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("registration_closed")));
}

#[tokio::test]
async fn registration_checks_names_and_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", dir.path(), 0, &[], None);
    for (name, password) in [("quinn", "short"), ("", "long enough"), ("a\u{202e}b", "long enough")] {
        let (status, err) = register(&node, name, password).await;
        assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid")), "{name:?} {password:?}");
    }
    let (status, err) = api("POST", &node.url("/api/register"), None, Some(json!({"name":"quinn"}))).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid")), "{err}");
    assert_eq!(register(&node, "quinn", &"p".repeat(257)).await.0, 400);
    assert_eq!(register(&node, "quinn", &"p".repeat(256)).await.0, 201);
}
