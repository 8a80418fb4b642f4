//! The nemesis: real nodes (3, or `NEMESIS_NODES`), each in its own network
//! namespace on a bridge with its data on a tmpfs of its own, under faults
//! scheduled from a seed: partitions of every shape and packet loss as
//! nftables rules, kill -9 and restart, SIGSTOP, a clock jump, a full disk,
//! the whole mesh restarted. Signed-in users meanwhile post, edit, react,
//! delete, share files, join and leave, claim names, over HTTP on random
//! nodes with an outbox and as WebSocket clients that move between nodes.
//! After each fault the time until clients are served again and until the
//! nodes agree is measured; after the last, a checker reads every node.
//!
//! Root only (namespaces, nftables, tmpfs): skipped, saying so, elsewhere.
//! `NEMESIS_SEED` replays a run; `NEMESIS_SECS` sets its length (default
//! 60; scripts/nemesis runs long ones); `NEMESIS_FAULTS=disk,kill` injects
//! only those faults; `NEMESIS_HISTORY=FILE` writes the whole history on a
//! failure.
#![allow(clippy::unwrap_used)]

mod check;
#[path = "../common/mod.rs"]
mod common;
mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::net::Net;
use common::{SmallDisk, make_certs, register, token, wait_peers_up};
use meshchat::tools::harness::{NodeProcess, NodeSpec};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use world::{CLUB, Op, USERS, World, follower, try_api};

const FAULTS: [&str; 9] = ["partition", "one-way", "bridge", "loss", "kill", "pause", "clock", "disk", "restart-all"];

