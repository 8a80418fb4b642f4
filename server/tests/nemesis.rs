//! The nemesis: three real nodes, each in its own network namespace on a
//! bridge, under faults scheduled from a seed (partitions of every shape
//! and packet loss as nftables rules, kill -9 and restart, SIGSTOP, a clock
//! jump), while signed-in users post on random nodes with an outbox and
//! claim names. After healing, a checker reads every node's history.
//!
//! Root only (namespaces, nftables): skipped, saying so, elsewhere.
//! `NEMESIS_SEED` replays a run; `NEMESIS_SECS` sets its length (default
//! 40; scripts/nemesis runs long ones).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use meshchat::harness::{NodeProcess, NodeSpec};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const NODES: usize = 3;
const ROOMS: [&str; 3] = ["general", "dev", "random"];

fn run(cmd: &mut Command) -> bool {
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status().is_ok_and(|s| s.success())
}

/// The namespaces, their veth pairs and the bridge; gone when dropped.
struct Net {
    tag: String,
    subnet: u32,
}

impl Net {
    fn up() -> Option<Net> {
        let root = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
        if !root || !run(Command::new("nft").arg("--version")) || !run(Command::new("ip").arg("-V")) {
            return None;
        }
        let pid = std::process::id();
        let net = Net { tag: format!("mcn{}", pid % 100_000), subnet: pid % 250 };
        let bridge = format!("{}b", net.tag);
        let ok = run(Command::new("ip").args(["link", "add", &bridge, "type", "bridge"]))
            && run(Command::new("ip").args(["addr", "add", &format!("{}/24", net.addr(253)), "dev", &bridge]))
            && run(Command::new("ip").args(["link", "set", &bridge, "up"]));
        for i in 0..NODES {
            let (ns, veth) = (net.ns(i), format!("{}v{i}", net.tag));
            let ok = run(Command::new("ip").args(["netns", "add", &ns]))
                && run(Command::new("ip")
                    .args(["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns]))
                && run(Command::new("ip").args(["link", "set", &veth, "master", &bridge, "up"]))
                && run(&mut net.exec(i, &["ip", "addr", "add", &format!("{}/24", net.addr(i)), "dev", "eth0"]))
                && run(&mut net.exec(i, &["ip", "link", "set", "eth0", "up"]))
                && run(&mut net.exec(i, &["ip", "link", "set", "lo", "up"]))
                && run(&mut net.exec(i, &["nft", "add", "table", "inet", "nemesis"]))
                && run(&mut net.exec(
                    i,
                    &[
                        "nft",
                        "add",
                        "chain",
                        "inet",
                        "nemesis",
                        "input",
                        "{ type filter hook input priority 0; policy accept; }",
                    ],
                ));
            if !ok {
                return None;
            }
        }
        ok.then_some(net)
    }

    fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.tag)
    }

    fn addr(&self, host: usize) -> String {
        format!("10.79.{}.{}", self.subnet, host + 1)
    }

    fn exec(&self, i: usize, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(i)]).args(args);
        c
    }

    /// Node `i` drops the mesh (UDP) packets `rule` matches; HTTP from the
    /// test stays open, as clients on the other side of a partition would.
    fn drop_udp(&self, i: usize, rule: &str) {
        let mut args = vec!["nft", "add", "rule", "inet", "nemesis", "input"];
        args.extend(rule.split_whitespace());
        args.extend(["meta", "l4proto", "udp", "drop"]);
        assert!(run(&mut self.exec(i, &args)), "nft: {args:?}");
    }

    fn cut(&self, from: usize, to: usize) {
        self.drop_udp(to, &format!("ip saddr {}", self.addr(from)));
    }

    fn heal(&self) {
        for i in 0..NODES {
            run(&mut self.exec(i, &["nft", "flush", "chain", "inet", "nemesis", "input"]));
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..NODES {
            run(Command::new("ip").args(["netns", "del", &self.ns(i)]));
        }
        run(Command::new("ip").args(["link", "del", &format!("{}b", self.tag)]));
    }
}

