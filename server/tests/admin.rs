//! Running a community over a real 3-node mesh: deactivation closes the
//! person's WebSockets on every node within a second and refuses their
//! sign-in everywhere; a reset link works once across the mesh, even asked
//! of two nodes at once; people see and end their sessions; the sign-up
//! rules change on every node at once; every admin action is in the audit
//! log, which only admins read.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

async fn post(node: &NodeProc, path: &str, tok: Option<&str>, body: Value) -> (u16, Value) {
    api("POST", &node.url(path), tok, Some(body)).await
}

async fn get(node: &NodeProc, path: &str, tok: &str) -> (u16, Value) {
    api("GET", &node.url(path), Some(tok), None).await
}

async fn audit_actions(node: &NodeProc, tok: &str) -> Vec<String> {
    let (status, body) = get(node, "/api/admin/audit", tok).await;
    assert_eq!(status, 200, "{body}");
    let entries = body["entries"].as_array().unwrap().iter();
    entries
        .map(|e| {
            format!("{} {} {}", e["by"].as_str().unwrap(), e["action"].as_str().unwrap(), e["target"].as_str().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn deactivation_closes_every_socket_within_a_second_and_refuses_sign_in_everywhere() {
    let m = Mesh::start_accounts(3, &[]).await;
    let root = account_everywhere(&m, "root").await;
    let bob = account_everywhere(&m, "bob").await;
    let mut sockets = Vec::new();
    for node in &m.nodes {
        let (c, first) = ws_with_token(node, &bob).await;
        assert_eq!(first["type"], "welcome", "{first}");
        sockets.push(c);
    }
    // Not for members, not for oneself.
    let (status, _) = post(&m.nodes[0], "/api/admin/people/root/active", Some(&bob), json!({"active": false})).await;
    assert_eq!(status, 403);
    let (status, _) = post(&m.nodes[0], "/api/admin/people/root/active", Some(&root), json!({"active": false})).await;
    assert_eq!(status, 400, "an admin cannot lock themselves out");

    let t = Instant::now();
    let (status, body) = post(&m.nodes[1], "/api/admin/people/bob/active", Some(&root), json!({"active": false})).await;
    assert_eq!(status, 204, "{body}");
    for (i, c) in sockets.iter_mut().enumerate() {
        assert_eq!(c.close_code().await, Some(1008), "n{}'s socket closes as signed out", i + 1);
    }
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "every socket closed in {took:?}");
    for node in &m.nodes {
        assert_eq!(me(node, &bob).await.0, 401, "{}: the session is dead", node.id());
        let (status, body) = login(node, "bob", "bob's password").await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{}: {body}", node.id());
        let (status, _) = login(node, "bob", "a wrong password").await;
        assert_eq!(status, 401, "a wrong password learns nothing of the state");
    }
    // The name stays taken.
    assert_eq!(register(&m.nodes[2], "bob", "another password").await.0, 409);
    let (_, people) = get(&m.nodes[2], "/api/admin/people?q=bo", &root).await;
    assert_eq!(people["people"].as_array().unwrap().len(), 1, "{people}");
    assert_eq!(
        (people["people"][0]["name"].as_str(), people["people"][0]["active"].as_bool()),
        (Some("bob"), Some(false))
    );

    // Reactivated: signs in again; the old session stays dead.
    let (status, _) = post(&m.nodes[2], "/api/admin/people/bob/active", Some(&root), json!({"active": true})).await;
    assert_eq!(status, 204);
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "bob signs in again everywhere", || async {
            login(node, "bob", "bob's password").await.0 == 200
        })
        .await;
        assert_eq!(me(node, &bob).await.0, 401, "the session from before stays dead");
    }
    let want = ["root reactivate bob", "root deactivate bob"];
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "the audit log everywhere", || async {
            audit_actions(node, &root).await == want
        })
        .await;
    }
    let bob = token(&login(&m.nodes[0], "bob", "bob's password").await.1);
    assert_eq!(get(&m.nodes[0], "/api/admin/audit", &bob).await.0, 403, "members do not read the audit log");
    assert_eq!(get(&m.nodes[0], "/api/admin/people", &bob).await.0, 403);
}