fn spec(w_net: &Net, i: usize, data: &std::path::Path, dir: &std::path::Path, offset_ms: i64) -> NodeSpec {
    let peers: Vec<String> =
        (0..w_net.n).filter(|&j| j != i).map(|j| format!("n{}={}:9081", j + 1, w_net.addr(j))).collect();
    let args = [
        "--mesh",
        &format!("{}:9081", w_net.addr(i)),
        "--peers",
        &peers.join(","),
        "--certs",
        &dir.join("certs").display().to_string(),
        "--http-rate",
        "100000",
        "--http-burst",
        "100000",
        "--anti-entropy-ms",
        "500",
        "--clock-offset-ms",
        &offset_ms.to_string(),
    ];
    NodeSpec {
        exe: common::exe(),
        id: format!("n{}", i + 1),
        http: format!("{}:8081", w_net.addr(i)),
        data: data.to_owned(),
        args: args.iter().map(|s| s.to_string()).collect(),
        log: Some(dir.join(format!("n{}.log", i + 1))),
        nofile: None,
        netns: Some(w_net.ns(i)),
    }
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nemesis_real_faults_lose_nothing_and_every_node_agrees() {
    let n: usize = env("NEMESIS_NODES").unwrap_or(3);
    let Some(net) = Net::up(n) else {
        eprintln!("skipped: needs root, ip netns and nft (apt-get install nftables)");
        return;
    };
    let Some(disks) = (0..n).map(|_| SmallDisk::mount(256)).collect::<Option<Vec<_>>>() else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let seed = env("NEMESIS_SEED").unwrap_or_else(rand::random);
    let secs = env("NEMESIS_SECS").unwrap_or(60u64);
    eprintln!("NEMESIS_SEED={seed} NEMESIS_SECS={secs} NEMESIS_NODES={n}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
    make_certs(&dir.path().join("certs"), &ids.iter().map(String::as_str).collect::<Vec<_>>());
    let nodes = (0..n)
        .map(|i| NodeProcess::start(spec(&net, i, &disks[i].dir.path().join("data"), dir.path(), 0)).unwrap())
        .collect();
    let mut w = World {
        nodes,
        disks,
        net,
        tokens: Vec::new(),
        followers: Vec::new(),
        history: Vec::new(),
        outbox: Vec::new(),
        acked: Vec::new(),
        deleting: BTreeSet::new(),
        deleted: BTreeSet::new(),
        in_club: vec![false; USERS],
        seed,
        step: 0,
        logs: dir.path().to_owned(),
    };
    setup(&mut w).await;
    let (faults, recovery) = chaos(&mut w, &mut rng, dir.path(), Duration::from_secs(secs)).await;
    let found = check::heal_and_check(&mut w).await;
    eprintln!(
        "nemesis seed {seed}: {n} nodes, {secs} s, faults {faults:?}, {} requests acknowledged, {} operations in all; \
         no anomaly; {found:?}",
        w.acked.len(),
        w.history.len()
    );
    for (kind, times) in recovery {
        eprintln!("recovery after {kind}: {}", summary(times));
    }
}

/// Users signed up, the club created, the WebSocket clients connected.
async fn setup(w: &mut World) {
    for node in &w.nodes {
        wait_peers_up(node, w.nodes.len() - 1).await;
    }
    for u in 0..USERS {
        let (s, session) = register(&w.nodes[u % w.nodes.len()], &format!("u{u}"), "a long password").await;
        assert_eq!(s, 201, "{session}");
        w.tokens.push(token(&session));
    }
    let club = json!({"room": CLUB, "title": "The club", "topic": "people come and go", "private": false});
    let (s, info) = try_api("POST", &w.url(0, "/api/rooms"), Some(&w.tokens[0]), Some(club)).await;
    assert_eq!(s, 201, "{info}");
    let urls: Vec<String> = (0..w.nodes.len()).map(|i| w.nodes[i].ws_url()).collect();
    w.followers = (0..world::FOLLOWERS).map(|u| follower(u, &w.tokens[u], &urls)).collect();
    // The clients hold their (empty) rooms before the first fault: a room
    // one of them starts over from its latest page later is a `gap`.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !w.followers.iter().all(|f| f.synced.load(std::sync::atomic::Ordering::Relaxed)) {
        assert!(Instant::now() < deadline, "the WebSocket clients never synced");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Recovery = BTreeMap<&'static str, Vec<(Duration, Duration)>>;

/// Faults one after another with traffic meanwhile; after each, how long
/// until a client of the victim is served and until the nodes agree.
async fn chaos(
    w: &mut World,
    rng: &mut StdRng,
    dir: &std::path::Path,
    length: Duration,
) -> (BTreeMap<&'static str, u32>, Recovery) {
    let end = Instant::now() + length;
    let (mut faults, mut recovery) = (BTreeMap::new(), Recovery::new());
    // `NEMESIS_FAULTS=disk,kill` injects only those.
    let only: Option<String> = env("NEMESIS_FAULTS");
    let kinds: Vec<&'static str> =
        FAULTS.into_iter().filter(|k| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == *k))).collect();
    while Instant::now() < end {
        let victim = rng.random_range(0..w.nodes.len());
        let kind = kinds[rng.random_range(0..kinds.len())];
        *faults.entry(kind).or_insert(0) += 1;
        w.history.push(Op::Fault(format!("{kind} n{}", victim + 1)));
        inject(w, rng, dir, kind, victim);
        let until = Instant::now() + Duration::from_millis(rng.random_range(1_500..4_000));
        while Instant::now() < until {
            w.traffic(rng).await;
        }
        let healed = Instant::now();
        heal(w, dir, kind, victim);
        w.history.push(Op::Fault("healed".into()));
        let times = recover(w, victim, healed).await;
        recovery.entry(kind).or_default().push(times);
    }
    (faults, recovery)
}

fn inject(w: &mut World, rng: &mut StdRng, dir: &std::path::Path, kind: &str, victim: usize) {
    let n = w.nodes.len();
    let others: Vec<usize> = (0..n).filter(|&j| j != victim).collect();
    match kind {
        // A minority (one node, or two of five) cut off from the rest.
        "partition" => {
            let size = rng.random_range(1..=(n - 1) / 2);
            let minority: Vec<usize> = (0..size).map(|k| (victim + k) % n).collect();
            let rest: Vec<usize> = (0..n).filter(|j| !minority.contains(j)).collect();
            w.net.split(&minority, &rest);
        }
        "one-way" => w.net.cut(victim, others[0]),
        // The others in two halves that cannot talk; the victim talks to all.
        "bridge" => {
            let (a, b) = others.split_at(others.len() / 2);
            w.net.split(a, b);
        }
        "loss" => w.net.drop_udp(victim, "numgen random mod 4 == 0"),
        "kill" => w.nodes[victim].kill9(),
        "pause" => w.nodes[victim].signal("STOP"),
        // Restarted with its clock 45 s ahead (within the drift peers
        // take), later back: its stamps must keep the room's order.
        "clock" => restart_with_clock(w, dir, victim, 45_000),
        "disk" => {
            w.disks[victim].fill();
        }
        _ => w.nodes.iter_mut().for_each(NodeProcess::kill9),
    }
}

fn heal(w: &mut World, dir: &std::path::Path, kind: &str, victim: usize) {
    w.net.heal();
    match kind {
        "kill" => w.nodes[victim].restart().unwrap(),
        "pause" => w.nodes[victim].signal("CONT"),
        "clock" => restart_with_clock(w, dir, victim, 0),
        "disk" => std::fs::remove_file(w.disks[victim].dir.path().join("filler")).unwrap(),
        "restart-all" => w.nodes.iter_mut().for_each(|node| node.restart().unwrap()),
        _ => {}
    }
}

fn restart_with_clock(w: &mut World, dir: &std::path::Path, i: usize, offset_ms: i64) {
    w.nodes[i].kill9();
    let data = w.nodes[i].spec.data.clone();
    w.nodes[i] = NodeProcess::start(spec(&w.net, i, &data, dir, offset_ms)).unwrap();
}

/// From healing: until a post to the victim is acknowledged (clients
/// back), then until every node's digest of its rooms is the same (nodes
/// converged), with no new traffic but the retries. 60 s at most each.
async fn recover(w: &mut World, victim: usize, healed: Instant) -> (Duration, Duration) {
    let give_up = healed + Duration::from_secs(60);
    w.step += 1;
    let id = format!("h{}", w.step);
    let probe =
        world::Req { user: 3, room: world::ROOMS[0], id: id.clone(), what: world::What::Post(format!("x{id} probe")) };
    loop {
        let before = w.acked.len();
        w.send(probe.clone(), victim).await;
        if w.acked.len() > before {
            break;
        }
        // Not taken: it went to the outbox; the probe stays here.
        w.outbox.pop();
        if Instant::now() > give_up {
            w.fail(&format!("n{} serves no client 60 s after healing", victim + 1));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let back = healed.elapsed();
    loop {
        let mut digests = BTreeSet::new();
        for i in 0..w.nodes.len() {
            let (_, health) = try_api("GET", &w.url(i, "/api/health"), None, None).await;
            digests.insert(health["digest"].to_string());
        }
        if digests.len() == 1 && !digests.contains("null") {
            return (back, healed.elapsed());
        }
        if Instant::now() > give_up {
            w.fail("the nodes do not agree 60 s after healing");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// "clients back median / max, converged median / max".
fn summary(mut times: Vec<(Duration, Duration)>) -> String {
    let ms = |d: Duration| d.as_millis();
    times.sort_by_key(|t| t.0);
    let mid = (times.len() - 1) / 2;
    let back = (ms(times[mid].0), ms(times[times.len() - 1].0));
    times.sort_by_key(|t| t.1);
    let agreed = (ms(times[mid].1), ms(times[times.len() - 1].1));
    format!(
        "{} times; clients back in {} ms (median), {} ms (max); nodes converged in {} ms (median), {} ms (max)",
        times.len(),
        back.0,
        back.1,
        agreed.0,
        agreed.1
    )
}
