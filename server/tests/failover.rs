//! Native clients under steady load while nodes crash, restart, or restart
//! one by one: every client ends with the same messages in the same order,
//! nothing acknowledged is missing, nothing is duplicated.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use meshchat::tools::client::{ClientConfig, ClientHandle, Event, Snapshot};
use meshchat_shared::Message;

const ROOMS: [&str; 3] = ["alpha", "beta", "gamma"];
const CLIENTS: usize = 6;
/// Messages per second per client: 6 × 50 = 300 a second over the mesh.
const RATE: u64 = 50;

#[derive(Default)]
struct Seen {
    acked: HashMap<String, Message>,
    errors: Vec<String>,
    failed: Vec<String>,
    moves: usize,
}

struct Load {
    clients: Vec<ClientHandle>,
    seen: Vec<Arc<Mutex<Seen>>>,
    sending: Arc<std::sync::atomic::AtomicBool>,
    senders: Vec<tokio::task::JoinHandle<()>>,
}

fn urls(m: &Mesh, first: usize) -> Vec<String> {
    let n = m.nodes.len();
    (0..n).map(|k| m.nodes[(first + k) % n].ws_url()).collect()
}

async fn start_load(m: &Mesh) -> Load {
    let sending = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut load = Load { clients: Vec::new(), seen: Vec::new(), sending: sending.clone(), senders: Vec::new() };
    for i in 0..CLIENTS {
        let rooms = ROOMS.iter().map(|r| r.to_string()).collect();
        let config = ClientConfig::guest(&format!("client{i}"), urls(m, i % m.nodes.len()), rooms);
        let (client, mut events) = ClientHandle::start(config);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                let mut s = s.lock().unwrap();
                match e {
                    Event::Acked { id, msg } => {
                        s.acked.insert(id, msg);
                    }
                    Event::Error { code, message, id } => s.errors.push(format!("{code:?} {message} {id:?}")),
                    Event::Failed { id, reason } => s.failed.push(format!("{id}: {reason}")),
                    Event::Connected(_) => s.moves += 1,
                    Event::Message(_) | Event::Status(_) | Event::Synced => {}
                }
            }
        });
        let c = client.clone();
        let go = sending.clone();
        load.senders.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE));
            while go.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                c.send(ROOMS[(n % 3) as usize], &format!("message {n} from {}", c.name()));
                n += 1;
            }
        }));
        load.clients.push(client);
        load.seen.push(seen);
    }
    load
}

impl Load {
    async fn stop_sending(&mut self) {
        self.sending.store(false, std::sync::atomic::Ordering::Relaxed);
        for s in self.senders.drain(..) {
            s.await.unwrap();
        }
    }

