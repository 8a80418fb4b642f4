//! Three real nodes over loopback QUIC: replication, presence, crashes,
//! partitions, and refusing strangers.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const FAST: &[&str] = &["--rate", "100000", "--burst", "100000"];

#[tokio::test]
async fn a_message_sent_on_one_node_reaches_clients_on_every_node() {
    let m = Mesh::start(3, &[]).await;
    let mut clients = Vec::new();
    for (i, name) in ["alice", "bob", "carol"].iter().enumerate() {
        let (mut c, welcome) = Client::hello(&m.nodes[i].ws_url(), name).await;
        // Every node, with its browser URL and liveness.
        let nodes = welcome["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 3, "{welcome}");
        assert!(nodes.iter().all(|n| n["up"] == true && n["url"].as_str().unwrap().starts_with("ws://")), "{welcome}");
        c.join("general", None).await;
        clients.push(c);
    }
    let sent = clients[0].say("general", "a1", "hello from n1").await;
    for c in &mut clients[1..] {
        assert_eq!(c.wait_for("message").await["msg"], sent);
    }
    let reply = clients[1].say("general", "b1", "hi from n2").await;
    assert_eq!(clients[0].wait_for("message").await["msg"], reply);
    assert_eq!(clients[2].wait_for("message").await["msg"], reply);
    // The reply depends on the message it answers, and sorts after it.
    assert_eq!(reply["vc"]["n1"], 1);
    assert!(key(&reply) > key(&sent));
    let nodes: Vec<&NodeProc> = m.nodes.iter().collect();
    let history = wait_converged(&nodes, "general", 2).await;
    assert_eq!(history, [sent, reply]);
}

#[tokio::test]
async fn presence_typing_and_members_span_the_mesh() {
    let m = Mesh::start(3, &[]).await;
    let (mut alice, _) = Client::hello(&m.nodes[0].ws_url(), "alice").await;
    alice.join("r", None).await;
    let (mut bob, _) = Client::hello(&m.nodes[1].ws_url(), "bob").await;
    // Presence reaches n2 over the mesh; wait for it to list alice.
    let deadline = Instant::now() + Duration::from_secs(10);
    let members = loop {
        let (members, _, _) = bob.join("r", None).await;
        if members.contains(&"alice".to_string()) || Instant::now() > deadline {
            break members;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(members, ["alice", "bob"]);
    let p = alice.wait_for("presence").await;
    assert_eq!((p["name"].as_str(), p["online"].as_bool()), (Some("bob"), Some(true)));
    // A name on two nodes is one presence.
    let (mut bob_tab, _) = Client::hello(&m.nodes[2].ws_url(), "bob").await;
    bob_tab.join("r", None).await;
    bob.send(json!({"type":"typing","room":"r"})).await;
    let t = alice.wait_for("typing").await;
    assert_eq!(t["name"], "bob");
    drop(bob);
    assert!(alice.try_recv(Duration::from_millis(800)).await.is_none(), "bob is still online on n3");
    bob_tab.send(json!({"type":"leave","room":"r"})).await;
    let p = alice.wait_for("presence").await;
    assert_eq!((p["name"].as_str(), p["online"].as_bool()), (Some("bob"), Some(false)));
    let (_, rooms) = http_get(&m.nodes[2].url("/api/rooms")).await;
    assert_eq!(rooms["rooms"][0]["members"], 1, "{rooms}");
}

#[tokio::test]
async fn a_node_killed_while_messages_flow_catches_up_and_its_messages_spread() {
    let mut m = Mesh::start(3, FAST).await;
    let mut clients = Vec::new();
    for i in 0..3 {
        let (mut c, _) = Client::hello(&m.nodes[i].ws_url(), &format!("user{i}")).await;
        c.join("busy", None).await;
        clients.push(c);
    }
    // Every client sends and records what it got acked.
    let mut acked: HashMap<String, Value> = HashMap::new();
    let mut round = 0;
    while round < 30 {
        for (id, msg) in send_round(&mut clients, round, &[0, 1, 2]).await {
            acked.insert(id, msg);
        }
        round += 1;
    }
    m.nodes[1].kill9();
    while round < 60 {
        for (id, msg) in send_round(&mut clients, round, &[0, 2]).await {
            acked.insert(id, msg);
        }
        round += 1;
    }
    m.nodes[1].restart().unwrap();
    wait_peers_up(&m.nodes[1], 2).await;
    let nodes: Vec<&NodeProc> = m.nodes.iter().collect();
    let history = wait_converged(&nodes, "busy", acked.len()).await;
    let held: HashMap<&str, &Value> = history.iter().map(|m| (m["id"].as_str().unwrap(), m)).collect();
    assert_eq!(held.len(), history.len(), "no duplicates");
    for (id, msg) in &acked {
        assert_eq!(held.get(id.as_str()), Some(&msg), "acked {id} lost or changed");
    }
    // n2's own messages from before the kill are everywhere.
    assert!(history.iter().filter(|m| m["origin"] == "n2").count() >= 30);
}

/// Each client in `alive` sends one message; returns the acks (id, msg).
async fn send_round(clients: &mut [Client], round: usize, alive: &[usize]) -> Vec<(String, Value)> {
    for &i in alive {
        let id = format!("c{i}-{round}");
        clients[i].send(json!({"type":"send","room":"busy","id":id,"body":format!("round {round}")})).await;
    }
    let mut got = Vec::new();
    for &i in alive {
        let a = clients[i].wait_for("ack").await;
        got.push((a["id"].as_str().unwrap().to_owned(), a["msg"].clone()));
    }
    got
}

#[tokio::test]
async fn a_stopped_node_heals_to_identical_histories() {
    let m = Mesh::start(3, FAST).await;
    let (mut a, _) = Client::hello(&m.nodes[0].ws_url(), "a").await;
    let (mut c, _) = Client::hello(&m.nodes[2].ws_url(), "c").await;
    a.join("p", None).await;
    c.join("p", None).await;
    a.say_busy("p", "before", "before the partition").await;
    // n3 stops answering: to n1 and n2 it is gone.
    m.nodes[2].signal("STOP");
    wait_peers_up(&m.nodes[0], 1).await;
    for i in 0..20 {
        a.say_busy("p", &format!("during-{i}"), "while n3 is away").await;
    }
    let (_, h) = http_get(&m.nodes[0].url("/api/health")).await;
    assert_eq!(h["peers"]["n3"], "down");
    m.nodes[2].signal("CONT");
    let nodes: Vec<&NodeProc> = m.nodes.iter().collect();
    let history = wait_converged(&nodes, "p", 21).await;
    assert_eq!(history.len(), 21);
    // n3's client, still connected, got them too, in order and once.
    let mut got = Vec::new();
    while got.len() < 21 {
        let f = c.wait_for("message").await;
        got.push(f["msg"].clone());
    }
    // The order first: each origin's messages in their seq order, as the
    // room delivers them (causal order), never re-sorted here.
    let seqs = |v: &[Value]| v.iter().map(|m| (m["origin"].clone(), m["seq"].clone())).collect::<Vec<_>>();
    assert_eq!(seqs(&got), seqs(&history), "n3's client got them out of order");
    got.sort_by_key(key);
    assert_eq!(got, history);
}

#[tokio::test]
async fn faults_in_the_mesh_are_recovered() {
    let mut extra =
        vec!["--mesh-drop", "0.3", "--mesh-delay-ms", "30", "--mesh-jitter-ms", "25", "--anti-entropy-ms", "500"];
    extra.extend_from_slice(FAST);
    let m = Mesh::start(3, &extra).await;
    let mut clients = Vec::new();
    for i in 0..3 {
        let (mut c, _) = Client::hello(&m.nodes[i].ws_url(), &format!("u{i}")).await;
        c.join("lossy", None).await;
        clients.push(c);
    }
    for round in 0..20 {
        for (i, c) in clients.iter_mut().enumerate() {
            c.say_busy("lossy", &format!("{i}-{round}"), "through a lossy mesh").await;
        }
    }
    let nodes: Vec<&NodeProc> = m.nodes.iter().collect();
    let history = wait_converged(&nodes, "lossy", 60).await;
    assert_eq!(history.len(), 60);
    assert!(metric(&m.nodes[0], "meshchat_mesh_frames_dropped_total").await > 0);
}

#[tokio::test]
async fn a_node_with_a_certificate_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let evil = dir.path().join("evil");
    make_certs(&good, &["n1", "n2", "n3"]);
    // Another CA, and an n3 certificate from it.
    make_certs(&evil, &["n3"]);
    let ids: Vec<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
    let ports: Vec<u16> = (0..3).map(|_| free_udp_port()).collect();
    let mut nodes = Vec::new();
    for i in 0..3 {
        let certs = if i == 2 { &evil } else { &good };
        let peers = Mesh::peers_arg(&ids, &ports, i);
        let mesh = format!("127.0.0.1:{}", ports[i]);
        let args = ["--mesh", &mesh, "--peers", &peers, "--certs", certs.to_str().unwrap()];
        let log = dir.path().join(format!("{}.log", ids[i]));
        nodes.push(start_node_logged(&ids[i], &dir.path().join(&ids[i]), 0, &args, Some(&log)));
    }
    wait_peers_up(&nodes[0], 1).await;
    let (mut alice, _) = Client::hello(&nodes[0].ws_url(), "alice").await;
    alice.join("secret", None).await;
    alice.say("secret", "s1", "not for n3").await;
    let nodes_ref: Vec<&NodeProc> = nodes[..2].iter().collect();
    wait_converged(&nodes_ref, "secret", 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, page) = http_get(&nodes[2].url("/api/rooms/secret/messages")).await;
    assert_eq!(page["messages"], json!([]), "n3 received a message");
    let (_, h) = http_get(&nodes[0].url("/api/health")).await;
    assert_eq!((h["peers"]["n2"].as_str(), h["peers"]["n3"].as_str()), (Some("up"), Some("down")));
    // The refusal is logged, saying why.
    let log = std::fs::read_to_string(dir.path().join("n1.log")).unwrap();
    let log3 = std::fs::read_to_string(dir.path().join("n3.log")).unwrap();
    assert!(
        log.contains("refused a mesh connection") || log3.contains("certificate"),
        "n1 log:\n{log}\nn3 log:\n{log3}"
    );
}

#[tokio::test]
async fn liveness_shows_in_health_nodes_frames_and_presence() {
    let mut m = Mesh::start(3, &["--presence-grace-ms", "2000"]).await;
    let (mut watcher, _) = Client::hello(&m.nodes[0].ws_url(), "watcher").await;
    watcher.join("r", None).await;
    let (mut dora, _) = Client::hello(&m.nodes[2].ws_url(), "dora").await;
    dora.join("r", None).await;
    assert_eq!(watcher.wait_for("presence").await["name"], "dora");
    let killed = Instant::now();
    m.nodes[2].kill9();
    // Within 3 s the peers notice, and clients get a nodes frame.
    let frame = watcher.wait_for("nodes").await;
    let n3 = frame["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "n3").cloned().unwrap();
    assert_eq!(n3["up"], false);
    // dora goes offline everywhere within 10 s (here: detection + a 2 s grace).
    let p = watcher.wait_for("presence").await;
    assert_eq!((p["name"].as_str(), p["online"].as_bool()), (Some("dora"), Some(false)));
    assert!(killed.elapsed() < Duration::from_secs(10), "{:?}", killed.elapsed());
    let (_, h) = http_get(&m.nodes[0].url("/api/health")).await;
    assert_eq!(h["peers"]["n3"], "down");
    let (_, nodes) = http_get(&m.nodes[1].url("/api/nodes")).await;
    assert!(nodes["nodes"].as_array().unwrap().iter().any(|n| n["id"] == "n3" && n["up"] == false));
}

#[tokio::test]
async fn a_user_who_moves_to_another_node_within_the_grace_never_leaves() {
    let mut m = Mesh::start(3, &["--presence-grace-ms", "5000"]).await;
    let (mut watcher, _) = Client::hello(&m.nodes[0].ws_url(), "watcher").await;
    watcher.join("r", None).await;
    let (mut eve, _) = Client::hello(&m.nodes[2].ws_url(), "eve").await;
    eve.join("r", None).await;
    assert_eq!(watcher.wait_for("presence").await["name"], "eve");
    m.nodes[2].kill9();
    // Eve's browser lands on n2 a moment later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut eve2, _) = Client::hello(&m.nodes[1].ws_url(), "eve").await;
    eve2.join("r", None).await;
    let deadline = Instant::now() + Duration::from_secs(9);
    while Instant::now() < deadline {
        if let Some(f) = watcher.try_recv(Duration::from_millis(500)).await {
            assert_ne!(f["type"], "presence", "the watcher saw {f}");
        }
    }
}

#[tokio::test]
async fn a_clean_stop_says_goodbye_and_peers_notice_at_once() {
    let mut m = Mesh::start(3, &[]).await;
    let (mut watcher, _) = Client::hello(&m.nodes[0].ws_url(), "watcher").await;
    watcher.join("r", None).await;
    let t = Instant::now();
    assert!(m.nodes[1].terminate());
    let frame = watcher.wait_for("nodes").await;
    assert!(frame["nodes"].as_array().unwrap().iter().any(|n| n["id"] == "n2" && n["up"] == false));
    assert!(t.elapsed() < Duration::from_millis(2500), "noticed after {:?}", t.elapsed());
}

/// A node killed and started again at once is linked again long before
/// its peers' idle timeout (3 s) would notice the old connection dead: n1
/// dialed its links (its new dial replaces the old connection), n3 was
/// dialed (it answers its peers' packets with a stateless reset).
#[tokio::test]
async fn a_node_restarted_at_once_after_a_crash_links_again_without_waiting_out_the_idle_timeout() {
    let mut m = Mesh::start(3, &[]).await;
    for victim in [0, 2] {
        m.nodes[victim].restart().unwrap();
        let t = Instant::now();
        let id = format!("after-{victim}");
        let body = json!({"name": "w", "id": id, "body": "hello"}).to_string();
        assert_eq!(http_post(&m.nodes[victim].url("/api/rooms/r/messages"), &body).await.0, 200);
        let other = &m.nodes[(victim + 1) % 3];
        while !all_messages(other, "r").await.iter().any(|x| x["id"] == id.as_str()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let took = t.elapsed();
        eprintln!("n{} restarted: its message on a peer {took:?} later", victim + 1);
        assert!(took < Duration::from_millis(2500), "n{} linked again only after {took:?}", victim + 1);
    }
}

#[tokio::test]
async fn a_peer_speaking_another_mesh_version_is_refused_with_a_clear_log_line() {
    let m = Mesh::start(3, &[]).await;
    // A well-certified n2 whose older software speaks mesh protocol 1.
    let id = meshchat::trust::tls::Identity::load(&m.dir.path().join("certs"), "n2").unwrap();
    let client = meshchat::mesh::tls::client_config_with_alpn(&id, b"meshchat-mesh/1").unwrap();
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(client);
    let target = format!("127.0.0.1:{}", m.mesh_ports[0]).parse().unwrap();
    let result = endpoint.connect(target, "n1").unwrap().await;
    let err = result.expect_err("the handshake must fail");
    assert!(err.to_string().contains("no_application_protocol") || err.to_string().contains("120"), "{err}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = m.log(0);
    assert!(log.contains("speaks no mesh version from 3 to 4"), "n1's log:\n{log}");
}

#[tokio::test]
async fn a_node_of_the_previous_mesh_version_still_links_for_a_rolling_upgrade() {
    use meshchat::mesh::proto::{self, Control};
    let mut m = Mesh::start(3, &[]).await;
    m.nodes[1].kill9();
    wait_peers_up(&m.nodes[0], 1).await;
    // n2, back with the release before: ALPN meshchat-mesh/3 only.
    let id = meshchat::trust::tls::Identity::load(&m.dir.path().join("certs"), "n2").unwrap();
    let client = meshchat::mesh::tls::client_config_with_alpn(&id, b"meshchat-mesh/3").unwrap();
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(client);
    let target = format!("127.0.0.1:{}", m.mesh_ports[0]).parse().unwrap();
    let conn = endpoint.connect(target, "n1").unwrap().await.expect("a version-3 handshake is taken");
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let hello = Control::Hello { node: "n2".into(), version: 3, url: String::new() };
    send.write_all(&proto::encode(&hello).unwrap()).await.unwrap();
    match proto::read_frame::<Control>(&mut recv).await.unwrap() {
        Some((Control::Hello { node, version, .. }, _)) => assert_eq!((node.as_str(), version), ("n1", 3)),
        other => panic!("expected n1's hello, got {other:?}"),
    }
    wait_peers_up(&m.nodes[0], 2).await;
}

#[tokio::test]
async fn one_key_accepted_by_two_nodes_ends_as_one_message_everywhere_and_a_delete_of_either_copy_deletes_it() {
    // Slow mesh: n1's copy is still on its way when the client resends to n2.
    let m = Mesh::start(3, &["--mesh-delay-ms", "1500", "--anti-entropy-ms", "500"]).await;
    let (mut on_n1, _) = Client::hello(&m.nodes[0].ws_url(), "zoe").await;
    let (mut on_n2, _) = Client::hello(&m.nodes[1].ws_url(), "zoe").await;
    let (mut watcher, _) = Client::hello(&m.nodes[2].ws_url(), "watcher").await;
    on_n1.join("d", None).await;
    on_n2.join("d", None).await;
    watcher.join("d", None).await;
    let first = on_n1.say_busy("d", "same-key", "sent to n1").await;
    let second = on_n2.say_busy("d", "same-key", "resent to n2").await;
    assert_ne!(first["origin"], second["origin"], "n2 did not know the key yet: two copies");
    let winner = if key(&first) < key(&second) { &first } else { &second };
    // Every node shows exactly one, and the same one: the earlier in room order.
    let nodes: Vec<&NodeProc> = m.nodes.iter().collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut views = Vec::new();
        for n in &nodes {
            views.push(all_messages(n, "d").await);
        }
        if views.iter().all(|v| v.len() == 1 && &v[0] == winner) {
            break;
        }
        assert!(Instant::now() < deadline, "views: {views:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The room counts one message, and a third resend gets the winner.
    let (_, rooms) = http_get(&m.nodes[2].url("/api/rooms")).await;
    assert_eq!(rooms["rooms"][0]["messages"], 1, "{rooms}");
    let (mut again, _) = Client::hello(&m.nodes[2].ws_url(), "zoe").await;
    again.join("d", None).await;
    assert_eq!(&again.say_busy("d", "same-key", "third try").await, winner);
    // Its author, answered with the copy that lost, deletes that one: the
    // copy everyone sees is deleted, on every node.
    let loser = if key(&first) < key(&second) { &second } else { &first };
    let action = json!({"event": "deleted", "origin": loser["origin"], "seq": loser["seq"]});
    again.send(json!({"type": "act", "room": "d", "id": "del", "action": action})).await;
    assert_eq!(again.wait_for("ack").await["id"], "§del");
    let deadline = Instant::now() + Duration::from_secs(20);
    for n in &nodes {
        loop {
            let shown = all_events_as(n, "d", None).await;
            let msg = shown.iter().find(|x| x["id"] == "same-key").unwrap();
            if msg["body"].as_str().unwrap().starts_with('\u{0}') {
                break;
            }
            assert!(Instant::now() < deadline, "{} still shows {msg}", n.id());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `meshchat status` asked of one node: every node, up or down, and
/// whether the ones that answer hold the same rooms.
#[tokio::test]
async fn status_prints_the_mesh_from_any_node() {
    let mut m = Mesh::start(3, &[]).await;
    for n in &m.nodes {
        wait_peers_up(n, 2).await;
    }
    let status = |url: String| async move {
        let out = tokio::process::Command::new(exe()).args(["status", "--url", &url]).output().await.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let line = |out: &str, id: &str| out.lines().find(|l| l.starts_with(id)).map(str::to_owned).unwrap_or_default();
    let out = status(m.nodes[0].url("")).await;
    for id in ["n1", "n2", "n3"] {
        assert!(line(&out, id).contains(" up ") && line(&out, id).contains("2/2"), "{out}");
    }
    assert!(out.contains("converged: n1, n2, n3"), "{out}");
    m.nodes[1].kill9();
    let url = m.nodes[2].url("");
    eventually(Duration::from_secs(10), "n3 sees n2 gone", || async {
        let out = status(url.clone()).await;
        line(&out, "n2").contains(" down ") && line(&out, "n3").contains("1/2")
    })
    .await;
}
