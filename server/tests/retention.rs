//! What leaves the mesh by policy, over a real mesh. Retention: with a
//! policy of a day, two days on (the nodes' clocks moved with
//! `--clock-offset-ms`) an old message and its file leave every node's
//! disk, checked on the raw bytes of every file of the data directories; a
//! node that was away all that time, holding a text the others never had,
//! brings no old text back to them. A room's own policy wins over the
//! mesh's. A deleted account, under the policy that erases what it wrote:
//! its words leave every room of every node, one that was down included.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use meshchat::infra::http::request;
use serde_json::json;

const TWO_DAYS_MS: &str = "172800000";

async fn post(node: &NodeProc, token: &str, room: &str, id: &str, body: &str) {
    let url = node.url(&format!("/api/rooms/{room}/messages"));
    let (status, m) = api("POST", &url, Some(token), Some(json!({"id": id, "body": body}))).await;
    assert_eq!(status, 200, "{m}");
}

async fn upload(node: &NodeProc, token: &str, room: &str, body: &[u8]) {
    let url = node.url(&format!("/api/rooms/{room}/files?id=f1"));
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "text/plain"), ("X-File-Name", "notes.txt")];
    let r = request("POST", &url, &headers, Some(body)).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
}

/// Which of `words` some file of `data` holds.
fn held(data: &Path, words: &[&str]) -> Vec<String> {
    words.iter().filter(|w| !files_holding(data, w).is_empty()).map(|w| w.to_string()).collect()
}

async fn bodies(node: &NodeProc, token: &str, room: &str) -> Vec<String> {
    let all = all_messages_as(node, room, Some(token)).await;
    all.iter().filter_map(|m| m["body"].as_str().map(str::to_owned)).collect()
}

/// The node again, its clock two days ahead.
fn two_days_on(node: &mut NodeProc) {
    node.spec.args.extend(["--clock-offset-ms".to_owned(), TWO_DAYS_MS.to_owned()]);
    node.restart().unwrap();
}

#[tokio::test]
async fn old_messages_leave_every_disk_and_a_node_back_from_long_away_brings_none_back() {
    let mut m = Mesh::start_accounts(3, &[]).await;
    let alice = account_everywhere(&m, "alice").await;
    let (status, body) =
        api("POST", &m.nodes[0].url("/api/admin/retention"), Some(&alice), Some(json!({"days": 1}))).await;
    assert_eq!(status, 204, "{body}");
    for node in &m.nodes {
        eventually(Duration::from_secs(10), &format!("{} tells the policy", node.id()), || async {
            http_get(&node.url("/api/auth")).await.1["retention_days"] == 1
        })
        .await;
    }
    let (old, file, alone) = ("aardvark-kept-away-4410", "filebytes-aardvark-4410", "okapi-only-on-n3-4410");
    post(&m.nodes[0], &alice, "general", "m1", old).await;
    upload(&m.nodes[0], &alice, "general", file.as_bytes()).await;
    wait_converged_as(&m.nodes.iter().collect::<Vec<_>>(), "general", 2, Some(&alice)).await;
    // n3 alone takes a message the others never get, then goes away.
    assert!(m.nodes[0].terminate() && m.nodes[1].terminate());
    post(&m.nodes[2], &alice, "general", "m2", alone).await;
    assert!(m.nodes[2].terminate());
    for i in 0..3 {
        assert!(!held(&m.dir.path().join(format!("n{}", i + 1)), &[old]).is_empty(), "n{} holds it first", i + 1);
    }

    // Two days on, n1 and n2 come back without n3: the policy takes the
    // text and the file off their disks.
    for i in 0..2 {
        two_days_on(&mut m.nodes[i]);
    }
    for i in 0..2 {
        let data = m.dir.path().join(format!("n{}", i + 1));
        eventually(Duration::from_secs(40), &format!("n{} holds none of it", i + 1), || async {
            held(&data, &[old, file]).is_empty()
        })
        .await;
    }
    post(&m.nodes[0], &alice, "general", "m3", "fresh-after-4410").await;
    assert_eq!(bodies(&m.nodes[0], &alice, "general").await, ["fresh-after-4410"]);

    // n3 comes back after all that time: its old message reaches the
    // others as past the policy, without its text; its disk is cleaned too.
    two_days_on(&mut m.nodes[2]);
    post(&m.nodes[2], &alice, "general", "m4", "fresh-from-n3-4410").await;
    let nodes: Vec<&NodeProc> = m.nodes.iter().collect();
    let all = wait_converged_as(&nodes, "general", 2, Some(&alice)).await;
    let shown: Vec<&str> = all.iter().filter_map(|m| m["body"].as_str()).collect();
    assert_eq!(shown, ["fresh-after-4410", "fresh-from-n3-4410"]);
    for i in 0..3 {
        let data = m.dir.path().join(format!("n{}", i + 1));
        eventually(Duration::from_secs(40), &format!("n{} holds no old text", i + 1), || async {
            held(&data, &[old, file, alone]).is_empty()
        })
        .await;
    }
}