    /// Waits until no client has anything pending and all hold the same.
    async fn settle(&self) -> Vec<Snapshot> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut snaps = Vec::new();
            for c in &self.clients {
                snaps.push(c.snapshot().await);
            }
            let idle = snaps.iter().all(|s| s.pending == 0);
            let same = snaps.iter().all(|s| s.rooms == snaps[0].rooms);
            if idle && same {
                return snaps;
            }
            let pending: Vec<usize> = snaps.iter().map(|s| s.pending).collect();
            let sizes: Vec<Vec<usize>> = snaps.iter().map(|s| s.rooms.iter().map(|(_, m)| m.len()).collect()).collect();
            assert!(Instant::now() < deadline, "never settled: pending {pending:?}, sizes {sizes:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Every client holds the same rooms, in order, once each, with every
    /// acknowledged message. Returns how many messages were acknowledged.
    async fn check(&self, m: &Mesh) -> usize {
        let snaps = self.settle().await;
        let reference = &snaps[0];
        let mut acked_total = 0;
        for (room, msgs) in &reference.rooms {
            assert!(msgs.windows(2).all(|w| w[0].order(&w[1]).is_lt()), "{room} out of order");
            let origins: HashSet<(&str, u64)> = msgs.iter().map(|m| (m.origin.as_str(), m.seq)).collect();
            assert_eq!(origins.len(), msgs.len(), "{room}: an (origin, seq) twice");
            let keys: HashSet<(&str, &str)> = msgs.iter().map(|m| (m.author.as_str(), m.id.as_str())).collect();
            assert_eq!(keys.len(), msgs.len(), "{room}: an (author, id) twice");
        }
        let held: HashSet<(String, String)> = reference
            .rooms
            .iter()
            .flat_map(|(_, msgs)| msgs.iter().map(|m| (m.author.clone(), m.id.clone())))
            .collect();
        for seen in &self.seen {
            let s = seen.lock().unwrap();
            assert!(s.failed.is_empty(), "failed sends: {:?}", s.failed);
            for (id, msg) in &s.acked {
                assert!(held.contains(&(msg.author.clone(), id.clone())), "acked {id} is missing");
            }
            acked_total += s.acked.len();
        }
        // The nodes agree with the clients.
        let nodes: Vec<&NodeProc> = m.nodes.iter().collect();
        for (room, msgs) in &reference.rooms {
            let on_nodes = wait_converged(&nodes, room, msgs.len()).await;
            let ids: Vec<&str> = on_nodes.iter().map(|m| m["id"].as_str().unwrap()).collect();
            let mine: Vec<&str> = msgs.iter().map(|m| m.id.as_str()).collect();
            assert_eq!(ids, mine, "{room}: the nodes and the clients differ");
        }
        acked_total
    }

    fn errors(&self) -> Vec<String> {
        self.seen.iter().flat_map(|s| s.lock().unwrap().errors.clone()).collect()
    }
}

const NODE_ARGS: &[&str] = &["--rate", "100000", "--burst", "100000", "--catchup-limit", "100000"];

#[tokio::test]
async fn kill_9_under_load_loses_nothing_and_duplicates_nothing() {
    let mut m = Mesh::start(3, NODE_ARGS).await;
    let mut load = start_load(&m).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    m.nodes[1].kill9();
    tokio::time::sleep(Duration::from_secs(3)).await;
    m.nodes[1].restart().unwrap();
    wait_peers_up(&m.nodes[1], 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.stop_sending().await;
    let acked = load.check(&m).await;
    assert!(acked > 1500, "only {acked} messages acknowledged");
    // The clients of n2 moved.
    assert!(load.seen.iter().any(|s| s.lock().unwrap().moves > 1));
}

#[tokio::test]
async fn a_rolling_restart_under_load_shows_no_error_to_anyone() {
    let mut m = Mesh::start(3, NODE_ARGS).await;
    let mut load = start_load(&m).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..3 {
        assert!(m.nodes[i].terminate(), "n{} stopped cleanly", i + 1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        m.nodes[i].restart().unwrap();
        wait_peers_up(&m.nodes[i], 2).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    load.stop_sending().await;
    let acked = load.check(&m).await;
    assert!(acked > 1500, "only {acked} messages acknowledged");
    assert_eq!(load.errors(), Vec::<String>::new(), "clients saw errors");
}

/// A client that holds nothing of a room starts it from the latest page
/// (a person sees the end of the conversation first) and pages back to its
/// first message, in order, nothing twice: the nemesis's clients do this
/// when they came back to a room they held nothing of.
#[tokio::test]
async fn a_client_that_starts_a_room_from_its_latest_page_pages_back_to_the_first_message() {
    let dir = tempfile::tempdir().unwrap();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--http-burst", "1000"]);
    for i in 0..130 {
        let post = serde_json::json!({"name": "ada", "id": format!("m{i}"), "body": format!("line {i}")});
        assert_eq!(api("POST", &n.url("/api/rooms/long/messages"), None, Some(post)).await.0, 200);
    }
    let config = ClientConfig::guest("reader", vec![n.ws_url()], vec!["long".into()]);
    let (client, _events) = ClientHandle::start(config);
    let bodies = |s: &Snapshot| -> Vec<String> {
        s.rooms.iter().find(|r| r.0 == "long").map(|r| r.1.iter().map(|m| m.body.clone()).collect()).unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut snap = client.snapshot().await;
    while bodies(&snap).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        snap = client.snapshot().await;
    }
    assert_eq!(bodies(&snap).len(), meshchat_shared::limits::BACKLOG, "a fresh join holds the latest page");
    assert_eq!(snap.more, vec!["long".to_owned()]);
    while !snap.more.is_empty() && Instant::now() < deadline {
        for room in &snap.more {
            client.load_older(room);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        snap = client.snapshot().await;
    }
    let expected: Vec<String> = (0..130).map(|i| format!("line {i}")).collect();
    assert_eq!(bodies(&snap), expected);
}
