//! What the terminal app costs when left open: a person in 50 rooms of a
//! real 3-node mesh, each room with 100 messages, the app idle on screen.
//! Prints its resident memory and the CPU it spent idle.
//!
//! `cargo bench -p meshchat --bench tui_idle` (60 s idle); under
//! `cargo test` it idles 3 s, as a check that it still works.
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::pty::Pty;
use common::*;
use meshchat::tools::harness::{cpu_time_of, rss_kib_of};

const ROOMS: usize = 50;
const PER_ROOM: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let idle = Duration::from_secs(if bench { 60 } else { 3 });
    let m = Mesh::start(3, &["--http-rate", "1000000", "--http-burst", "1000000"]).await;
    let rooms: Vec<String> = (1..=ROOMS).map(|i| format!("room-{i:02}")).collect();
    let posts = rooms
        .iter()
        .flat_map(|r| (0..PER_ROOM).map(move |i| (r.clone(), format!("{r}-{i}"), format!("message {i} of {r}"))))
        .collect();
    assert!(post_many(&m.nodes[0].http, posts).await.iter().all(|s| *s == 200));
    let urls = m.nodes.iter().map(|n| n.ws_url()).collect::<Vec<_>>().join(",");
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["tui", "--nodes", &urls, "--name", "idler"];
    for r in &rooms {
        args.extend(["--room", r]);
    }
    let app = Pty::spawn(&args, &[], dir.path());
    app.wait_for(&format!("message {} of room-01", PER_ROOM - 1), Duration::from_secs(60)).await;
    // The rooms caught up: the last one in sight shows its unread count.
    app.wait_until("every room caught up", Duration::from_secs(60), |s| {
        s.lines().filter(|l| l.contains("# room-") && l.contains(" 50 ")).count() >= 30
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = app.pid().unwrap();
    let cpu_before = cpu_time_of(pid).unwrap();
    tokio::time::sleep(idle).await;
    let cpu = cpu_time_of(pid).unwrap() - cpu_before;
    let rss = rss_kib_of(pid).unwrap();
    println!(
        "tui idle: {ROOMS} rooms × {PER_ROOM} messages, RSS {:.1} MiB, CPU {} ms over {} s idle ({:.2} % of a core)",
        rss as f64 / 1024.0,
        cpu.as_millis(),
        idle.as_secs(),
        cpu.as_secs_f64() * 100.0 / idle.as_secs_f64()
    );
}
