//! Search at size: N messages in R rooms stored through the node's own
//! writer (group commits of 1,000, full sync), then a real node answering
//! `GET /api/search` over HTTP, one query at a time: p50 and p99 per kind
//! of query. Also what indexing costs a message on the write path: the
//! same rows inserted with and without the FTS5 index, in the same
//! transactions.
//!
//! `cargo bench -p meshchat --bench search` (1,000,000 messages in 1,000
//! rooms); under `cargo test` a small run, as a check that it still works.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use meshchat::infra::metrics::Metrics;
use meshchat::store::{Store, Stored, Sync};
use meshchat::tools::harness::{NodeProcess, NodeSpec, http};
use meshchat_shared::{Message, RoomVector};
use rand::{Rng, SeedableRng};

/// Words people use, most common first (a Zipf-like draw picks early ones more).
const WORDS: &[&str] = &[
    "the",
    "to",
    "and",
    "a",
    "of",
    "is",
    "in",
    "it",
    "you",
    "that",
    "for",
    "on",
    "we",
    "this",
    "with",
    "be",
    "deploy",
    "release",
    "meeting",
    "review",
    "build",
    "test",
    "lunch",
    "friday",
    "monday",
    "server",
    "client",
    "bug",
    "fix",
    "plan",
    "design",
    "docs",
    "error",
    "latency",
    "mesh",
    "node",
    "room",
    "search",
    "file",
    "upload",
    "checklist",
    "quarterly",
    "budget",
    "launch",
    "customer",
    "incident",
    "rollback",
    "database",
    "migration",
    "coffee",
];