#[tokio::test]
async fn a_reset_link_works_once_across_the_mesh_even_asked_of_two_nodes_at_once() {
    let m = Mesh::start_accounts(3, &[]).await;
    let root = account_everywhere(&m, "root").await;
    let bob = account_everywhere(&m, "bob").await;
    let (status, link) = post(&m.nodes[0], "/api/admin/people/bob/reset", Some(&bob), json!({})).await;
    assert_eq!(status, 403, "members make no reset links: {link}");
    let (status, link) = post(&m.nodes[0], "/api/admin/people/bob/reset", Some(&root), json!({})).await;
    assert_eq!(status, 201, "{link}");
    assert!(link["url"].as_str().unwrap().ends_with(&format!("/#reset={}", link["code"].as_str().unwrap())));
    let code = link["code"].as_str().unwrap().to_owned();
    for node in &m.nodes {
        // Known everywhere before the race (else a node refuses it as
        // unknown): its audit entry comes after it from the same node.
        eventually(Duration::from_secs(5), "the link everywhere", || async {
            audit_actions(node, &root).await == ["root reset link bob"]
        })
        .await;
    }
    let (a, b) = tokio::join!(
        post(&m.nodes[1], "/api/reset", None, json!({"code": code, "password": "first new password"})),
        post(&m.nodes[2], "/api/reset", None, json!({"code": code, "password": "second new password"}))
    );
    let statuses = [a.0, b.0];
    assert!(statuses.contains(&200) && statuses.contains(&400), "one wins: {a:?} {b:?}");
    let winner = if a.0 == 200 { "first new password" } else { "second new password" };
    let loser = if a.0 == 200 { "second new password" } else { "first new password" };
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "the new password everywhere", || async {
            login(node, "bob", winner).await.0 == 200
        })
        .await;
        assert_eq!(login(node, "bob", loser).await.0, 401);
        assert_eq!(me(node, &bob).await.0, 401, "the sessions from before ended");
    }
    let (status, _) = post(&m.nodes[0], "/api/reset", None, json!({"code": code, "password": "third password"})).await;
    assert_eq!(status, 400, "used already");
}

