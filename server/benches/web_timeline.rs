//! The timeline's cost as a session grows: one browser watches #general
//! while a client posts, and at 10, 1,000, 10,000 and 100,000 messages
//! received we measure in the page
//!
//! - keystroke to paint: a character typed into the composer until the
//!   next animation frame starts (mean and worst of 20 keys);
//! - message to paint: just before a client posts, until the frame that
//!   shows the message starts (post, the node's fan-out and the app);
//! - the message rows in the DOM;
//!
//! and at the end a burst of 100 messages a second for 5 s, which the page
//! must keep up with (every message shown within 2 s of the last post).
//!
//! `cargo bench -p meshchat --bench web_timeline` (`scripts/build-web`
//! first); `WEB_TIMELINE_SIZES=10,1000` picks the sizes. Under `cargo test`
//! it runs at 10 and 300 messages, as a check that it still works.
//! `WEB_TIMELINE_PROFILE=FILE` samples the page's CPU while it fills to the
//! last size (Chromium's profiler), writes the profile there and prints
//! where the time went, by function (names need a wasm built unstripped:
//! `CARGO_PROFILE_WASM_RELEASE_STRIP=false scripts/build-web --force`).
#![allow(clippy::unwrap_used)]

#[path = "../tests/browser/mod.rs"]
mod browser;
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use browser::{Browser, Driver, dist};
use common::{Client, start_node};
use serde_json::{Value, json};

/// Posts in flight at once while filling the room.
const WINDOW: usize = 200;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = match std::env::var("WEB_TIMELINE_SIZES") {
        Ok(s) => s.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
        Err(_) if bench => vec![10, 1_000, 10_000, 100_000],
        Err(_) => vec![10, 300],
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run(&sizes, bench));
}

async fn run(sizes: &[usize], burst: bool) {
    let web = dist();
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(
        "n1",
        &dir.path().join("n1"),
        0,
        &["--web", web.to_str().unwrap(), "--rate", "100000", "--burst", "100000", "--sync", "normal"],
    );
    let (mut poster, _) = Client::hello(&node.ws_url(), "poster").await;
    poster.join("general", None).await;
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.goto(&node.url("/api/health")).await;
    b.eval("localStorage.setItem('meshchat.name', 'reader') || true").await;
    b.goto(&node.url("/")).await;
    b.wait_connected().await;
    println!("timeline, one browser watching #general while a client posts:");
    println!("  received |  key→paint mean   key→paint max |  msg→paint |  rows in DOM | fill");
    let mut sent = 0usize;
    let profile = std::env::var("WEB_TIMELINE_PROFILE").ok();
    for &n in sizes {
        let profiling = profile.is_some() && Some(&n) == sizes.last();
        if profiling {
            b.cdp("Profiler.enable", json!({})).await;
            b.cdp("Profiler.setSamplingInterval", json!({"interval": 500})).await;
            b.cdp("Profiler.start", json!({})).await;
        }
        let start = Instant::now();
        fill(&mut poster, &b, &mut sent, n).await;
        if let (true, Some(path)) = (profiling, &profile) {
            let p = b.cdp("Profiler.stop", json!({})).await;
            std::fs::write(path, p["profile"].to_string()).unwrap();
            print_profile(&p["profile"]);
        }
        let fill_s = start.elapsed().as_secs_f64();
        let (key_mean, key_max) = keystrokes(&b).await;
        let msg = message_to_paint(&mut poster, &b, &mut sent).await;
        let rows = b.eval("document.querySelectorAll('.messages .msg').length").await.as_u64().unwrap_or(0);
        println!("  {n:>8} | {key_mean:>11.1} ms {key_max:>12.1} ms | {msg:>7.1} ms | {rows:>12} | {fill_s:.1} s");
        // Under `cargo test`: the page holds a window, not the session.
        assert!(burst || rows <= 130, "{rows} message rows in the page after {n} messages");
    }
    if burst {
        let (late, kept) = burst_of(&mut poster, &b, &mut sent).await;
        println!("  burst: 500 messages at 100/s, the last shown {late:.0} ms after it was posted ({kept})");
    }
    b.close().await;
}

/// The functions that took the most samples themselves, with their share.
fn print_profile(p: &Value) {
    let mut by: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let nodes = p["nodes"].as_array().cloned().unwrap_or_default();
    for node in &nodes {
        let f = &node["callFrame"];
        let name = format!("{} {}", f["functionName"].as_str().unwrap_or("?"), f["url"].as_str().unwrap_or(""));
        *by.entry(name).or_default() += node["hitCount"].as_u64().unwrap_or(0);
    }
    let total: u64 = by.values().sum::<u64>().max(1);
    let mut top: Vec<(String, u64)> = by.into_iter().collect();
    top.sort_by_key(|(_, hits)| std::cmp::Reverse(*hits));
    println!("  where the page's time went while filling ({total} samples):");
    for (name, hits) in top.into_iter().take(30) {
        println!("  {:>5.1} %  {}", hits as f64 * 100.0 / total as f64, name.chars().take(140).collect::<String>());
    }
}

