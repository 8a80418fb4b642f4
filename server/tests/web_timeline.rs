//! The message list holds only what is near the screen: a room of 600
//! messages shows its newest 120 or so; scrolling back reaches the very
//! first (from the node's history, a page at a time) with the DOM bounded
//! all the way, and scrolling down again follows the newest. Headless
//! Chromium against a real node.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Browser, Driver, dist};
use common::*;

/// The window's most (360) and one step (60), with a few separators.
const MOST_ROWS: u64 = 440;

async fn rows(b: &Browser) -> u64 {
    b.eval("document.querySelectorAll('.messages .msg').length").await.as_u64().unwrap()
}

async fn shown(b: &Browser, body: &str) -> bool {
    let expr = format!(
        "[...document.querySelectorAll('.messages .msg .body')].some(e => e.textContent === {})",
        serde_json::to_string(body).unwrap()
    );
    b.eval(&expr).await.as_bool() == Some(true)
}

/// Scrolls (`scroll`, with the list as `l`) until `body` shows; returns
/// the most message rows the page held on the way.
async fn scroll_until(b: &Browser, body: &str, scroll: &str) -> u64 {
    let mut most = 0;
    for _ in 0..400 {
        if shown(b, body).await {
            return most;
        }
        b.eval(&format!("(() => {{ const l = document.querySelector('.messages'); {scroll}; return true; }})()")).await;
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        most = most.max(rows(b).await);
    }
    panic!("{body:?} not reached by scrolling");
}

#[tokio::test]
async fn a_long_room_keeps_only_a_window_in_the_page() {
    let web = dist();
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(
        "n1",
        &dir.path().join("n1"),
        0,
        &["--web", web.to_str().unwrap(), "--rate", "10000", "--burst", "10000"],
    );
    let (mut poster, _) = Client::hello(&node.ws_url(), "poster").await;
    poster.join("general", None).await;
    for i in 0..600 {
        poster.say("general", &format!("m{i}"), &format!("message {i}")).await;
    }
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&node.url("/"), "reader").await;
    b.wait_message("message 599").await;

    // Live messages while following: the window slides, the DOM stays small.
    for i in 600..800 {
        poster.say("general", &format!("m{i}"), &format!("message {i}")).await;
    }
    b.wait_message("message 799").await;
    let following = rows(&b).await;
    let state = b
        .eval("(() => { const l = document.querySelector('.messages'); return [l.dataset.window, l.scrollTop, l.scrollHeight, l.clientHeight].join(' '); })()")
        .await;
    assert!(following <= 130, "{following} message rows in the page while following (window, scroll: {state})");

    // Back to the very first: history pages come in, the window moves up.
    let most = scroll_until(&b, "message 0", "l.scrollTop = 0").await;
    assert!(most <= MOST_ROWS, "{most} message rows at most while scrolling back");
    assert!(!shown(&b, "message 799").await, "the newest unloaded far below");
    // Down again: the newest, following once more.
    let most = scroll_until(&b, "message 799", "l.scrollTop = l.scrollHeight").await;
    assert!(most <= MOST_ROWS, "{most} message rows at most while scrolling down");
    poster.say("general", "m800", "message 800").await;
    b.wait_message("message 800").await;
    b.wait_true("document.querySelectorAll('.messages .msg').length <= 130", "following again").await;
    b.close().await;
}
