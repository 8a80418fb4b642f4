//! Profiles over a real 3-node mesh: set on one node, read on every node
//! within a second; a display name that passes for another person's name,
//! a hidden character or too many names asked are refused; an expired
//! status is gone; only the person sets their own.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

async fn profiles(node: &NodeProc, tok: &str, names: &str) -> Value {
    let (status, body) = api("GET", &node.url(&format!("/api/profiles?names={names}")), Some(tok), None).await;
    assert_eq!(status, 200, "{body}");
    body["profiles"].clone()
}

async fn set(node: &NodeProc, tok: &str, profile: Value) -> (u16, Value) {
    api("POST", &node.url("/api/profile"), Some(tok), Some(profile)).await
}

#[tokio::test]
async fn a_profile_set_on_one_node_is_on_every_node_within_a_second() {
    let m = Mesh::start_accounts(3, &[]).await;
    let ada = token(&register(&m.nodes[0], "ada", "correct horse").await.1);
    let bob = token(&register(&m.nodes[0], "bob", "correct horse").await.1);
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "the accounts everywhere", || async {
            me(node, &bob).await.0 == 200 && me(node, &ada).await.0 == 200
        })
        .await;
    }
    let p = json!({"display": "Ada Lovelace", "status": "at the mill", "emoji": "🧵", "tz": "Europe/London", "availability": "dnd"});
    assert_eq!(set(&m.nodes[0], &ada, p).await.0, 204);
    for node in &m.nodes[1..] {
        let took = eventually(Duration::from_secs(5), "the profile on every node", || async {
            profiles(node, &bob, "ada,bob,nobody").await[0]["display"] == "Ada Lovelace"
        })
        .await;
        assert!(took < Duration::from_secs(1), "{}: {took:?}", node.id());
        let got = profiles(node, &bob, "ada,bob,nobody").await;
        let names: Vec<&str> = got.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["ada", "bob"], "names of no account are left out");
        assert_eq!((got[0]["status"].as_str(), got[0]["availability"].as_str()), (Some("at the mill"), Some("dnd")));
        assert_eq!((got[0]["emoji"].as_str(), got[0]["tz"].as_str()), (Some("🧵"), Some("Europe/London")));
    }
    // The latest one wins on every node, whichever node it was set on.
    assert_eq!(set(&m.nodes[2], &ada, json!({"display": "Countess"})).await.0, 204);
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "the newer profile everywhere", || async {
            let p = profiles(node, &bob, "ada").await;
            p[0]["display"] == "Countess" && p[0]["status"] == "" && p[0]["availability"] == "active"
        })
        .await;
    }
}

#[tokio::test]
async fn impostors_hidden_characters_and_floods_are_refused() {
    let m = Mesh::start_accounts(1, &[]).await;
    let n = &m.nodes[0];
    let ada = token(&register(n, "ada", "correct horse").await.1);
    let _bob = token(&register(n, "bob", "correct horse").await.1);
    // bob's account name, in another case or with a Cyrillic о: refused.
    for display in ["Bob", "b\u{043E}b"] {
        let (status, body) = set(n, &ada, json!({ "display": display })).await;
        assert_eq!(status, 400, "{display}: {body}");
        assert_eq!(body["error"]["code"], "invalid");
    }
    // Her own name in another case is hers.
    assert_eq!(set(n, &ada, json!({"display": "ADA"})).await.0, 204);
    let (status, _) = set(n, &ada, json!({"status": "hi\u{202E}gnp.exe"})).await;
    assert_eq!(status, 400, "a direction change in a status");
    let (status, _) = set(n, &ada, json!({"tz": "<script>"})).await;
    assert_eq!(status, 400);
    let many = (0..101).map(|i| format!("u{i}")).collect::<Vec<_>>().join(",");
    let (status, _) = api("GET", &n.url(&format!("/api/profiles?names={many}")), Some(&ada), None).await;
    assert_eq!(status, 400, "101 names at once");
    // Nobody sets a profile without a session.
    assert_eq!(set(n, "", json!({"display": "x"})).await.0, 401);
    // A status that expired is gone for everyone.
    let (status, _) = set(n, &ada, json!({"status": "lunch", "emoji": "🥪", "until": 1_000})).await;
    assert_eq!(status, 204);
    let p = profiles(n, &ada, "ada").await;
    assert_eq!((p[0]["status"].as_str(), p[0]["emoji"].as_str()), (Some(""), Some("")), "{p}");
}