#[tokio::test]
async fn people_see_their_sessions_and_end_one_or_all_others() {
    let m = Mesh::start_accounts(2, &[]).await;
    let _root = account_everywhere(&m, "root").await;
    let first = account_everywhere(&m, "ada").await;
    let (_, s) = login(&m.nodes[1], "ada", "ada's password").await;
    let second = token(&s);
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let headers = [("Content-Type", "application/json"), ("User-Agent", firefox)];
    let body = json!({"name": "ada", "password": "ada's password"}).to_string();
    let r = meshchat::infra::http::request("POST", &m.nodes[0].url("/api/login"), &headers, Some(body.as_bytes()))
        .await
        .unwrap();
    let third = token(&r.json());
    let (mut ws, _) = ws_with_token(&m.nodes[0], &third).await;

    let list = |node: usize, tok: String| {
        let node = &m.nodes[node];
        async move {
            let (status, body) = get(node, "/api/sessions", &tok).await;
            assert_eq!(status, 200, "{body}");
            body["sessions"].as_array().unwrap().clone()
        }
    };
    eventually(Duration::from_secs(5), "three sessions on the other node", || async {
        list(1, second.clone()).await.len() == 3
    })
    .await;
    let sessions = list(1, second.clone()).await;
    assert_eq!(sessions[0]["current"], true, "the current one first: {sessions:?}");
    assert_eq!(sessions[0]["node"], "n2");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let ff: Vec<&Value> = sessions.iter().filter(|s| s["agent"] == "Firefox on Linux").collect();
    assert_eq!(ff.len(), 1, "{sessions:?}");
    assert_eq!(ff[0]["node"], "n1");
    let ff_id = ff[0]["id"].as_str().unwrap().to_owned();

    // bob cannot end ada's session.
    let bob = account_everywhere(&m, "bob").await;
    let (status, _) = api("DELETE", &m.nodes[0].url(&format!("/api/sessions/{ff_id}")), Some(&bob), None).await;
    assert_eq!(status, 400);
    // ada ends the Firefox one from the other node: its socket closes.
    let (status, _) = api("DELETE", &m.nodes[1].url(&format!("/api/sessions/{ff_id}")), Some(&second), None).await;
    assert_eq!(status, 204);
    assert_eq!(ws.close_code().await, Some(1008));
    assert_eq!(me(&m.nodes[0], &third).await.0, 401);
    eventually(Duration::from_secs(5), "two sessions listed", || async { list(0, first.clone()).await.len() == 2 })
        .await;

    // A bot's token is listed beside them.
    let (status, _) = post(&m.nodes[0], "/api/tokens", Some(&first), json!({"label": "deploy bot"})).await;
    assert_eq!(status, 201);
    let (_, all) = get(&m.nodes[0], "/api/sessions", &first).await;
    assert_eq!(all["tokens"][0]["label"], "deploy bot");

    // All others end; the current one and the token live on.
    let (status, ended) = post(&m.nodes[1], "/api/sessions/others", Some(&second), json!({})).await;
    assert_eq!((status, ended["ended"].as_u64()), (200, Some(1)), "{ended}");
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "the first session ended everywhere", || async {
            me(node, &first).await.0 == 401
        })
        .await;
        assert_eq!(me(node, &second).await.0, 200);
    }
    let (_, all) = get(&m.nodes[1], "/api/sessions", &second).await;
    assert_eq!(all["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(all["tokens"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn sign_up_rules_change_on_every_node_at_once() {
    let m = Mesh::start_accounts(2, &[]).await;
    let root = account_everywhere(&m, "root").await;
    let bob = account_everywhere(&m, "bob").await;
    let closed = json!({"registration": "closed", "guests": false});
    assert_eq!(post(&m.nodes[0], "/api/admin/settings", Some(&bob), closed.clone()).await.0, 403);
    let (status, _) =
        post(&m.nodes[0], "/api/admin/settings", Some(&root), json!({"registration": "later", "guests": false})).await;
    assert_eq!(status, 400);
    assert_eq!(post(&m.nodes[0], "/api/admin/settings", Some(&root), closed).await.0, 204);
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "closed everywhere", || async {
            http_get(&node.url("/api/auth")).await.1["registration"] == "closed"
        })
        .await;
        let (status, body) = register(node, &format!("new{}", node.id()), "a long password").await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("registration_closed")));
    }
    let invite = json!({"registration": "invite", "guests": true});
    assert_eq!(post(&m.nodes[1], "/api/admin/settings", Some(&root), invite).await.0, 204);
    let (status, inv) = post(&m.nodes[1], "/api/invites", Some(&root), json!({})).await;
    assert_eq!(status, 201);
    eventually(Duration::from_secs(5), "invite and guests on n1", || async {
        let auth = http_get(&m.nodes[0].url("/api/auth")).await.1;
        auth["registration"] == "invite" && auth["guests"] == true
    })
    .await;
    let body = json!({"name": "carol", "password": "a long password", "invite": inv["code"]});
    eventually(Duration::from_secs(5), "the invitation on n1", || async {
        post(&m.nodes[0], "/api/register", None, body.clone()).await.0 == 201
    })
    .await;
    let (mut guest, welcome) = Client::hello(&m.nodes[0].ws_url(), "visitor").await;
    assert_eq!(welcome["type"], "welcome", "guests are taken now: {welcome}");
    guest.send(json!({"type": "ping"})).await;
    let actions = audit_actions(&m.nodes[0], &root).await;
    assert_eq!(
        actions,
        [
            "root invite ",
            "root registration invite, guests on, admins' two-factor off ",
            "root registration closed, guests off, admins' two-factor off "
        ]
    );
}