/// Posts until the page has received `n` messages, a window in flight,
/// waiting for the page to show each thousandth so it is never far behind.
async fn fill(poster: &mut Client, b: &Browser, sent: &mut usize, n: usize) {
    while *sent < n {
        let chunk = (n - *sent).min(1_000);
        let mut in_flight = 0;
        for _ in 0..chunk {
            let id = format!("m{}", *sent);
            poster
                .send(json!({"type": "send", "room": "general", "id": id, "body": format!("message {}", *sent)}))
                .await;
            *sent += 1;
            in_flight += 1;
            if in_flight == WINDOW {
                acks(poster, in_flight).await;
                in_flight = 0;
            }
        }
        acks(poster, in_flight).await;
        shown(b, poster, &format!("message {}", *sent - 1), Duration::from_secs(600)).await;
    }
}

async fn acks(poster: &mut Client, mut n: usize) {
    while n > 0 {
        let v: Value = poster.recv().await;
        match v["type"].as_str() {
            Some("ack") => n -= 1,
            Some("error") => panic!("a post was refused: {v}"),
            _ => {}
        }
    }
}

/// Waits until a message with this body is on the screen, reading the
/// poster's socket meanwhile (a client that stops reading is let go).
async fn shown(b: &Browser, poster: &mut Client, body: &str, within: Duration) {
    let expr = format!(
        "[...document.querySelectorAll('.messages .msg .body')].some(e => e.textContent === {})",
        serde_json::to_string(body).unwrap()
    );
    let start = Instant::now();
    while start.elapsed() < within {
        if b.eval(&expr).await.as_bool() == Some(true) {
            return;
        }
        let _ = poster.try_recv(Duration::from_millis(20)).await;
    }
    panic!("{body:?} not shown within {within:?}");
}

/// 20 keys typed into the composer, each until the next frame starts.
async fn keystrokes(b: &Browser) -> (f64, f64) {
    let v = b
        .eval(
            "(async () => {
                const ta = document.querySelector('.composer textarea');
                ta.focus();
                const times = [];
                for (let i = 0; i < 20; i++) {
                    const t0 = performance.now();
                    ta.value += 'x';
                    ta.dispatchEvent(new InputEvent('input', {bubbles: true, data: 'x', inputType: 'insertText'}));
                    const t1 = await new Promise(r => requestAnimationFrame(t => r(t)));
                    times.push(t1 - t0);
                    await new Promise(r => setTimeout(r, 0));
                }
                ta.value = '';
                ta.dispatchEvent(new InputEvent('input', {bubbles: true}));
                return [times.reduce((a, b) => a + b, 0) / times.length, Math.max(...times)];
            })()",
        )
        .await;
    (v[0].as_f64().unwrap_or(f64::NAN), v[1].as_f64().unwrap_or(f64::NAN))
}

/// One post, from just before it leaves to the frame that shows it.
async fn message_to_paint(poster: &mut Client, b: &Browser, sent: &mut usize) -> f64 {
    let body = format!("probe {}", *sent);
    let t0 = b
        .eval(&format!(
            "(() => {{
                const want = {};
                window.__painted = new Promise(resolve => {{
                    const has = () => [...document.querySelectorAll('.messages .msg .body')]
                        .some(e => e.textContent === want);
                    const obs = new MutationObserver(() => {{
                        if (has()) {{ obs.disconnect(); requestAnimationFrame(t => resolve(t)); }}
                    }});
                    obs.observe(document.querySelector('.messages'), {{childList: true, subtree: true}});
                }});
                return performance.now();
            }})()",
            serde_json::to_string(&body).unwrap()
        ))
        .await
        .as_f64()
        .unwrap();
    poster.say("general", &format!("m{}", *sent), &body).await;
    *sent += 1;
    let t1 = b.eval("window.__painted").await.as_f64().unwrap();
    t1 - t0
}

/// 100 messages a second for 5 s; how long after the last post it shows.
async fn burst_of(poster: &mut Client, b: &Browser, sent: &mut usize) -> (f64, &'static str) {
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for _ in 0..500 {
        tick.tick().await;
        let id = format!("m{}", *sent);
        poster.send(json!({"type": "send", "room": "general", "id": id, "body": format!("message {}", *sent)})).await;
        *sent += 1;
    }
    acks(poster, 500).await;
    let last = Instant::now();
    shown(b, poster, &format!("message {}", *sent - 1), Duration::from_secs(60)).await;
    let late = last.elapsed().as_secs_f64() * 1000.0;
    (late, if late <= 2_000.0 { "kept up" } else { "fell behind" })
}
