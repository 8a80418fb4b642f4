//! kill -9 one node under load, with the native client library: how long
//! until every displaced client is connected elsewhere and caught up, and
//! whether anything was lost or came twice.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use tokio::time::Instant;

use super::stats::{Histogram, Summary};
use super::{Ctx, nodes, write_json};
use crate::tools::client::{ClientConfig, ClientHandle, Event};

#[derive(Debug, Args)]
pub struct FailoverArgs {
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    #[arg(long, default_value_t = 300)]
    pub clients: usize,
    #[arg(long, default_value_t = 10)]
    pub room_size: usize,
    /// Messages per second over all clients.
    #[arg(long, default_value_t = 300.0)]
    pub rate: f64,
    /// Load before the kill.
    #[arg(long, default_value_t = 5)]
    pub warmup_s: u64,
    /// Load after the kill, before the node comes back.
    #[arg(long, default_value_t = 10)]
    pub down_s: u64,
}

#[derive(Default)]
struct Log {
    node: Option<String>,
    synced: Vec<Instant>,
    acked: HashSet<String>,
    errors: u64,
}

#[derive(Debug, Serialize)]
struct Out {
    nodes: usize,
    clients: usize,
    room_size: usize,
    rate_msgs_s: f64,
    displaced: usize,
    recovered: usize,
    failover: Summary,
    acked: usize,
    lost: usize,
    duplicated: usize,
    errors: u64,
}

pub async fn run(ctx: &Ctx<'_>, a: FailoverArgs) -> anyhow::Result<()> {
    let mut nodes = nodes::start(ctx.dir, a.nodes, ctx.node_args)?;
    let urls: Vec<String> = nodes.iter().map(|n| n.ws_url()).collect();
    let mut clients = Vec::new();
    let mut logs = Vec::new();
    for i in 0..a.clients {
        let first = i % urls.len();
        let order: Vec<String> = (0..urls.len()).map(|k| urls[(first + k) % urls.len()].clone()).collect();
        let room = format!("fail-{}", i / a.room_size);
        let (client, mut events) =
            ClientHandle::start(ClientConfig::guest(&format!("f{i}"), order, vec![room.clone()]));
        let log = Arc::new(Mutex::new(Log::default()));
        let l = log.clone();
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                let mut l = l.lock().unwrap_or_else(|p| p.into_inner());
                match e {
                    Event::Connected(node) => l.node = Some(node),
                    Event::Synced => l.synced.push(Instant::now()),
                    Event::Acked { id, .. } => {
                        l.acked.insert(id);
                    }
                    Event::Error { .. } | Event::Failed { .. } => l.errors += 1,
                    Event::Message(_) | Event::Status(_) => {}
                }
            }
        });
        clients.push((client, room));
        logs.push(log);
    }
    // Everyone in before the load starts.
    let deadline = Instant::now() + Duration::from_secs(60);
    while logs.iter().any(|l| l.lock().unwrap_or_else(|p| p.into_inner()).synced.is_empty()) {
        anyhow::ensure!(Instant::now() < deadline, "clients did not all connect in 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sending = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let period = Duration::from_secs_f64(a.clients as f64 / a.rate);
    let mut senders = Vec::new();
    for (client, room) in &clients {
        let (c, room, go) = (client.clone(), room.clone(), sending.clone());
        senders.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            let mut n = 0;
            while go.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                c.send(&room, &format!("load {n}"));
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(a.warmup_s)).await;
    let victim = nodes[1].id().to_owned();
    let displaced: Vec<usize> = (0..logs.len())
        .filter(|&i| logs[i].lock().unwrap_or_else(|p| p.into_inner()).node.as_deref() == Some(victim.as_str()))
        .collect();
    let killed = Instant::now();
    nodes[1].kill9();
    println!("killed {victim} under load; {} clients were on it", displaced.len());
    tokio::time::sleep(Duration::from_secs(a.down_s)).await;
    let mut times = Histogram::default();
    let mut recovered = 0;
    for &i in &displaced {
        let l = logs[i].lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = l.synced.iter().find(|t| **t > killed) {
            times.record(t.duration_since(killed).as_micros() as u64);
            recovered += 1;
        }
    }
    nodes[1].restart()?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    sending.store(false, std::sync::atomic::Ordering::Relaxed);
    for s in senders {
        let _ = s.await;
    }
    // Settle: nothing pending anywhere, then a moment for the last fan-out.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut pending = 0;
        for (c, _) in &clients {
            pending += c.snapshot().await.pending;
        }
        if pending == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // What each client holds of its room, as (author, id).
    let mut held: Vec<HashSet<(String, String)>> = Vec::with_capacity(clients.len());
    let mut duplicated = 0;
    for (c, room) in &clients {
        let snap = c.snapshot().await;
        let msgs = snap.rooms.iter().find(|(r, _)| r == room).map(|(_, m)| m.as_slice()).unwrap_or_default();
        let keys: HashSet<(String, String)> = msgs.iter().map(|m| (m.author.clone(), m.id.clone())).collect();
        let seqs: HashSet<(&str, u64)> = msgs.iter().map(|m| (m.origin.as_str(), m.seq)).collect();
        duplicated += (msgs.len() - keys.len()) + (msgs.len() - seqs.len());
        held.push(keys);
    }
    // Lost: acked by its sender, missing from any member of its room.
    let mut rooms: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, (_, room)) in clients.iter().enumerate() {
        rooms.entry(room.as_str()).or_default().push(j);
    }
    let (mut lost, mut acked, mut errors) = (0, 0, 0);
    for (i, (client, room)) in clients.iter().enumerate() {
        let l = logs[i].lock().unwrap_or_else(|p| p.into_inner());
        errors += l.errors;
        acked += l.acked.len();
        let members = &rooms[room.as_str()];
        for id in &l.acked {
            let key = (client.name().to_owned(), id.clone());
            lost += members.iter().filter(|&&j| !held[j].contains(&key)).count();
        }
    }
    for (c, _) in &clients {
        c.close().await;
    }
    let out = Out {
        nodes: a.nodes,
        clients: a.clients,
        room_size: a.room_size,
        rate_msgs_s: a.rate,
        displaced: displaced.len(),
        recovered,
        failover: times.summary(),
        acked,
        lost,
        duplicated,
        errors,
    };
    println!(
        "displaced {} clients; {} back and caught up: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; acked {}, lost {}, duplicated {}, errors {}",
        out.displaced,
        out.recovered,
        out.failover.p50_ms,
        out.failover.p99_ms,
        out.failover.max_ms,
        out.acked,
        out.lost,
        out.duplicated,
        out.errors
    );
    write_json(ctx.json, "failover", &out)
}
