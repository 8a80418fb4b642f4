//! Who may do what, on every path: every HTTP route of the router's own
//! table, and the WebSocket's `join` and `history`, as every actor, in
//! every kind of room, on both nodes of a mesh, against the tables
//! docs/security.md shows to users (read from that page: the page and the
//! node cannot disagree without this test failing).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::*;
use meshchat::infra::http::request;
use serde_json::{Value, json};

const ACTORS: [&str; 11] = [
    "member",
    "moderator",
    "owner",
    "admin",
    "non-member",
    "kicked",
    "banned",
    "anonymous",
    "revoked",
    "expired",
    "foreign",
];
const ROOMS: [&str; 5] = ["open", "public", "private", "dm", "deleted"];
/// Actors whose token is no good.
const NO_SESSION: [&str; 4] = ["anonymous", "revoked", "expired", "foreign"];

/// A table of docs/security.md between `<!-- authz:{name} -->` markers,
/// as rows of cells.
fn doc_table(name: &str) -> Vec<Vec<String>> {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md")).unwrap();
    let start = page.find(&format!("<!-- authz:{name} -->")).unwrap_or_else(|| panic!("no {name} table"));
    let end = page.find(&format!("<!-- /authz:{name} -->")).unwrap();
    page[start..end]
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("| ---"))
        .skip(1)
        .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().to_owned()).collect())
        .collect()
}

/// (rule, room) → actor → expected answer.
fn rules() -> HashMap<(String, String), HashMap<String, String>> {
    doc_table("rules")
        .into_iter()
        .map(|row| {
            let by_actor = ACTORS.iter().zip(&row[2..]).map(|(a, e)| (a.to_string(), e.clone())).collect();
            ((row[0].clone(), row[1].clone()), by_actor)
        })
        .collect()
}

struct World {
    m: Mesh,
    tokens: HashMap<&'static str, String>,
    /// The kind of room → its name.
    rooms: HashMap<&'static str, String>,
    /// A file shared in each room, and a message to react to.
    files: HashMap<&'static str, String>,
    targets: HashMap<&'static str, Value>,
}

async fn as_owner(w_node: &NodeProc, token: &str, room: &str, id: &str, action: Value) {
    let body = json!({"id": id, "action": action});
    let (status, r) = api("POST", &w_node.url(&format!("/api/rooms/{room}/actions")), Some(token), Some(body)).await;
    assert_eq!(status, 200, "{action}: {r}");
}

async fn share(node: &NodeProc, token: &str, room: &str, id: &str) -> (String, Value) {
    let posted = json!({"id": format!("{id}-m"), "body": "a message"});
    let (status, m) = api("POST", &node.url(&format!("/api/rooms/{room}/messages")), Some(token), Some(posted)).await;
    assert_eq!(status, 200, "{m}");
    let url = node.url(&format!("/api/rooms/{room}/files?id={id}"));
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "text/plain"), ("X-File-Name", "notes.txt")];
    let r = request("POST", &url, &headers, Some(format!("notes of {room}").as_bytes())).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let msg = r.json()["msg"].clone();
    let event: Value = serde_json::from_str(msg["body"].as_str().unwrap()).unwrap();
    (event["hash"].as_str().unwrap().to_owned(), m["msg"].clone())
}

/// A token whose claims are `token`'s with `change` applied, signed with
/// the key in `certs` (the mesh's own, or another mesh's).
fn resigned(
    token: &str,
    certs: &std::path::Path,
    change: impl FnOnce(&mut meshchat::accounts::token::Claims),
) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let mut claims: meshchat::accounts::token::Claims = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    change(&mut claims);
    let keys = meshchat::trust::identity::NodeKeys::load("n1", certs).unwrap();
    meshchat::accounts::token::encode(&claims, &keys).unwrap()
}