#[tokio::test]
async fn invitations_are_listed_and_withdrawn_on_every_node() {
    let m = Mesh::start_accounts(2, &["--registration", "invite"]).await;
    let root = account_everywhere(&m, "root").await;
    let (_, first) = post(&m.nodes[0], "/api/invites", Some(&root), json!({})).await;
    let (_, second) = post(&m.nodes[0], "/api/invites", Some(&root), json!({})).await;
    let listed = |node: usize| {
        let (node, root) = (&m.nodes[node], root.clone());
        async move {
            let (status, body) = get(node, "/api/admin/invites", &root).await;
            assert_eq!(status, 200, "{body}");
            body["invites"].as_array().unwrap().clone()
        }
    };
    eventually(Duration::from_secs(5), "two invitations on n2", || async { listed(1).await.len() == 2 }).await;
    let all = listed(1).await;
    assert!(all.iter().all(|i| i["by"] == "root"), "{all:?}");
    // The code is not kept: the id is its SHA-256, which names the one to withdraw.
    let code = first["code"].as_str().unwrap();
    use sha2::Digest;
    let id: String = sha2::Sha256::digest(code.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert!(all.iter().any(|i| i["id"] == id.as_str()), "{all:?}");
    let (status, _) = api("DELETE", &m.nodes[1].url(&format!("/api/admin/invites/{id}")), Some(&root), None).await;
    assert_eq!(status, 204);
    eventually(Duration::from_secs(5), "withdrawn on n1", || async { listed(0).await.len() == 1 }).await;
    let body = json!({"name": "newbie", "password": "a long password", "invite": code});
    let (status, b) = post(&m.nodes[0], "/api/register", None, body).await;
    assert_eq!(status, 400, "a withdrawn invitation takes no account: {b}");
    let body = json!({"name": "newbie", "password": "a long password", "invite": second["code"]});
    assert_eq!(post(&m.nodes[0], "/api/register", None, body).await.0, 201, "the other still works");
    assert_eq!(audit_actions(&m.nodes[0], &root).await[0], "root revoke invite ");
}

#[tokio::test]
async fn admins_list_every_room_by_size_and_archive_or_delete_it_on_every_node() {
    let m = Mesh::start_accounts(2, &[]).await;
    let root = account_everywhere(&m, "root").await;
    let bob = account_everywhere(&m, "bob").await;
    let (n1, n2) = (&m.nodes[0], &m.nodes[1]);
    for (room, title, private) in [("launch", "Launch plans", false), ("secret", "Secret plans", true)] {
        let create = json!({"room": room, "title": title, "topic": "", "private": private});
        assert_eq!(post(n1, "/api/rooms", Some(&bob), create).await.0, 201);
    }
    let say = |room: &'static str, id: &'static str| {
        let path = format!("/api/rooms/{room}/messages");
        let bob = bob.clone();
        async move { post(n1, &path, Some(&bob), json!({"id": id, "body": "hello"})).await.0 }
    };
    assert_eq!(say("secret", "s1").await, 200);
    assert_eq!(say("launch", "l1").await, 200);
    assert_eq!(get(n1, "/api/admin/rooms", &bob).await.0, 403, "not for members");

    // Every room on every node; a private one by name and size only.
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "both rooms listed", || async {
            let (_, list) = get(node, "/api/admin/rooms", &root).await;
            list["rooms"].as_array().is_some_and(|r| r.len() == 2)
        })
        .await;
    }
    let (_, list) = get(n2, "/api/admin/rooms?q=secr", &root).await;
    let secret = &list["rooms"][0];
    assert_eq!((secret["room"].as_str(), secret["private"].as_bool()), (Some("secret"), Some(true)), "{list}");
    assert_eq!((secret["title"].as_str(), secret["members"].as_u64()), (Some(""), Some(1)));
    assert!(secret["messages"].as_u64().unwrap() >= 2 && secret["last"].as_u64().unwrap() > 0, "{list}");
    assert!(!list.to_string().contains("Secret plans"), "no title of a private room: {list}");
    let (_, list) = get(n2, "/api/admin/rooms?q=launch", &root).await;
    assert_eq!(list["rooms"][0]["title"], "Launch plans");

    // Archived from n2 though root is no member: read-only on every node.
    let (status, body) = post(n2, "/api/admin/rooms/secret/archive", Some(&root), json!({"archived": true})).await;
    assert_eq!(status, 204, "{body}");
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "archived everywhere", || async {
            api("GET", &node.url("/api/rooms/secret"), Some(&bob), None).await.1["archived"] == true
        })
        .await;
    }
    assert_eq!(say("secret", "s2").await, 403, "nobody posts in an archive");
    let (mut ws, _) = ws_with_token(n2, &bob).await;
    ws.join("secret", None).await;
    ws.send(json!({"type": "send", "room": "secret", "id": "s3", "body": "still here?"})).await;
    assert_eq!(ws.expect_error().await.0, "forbidden");
    let react =
        json!({"id": "r1", "action": {"event": "reacted", "origin": "n1", "seq": 1, "emoji": "👍", "on": true}});
    assert_eq!(post(n1, "/api/rooms/secret/actions", Some(&bob), react).await.0, 403);
    // Its owner takes it out again.
    let unarchive = json!({"id": "u1", "action": {"event": "archived", "archived": false}});
    assert_eq!(post(n1, "/api/rooms/secret/actions", Some(&bob), unarchive).await.0, 200);
    assert_eq!(say("secret", "s4").await, 200);

    // Exported: a room the admin may read, as a zip; a private one only by its members.
    assert_eq!(get(n1, "/api/admin/rooms/launch/export", &bob).await.0, 403, "not for members");
    assert_eq!(get(n1, "/api/admin/rooms/secret/export", &root).await.0, 404, "nor of a private room");
    let auth = format!("Bearer {root}");
    let url = n1.url("/api/admin/rooms/launch/export");
    let r = meshchat::infra::http::request("GET", &url, &[("Authorization", &auth)], None).await.unwrap();
    assert_eq!(r.status, 200);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.body)).unwrap();
    let mut read = |name: &str| {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut s).unwrap();
        s
    };
    assert!(read("room.json").contains("Launch plans"));
    let lines = read("messages.jsonl");
    assert!(lines.lines().any(|l| l.contains(r#""author":"bob""#) && l.contains(r#""body":"hello""#)), "{lines}");

    // Deleted from the console: gone on every node.
    assert_eq!(api("DELETE", &n2.url("/api/admin/rooms/launch"), Some(&bob), None).await.0, 403);
    assert_eq!(api("DELETE", &n2.url("/api/admin/rooms/launch"), Some(&root), None).await.0, 204);
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "deleted everywhere", || async {
            api("GET", &node.url("/api/rooms/launch"), Some(&bob), None).await.0 == 404
        })
        .await;
    }
    let (_, list) = get(n1, "/api/admin/rooms", &root).await;
    assert_eq!(list["rooms"].as_array().unwrap().len(), 1, "a deleted room is not listed: {list}");
    assert_eq!(api("DELETE", &n2.url("/api/admin/rooms/nowhere"), Some(&root), None).await.0, 404);
    // In the audit log of the node that took the delete before it
    // answered; on the others once the account log has carried it there.
    let actions = audit_actions(n2, &root).await;
    for done in ["root archive room secret", "root delete room launch"] {
        assert!(actions.iter().any(|a| a == done), "{done} in {actions:?}");
    }
    eventually(Duration::from_secs(5), "both in n1's audit log", || async {
        let on_n1 = audit_actions(n1, &root).await;
        ["root archive room secret", "root delete room launch"].iter().all(|done| on_n1.iter().any(|a| a == done))
    })
    .await;
}