/// One operation of the history, kept to print when a check fails (its
/// fields are read by that `Debug` print).
#[derive(Debug)]
#[allow(dead_code)]
enum Op {
    Fault(String),
    Post { user: usize, room: &'static str, id: String, node: usize, status: u16 },
    Claim { name: String, node: usize, status: u16 },
}

struct World {
    net: Net,
    nodes: Vec<NodeProcess>,
    tokens: Vec<String>,
    history: Vec<Op>,
    /// Posts not yet acknowledged: sent again, anywhere, until they are.
    outbox: Vec<(usize, &'static str, String)>,
    acked: BTreeSet<(String, String)>,
    seed: u64,
}

impl World {
    fn url(&self, i: usize, path: &str) -> String {
        format!("http://{}:8081{path}", self.net.addr(i))
    }

    async fn post(&mut self, user: usize, room: &'static str, id: String, node: usize) {
        let body = json!({"id": id, "body": format!("{id} from u{user}")});
        let url = self.url(node, &format!("/api/rooms/{room}/messages"));
        let (status, _) = try_api("POST", &url, Some(&self.tokens[user]), Some(body)).await;
        self.history.push(Op::Post { user, room, id: id.clone(), node, status });
        match status {
            200 => {
                self.acked.insert((format!("u{user}"), id));
            }
            // No answer, or the node cannot take it now: the outbox tries again.
            0 | 500.. => self.outbox.push((user, room, id)),
            // A refusal that no retry changes.
            _ => self.fail(&format!("u{user}'s {id} refused with {status}")),
        }
    }

