//! Nodes joining a running mesh with a token, and removed for good.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn meshchat(args: &[&str]) -> std::process::Output {
    Command::new(exe()).args(args).output().expect("run meshchat")
}

fn invite(m: &Mesh, id: &str) -> String {
    let certs = m.dir.path().join("certs");
    let out = meshchat(&["invite-node", id, "--certs", certs.to_str().unwrap(), "--url", &m.nodes[0].url("")]);
    assert!(out.status.success(), "invite-node: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A node with its own (empty) certificate directory, joining with `token`.
fn start_joiner(id: &str, dir: &std::path::Path, http: u16, mesh: u16, token: &str) -> Result<NodeProc, String> {
    let certs = dir.join("certs");
    let args = [
        "--guests".to_string(),
        "--mesh".into(),
        format!("127.0.0.1:{mesh}"),
        "--certs".into(),
        certs.display().to_string(),
        "--join".into(),
        token.into(),
    ];
    NodeProc::start(meshchat::tools::harness::NodeSpec {
        exe: exe(),
        id: id.into(),
        http: format!("127.0.0.1:{http}"),
        data: dir.join("data"),
        args: args.to_vec(),
        log: Some(dir.join("node.log")),
        nofile: None,
        netns: None,
    })
    .map_err(|e| e.to_string())
}

fn up_peers(h: &Value) -> Vec<String> {
    h["peers"]
        .as_object()
        .map_or(Vec::new(), |p| p.iter().filter(|(_, v)| *v == "up").map(|(k, _)| k.clone()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joins_with_a_token_gets_every_room_and_once_removed_is_refused() {
    let m = Mesh::start(3, &[]).await;
    for (i, node) in m.nodes.iter().enumerate() {
        let (mut c, _) = Client::hello(&node.ws_url(), &format!("user{i}")).await;
        c.join(&format!("room{i}"), None).await;
        c.join("general", None).await;
        for k in 0..5 {
            c.say_busy(&format!("room{i}"), &format!("m{k}"), &format!("hello {k} from n{}", i + 1)).await;
            c.say_busy("general", &format!("g{i}-{k}"), "everyone").await;
        }
    }
    let (mut watcher, _) = Client::hello(&m.nodes[1].ws_url(), "watcher").await;

    let token = invite(&m, "n4");
    assert!(token.starts_with("meshchat-join:"), "{token}");
    let dir = tempfile::tempdir().unwrap();
    let http = meshchat::tools::harness::free_port().unwrap();
    let mut n4 = start_joiner("n4", dir.path(), http, free_udp_port(), &token).expect("n4 joins");
    wait_peers_up(&n4, 3).await;
    for node in &m.nodes {
        wait_peers_up(node, 3).await;
    }
    for room in ["room0", "room1", "room2", "general"] {
        let at_least = if room == "general" { 15 } else { 5 };
        wait_converged(&[&m.nodes[0], &m.nodes[2], &n4], room, at_least).await;
    }
    // Browsers on another node hear of it without a restart.
    loop {
        let frame = watcher.wait_for("nodes").await;
        if frame["nodes"].as_array().unwrap().iter().any(|n| n["id"] == "n4") {
            break;
        }
    }
    // It chats like any node, and a restart (same command line) goes straight on.
    let (mut c, _) = Client::hello(&n4.ws_url(), "newcomer").await;
    c.join("general", None).await;
    c.say("general", "from-n4", "hi from the new node").await;
    wait_converged(&[&m.nodes[0], &n4], "general", 16).await;
    n4.restart().unwrap();
    wait_peers_up(&n4, 3).await;

    // The token served once.
    let other = tempfile::tempdir().unwrap();
    let again =
        start_joiner("n4", other.path(), meshchat::tools::harness::free_port().unwrap(), free_udp_port(), &token);
    assert!(again.is_err(), "a used token let a second node in");
    let log = std::fs::read_to_string(other.path().join("node.log")).unwrap_or_default();
    assert!(log.contains("already a member") || log.contains("used already"), "{log}");

    // Removed: every node drops it and refuses it from then on, even after its restart.
    let (mut c, _) = Client::hello(&n4.ws_url(), "newcomer").await;
    c.join("general", None).await;
    let certs = m.dir.path().join("certs");
    let out = meshchat(&["remove-node", "n4", "--certs", certs.to_str().unwrap(), "--url", &m.nodes[2].url("")]);
    assert!(out.status.success(), "remove-node: {}", String::from_utf8_lossy(&out.stderr));
    for node in &m.nodes {
        eventually(WAIT, "n4 gone from every node list", || async {
            let (_, nodes) = http_get(&node.url("/api/nodes")).await;
            !nodes.to_string().contains("\"n4\"")
        })
        .await;
    }
    // n4 hears of it from its peers: it sends its clients on and takes no writes.
    eventually(WAIT, "n4 knows it was removed", || async {
        http_get(&n4.url("/api/health")).await.1["status"] == "removed"
    })
    .await;
    assert_eq!(c.close_code().await, Some(1012), "its clients are told to move");
    let post = r#"{"name":"late","id":"after-removal","body":"lost?"}"#;
    let (status, body) = http_post(&n4.url("/api/rooms/general/messages"), post).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("unavailable")), "{body}");
    n4.restart().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, h) = http_get(&n4.url("/api/health")).await;
    assert!(up_peers(&h).is_empty(), "a removed node still has links: {h}");
    assert_eq!(h["status"], "removed", "it remembers across a restart: {h}");
    for node in &m.nodes {
        wait_peers_up(node, 2).await;
    }
    // A forged removal (signed by a node key, not the CA) changes nothing.
    let body = serde_json::json!({"id": "n2", "at": 1, "sig": "AAAA"}).to_string();
    let (status, _) = http_post(&m.nodes[0].url("/api/mesh/remove"), &body).await;
    assert_eq!(status, 403);
    wait_peers_up(&m.nodes[0], 2).await;
}

/// A token `invite-node` prints is one the node it names can take: not for
/// an id the mesh has, not written where that node does not look; and the
/// node takes it even when its certificate directory is read-only (as
/// systemd's `ProtectSystem=strict` makes it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_checked_when_made_and_taken_from_a_read_only_certs_directory() {
    let m = Mesh::start(3, &[]).await;
    let certs = m.dir.path().join("certs");
    let invites = |dir: &std::path::Path| std::fs::read_dir(dir.join("invites")).map_or(0, |d| d.count());
    let before = invites(&certs);
    // An id the mesh has.
    let out = meshchat(&["invite-node", "n2", "--certs", certs.to_str().unwrap(), "--url", &m.nodes[0].url("")]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("already a member"), "{said}");
    assert_eq!(said.trim_end().lines().count(), 1, "{said}");
    // A copy of the CA elsewhere: the node would never see the invitation.
    let copy = tempfile::tempdir().unwrap();
    for f in ["ca.pem", "ca.key"] {
        std::fs::copy(certs.join(f), copy.path().join(f)).unwrap();
    }
    let out = meshchat(&["invite-node", "n5", "--certs", copy.path().to_str().unwrap(), "--url", &m.nodes[0].url("")]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("does not see this invitation"), "{said}");
    assert_eq!((invites(&certs), invites(copy.path())), (before, 0), "no invitation left behind");
    // The node's certificate directory read-only: the invitation is still taken.
    let token = invite(&m, "n4");
    let Some(_ro) = ReadOnly::mount(&certs) else {
        eprintln!("skipped the read-only part: cannot bind-mount here (root)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let joined =
        start_joiner("n4", dir.path(), meshchat::tools::harness::free_port().unwrap(), free_udp_port(), &token);
    let n4 = joined.unwrap_or_else(|e| panic!("n4 did not join: {e}"));
    wait_peers_up(&n4, 3).await;
}

/// A directory made read-only (a bind mount onto itself) until dropped.
struct ReadOnly(std::path::PathBuf);

impl ReadOnly {
    fn mount(dir: &std::path::Path) -> Option<ReadOnly> {
        let run =
            |args: &[&str]| Command::new("mount").args(args).arg(dir).arg(dir).status().is_ok_and(|s| s.success());
        if !run(&["--bind"]) {
            return None;
        }
        let guard = ReadOnly(dir.to_owned());
        let ro = Command::new("mount").args(["-o", "remount,ro,bind"]).arg(dir).status().is_ok_and(|s| s.success());
        ro.then_some(guard)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