/// A person downloads their data: their account and profile, what they
/// wrote (not what others wrote, not what was erased) and their files.
#[tokio::test]
async fn a_person_downloads_their_data_as_a_zip() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let n = start_node_accounts("n1", &dir.path().join("n1"), 0, &[], None);
    let bob = token(&register(&n, "bob", "bob's password").await.1);
    let carol = token(&register(&n, "carol", "carol's password").await.1);
    let profile = json!({"display": "Bobby", "pronouns": "", "status": "", "bio": "", "timezone": ""});
    assert_eq!(post(&n, "/api/profile", Some(&bob), profile).await.0, 204);
    let say = |tok: String, id: &'static str, body: &'static str| {
        let n = &n;
        async move { post(n, "/api/rooms/general/messages", Some(&tok), json!({"id": id, "body": body})).await.1 }
    };
    let kept = say(bob.clone(), "b1", "my first words").await;
    let gone = say(bob.clone(), "b2", "words I took back").await;
    say(carol.clone(), "c1", "carol's own words").await;
    let target = json!({"origin": kept["msg"]["origin"], "seq": kept["msg"]["seq"]});
    let reply = json!({"id": "r1", "action": {"event": "reply", "origin": target["origin"], "seq": target["seq"], "body": "a reply of mine"}});
    assert_eq!(post(&n, "/api/rooms/general/actions", Some(&bob), reply).await.0, 200);
    let delete =
        json!({"id": "d1", "action": {"event": "deleted", "origin": gone["msg"]["origin"], "seq": gone["msg"]["seq"]}});
    assert_eq!(post(&n, "/api/rooms/general/actions", Some(&bob), delete).await.0, 200);
    let auth = format!("Bearer {bob}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "text/plain"), ("X-File-Name", "../notes.txt")];
    let url = n.url("/api/rooms/general/files?id=f1");
    let r = meshchat::infra::http::request("POST", &url, &headers, Some(b"bob's notes")).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());

    assert_eq!(api("GET", &n.url("/api/me/export"), None, None).await.0, 401);
    let r = meshchat::infra::http::request("GET", &n.url("/api/me/export"), &[("Authorization", &auth)], None)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.headers.iter().any(|(k, v)| k == "content-type" && v == "application/zip"), "{:?}", r.headers);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.body)).unwrap();
    let mut read = |name: &str| {
        let mut s = String::new();
        zip.by_name(name).unwrap_or_else(|e| panic!("{name}: {e}")).read_to_string(&mut s).unwrap();
        s
    };
    let account: serde_json::Value = serde_json::from_str(&read("account.json")).unwrap();
    assert_eq!((account["name"].as_str(), account["profile"]["display"].as_str()), (Some("bob"), Some("Bobby")));
    let lines = read("messages.jsonl");
    assert!(lines.contains("my first words") && lines.contains("a reply of mine"), "{lines}");
    assert!(!lines.contains("carol's own words"), "nobody else's words: {lines}");
    assert!(!lines.contains("words I took back"), "nothing erased comes back: {lines}");
    let file = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event"]["event"] == "file")
        .expect("the file's event");
    let (hash, name) = (file["event"]["hash"].as_str().unwrap(), file["event"]["name"].as_str().unwrap());
    assert_eq!(read(&format!("files/{hash}/{name}")), "bob's notes");
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().all(|n| !n.contains("..")), "no way out of its folder: {names:?}");
}

