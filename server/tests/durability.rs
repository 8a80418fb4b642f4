//! `kill -9` loses nothing that was acknowledged.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};

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