    fn fail(&self, why: &str) -> ! {
        let tail: Vec<String> = self.history.iter().rev().take(40).map(|o| format!("{o:?}")).collect();
        panic!(
            "{why}\nNEMESIS_SEED={} reproduces it; the last operations, newest first:\n{}",
            self.seed,
            tail.join("\n")
        );
    }
}

/// An API call that may meet a node down or paused: `(0, null)` then.
async fn try_api(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let body = body.map(|b| b.to_string());
    let r = meshchat::harness::http::request_within(
        Duration::from_secs(5),
        method,
        url,
        &headers,
        body.as_deref().map(str::as_bytes),
    )
    .await;
    r.map_or((0, Value::Null), |r| (r.status, r.json()))
}

fn spec(net: &Net, i: usize, dir: &std::path::Path, offset_ms: i64) -> NodeSpec {
    let peers: Vec<String> =
        (0..NODES).filter(|&j| j != i).map(|j| format!("n{}={}:9081", j + 1, net.addr(j))).collect();
    let args = vec![
        "--mesh".into(),
        format!("{}:9081", net.addr(i)),
        "--peers".into(),
        peers.join(","),
        "--certs".into(),
        dir.join("certs").display().to_string(),
        "--http-rate".into(),
        "100000".into(),
        "--http-burst".into(),
        "100000".into(),
        "--anti-entropy-ms".into(),
        "500".into(),
        "--clock-offset-ms".into(),
        offset_ms.to_string(),
    ];
    NodeSpec {
        exe: exe(),
        id: format!("n{}", i + 1),
        http: format!("{}:8081", net.addr(i)),
        data: dir.join(format!("n{}", i + 1)),
        args,
        log: Some(dir.join(format!("n{}.log", i + 1))),
        nofile: None,
        netns: Some(net.ns(i)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nemesis_partitions_loss_crashes_pauses_and_clock_jumps_lose_nothing() {
    let Some(net) = Net::up() else {
        eprintln!("skipped: needs root, ip netns and nft (apt-get install nftables)");
        return;
    };
    let seed = std::env::var("NEMESIS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    let secs = std::env::var("NEMESIS_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(40u64);
    eprintln!("NEMESIS_SEED={seed} NEMESIS_SECS={secs}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    make_certs(&dir.path().join("certs"), &["n1", "n2", "n3"]);
    let nodes: Vec<NodeProcess> = (0..NODES)
        .map(|i| NodeProcess::start(spec(&net, i, dir.path(), 0)).expect("a node in its namespace"))
        .collect();
    let mut w =
        World { net, nodes, tokens: Vec::new(), history: Vec::new(), outbox: Vec::new(), acked: BTreeSet::new(), seed };
    for node in &w.nodes {
        wait_peers_up(node, NODES - 1).await;
    }
    for u in 0..4 {
        let (s, session) = register(&w.nodes[u % NODES], &format!("u{u}"), "a long password").await;
        assert_eq!(s, 201, "{session}");
        w.tokens.push(token(&session));
    }

    let stats = chaos(&mut w, &mut rng, Duration::from_secs(secs)).await;
    heal_and_check(&mut w).await;
    eprintln!(
        "nemesis seed {seed}: {secs} s, faults {stats:?}, {} posts acknowledged, {} operations in all; no anomaly",
        w.acked.len(),
        w.history.len()
    );
}

/// Faults one after another, posts and claims meanwhile.
async fn chaos(w: &mut World, rng: &mut StdRng, length: Duration) -> BTreeMap<&'static str, u32> {
    let end = Instant::now() + length;
    let mut stats = BTreeMap::new();
    let mut n = 0;
    while Instant::now() < end {
        let victim = rng.random_range(0..NODES);
        let others: Vec<usize> = (0..NODES).filter(|&j| j != victim).collect();
        let kind = ["partition", "one-way", "bridge", "loss", "kill", "pause", "clock"][rng.random_range(0..7)];
        *stats.entry(kind).or_insert(0) += 1;
        w.history.push(Op::Fault(format!("{kind} n{}", victim + 1)));
        match kind {
            // The victim alone on one side (a minority of one).
            "partition" => others.iter().for_each(|&o| {
                w.net.cut(victim, o);
                w.net.cut(o, victim);
            }),
            "one-way" => w.net.cut(victim, others[0]),
            // The other two cannot talk; the victim talks to both.
            "bridge" => {
                w.net.cut(others[0], others[1]);
                w.net.cut(others[1], others[0]);
            }
            "loss" => w.net.drop_udp(victim, "numgen random mod 4 == 0"),
            "kill" => w.nodes[victim].kill9(),
            "pause" => w.nodes[victim].signal("STOP"),
            // Restarted with its clock 45 s ahead (within the drift peers
            // take), later back: its stamps must keep the room's order.
            _ => restart_with_clock(w, victim, 45_000),
        }
        let fault_for = Duration::from_millis(rng.random_range(1_500..4_000));
        let until = Instant::now() + fault_for;
        while Instant::now() < until {
            traffic(w, rng, &mut n).await;
        }
        w.net.heal();
        match kind {
            "kill" => w.nodes[victim].restart().unwrap(),
            "pause" => w.nodes[victim].signal("CONT"),
            "clock" => restart_with_clock(w, victim, 0),
            _ => {}
        }
        w.history.push(Op::Fault("healed".into()));
    }
    stats
}

fn restart_with_clock(w: &mut World, i: usize, offset_ms: i64) {
    w.nodes[i].kill9();
    let dir = w.nodes[i].spec.data.parent().unwrap().to_owned();
    w.nodes[i] = NodeProcess::start(spec(&w.net, i, &dir, offset_ms)).unwrap();
}

/// A few posts from random users on random nodes, a retry from the
/// outbox, and now and then the same new name claimed on two nodes at once.
async fn traffic(w: &mut World, rng: &mut StdRng, n: &mut u64) {
    *n += 1;
    let (user, room) = (rng.random_range(0..w.tokens.len()), ROOMS[rng.random_range(0..ROOMS.len())]);
    w.post(user, room, format!("p{n}"), rng.random_range(0..NODES)).await;
    if !w.outbox.is_empty() {
        let (user, room, id) = w.outbox.remove(0);
        w.post(user, room, id, rng.random_range(0..NODES)).await;
    }
    if (*n).is_multiple_of(25) {
        let name = format!("claim{n}");
        let (a, b) = (rng.random_range(0..NODES), rng.random_range(0..NODES));
        let body = json!({"name": name, "password": "a long password"});
        let (ua, ub) = (w.url(a, "/api/register"), w.url(b, "/api/register"));
        let (ra, rb) = tokio::join!(
            try_api("POST", &ua, None, Some(body.clone())),
            try_api("POST", &ub, None, Some(body.clone()))
        );
        w.history.push(Op::Claim { name: name.clone(), node: a, status: ra.0 });
        w.history.push(Op::Claim { name, node: b, status: rb.0 });
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// Heals everything, empties the outbox, waits for the nodes to agree, and
/// checks the history against every node's.
async fn heal_and_check(w: &mut World) {
    w.net.heal();
    for i in 0..NODES {
        w.nodes[i].signal("CONT");
        if !w.nodes[i].is_running() {
            w.nodes[i].restart().unwrap();
        }
    }
    for i in 0..NODES {
        wait_peers_up(&w.nodes[i], NODES - 1).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some((user, room, id)) = w.outbox.pop() {
        if Instant::now() > deadline {
            w.fail(&format!("u{user}'s {id} never acknowledged after healing"));
        }
        let node = w.outbox.len() % NODES;
        w.post(user, room, id, node).await;
    }
    for room in ROOMS {
        let views = converged(w, room).await;
        check_room(w, room, &views[0]);
    }
    // Claims: a name has one account, the same on every node.
    let mut won: BTreeMap<String, u32> = BTreeMap::new();
    for op in &w.history {
        if let Op::Claim { name, status: 201, .. } = op {
            *won.entry(name.clone()).or_default() += 1;
        }
    }
    if let Some((name, n)) = won.iter().find(|(_, n)| **n > 1) {
        w.fail(&format!("{name} registered {n} times"));
    }
    // Membership: every node lists the same nodes.
    let mut lists = BTreeSet::new();
    for i in 0..NODES {
        let (_, nodes) = http_get(&w.url(i, "/api/nodes")).await;
        let ids: Vec<String> = nodes["nodes"].as_array().unwrap().iter().map(|n| n["id"].to_string()).collect();
        lists.insert(ids.into_iter().collect::<BTreeSet<_>>());
    }
    if lists.len() != 1 {
        w.fail(&format!("node lists differ: {lists:?}"));
    }
}

/// Every node's messages of `room` once they are identical (60 s at most).
async fn converged(w: &World, room: &str) -> Vec<Vec<Value>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut views = Vec::new();
        for i in 0..NODES {
            views.push(all_messages_as(&w.nodes[i], room, Some(&w.tokens[0])).await);
        }
        if views.iter().all(|v| *v == views[0]) {
            return views;
        }
        if Instant::now() > deadline {
            let sizes: Vec<usize> = views.iter().map(Vec::len).collect();
            w.fail(&format!("{room} never converged: {sizes:?} messages"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Every acknowledged post of the room exactly once; each origin's seqs
/// without a gap; stamps within reason despite the clock jump.
fn check_room(w: &World, room: &str, msgs: &[Value]) {
    let mut seen: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut seqs: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let now = meshchat::clock::now_ms();
    for m in msgs {
        *seen.entry((m["author"].as_str().unwrap().to_owned(), m["id"].as_str().unwrap().to_owned())).or_default() += 1;
        seqs.entry(m["origin"].as_str().unwrap().to_owned()).or_default().push(m["seq"].as_u64().unwrap());
        if m["ts"].as_u64().unwrap() > now + 120_000 {
            w.fail(&format!("a stamp far in the future: {m}"));
        }
    }
    for ((author, id), n) in &seen {
        if *n > 1 {
            w.fail(&format!("{author}'s {id} shown {n} times in {room}"));
        }
    }
    let posted: BTreeSet<&String> = w
        .history
        .iter()
        .filter_map(|o| match o {
            Op::Post { room: r, id, .. } if *r == room => Some(id),
            _ => None,
        })
        .collect();
    for (author, id) in &w.acked {
        if posted.contains(id) && !seen.contains_key(&(author.clone(), id.clone())) {
            w.fail(&format!("acknowledged {author}'s {id} missing from {room}"));
        }
    }
    // The HTTP history hides nothing a member may see; a room's own
    // events are among them, so each origin's visible seqs need not start
    // at 1, but none may appear twice.
    for (origin, mut s) in seqs {
        let n = s.len();
        s.sort();
        s.dedup();
        if s.len() != n {
            w.fail(&format!("{origin} used a seq twice in {room}"));
        }
    }
}
