//! Backups of a running node, restored on a fresh directory: the node
//! catches up from its peers and never reuses a seq it had written.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn post(node: &NodeProc, room: &str, id: &str) -> (u16, serde_json::Value) {
    let body = json!({"name": "writer", "id": id, "body": format!("message {id}")}).to_string();
    let url = node.url(&format!("/api/rooms/{room}/messages"));
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(async { http_post(&url, &body).await }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_catches_up_and_reuses_no_seq() {
    let mut m = Mesh::start(3, &["--http-rate", "100000", "--http-burst", "100000"]).await;
    for i in 0..20 {
        assert_eq!(post(&m.nodes[1], "general", &format!("before-{i}")).0, 200);
    }
    // Load on n2 while its backup is taken.
    let addr = m.nodes[1].http.clone();
    let load = tokio::spawn(async move {
        let posts = (0..300).map(|i| ("general".to_string(), format!("during-{i}"), "load".to_string())).collect();
        post_many(&addr, posts).await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = m.dir.path().join("n2.backup");
    let data = m.nodes[1].spec.data.clone();
    let backup = Command::new(exe())
        .args(["backup", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(backup.status.success(), "backup: {}", String::from_utf8_lossy(&backup.stderr));
    let said = String::from_utf8_lossy(&backup.stdout).to_string();
    assert!(said.contains("messages"), "{said}");
    let statuses = load.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // Written after the backup: only the peers will have these once n2's disk is gone.
    for i in 0..10 {
        assert_eq!(post(&m.nodes[1], "general", &format!("after-{i}")).0, 200);
        assert_eq!(post(&m.nodes[1], "late", &format!("late-{i}")).0, 200);
    }
    wait_converged(&[&m.nodes[0], &m.nodes[1], &m.nodes[2]], "general", 330).await;
    wait_converged(&[&m.nodes[0], &m.nodes[1], &m.nodes[2]], "late", 10).await;

    // Not over the running node's own directory, even with --force.
    let over = Command::new(exe())
        .args(["restore", "--from", out.to_str().unwrap(), "--data", data.to_str().unwrap(), "--force"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&over.stderr);
    assert!(!over.status.success() && said.contains("a node is running"), "{said}");
    // n2's disk is lost; it comes back from the backup in a fresh directory.
    m.nodes[1].kill9();
    let fresh = m.dir.path().join("n2-restored");
    let restore = Command::new(exe())
        .args(["restore", "--from", out.to_str().unwrap(), "--data", fresh.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(restore.status.success(), "restore: {}", String::from_utf8_lossy(&restore.stderr));
    let mut spec = m.nodes[1].spec.clone();
    spec.data = fresh.clone();
    spec.http = m.nodes[1].http.clone();
    m.nodes[1] = NodeProc::start(spec).unwrap();

    // Writes as soon as it answers: refused until it has its own messages
    // back, then taken with seqs after them.
    let started = Instant::now();
    let mut refused = 0;
    for i in 0..3 {
        loop {
            let (status, body) = post(&m.nodes[1], "general", &format!("restored-{i}"));
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "{body}");
            refused += 1;
            assert!(started.elapsed() < Duration::from_secs(30), "never took writes again");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let general = wait_converged(&[&m.nodes[0], &m.nodes[1], &m.nodes[2]], "general", 333).await;
    wait_converged(&[&m.nodes[0], &m.nodes[1], &m.nodes[2]], "late", 10).await;
    let ids: Vec<&str> = general.iter().map(|m| m["id"].as_str().unwrap()).collect();
    for want in ["before-0", "during-299", "after-9", "restored-2"] {
        assert!(ids.contains(&want), "{want} missing");
    }
    let mut keys: Vec<(String, u64)> =
        general.iter().map(|m| (m["origin"].as_str().unwrap().to_owned(), m["seq"].as_u64().unwrap())).collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "a seq used twice");
    // Checked every 200 ms by the node: the marker goes once every room is back.
    let marker = fresh.join("restored");
    eventually(Duration::from_secs(10), "the marker gone once caught up", || {
        let gone = !marker.exists();
        async move { gone }
    })
    .await;
    // And it says so where operators look (the default log level).
    let log = std::fs::read_to_string(m.dir.path().join("n2.log")).unwrap_or_default();
    assert!(log.contains("taking writes again"), "{log}");
    eprintln!("restored node refused {refused} writes while catching up");
}