async fn world() -> World {
    let extra = ["--http-rate", "100000", "--http-burst", "100000", "--registrations-per-hour", "1000"];
    let m = Mesh::start_accounts(2, &extra).await;
    let mut tokens = HashMap::new();
    // The first account is the mesh's admin.
    for actor in ["admin", "member", "moderator", "owner", "non-member", "kicked", "banned", "revoked"] {
        tokens.insert(actor, account_everywhere(&m, actor).await);
    }
    let n1 = &m.nodes[0];
    let t = |a: &str| tokens[a].clone();
    let mut rooms = HashMap::new();
    rooms.insert("open", "plaza".to_owned());
    for (kind, name, private) in [("public", "town", false), ("private", "vault", true), ("deleted", "gone", false)] {
        let body = json!({"room": name, "private": private});
        assert_eq!(api("POST", &n1.url("/api/rooms"), Some(&t("owner")), Some(body)).await.0, 201);
        for (i, who) in ["member", "moderator", "kicked", "banned"].iter().enumerate() {
            as_owner(n1, &t("owner"), name, &format!("inv{i}"), json!({"event": "invited", "user": who})).await;
        }
        as_owner(n1, &t("owner"), name, "mod", json!({"event": "role", "user": "moderator", "role": "moderator"}))
            .await;
        as_owner(n1, &t("owner"), name, "kick", json!({"event": "kicked", "user": "kicked", "reason": "test"})).await;
        as_owner(n1, &t("owner"), name, "ban", json!({"event": "banned", "user": "banned", "reason": "test"})).await;
        rooms.insert(kind, name.to_owned());
    }
    let (status, dm) = api("POST", &n1.url("/api/dm"), Some(&t("member")), Some(json!({"users": ["owner"]}))).await;
    assert_eq!(status, 200, "{dm}");
    rooms.insert("dm", dm["room"].as_str().unwrap().to_owned());
    let (mut files, mut targets) = (HashMap::new(), HashMap::new());
    for kind in ROOMS {
        let sharer = if kind == "open" || kind == "dm" { "member" } else { "owner" };
        let (hash, msg) = share(n1, &t(sharer), &rooms[kind], "setup").await;
        files.insert(kind, hash);
        targets.insert(kind, msg);
    }
    // In the open room only an admin bans.
    as_owner(n1, &t("admin"), "plaza", "ban", json!({"event": "banned", "user": "banned", "reason": "test"})).await;
    as_owner(n1, &t("owner"), "gone", "end", json!({"event": "room_deleted"})).await;
    // Tokens that are no good.
    assert_eq!(api("POST", &n1.url("/api/logout"), Some(&t("revoked")), None).await.0, 204);
    let certs = m.dir.path().join("certs");
    let expired = resigned(&t("member"), &certs, |c| c.expires = 1_000);
    let other = tempfile::tempdir().unwrap();
    make_certs(other.path(), &["n1"]);
    let foreign = resigned(&t("member"), other.path(), |_| {});
    tokens.insert("expired", expired);
    tokens.insert("foreign", foreign);
    tokens.insert("anonymous", String::new());
    let w = World { m, tokens, rooms, files, targets };
    settle(&w).await;
    w
}

/// Waits until the second node shows every room as the first does.
async fn settle(w: &World) {
    for kind in ROOMS {
        let who = if kind == "dm" { "member" } else { "owner" };
        let url = |i: usize| w.m.nodes[i].url(&format!("/api/rooms/{}", w.rooms[kind]));
        let first = api("GET", &url(0), Some(&w.tokens[who]), None).await;
        eventually(std::time::Duration::from_secs(10), "n2 shows the room as n1", || async {
            api("GET", &url(1), Some(&w.tokens[who]), None).await == first
        })
        .await;
    }
}