/// A person deletes their account: signed out on every node at once, never
/// signs in again, the name stays taken and their messages stay; what the
/// account log held of them is gone from every node's disk.
#[tokio::test]
async fn a_deleted_account_is_gone_from_every_nodes_disk_and_its_words_stay() {
    let m = Mesh::start_accounts(3, &[]).await;
    let root = account_everywhere(&m, "root").await;
    let bob = account_everywhere(&m, "bob").await;
    let profile = json!({"display": "Bobby", "status": "bob-status-7f3a", "emoji": "", "until": 0, "tz": ""});
    assert_eq!(post(&m.nodes[0], "/api/profile", Some(&bob), profile).await.0, 204);
    let said = json!({"id": "b1", "body": "bob's words stay"});
    assert_eq!(post(&m.nodes[0], "/api/rooms/general/messages", Some(&bob), said).await.0, 200);
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "the profile everywhere", || async {
            get(node, "/api/profiles?names=bob", &root).await.1.to_string().contains("bob-status-7f3a")
        })
        .await;
    }
    let mut sockets = Vec::new();
    for node in &m.nodes[1..] {
        sockets.push(ws_with_token(node, &bob).await.0);
    }
    let (status, body) = post(&m.nodes[0], "/api/me/delete", Some(&root), json!({"password": "root's password"})).await;
    assert_eq!(status, 400, "the last admin stays: {body}");
    let (status, _) = post(&m.nodes[0], "/api/me/delete", Some(&bob), json!({"password": "a guess"})).await;
    assert_eq!(status, 401);
    let (status, body) = post(&m.nodes[0], "/api/me/delete", Some(&bob), json!({"password": "bob's password"})).await;
    assert_eq!(status, 204, "{body}");
    for c in &mut sockets {
        assert_eq!(c.close_code().await, Some(1008), "signed out on every node");
    }
    for (i, node) in m.nodes.iter().enumerate() {
        assert_eq!(login(node, "bob", "bob's password").await.0, 401, "{}", node.id());
        eventually(Duration::from_secs(5), "the name stays taken", || async {
            register(node, "bob", "another password").await.0 == 409
        })
        .await;
        let (_, p) = get(node, "/api/profiles?names=bob", &root).await;
        assert_eq!(p["profiles"][0]["deleted"], true, "{p}");
        assert!(!p.to_string().contains("bob-status-7f3a"), "{p}");
        let (_, page) = get(node, "/api/rooms/general/messages", &root).await;
        assert!(page.to_string().contains("bob's words stay"), "their words stay: {page}");
        // Nothing of the profile in any file of the data directory.
        let data = m.dir.path().join(format!("n{}", i + 1));
        eventually(Duration::from_secs(5), "the log's copy erased on disk", || async {
            files_holding(&data, "bob-status-7f3a").is_empty()
        })
        .await;
    }
}
