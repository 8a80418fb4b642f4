//! `kill -9` loses nothing that was acknowledged, nor does a full disk.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn every_acked_message_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = start_node("n1", &dir.path().join("n1"), 0, &["--rate", "1000000", "--burst", "1000000"]);
    let (mut c, _) = Client::hello(&n.ws_url(), "alice").await;
    c.join("r", None).await;

    // Pipeline sends; kill the node while many are in flight.
    let total = 3000;
    let mut acked: HashMap<String, Value> = HashMap::new();
    let mut next = 0;
    while acked.len() < 1000 {
        while next < total && next - acked.len() < 200 {
            c.send(json!({"type":"send","room":"r","id":format!("m{next}"),"body":format!("body {next}")})).await;
            next += 1;
        }
        let ack = c.expect("ack").await;
        acked.insert(ack["id"].as_str().unwrap().to_owned(), ack["msg"].clone());
    }
    n.kill9();
    // Acks that were already on the wire before the kill count too.
    while let Some(f) = c.try_recv(std::time::Duration::from_millis(500)).await {
        if f["type"] == "ack" {
            acked.insert(f["id"].as_str().unwrap().to_owned(), f["msg"].clone());
        }
    }
    assert!(next > acked.len(), "some sends were in flight at the kill");

    n.restart().unwrap();
    let stored = all_messages(&n, "r").await;
    let by_id: HashMap<&str, &Value> = stored.iter().map(|m| (m["id"].as_str().unwrap(), m)).collect();
    assert_eq!(by_id.len(), stored.len(), "no id stored twice");
    for (id, msg) in &acked {
        assert_eq!(by_id.get(id.as_str()), Some(&msg), "acked {id} lost or changed");
    }
    // Seqs are gapless from 1: nothing half-written.
    let seqs: HashSet<u64> = stored.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=stored.len() as u64).collect());

    // The node carries on after the last stored seq, with later stamps.
    let (mut c, _) = Client::hello(&n.ws_url(), "alice").await;
    let (_, _, synced) = c.join("r", None).await;
    assert_eq!(synced["vector"]["n1"], stored.len());
    let m = c.say("r", "after", "after the crash").await;
    assert_eq!(m["seq"].as_u64(), Some(stored.len() as u64 + 1));
    let last_ts = stored.iter().map(|m| m["ts"].as_u64().unwrap()).max().unwrap();
    assert!(m["ts"].as_u64().unwrap() > last_ts);
    // A resend of an acked id after the crash gets the original.
    let (id, original) = acked.iter().next().unwrap();
    assert_eq!(&c.say("r", id, "resent").await, original);
}

#[tokio::test]
async fn a_full_disk_refuses_writes_serves_reads_and_recovers_by_itself() {
    let Some(disk) = SmallDisk::mount(24) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let data = disk.dir.path().join("n1");
    let mut n = start_node("n1", &data, 0, &["--http-rate", "100000", "--http-burst", "100000"]);
    let post = |i: usize| {
        let body = serde_json::json!({"name": "writer", "id": format!("m{i}"), "body": "x".repeat(3000)});
        (n.url("/api/rooms/general/messages"), body.to_string())
    };
    for i in 0..20 {
        let (url, body) = post(i);
        assert_eq!(http_post(&url, &body).await.0, 200);
    }
    let filler = disk.fill();
    // Until the disk refuses: every 200 must be durable, then 503s.
    let mut acked: Vec<usize> = (0..20).collect();
    let mut refused = 0;
    for i in 20..5_000 {
        let (url, body) = post(i);
        match http_post(&url, &body).await {
            (200, _) => acked.push(i),
            (503, e) => {
                assert_eq!(e["error"]["code"], "unavailable", "{e}");
                refused += 1;
                if refused == 5 {
                    break;
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, 5, "the disk never filled up");
    // Reads go on.
    assert_eq!(all_messages(&n, "general").await.len(), acked.len());
    // Space comes back: writes are taken again, without a restart.
    std::fs::remove_file(filler).unwrap();
    let mut next = 10_000;
    eventually(Duration::from_secs(15), "writes taken again", || {
        next += 1;
        let (url, body) = post(next);
        async move { http_post(&url, &body).await.0 == 200 }
    })
    .await;
    acked.push(next);
    // Nothing acknowledged was lost, through a kill -9 too.
    n.restart().unwrap();
    let ids: std::collections::BTreeSet<String> =
        all_messages(&n, "general").await.iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    for i in &acked {
        assert!(ids.contains(&format!("m{i}")), "acknowledged m{i} is gone");
    }
    eprintln!("{} acknowledged before the disk filled, then {refused} refused; recovered", acked.len() - 1);
}

/// `meshchat node` on `data`, expected to refuse: its stderr.
fn refused_start(data: &std::path::Path) -> String {
    let out = std::process::Command::new(exe())
        .args(["node", "--id", "n1", "--http", "127.0.0.1:0", "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a node started on a bad database");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_damaged_or_newer_database_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("n1");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("meshchat.db"), vec![0x5a; 64 * 1024]).unwrap();
    let said = refused_start(&data);
    assert!(said.contains("not a meshchat database, or it is damaged") && said.contains("meshchat restore"), "{said}");

    let data = dir.path().join("n2");
    std::fs::create_dir_all(&data).unwrap();
    let conn = rusqlite::Connection::open(data.join("meshchat.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('schema', '99');",
    )
    .unwrap();
    drop(conn);
    let said = refused_start(&data);
    assert!(said.contains("written by a newer meshchat (schema version 99"), "{said}");
}

/// A peer's message reaches members before this node's commit; if that
/// commit fails (a full disk), the room reloads and the message comes
/// again by anti-entropy: members that saw it must not get it twice.
#[tokio::test]
async fn a_peers_message_shown_before_a_failed_commit_is_not_sent_twice() {
    let Some(disk) = SmallDisk::mount(24) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let small = disk.dir.path().join("n2");
    let m = Mesh::start_tweaked(2, &["--guests", "--rate", "100000", "--burst", "100000"], |s| {
        if s.id == "n2" {
            s.data = small.clone();
        }
    })
    .await;
    let (mut bob, _) = Client::hello(&m.nodes[1].ws_url(), "bob").await;
    bob.join("r", None).await;
    let (mut alice, _) = Client::hello(&m.nodes[0].ws_url(), "alice").await;
    alice.join("r", None).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let count = |seen: &mut HashMap<String, usize>, f: &Value| {
        if f["type"] == "message" {
            *seen.entry(f["msg"]["id"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    };
    let mut sent = Vec::new();
    let filler = disk.fill();
    // Until n2 has refused a commit, each message is shown to bob at once.
    for i in 0..2_000 {
        let id = format!("m{i}");
        alice.say_busy("r", &id, &"x".repeat(3000)).await;
        sent.push(id.clone());
        while !seen.contains_key(&id) {
            count(&mut seen, &bob.recv().await);
        }
        if m.log(1).contains("commit failed") {
            break;
        }
    }
    assert!(m.log(1).contains("commit failed"), "n2's disk never filled up");
    std::fs::remove_file(filler).unwrap();
    // n2 reloads the room and fetches what it failed to store from n1.
    let n2 = &m.nodes[1];
    eventually(Duration::from_secs(20), "n2 stores everything", || async {
        all_messages(n2, "r").await.len() == sent.len()
    })
    .await;
    while let Some(f) = bob.try_recv(Duration::from_millis(1500)).await {
        count(&mut seen, &f);
    }
    let twice: Vec<(&String, &usize)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent to bob twice: {twice:?}");
    assert_eq!(seen.len(), sent.len());
}
