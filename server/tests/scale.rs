//! The mesh with many rooms: a real three-node mesh over loopback QUIC.
//!
//! Rooms are created on n1 (a message each, over HTTP), and must be held
//! identically by all three (the health digests agree) within a bound; a
//! node killed meanwhile, restarted after messages were posted elsewhere,
//! converges too. Then the idle mesh is measured: bytes and CPU per node.
//!
//! `SCALE_ROOMS` sets the room count (12,000 here, past the ~10,000 where
//! version 1 stopped replicating); `scripts/scale` runs 1,000 to 100,000
//! rooms on the release build for docs/benchmarks.md.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use meshchat::tools::harness::{MeshSpec, NodeProcess};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn rooms() -> usize {
    std::env::var("SCALE_ROOMS").ok().and_then(|s| s.parse().ok()).unwrap_or(12_000)
}

/// POSTs one message to each room of `names` over one kept-alive connection.
async fn post_all(addr: String, names: Vec<String>) {
    let stream = TcpStream::connect(&addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    for room in names {
        let body = format!(r#"{{"name":"loader","id":"{room}","body":"hello {room}"}}"#);
        let req = format!(
            "POST /api/rooms/{room}/messages HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        write.write_all(req.as_bytes()).await.unwrap();
        let mut status = String::new();
        read.read_line(&mut status).await.unwrap();
        assert!(status.contains(" 200 "), "{room}: {status}");
        let mut len = 0;
        loop {
            let mut line = String::new();
            read.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        read.read_exact(&mut body).await.unwrap();
    }
}

/// Creates `n` rooms on `node` from 32 connections; returns how long it took.
async fn create_rooms(node: &NodeProcess, prefix: &str, n: usize) -> Duration {
    let t = Instant::now();
    let workers = 32;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let names: Vec<String> = (w..n).step_by(workers).map(|i| format!("{prefix}{i}")).collect();
        tasks.push(tokio::spawn(post_all(node.http.clone(), names)));
    }
    for t in tasks {
        t.await.unwrap();
    }
    t.elapsed()
}

async fn health(node: &NodeProcess) -> serde_json::Value {
    http_get(&node.url("/api/health")).await.1
}

/// Waits until every node holds `rooms` rooms and the same digest.
async fn converged(nodes: &[&NodeProcess], rooms: u64, within: Duration) -> Duration {
    let t = Instant::now();
    loop {
        let mut hs = Vec::new();
        for n in nodes {
            hs.push(health(n).await);
        }
        let same = hs.iter().all(|h| h["digest"] == hs[0]["digest"] && h["rooms"].as_u64() == Some(rooms));
        if same {
            return t.elapsed();
        }
        let seen: Vec<String> = hs.iter().map(|h| format!("{} rooms, digest {}", h["rooms"], h["digest"])).collect();
        assert!(t.elapsed() < within, "not converged after {within:?}: {seen:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn counter(node: &NodeProcess, name: &str) -> u64 {
    metric(node, name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_rooms_converge_survive_a_crash_and_idle_cheaply() {
    let n = rooms();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = MeshSpec::new(&exe(), dir.path(), 3);
    // Rooms with nothing going on free their memory after two seconds; one
    // address may create them all, as fast as it can.
    let args = [
        "--guests",
        "--room-idle-ms",
        "2000",
        "--rooms-per-hour",
        "1000000",
        "--http-rate",
        "100000",
        "--http-burst",
        "100000",
    ];
    spec.args = args.iter().map(|s| s.to_string()).collect();
    spec.logs = true;
    let mut nodes = spec.start().unwrap();
    for node in &nodes {
        wait_peers_up(node, 2).await;
    }
    let created = create_rooms(&nodes[0], "room-", n).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    // Bound: a minute plus 1 ms per room (a debug build on two shared cores).
    let bound = Duration::from_secs(60) + Duration::from_millis(n as u64);
    let synced = converged(&all, n as u64, bound).await;
    eprintln!("{n} rooms: created on n1 in {created:?}, held identically by all three {synced:?} later");

    // kill -9 n2; messages posted meanwhile on n3 and n1; n2 comes back.
    nodes[1].kill9();
    create_rooms(&nodes[2], "while-n2-down-", 50).await;
    create_rooms(&nodes[0], "room-", 10).await; // repeats: acked with the originals
    let (status, _) =
        http_post(&nodes[0].url("/api/rooms/room-7/messages"), r#"{"name":"late","id":"x","body":"later"}"#).await;
    assert_eq!(status, 200);
    nodes[1].restart().unwrap();
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    let back = converged(&all, n as u64 + 50, bound).await;
    eprintln!("n2 killed, 51 messages posted elsewhere, n2 restarted: converged in {back:?}");
    let page = all_messages(&nodes[1], "room-7").await;
    assert_eq!(page.len(), 2, "{page:?}");

    // The idle mesh: bytes and CPU per node over ten seconds.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let before: Vec<(u64, Duration)> = {
        let mut v = Vec::new();
        for node in &nodes {
            v.push((counter(node, "meshchat_mesh_bytes_out_total").await, node.cpu_time().unwrap()));
        }
        v
    };
    let window = Duration::from_secs(10);
    tokio::time::sleep(window).await;
    for (node, (bytes, cpu)) in nodes.iter().zip(before) {
        let bytes = counter(node, "meshchat_mesh_bytes_out_total").await - bytes;
        let cpu = node.cpu_time().unwrap() - cpu;
        let open = counter(node, "meshchat_rooms_open").await;
        eprintln!(
            "idle {}: {:.0} B/s to its 2 peers, CPU {:.2} %, RSS {} KiB, {open} room actors running",
            node.id(),
            bytes as f64 / window.as_secs_f64(),
            cpu.as_secs_f64() / window.as_secs_f64() * 100.0,
            node.rss_kib().unwrap()
        );
        // An idle mesh exchanges digests, not rooms: a few hundred bytes a
        // second whatever the room count.
        assert!(bytes < 50_000, "{}: {bytes} bytes in {window:?} while idle", node.id());
        // Only the nodes' own logs stay open (accounts, members): every
        // node follows them live.
        assert_eq!(open, 2, "{}: idle rooms are retired", node.id());
    }
}