/// The answer to one probe: `ok` for 2xx, else the error code.
async fn probe(w: &World, node: &NodeProc, actor: &str, route: (&str, &str, &str), kind: &str, n: usize) -> String {
    let (method, path, probe) = route;
    let room = w.rooms.get(kind).cloned().unwrap_or_default();
    let mut token = w.tokens[actor].clone();
    if probe == "fresh session" && !NO_SESSION.contains(&actor) {
        let login = json!({"name": actor, "password": format!("{actor}'s password")});
        token = api("POST", &node.url("/api/login"), None, Some(login)).await.1["token"].as_str().unwrap().to_owned();
    }
    let target = w.targets.get(kind).cloned().unwrap_or_default();
    let id = format!("{actor}-{kind}-{n}");
    let path = path
        .replace("{room}", if probe == "unknown room" { "no-such-room" } else { &room })
        // A room's file where no room is named (asked for as a picture).
        .replace("{hash}", w.files.get(kind).or_else(|| w.files.get("private")).map_or("", String::as_str))
        .replace("{id}", "0123456789abcdef")
        .replace("{name}", "non-member")
        .replace("{key}", "0123456789abcdef0123456789abcdef")
        .replace("{*rest}", "no-such-route");
    let (path, body) = match probe {
        "create" => (path, Some(json!({"room": format!("made-{id}")}))),
        "react" => (
            path,
            Some(
                json!({"id": id, "action": {"event": "reacted", "origin": target["origin"], "seq": target["seq"], "emoji": "👍", "on": true}}),
            ),
        ),
        "topic" => (path, Some(json!({"id": id, "action": {"event": "topic", "topic": format!("topic {id}")}}))),
        "title" => (path, Some(json!({"id": id, "action": {"event": "title", "title": format!("title {n}")}}))),
        "dm" => (path, Some(json!({"users": [if actor == "admin" { "owner" } else { "admin" }]}))),
        "everywhere" => (format!("{path}?q=message"), None),
        "in room" => (format!("{path}?q=message&room={room}"), None),
        "post" => (path, Some(json!({"id": id, "body": "hello"}))),
        "poll" => (format!("{path}?timeout_s=1"), None),
        "empty" => (path, Some(json!({}))),
        "wrong" => (path, Some(json!({"name": format!("nobody-{actor}"), "password": "wrong password"}))),
        "wrong old" => (path, Some(json!({"old": "wrong password", "new": "a brand new password"}))),
        "wrong password" => {
            (path, Some(json!({"secret": "JBSWY3DPEHPK3PXP", "code": "000000", "password": "wrong password"})))
        }
        "make" if path.ends_with("tokens") => (path, Some(json!({"label": id}))),
        "subscribe" => {
            let signed_in = (!token.is_empty()).then_some(token.as_str());
            let key = api("GET", &node.url("/api/push/key"), signed_in, None).await.1["key"].clone();
            // RFC 8291's example browser keys: a valid point and secret.
            let p256dh = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
            let endpoint = format!("https://push.example.com/{id}");
            (path, Some(json!({"endpoint": endpoint, "p256dh": p256dh, "auth": "BTBZMqHH6r4Tts7J_aSIgg", "key": key})))
        }
        "unsubscribe" => (path, Some(json!({"endpoint": format!("https://push.example.com/{id}")}))),
        "same role" => (path, Some(json!({"role": "member"}))),
        "keep active" => (path, Some(json!({"active": true}))),
        "unknown room" if method == "POST" => (path, Some(json!({"archived": true, "days": 0}))),
        // The world's own rules (the flags' defaults, no retention): nothing changes.
        "same rules" => (path, Some(json!({"registration": "open", "guests": false, "days": 0}))),
        "forged" if path.ends_with("join") => (
            path,
            Some(
                json!({"key": "forged", "id": "n9", "public_key": "AA", "mesh": "127.0.0.1:9", "url": "http://127.0.0.1:9", "mac": "00"}),
            ),
        ),
        "forged" => (path, Some(json!({"id": "n2", "at": 1, "sig": "AA"}))),
        _ => (path, (method == "POST").then(|| json!({}))),
    };
    let url = node.url(&path);
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Content-Type", "application/json")];
    if !token.is_empty() {
        headers.push(("Authorization", auth.as_str()));
    }
    let r = if probe == "svg" {
        let mut h = headers.clone();
        h[0] = ("Content-Type", "image/svg+xml");
        h.push(("X-File-Name", "me.svg"));
        request(method, &url, &h, Some(b"<svg onload=alert(1)/>")).await.unwrap()
    } else if probe == "upload" {
        let url = node.url(&format!("{path}?id={id}"));
        let mut h = headers.clone();
        h[0] = ("Content-Type", "text/plain");
        h.push(("X-File-Name", "up.txt"));
        request(method, &url, &h, Some(b"uploaded")).await.unwrap()
    } else {
        let bytes = body.map(|b| b.to_string().into_bytes());
        request(method, &url, &headers, bytes.as_deref()).await.unwrap()
    };
    if (200..300).contains(&r.status) {
        return "ok".into();
    }
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    body["error"]["code"].as_str().map_or_else(|| format!("status {} ({})", r.status, r.text()), str::to_owned)
}

