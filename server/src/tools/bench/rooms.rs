//! Rooms that hold one message and then stay quiet, to measure what many
//! rooms cost the traffic of a few (`fanout --idle-rooms N`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::tools::harness::{NodeProcess, http};

/// Concurrent HTTP posts while filling.
const WORKERS: usize = 16;

/// Posts one message to each of `rooms` rooms, spread over the nodes, then
/// waits until every node holds them all.
pub async fn fill(nodes: &[NodeProcess], rooms: usize) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let urls: Arc<Vec<String>> = Arc::new(nodes.iter().map(|n| n.url("/api/rooms/")).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (urls, next) = (urls.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let r = next.fetch_add(1, Relaxed);
                if r >= rooms {
                    return Ok(());
                }
                let url = format!("{}idle-{r}/messages", urls[r % urls.len()]);
                let answer = http::post_json(&url, r#"{"name":"filler","id":"f","body":"quiet"}"#).await?;
                anyhow::ensure!(answer.status == 200, "filling idle-{r}: {} {}", answer.status, answer.text());
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let mut held = Vec::new();
        for n in nodes {
            let health = http::get(&n.url("/api/health")).await?.json();
            held.push(health["rooms"].as_u64().unwrap_or(0) as usize);
        }
        if held.iter().all(|h| *h >= rooms) {
            return Ok(t0.elapsed());
        }
        anyhow::ensure!(Instant::now() < deadline, "idle rooms not everywhere after 15 min: {held:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
