//! What clients can make a node spend, where an attack found no bound:
//! room events sent as fast as the frame rate allows (each cost more the
//! longer the room lived), pictures that decode to hundreds of megabytes
//! asked for as thumbnails at once, and searches that held the reads of
//! everyone's history. Memory is read from `/proc`; times are printed, and
//! asserted only far from what a busy machine could explain.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use meshchat::infra::http::request;
use serde_json::json;

#[tokio::test]
async fn a_flood_of_room_events_is_bounded_per_person_and_others_are_acked() {
    let dir = tempfile::tempdir().unwrap();
    let extra = ["--registrations-per-hour", "1000", "--http-rate", "10000", "--http-burst", "10000"];
    let n = start_node_accounts("n1", &dir.path().join("n1"), 0, &extra, None);
    let admin = token(&register(&n, "admin", "admin password").await.1);
    let (status, m) =
        api("POST", &n.url("/api/rooms/general/messages"), Some(&admin), Some(json!({"id":"t","body":"react to me"})))
            .await;
    assert_eq!(status, 200, "{m}");
    let target = json!({"origin": m["msg"]["origin"], "seq": m["msg"]["seq"]});
    // Twenty people, each on eight connections ...
    let mut sockets = Vec::new();
    for p in 0..20 {
        let t = token(&register(&n, &format!("flooder{p}"), "flood password").await.1);
        for c in 0..8 {
            let (mut ws, _) = ws_with_token(&n, &t).await;
            ws.join("general", None).await;
            sockets.push((c, ws));
        }
    }
    let before = n.rss_kib().unwrap();
    // ... reacting and marking read as fast as they may.
    let mut floods = Vec::new();
    for (c, mut ws) in sockets {
        {
            let target = target.clone();
            floods.push(tokio::spawn(async move {
                let (mut acked, mut limited) = (0, 0);
                for i in 0..60 {
                    let action = if i % 2 == 0 {
                        json!({"event": "reacted", "origin": target["origin"], "seq": target["seq"], "emoji": "👍", "on": i % 4 == 0})
                    } else {
                        json!({"event": "read"})
                    };
                    ws.send(json!({"type": "act", "room": "general", "id": format!("{c}-{i}"), "action": action})).await;
                }
                while let Some(f) = ws.try_recv(Duration::from_secs(3)).await {
                    match f["type"].as_str() {
                        Some("ack") => acked += 1,
                        Some("error") if f["code"] == "rate_limited" => limited += 1,
                        _ => {}
                    }
                }
                (acked, limited)
            }));
        }
    }
    // Meanwhile someone else chats: every message acked.
    let (mut bob, _) = ws_with_token(&n, &admin).await;
    bob.join("general", None).await;
    let flood = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let sent = Instant::now();
        bob.say_busy("general", &format!("b{i}"), "still here").await;
        slowest = slowest.max(sent.elapsed());
    }
    let (mut acked, mut limited) = (0, 0);
    for f in floods {
        let (a, l) = f.await.unwrap();
        (acked, limited) = (acked + a, limited + l);
    }
    let (grew, took) = (n.rss_kib().unwrap().saturating_sub(before) / 1024, flood.elapsed());
    println!(
        "events acked {acked}, refused as too many {limited} in {took:?}; others' slowest ack {slowest:?}; RSS +{grew} MiB"
    );
    // 20 people x 8 connections x 60: each person's burst, and what came back meanwhile.
    let allowed =
        f64::from(meshchat::edge::guard::EVENT_BURST) + meshchat::edge::guard::EVENTS_PER_SEC * took.as_secs_f64();
    assert!(acked as f64 <= 20.0 * allowed, "{acked} acked in {took:?}");
    assert!(limited > 0);
    assert!(slowest < Duration::from_secs(5), "{slowest:?}");
    assert!(grew < 64, "RSS grew {grew} MiB");
}