/// The answer to a WebSocket frame: `ok`, or the error code.
async fn frame(w: &World, node: &NodeProc, actor: &str, kind: &str, what: &str) -> String {
    let mut c = Client::connect(&node.ws_url()).await;
    c.send(json!({"type": "hello", "v": 1, "token": w.tokens[actor]})).await;
    let hello = c.recv().await;
    if hello["type"] == "error" {
        return hello["code"].as_str().unwrap().to_owned();
    }
    let room = &w.rooms[kind];
    let f = if what == "ws join" {
        json!({"type": "join", "room": room})
    } else {
        json!({"type": "history", "room": room, "limit": 5})
    };
    c.send(f).await;
    loop {
        let f = c.recv().await;
        match f["type"].as_str().unwrap() {
            "error" => return f["code"].as_str().unwrap().to_owned(),
            "joined" | "history" => return "ok".into(),
            _ => {}
        }
    }
}

#[tokio::test]
async fn every_route_and_frame_answers_every_actor_as_the_security_page_says() {
    let rules = rules();
    let routes = doc_table("routes");
    // Every route the router serves has a line on the page, and the other way round.
    for (method, path) in meshchat::edge::http::routes::list() {
        assert!(
            routes.iter().any(|r| r[0] == method && r[1] == path),
            "{method} {path} is missing from docs/security.md"
        );
    }
    for r in &routes {
        assert!(
            meshchat::edge::http::routes::list().contains(&(r[0].as_str(), r[1].as_str())),
            "no route {} {}",
            r[0],
            r[1]
        );
    }
    let w = world().await;
    let mut wrong = Vec::new();
    let mut n = 0;
    for (i, node) in w.m.nodes.iter().enumerate() {
        for r in routes.iter().filter(|r| r[3] != "frames") {
            let room_rule = ROOMS.iter().any(|k| rules.contains_key(&(r[3].clone(), k.to_string())));
            let kinds: Vec<&str> = if room_rule { ROOMS.to_vec() } else { vec!["any"] };
            for kind in kinds {
                let expected = &rules[&(r[3].clone(), kind.to_owned())];
                for actor in ACTORS {
                    let want = &expected[actor];
                    if want == "-" {
                        continue;
                    }
                    n += 1;
                    let got = probe(&w, node, actor, (&r[0], &r[1], &r[2]), kind, n).await;
                    if &got != want {
                        wrong.push(format!(
                            "n{}: {} {} ({}) in {kind} as {actor}: {got}, the page says {want}",
                            i + 1,
                            r[0],
                            r[1],
                            r[2]
                        ));
                    }
                }
            }
        }
    }
    // The WebSocket last: joining a public room makes a member.
    for (i, node) in w.m.nodes.iter().enumerate() {
        for what in ["ws history", "ws join"] {
            for kind in ROOMS {
                for actor in ACTORS {
                    let want = &rules[&(what.to_owned(), kind.to_owned())][actor];
                    if want == "-" {
                        continue;
                    }
                    let got = frame(&w, node, actor, kind, what).await;
                    if &got != want {
                        wrong.push(format!("n{}: {what} in {kind} as {actor}: {got}, the page says {want}", i + 1));
                    }
                }
            }
        }
    }
    println!("{n} HTTP requests and the frames checked");
    assert!(wrong.is_empty(), "{} answers differ from docs/security.md:\n{}", wrong.len(), wrong.join("\n"));
    // The public metrics name no room and no person.
    let (_, text) = http_text("GET", &w.m.nodes[0].url("/metrics"), None).await;
    for secret in ["vault", "town", "plaza", "non-member", "moderator"] {
        assert!(!text.contains(secret), "/metrics names {secret}");
    }
}