#[tokio::test]
async fn a_rooms_own_policy_is_set_by_its_owner_and_shown_to_its_members() {
    let m = Mesh::start_accounts(2, &[]).await;
    let alice = account_everywhere(&m, "alice").await;
    let bob = account_everywhere(&m, "bob").await;
    let carol = account_everywhere(&m, "carol").await;
    let url = m.nodes[0].url("/api/rooms");
    let (status, body) = api("POST", &url, Some(&bob), Some(json!({"room": "plans"}))).await;
    assert!(status == 200 || status == 201, "{body}");
    // Made on n1: acted on from n2 once it is there.
    room_everywhere(&m, &bob, "plans").await;
    let act = |who: &str, days: u32| {
        let url = m.nodes[1].url("/api/rooms/plans/actions");
        let body = json!({"id": format!("k{days}"), "action": {"event": "retention", "days": days}});
        let who = who.to_owned();
        async move { api("POST", &url, Some(&who), Some(body)).await.0 }
    };
    // carol is no member; bob owns the room.
    assert_eq!(act(&carol, 7).await, 403);
    assert_eq!(act(&bob, 3651).await, 400, "past ten years");
    assert_eq!(act(&bob, 7).await, 200);
    eventually(Duration::from_secs(10), "the room shows its policy on n1", || async {
        let (_, info) = api("GET", &m.nodes[0].url("/api/rooms/plans"), Some(&bob), None).await;
        info["retention_days"] == 7
    })
    .await;
    let url = m.nodes[0].url("/api/admin/rooms/plans/retention");
    assert_eq!(api("POST", &url, Some(&bob), Some(json!({"days": 2}))).await.0, 403, "not an admin");
    assert_eq!(api("POST", &url, Some(&alice), Some(json!({"days": 2}))).await.0, 204);
    eventually(Duration::from_secs(10), "the console shows it", || async {
        let (_, rooms) = api("GET", &m.nodes[1].url("/api/admin/rooms?q=plans"), Some(&alice), None).await;
        rooms["rooms"][0]["retention_days"] == 2
    })
    .await;
}

#[tokio::test]
async fn a_deleted_account_under_the_erasing_policy_leaves_no_word_on_any_disk() {
    let mut m = Mesh::start_accounts(3, &["--deleted-account-messages", "erase"]).await;
    let root = account_everywhere(&m, "root").await;
    let bob = account_everywhere(&m, "bob").await;
    let carol = account_everywhere(&m, "carol").await;
    let (words, in_dm, file) = ("bob-words-erase-9157", "bob-dm-words-9157", "bob-file-bytes-9157");
    post(&m.nodes[0], &bob, "general", "b1", words).await;
    upload(&m.nodes[0], &bob, "general", file.as_bytes()).await;
    post(&m.nodes[1], &carol, "general", "c1", "carol-stays-9157").await;
    let (status, dm) = api("POST", &m.nodes[0].url("/api/dm"), Some(&bob), Some(json!({"users": ["carol"]}))).await;
    assert!(status == 200 || status == 201, "{dm}");
    let dm = dm["room"].as_str().unwrap().to_owned();
    post(&m.nodes[0], &bob, &dm, "d1", in_dm).await;
    wait_converged_as(&m.nodes.iter().collect::<Vec<_>>(), "general", 3, Some(&root)).await;
    wait_converged_as(&m.nodes.iter().collect::<Vec<_>>(), &dm, 1, Some(&carol)).await;
    // n3 is down when bob goes; it hears of it when back.
    assert!(m.nodes[2].terminate());
    let url = m.nodes[0].url("/api/me/delete");
    let (status, body) = api("POST", &url, Some(&bob), Some(json!({"password": "bob's password"}))).await;
    assert_eq!(status, 204, "{body}");
    m.nodes[2].restart().unwrap();
    for (i, node) in m.nodes.iter().enumerate() {
        let data = m.dir.path().join(format!("n{}", i + 1));
        eventually(Duration::from_secs(20), &format!("n{} holds no word of bob's", i + 1), || async {
            held(&data, &[words, in_dm, file]).is_empty()
        })
        .await;
        let shown = bodies(node, &root, "general").await.join("\n");
        assert!(shown.contains("carol-stays-9157") && !shown.contains("bob-"), "{}: {shown}", node.id());
        assert!(!bodies(node, &carol, &dm).await.join("\n").contains("bob-"), "{}", node.id());
    }
}