/// A PNG of `w`×`h` that compresses to almost nothing; `seed` makes it a
/// file of its own.
fn bomb(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let mut img = image::RgbImage::new(w, h);
    img.put_pixel(0, 0, image::Rgb([seed, 1, 2]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn thumbnails_of_decompression_bombs_stay_within_the_nodes_budget() {
    let dir = tempfile::tempdir().unwrap();
    let n = start_node_accounts("n1", &dir.path().join("n1"), 0, &["--max-file-bytes", "10000000"], None);
    let alice = token(&register(&n, "alice", "alice password").await.1);
    let hello = json!({"id": "m1", "body": "pictures follow"});
    assert_eq!(api("POST", &n.url("/api/rooms/general/messages"), Some(&alice), Some(hello)).await.0, 200);
    let auth = format!("Bearer {alice}");
    let mut hashes = Vec::new();
    // Four pictures of 47 MiB each once decoded (the budget takes four at
    // once); one of 232 MiB, more than the whole budget.
    let side = 3_500;
    for (i, (w, h)) in [(side, side), (side, side), (side, side), (side, side), (7_800, 7_800)].iter().enumerate() {
        let png = bomb(*w, *h, i as u8);
        assert!(png.len() < 1 << 20, "{} bytes", png.len());
        let url = n.url(&format!("/api/rooms/general/files?id=b{i}"));
        let headers = [("Authorization", auth.as_str()), ("Content-Type", "image/png"), ("X-File-Name", "b.png")];
        let r = request("POST", &url, &headers, Some(&png)).await.unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        let body: serde_json::Value = serde_json::from_str(r.json()["msg"]["body"].as_str().unwrap()).unwrap();
        hashes.push(body["hash"].as_str().unwrap().to_owned());
    }
    let thumb = |hash: &str| {
        let (url, auth) = (n.url(&format!("/api/rooms/general/files/{hash}?thumb=1")), auth.clone());
        async move { request("GET", &url, &[("Authorization", auth.as_str())], None).await.unwrap().status }
    };
    // Larger than the whole budget: no thumbnail, nothing decoded.
    assert_eq!(thumb(&hashes[4]).await, 422);
    let before = n.rss_kib().unwrap();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let watch = {
        let (peak, pid) = (peak.clone(), n.pid());
        tokio::spawn(async move {
            loop {
                if let Some(rss) = meshchat::tools::harness::rss_kib_of(pid) {
                    peak.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // Thirty-two at once, eight for each picture.
    let asks = (0..32).map(|i| thumb(&hashes[i % 4]));
    let statuses = futures_util::future::join_all(asks).await;
    watch.abort();
    let grew = peak.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(before) / 1024;
    println!("32 thumbnails of 47 MiB pictures at once: {statuses:?}, RSS peak +{grew} MiB");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 503), "{statuses:?}");
    assert!(statuses.contains(&200));
    let budget = u64::from(meshchat::store::files::THUMB_BUDGET_MIB);
    // Without the budget, each of the 32 decodes its picture at once: +1.5 GiB.
    assert!(grew < budget + 64, "RSS grew {grew} MiB, the budget is {budget} MiB");
}

#[tokio::test]
async fn searches_never_stall_the_reading_of_history() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--guests", "--http-rate", "100000", "--http-burst", "100000"];
    let n = start_node("n1", &dir.path().join("n1"), 0, &args);
    // 6,000 messages of forty words each, most of them words of their own
    // that start the same way.
    let words = |i: u64| -> String {
        (0..40u64)
            .map(|k| format!("a{:x}", (i * 40 + k).wrapping_mul(2_654_435_761) % 1_000_000))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let posts = (0..6_000).map(|i| ("big".to_owned(), format!("m{i}"), format!("abc{i:05} {}", words(i)))).collect();
    assert!(post_many(&n.http, posts).await.iter().all(|s| *s == 200));
    let posts = (0..60).map(|i| ("quiet".to_owned(), format!("q{i}"), format!("quiet {i}"))).collect();
    assert!(post_many(&n.http, posts).await.iter().all(|s| *s == 200));
    // Sixteen searches for the widest prefixes there are, at once ...
    let searches = (0..16).map(|i| {
        let word = if i % 2 == 0 { "a" } else { "abc" };
        let url = n.url(&format!("/api/search?q={word}+before:2099-01-0{}&order=relevance", 1 + i % 9));
        async move {
            let start = Instant::now();
            let r = request("GET", &url, &[], None).await.unwrap();
            (r.status, start.elapsed())
        }
    });
    let searches = tokio::spawn(futures_util::future::join_all(searches));
    tokio::time::sleep(Duration::from_millis(30)).await;
    // ... and another user reads history meanwhile.
    let read = Instant::now();
    let (status, page) = http_get(&n.url("/api/rooms/quiet/messages?limit=50")).await;
    let read = read.elapsed();
    let searches = searches.await.unwrap();
    println!("a history read during 16 searches: {read:?}; the searches: {searches:?}");
    assert_eq!((status, page["messages"].as_array().unwrap().len()), (200, 50));
    assert!(searches.iter().all(|(s, _)| *s == 200 || *s == 503), "{searches:?}");
    assert!(read < Duration::from_secs(1), "{read:?}");
}