/// Presence people read, over a real 3-node mesh: away and do-not-disturb
/// set on one node are what every node says; a kill -9 of
/// the person's node takes them offline everywhere (no ghost), and their
/// do-not-disturb is still theirs when the node is back.
#[tokio::test]
async fn away_do_not_disturb_and_a_kill_reach_every_node() {
    let mut m = Mesh::start_accounts(3, &["--presence-grace-ms", "2000"]).await;
    let bob = account_everywhere(&m, "bob").await;
    let ada = account_everywhere(&m, "ada").await;
    let (mut watcher, _) = ws_with_token(&m.nodes[2], &ada).await;
    watcher.join("general", None).await;
    let (mut on_n1, _) = ws_with_token(&m.nodes[0], &bob).await;
    on_n1.join("general", None).await;
    let p = watcher.wait_for("presence").await;
    assert_eq!((p["name"].as_str(), p["online"].as_bool()), (Some("bob"), Some(true)));

    for availability in ["away", "dnd"] {
        assert_eq!(set(&m.nodes[0], &bob, json!({"availability": availability})).await.0, 204);
        for node in &m.nodes {
            // (how soon is the test above's promise; here, that it arrives)
            let took = eventually(Duration::from_secs(5), &format!("{availability} on {}", node.id()), || async {
                profiles(node, &ada, "bob").await[0]["availability"] == availability
            })
            .await;
            println!("{availability} on {}: {took:?}", node.id());
        }
    }

    // bob's node dies: he goes offline on the others (detection + grace).
    m.nodes[0].kill9();
    let p = watcher.wait_for("presence").await;
    assert_eq!((p["name"].as_str(), p["online"].as_bool()), (Some("bob"), Some(false)), "{p}");
    // And stays so: nothing brings a ghost of him back.
    let quiet = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < quiet {
        if let Some(f) = watcher.try_recv(Duration::from_millis(300)).await {
            assert_ne!(f["type"], "presence", "after the kill: {f}");
        }
    }
    m.nodes[0].restart().unwrap();
    eventually(Duration::from_secs(10), "n1 back, bob still not to be disturbed", || async {
        api("GET", &m.nodes[0].url("/api/profiles?names=bob"), Some(&ada), None).await.1["profiles"][0]["availability"]
            == "dnd"
    })
    .await;
}