fn sentence(rng: &mut impl Rng) -> String {
    let n = rng.random_range(6..20);
    let mut words = Vec::with_capacity(n);
    for _ in 0..n {
        // Mostly common words, with a long tail of rare tokens.
        let w = if rng.random_ratio(1, 8) {
            format!("tok{}", rng.random_range(0..200_000))
        } else {
            let i = (rng.random::<f64>().powi(3) * WORDS.len() as f64) as usize;
            WORDS[i.min(WORDS.len() - 1)].to_owned()
        };
        words.push(w);
    }
    words.join(" ")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench");
    let (rooms, per_room, runs) = if full { (1_000usize, 1_000usize, 200usize) } else { (20, 100, 5) };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("n1");

    // 1. Store the messages through the node's writer.
    let total = rooms * per_room;
    let (took, rare) = rt.block_on(fill(&data, rooms, per_room));
    println!(
        "stored {total} messages in {rooms} rooms in {:.1} s: {:.0} messages/s (with the index)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    let db = std::fs::metadata(data.join("meshchat.db")).map(|m| m.len()).unwrap_or(0);
    println!("database: {:.1} MiB", db as f64 / (1 << 20) as f64);
    index_cost(if full { 200_000 } else { 5_000 });

    // 2. A node on that data, answering searches.
    let node = NodeProcess::start(NodeSpec {
        exe: env!("CARGO_BIN_EXE_meshchat").into(),
        id: "n1".into(),
        http: "127.0.0.1:0".into(),
        data,
        args: vec!["--guests".into(), "--http-rate".into(), "100000".into(), "--http-burst".into(), "100000".into()],
        log: None,
        nofile: None,
        netns: None,
    })
    .unwrap();
    let queries: [(&str, String); 5] = [
        ("a common word, all rooms, newest first", "deploy".into()),
        ("a rare word, all rooms", rare),
        ("two words, all rooms, best first", "release checklist&order=relevance".into()),
        ("a phrase in one room", "\"the release\" in:r7".into()),
        ("a prefix, all rooms", "migr".into()),
    ];
    println!("search over HTTP, {runs} runs each (ms):");
    println!("  {:<42} {:>8} {:>8} {:>8}", "query", "p50", "p99", "results");
    for (what, q) in &queries {
        let (mut times, mut found) = (Vec::new(), 0);
        for _ in 0..runs {
            let (q, extra) = q.split_once('&').map_or((q.as_str(), ""), |(a, b)| (a, b));
            let url = node.url(&format!("/api/search?q={}&{extra}", encode(q)));
            let t = Instant::now();
            let r = rt.block_on(http::get(&url)).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(r.status, 200, "{}", r.text());
            found = r.json()["results"].as_array().map_or(0, Vec::len);
        }
        times.sort_by(f64::total_cmp);
        let p = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        println!("  {what:<42} {:>8.2} {:>8.2} {found:>8}", p(0.5), p(0.99));
        assert!(found > 0, "{what}: nothing found");
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Stores the messages; how long it took, and a rare word they hold.
async fn fill(data: &std::path::Path, rooms: usize, per_room: usize) -> (Duration, String) {
    let store = Store::open(data, "n1", Sync::Full, Arc::new(Metrics::default())).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let t = Instant::now();
    let mut batch = Vec::with_capacity(1_000);
    let mut waits = Vec::new();
    let mut ts = 1_700_000_000_000u64;
    let mut rare = None;
    for seq in 1..=per_room as u64 {
        for r in 0..rooms {
            ts += 1;
            let msg = Message {
                room: format!("r{r}"),
                id: format!("m{seq}"),
                author: format!("user{}", rng.random_range(0..50)),
                body: sentence(&mut rng),
                origin: "n1".into(),
                seq,
                ts,
                vc: RoomVector::from_iter([("n1", seq)]),
            };
            if rare.is_none() {
                rare = msg.body.split(' ').find(|w| w.starts_with("tok")).map(str::to_owned);
            }
            batch.push(Stored { msg: Arc::new(msg), hidden: false, proof: None });
            if batch.len() == 1_000 {
                waits.push(store.append(std::mem::take(&mut batch)).await.unwrap());
                // A few commits in flight, as under load.
                if waits.len() >= 4 {
                    waits.remove(0).await.unwrap().unwrap();
                }
            }
        }
    }
    if !batch.is_empty() {
        waits.push(store.append(batch).await.unwrap());
    }
    for w in waits {
        w.await.unwrap().unwrap();
    }
    let took = t.elapsed();
    store.close().await;
    (took, rare.unwrap_or_else(|| "tok".into()))
}

/// The index's share of a write: the same rows into a table alone, then
/// into the table and the FTS5 index, 1,000 to a transaction.
fn index_cost(n: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let texts: Vec<String> = (0..n).map(|_| sentence(&mut rng)).collect();
    let run = |fts: bool| -> f64 {
        let dir = tempfile::tempdir().unwrap();
        let mut c = rusqlite::Connection::open(dir.path().join("x.db")).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
             CREATE TABLE m (room TEXT, body TEXT);
             CREATE VIRTUAL TABLE s USING fts5(text, room UNINDEXED, author UNINDEXED, ts UNINDEXED,
                 edit UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
             INSERT INTO s (s, rank) VALUES ('secure-delete', 1);",
        )
        .unwrap();
        let t = Instant::now();
        for chunk in texts.chunks(1_000) {
            let tx = c.transaction().unwrap();
            for (i, text) in chunk.iter().enumerate() {
                tx.execute("INSERT INTO m (room, body) VALUES (?1, ?2)", ((i % 100) as i64, text)).unwrap();
                if fts {
                    let rowid = tx.last_insert_rowid();
                    tx.execute(
                        "INSERT INTO s (rowid, text, room, author, ts, edit) VALUES (?1, ?2, ?3, 'a', 0, '')",
                        (rowid, text, (i % 100) as i64),
                    )
                    .unwrap();
                }
            }
            tx.commit().unwrap();
        }
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    let (plain, indexed) = (run(false), run(true));
    println!(
        "write path per message: {plain:.1} µs without the index, {indexed:.1} µs with it: +{:.1} µs for the index",
        indexed - plain
    );
}