/// When a person's connection ends, every node knows when they were last
/// seen (what a conversation's header shows).
#[tokio::test]
async fn a_connection_that_ends_is_last_seen_on_every_node() {
    let m = Mesh::start_accounts(3, &[]).await;
    let bob = account_everywhere(&m, "bob").await;
    let ada = account_everywhere(&m, "ada").await;
    let (mut c, _) = ws_with_token(&m.nodes[0], &bob).await;
    c.join("general", None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let leaving = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    drop(c);
    for node in &m.nodes {
        eventually(Duration::from_secs(10), &format!("bob last seen on {}", node.id()), || async {
            profiles(node, &ada, "bob").await[0]["last_seen"].as_u64().is_some_and(|t| t >= leaving)
        })
        .await;
    }
}

/// Three thirds: red, blue (the middle), green.
fn wide_picture() -> Vec<u8> {
    let img = image::RgbImage::from_fn(600, 200, |x, _| match x {
        0..200 => image::Rgb([255, 0, 0]),
        200..400 => image::Rgb([0, 0, 255]),
        _ => image::Rgb([0, 255, 0]),
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A second picture, other bytes than [`wide_picture`].
fn small_picture() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 7]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn set_avatar(node: &NodeProc, tok: &str, body: &[u8]) -> meshchat::infra::http::Response {
    let auth = format!("Bearer {tok}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "image/jpeg"), ("X-File-Name", "me.jpg")];
    meshchat::infra::http::request("POST", &node.url("/api/profile/avatar"), &headers, Some(body)).await.unwrap()
}

async fn avatar(node: &NodeProc, tok: &str, hash: &str) -> meshchat::infra::http::Response {
    let auth = format!("Bearer {tok}");
    let url = node.url(&format!("/api/avatars/{hash}"));
    meshchat::infra::http::request("GET", &url, &[("Authorization", auth.as_str())], None).await.unwrap()
}

/// Every file under each node's `files/` (the raw bytes' places).
fn files_of(m: &Mesh, i: usize) -> Vec<String> {
    let dir = m.dir.path().join(format!("n{}", i + 1)).join("files");
    let mut out = Vec::new();
    for shard in std::fs::read_dir(dir).unwrap().flatten().filter(|s| s.file_name().len() == 2) {
        out.extend(
            std::fs::read_dir(shard.path()).unwrap().flatten().map(|f| f.file_name().to_string_lossy().into_owned()),
        );
    }
    out
}

/// A picture set on n1 is cropped to its middle square, 256 pixels a side,
/// and shown by every node to anyone signed in; what is not a picture, or
/// too large, is refused with nothing kept; a replaced picture leaves every
/// node's disk, and so does the last one when its account is deleted.
#[tokio::test]
async fn a_picture_is_cropped_served_everywhere_and_gone_when_replaced_or_deleted() {
    let m = Mesh::start_accounts(3, &["--max-file-bytes", "2000000"]).await;
    // bob first: the first account is the mesh's admin, who could not leave.
    let bob = account_everywhere(&m, "bob").await;
    let ada = account_everywhere(&m, "ada").await;

    let bad = set_avatar(&m.nodes[0], &ada, b"<svg onload=alert(1)/>").await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    let huge = set_avatar(&m.nodes[0], &ada, &vec![0u8; 2_000_001]).await;
    assert_eq!(huge.status, 413, "{}", huge.text());
    assert!(files_of(&m, 0).is_empty(), "nothing kept: {:?}", files_of(&m, 0));

    let set = set_avatar(&m.nodes[0], &ada, &wide_picture()).await;
    assert_eq!(set.status, 200, "{}", set.text());
    let first = set.json()["avatar"].as_str().unwrap().to_owned();
    for node in &m.nodes {
        eventually(Duration::from_secs(10), &format!("{} shows ada's picture", node.id()), || async {
            profiles(node, &bob, "ada").await[0]["avatar"] == first.as_str()
                && avatar(node, &bob, &first).await.status == 200
        })
        .await;
        let got = avatar(node, &bob, &first).await;
        assert_eq!(
            (got.header("content-type"), got.header("x-content-type-options")),
            (Some("image/png"), Some("nosniff"))
        );
        let img = image::load_from_memory(&got.body).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (256, 256));
        let [r, g, b] = img.get_pixel(128, 128).0;
        assert!(b > 200 && r < 40 && g < 40, "the middle third: {r},{g},{b}");
        let [r, _, b] = img.get_pixel(2, 128).0;
        assert!(b > 200 && r < 40, "nothing of the red side: {r},{b}");
    }
    // Only someone's picture, only to someone signed in.
    let url = m.nodes[1].url(&format!("/api/avatars/{first}"));
    assert_eq!(meshchat::infra::http::request("GET", &url, &[], None).await.unwrap().status, 401);
    assert_eq!(avatar(&m.nodes[1], &bob, &"ab".repeat(32)).await.status, 404);

    // Replaced from n2: the first leaves every node's disk.
    let set = set_avatar(&m.nodes[1], &ada, &wide_picture()[..]).await;
    assert_eq!(set.status, 200, "{}", set.text());
    let second = set.json()["avatar"].as_str().unwrap().to_owned();
    assert_eq!(second, first, "the same picture, the same bytes");
    let other = small_picture();
    let set = set_avatar(&m.nodes[1], &ada, &other).await;
    let second = set.json()["avatar"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    for (i, node) in m.nodes.iter().enumerate() {
        eventually(Duration::from_secs(10), &format!("{} forgets the first picture", node.id()), || async {
            profiles(node, &bob, "ada").await[0]["avatar"] == second.as_str()
                && avatar(node, &bob, &first).await.status == 404
                && !files_of(&m, i).contains(&first)
        })
        .await;
    }

    // Removed by hand, then set again and the account deleted: gone.
    let (status, _) = api("DELETE", &m.nodes[2].url("/api/profile/avatar"), Some(&ada), None).await;
    assert_eq!(status, 204);
    for (i, node) in m.nodes.iter().enumerate() {
        eventually(Duration::from_secs(10), &format!("{} has no picture of ada", node.id()), || async {
            profiles(node, &bob, "ada").await[0].get("avatar").is_none() && !files_of(&m, i).contains(&second)
        })
        .await;
    }
    let last = set_avatar(&m.nodes[0], &ada, &other).await.json()["avatar"].as_str().unwrap().to_owned();
    for i in 0..3 {
        eventually(Duration::from_secs(10), "the picture everywhere", || async {
            avatar(&m.nodes[i], &bob, &last).await.status == 200
        })
        .await;
    }
    let (status, body) =
        api("POST", &m.nodes[0].url("/api/me/delete"), Some(&ada), Some(json!({"password": "ada's password"}))).await;
    assert_eq!(status, 204, "{body}");
    for (i, node) in m.nodes.iter().enumerate() {
        eventually(Duration::from_secs(10), &format!("{} erased ada's picture", node.id()), || async {
            !files_of(&m, i).contains(&last) && avatar(node, &bob, &last).await.status == 404
        })
        .await;
    }
}

/// Two pictures set by one person on two nodes that cannot hear each other
/// (the second node knew nothing of the first picture, so nothing told it
/// to delete it): once they meet, the later one is the picture everywhere
/// and the other leaves every node's disk, deleted by the node that made it.
#[tokio::test]
async fn a_picture_that_lost_to_one_set_elsewhere_leaves_every_disk() {
    let mut m = Mesh::start_accounts(2, &[]).await;
    let bob = account_everywhere(&m, "bob").await;
    let ada = account_everywhere(&m, "ada").await;
    m.nodes[1].kill9();
    let set = set_avatar(&m.nodes[0], &ada, &wide_picture()).await;
    assert_eq!(set.status, 200, "{}", set.text());
    let lost = set.json()["avatar"].as_str().unwrap().to_owned();
    m.nodes[0].kill9();
    m.nodes[1].restart().unwrap();
    let set = set_avatar(&m.nodes[1], &ada, &small_picture()).await;
    assert_eq!(set.status, 200, "{}", set.text());
    let kept = set.json()["avatar"].as_str().unwrap().to_owned();
    assert!(files_of(&m, 0).contains(&lost), "n1 holds the first: {:?}", files_of(&m, 0));

    m.nodes[0].restart().unwrap();
    for node in &m.nodes {
        wait_peers_up(node, 1).await;
    }
    for (i, node) in m.nodes.iter().enumerate() {
        eventually(Duration::from_secs(15), &format!("{} keeps only the later picture", node.id()), || async {
            profiles(node, &bob, "ada").await[0]["avatar"] == kept.as_str()
                && avatar(node, &bob, &kept).await.status == 200
                && !files_of(&m, i).contains(&lost)
        })
        .await;
    }
}

/// A client that watches people is pushed their profile changes from any
/// node (no poll): availability, status, a picture; a change of someone it
/// does not watch, or any change to a client that watches nobody, sends
/// nothing; watching more than 100 names is refused.
#[tokio::test]
async fn watched_profiles_are_pushed_from_any_node_and_nothing_else() {
    let m = Mesh::start_accounts(3, &[]).await;
    let ada = account_everywhere(&m, "ada").await;
    let bob = account_everywhere(&m, "bob").await;
    let carol = account_everywhere(&m, "carol").await;
    let (mut watcher, _) = ws_with_token(&m.nodes[2], &carol).await;
    watcher.send(json!({"type": "watch", "names": ["ada"]})).await;
    // Also on the node the change is made on (which applies it twice: as
    // it writes it, and from its log).
    let (mut near, _) = ws_with_token(&m.nodes[0], &carol).await;
    near.send(json!({"type": "watch", "names": ["ada"]})).await;
    near.send(json!({"type": "ping"})).await;
    near.wait_for("pong").await;
    let (mut idle, _) = ws_with_token(&m.nodes[2], &bob).await;
    let too_many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
    idle.send(json!({"type": "watch", "names": too_many})).await;
    assert_eq!(idle.expect_error().await.0, "invalid");
    // A ping answered: the watch above was taken before what follows.
    watcher.send(json!({"type": "ping"})).await;
    watcher.wait_for("pong").await;

    // bob's change: nobody watches him.
    assert_eq!(set(&m.nodes[0], &bob, json!({"status": "unwatched"})).await.0, 204);
    let started = std::time::Instant::now();
    assert_eq!(set(&m.nodes[0], &ada, json!({"status": "at the mill", "availability": "dnd"})).await.0, 204);
    let pushed = watcher.wait_for("profile").await;
    println!("a profile set on n1 reached a watcher on n3 in {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
    let p = &pushed["profile"];
    assert_eq!(
        (p["name"].as_str(), p["availability"].as_str(), p["status"].as_str()),
        (Some("ada"), Some("dnd"), Some("at the mill"))
    );
    assert_eq!(near.wait_for("profile").await, pushed, "the same frame on the node it was made on");

    // Her picture, set on n2: pushed too.
    let auth = format!("Bearer {ada}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "image/jpeg"), ("X-File-Name", "me.jpg")];
    let url = m.nodes[1].url("/api/profile/avatar");
    let set_pic = meshchat::infra::http::request("POST", &url, &headers, Some(&wide_picture())).await.unwrap();
    assert_eq!(set_pic.status, 200, "{}", set_pic.text());
    let pushed = watcher.wait_for("profile").await;
    assert_eq!(pushed["profile"]["avatar"], set_pic.json()["avatar"]);
    // Nothing of bob came, before or after; nothing reached the idle client.
    while let Some(f) = watcher.try_recv(Duration::from_millis(500)).await {
        assert!(f["type"] != "profile" || f["profile"]["name"] == "ada", "{f}");
    }
    while let Some(f) = idle.try_recv(Duration::from_millis(200)).await {
        assert_ne!(f["type"], "profile", "{f}");
    }
    // Each change told once: the status, then the picture, nothing twice.
    assert_eq!(near.wait_for("profile").await["profile"]["avatar"], set_pic.json()["avatar"]);
    while let Some(f) = near.try_recv(Duration::from_millis(300)).await {
        assert_ne!(f["type"], "profile", "a change told twice: {f}");
    }
}

/// Watching people is for sessions of accounts, as `GET /api/profiles` is:
/// a guest is refused (`forbidden`: its connection is not signed out).
#[tokio::test]
async fn a_guest_cannot_watch_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let n = start_node("n1", &dir.path().join("n1"), 0, &[]);
    let (mut guest, _) = Client::hello(&n.ws_url(), "guesty").await;
    guest.send(json!({"type": "watch", "names": ["ada"]})).await;
    assert_eq!(guest.expect_error().await.0, "forbidden");
    // Its connection stands: it still chats.
    guest.join("general", None).await;
}
