//! The web app when nodes go away: it moves, resumes, resends, and nobody
//! loses or sees twice anything. Headless Chromium against real meshes.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use std::time::Duration;

use browser::{Browser, Driver, dist};
use common::*;
use serde_json::json;

fn web_arg() -> String {
    dist().to_str().unwrap().to_owned()
}

/// Records every status text and banner the page shows from now on.
async fn watch_status(b: &Browser) {
    b.eval(
        "(() => {
            window.__statuses = [];
            window.__banners = [];
            const note = () => {
                const s = document.querySelector('.status-text');
                if (s) window.__statuses.push(s.textContent);
                document.querySelectorAll('.banner').forEach(e => window.__banners.push(e.textContent));
            };
            new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
            return true;
        })()",
    )
    .await;
}

async fn seen_statuses(b: &Browser) -> Vec<String> {
    serde_json::from_value(b.eval("window.__statuses").await).unwrap()
}

async fn seen_banners(b: &Browser) -> Vec<String> {
    serde_json::from_value(b.eval("window.__banners").await).unwrap()
}

/// Each body shown exactly once, in the same order in both browsers.
async fn same_once(a: &Browser, b: &Browser, expected: &[&str]) {
    for body in expected {
        assert_eq!(a.wait_message(body).await, 1, "{body} in the first browser");
        assert_eq!(b.wait_message(body).await, 1, "{body} in the second browser");
    }
    assert_eq!(a.bodies().await, b.bodies().await);
}

#[tokio::test]
async fn a_browser_whose_node_dies_moves_and_loses_nothing() {
    let web = web_arg();
    let mut m = Mesh::start(3, &["--web", &web]).await;
    let driver = Driver::start();
    let alice = driver.browser(1280, 800).await;
    let bob = driver.browser(1280, 800).await;
    alice.sign_in(&m.nodes[0].url("/"), "alice").await;
    bob.sign_in(&m.nodes[1].url("/"), "bob").await;
    alice.say("before the crash").await;
    same_once(&alice, &bob, &["before the crash"]).await;
    watch_status(&alice).await;

    m.nodes[0].kill9();
    // While alice's node is gone: bob keeps talking, alice writes too.
    alice.say("written while moving").await;
    for i in 0..3 {
        bob.say(&format!("bob during the move {i}")).await;
    }
    alice.wait_true("document.querySelector('.status.ok') !== null", "alice connected again").await;
    let status = alice.eval("document.querySelector('.status-text').textContent").await;
    assert!(!status.as_str().unwrap().contains("n1"), "alice is on another node: {status}");
    assert!(seen_statuses(&alice).await.iter().any(|s| s.contains("moving")), "{:?}", seen_statuses(&alice).await);
    let all = [
        "before the crash",
        "written while moving",
        "bob during the move 0",
        "bob during the move 1",
        "bob during the move 2",
    ];
    same_once(&alice, &bob, &all).await;
    alice
        .wait_true("document.querySelectorAll('.msg.pending, .msg.failed').length === 0", "nothing left pending")
        .await;

    // n1 comes back: nothing changes for anyone.
    m.nodes[0].restart().unwrap();
    wait_peers_up(&m.nodes[0], 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    same_once(&alice, &bob, &all).await;
    let nodes: Vec<&NodeProc> = m.nodes.iter().collect();
    let history = wait_converged(&nodes, "general", all.len()).await;
    assert_eq!(history.len(), all.len(), "each message once in the mesh too");
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn a_rolling_restart_of_every_node_shows_no_error() {
    let web = web_arg();
    let mut m = Mesh::start(3, &["--web", &web]).await;
    let driver = Driver::start();
    let alice = driver.browser(1280, 800).await;
    let bob = driver.browser(1280, 800).await;
    alice.sign_in(&m.nodes[0].url("/"), "alice").await;
    bob.sign_in(&m.nodes[2].url("/"), "bob").await;
    watch_status(&alice).await;
    watch_status(&bob).await;
    let mut expected = Vec::new();
    for i in 0..3 {
        assert!(m.nodes[i].terminate(), "n{} stops cleanly", i + 1);
        let a = format!("alice while n{} restarts", i + 1);
        let b = format!("bob while n{} restarts", i + 1);
        alice.say(&a).await;
        bob.say(&b).await;
        m.nodes[i].restart().unwrap();
        wait_peers_up(&m.nodes[i], 2).await;
        expected.push(a);
        expected.push(b);
        let refs: Vec<&str> = expected.iter().map(String::as_str).collect();
        same_once(&alice, &bob, &refs).await;
    }
    for b in [&alice, &bob] {
        b.wait_true("document.querySelectorAll('.msg.pending').length === 0", "nothing pending").await;
        assert_eq!(b.eval("document.querySelectorAll('.msg.failed').length").await, 0, "no failed message");
        assert!(seen_banners(b).await.is_empty(), "banners shown: {:?}", seen_banners(b).await);
        assert!(!seen_statuses(b).await.iter().any(|s| s.contains("offline")), "{:?}", seen_statuses(b).await);
    }
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn the_outbox_survives_a_reload_and_is_sent_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let web = web_arg();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", &web]);
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&n.url("/"), "olga").await;
    // The node stops answering: the message stays pending and is kept.
    n.signal("STOP");
    b.say("kept across a reload").await;
    b.wait_true("document.querySelector('.msg.pending') !== null", "a pending message").await;
    b.wait_true(
        "(localStorage.getItem('meshchat.outbox.olga') || '').includes('kept across a reload')",
        "the outbox in storage",
    )
    .await;
    n.signal("CONT");
    b.client.refresh().await.unwrap();
    b.wait_connected().await;
    assert_eq!(b.wait_message("kept across a reload").await, 1);
    b.wait_true("(localStorage.getItem('meshchat.outbox.olga') || '[]') === '[]'", "the outbox emptied").await;
    let (_, page) = http_get(&n.url("/api/rooms/general/messages")).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1, "stored once: {page}");
    b.close().await;
}

#[tokio::test]
async fn without_websockets_the_app_falls_back_to_http_and_returns() {
    let dir = tempfile::tempdir().unwrap();
    let web = web_arg();
    let mut n = start_node("n1", &dir.path().join("n1"), 0, &["--web", &web, "--no-websocket"]);
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&n.url("/"), "hugo").await;
    b.wait_true("document.querySelector('.status-text').textContent.includes('over HTTP')", "HTTP mode").await;
    b.say("sent with a POST").await;
    assert_eq!(b.wait_message("sent with a POST").await, 1);
    // Others' messages arrive through the long poll.
    http_post(&n.url("/api/rooms/general/messages"), r#"{"name":"bot","id":"p1","body":"arrived by long poll"}"#).await;
    assert_eq!(b.wait_message("arrived by long poll").await, 1);
    // The node takes WebSockets again: the app goes back to one.
    n.spec.args.retain(|a| a != "--no-websocket");
    n.terminate();
    n.restart().unwrap();
    b.wait_true("document.querySelector('.status-text').textContent === 'n1 · connected'", "back on a WebSocket").await;
    http_post(&n.url("/api/rooms/general/messages"), r#"{"name":"bot","id":"p2","body":"over the socket again"}"#)
        .await;
    assert_eq!(b.wait_message("over the socket again").await, 1);
    assert_eq!(b.bodies().await, ["sent with a POST", "arrived by long poll", "over the socket again"]);
    b.close().await;
}

#[tokio::test]
async fn tabs_keep_theme_name_and_mute_in_step_and_one_tab_sounds() {
    let dir = tempfile::tempdir().unwrap();
    let web = web_arg();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", &web]);
    let driver = Driver::start();
    let b = driver.browser_with(1280, 800, &["--autoplay-policy=no-user-gesture-required"]).await;
    b.sign_in(&n.url("/"), "tess").await;
    let first = b.client.window().await.unwrap();
    let second = b.client.new_window(true).await.unwrap().handle;
    b.client.switch_to_window(second.clone()).await.unwrap();
    b.goto(&n.url("/")).await;
    b.wait_connected().await;
    let tab_b = b.client.window().await.unwrap();

    // Theme: toggled in one tab, followed in the other.
    let before = b.theme().await;
    b.client.switch_to_window(first.clone()).await.unwrap();
    b.find(".theme-toggle").await.click().await.unwrap();
    let after = b.theme().await;
    assert_ne!(before, after);
    b.client.switch_to_window(tab_b.clone()).await.unwrap();
    b.wait_true(
        &format!("document.documentElement.getAttribute('data-theme') === {}", json!(after)),
        "the other tab's theme",
    )
    .await;

    // Mute follows too; then unmute again.
    b.find(".mute-toggle").await.click().await.unwrap();
    b.client.switch_to_window(first.clone()).await.unwrap();
    b.wait_true(
        "document.querySelector('.mute-toggle').getAttribute('aria-pressed') === 'true'",
        "muted in the other tab",
    )
    .await;
    b.find(".mute-toggle").await.click().await.unwrap();
    b.client.switch_to_window(tab_b.clone()).await.unwrap();
    b.wait_true("document.querySelector('.mute-toggle').getAttribute('aria-pressed') === 'false'", "unmuted here too")
        .await;

    // Both tabs hidden: a message from someone else sounds in one tab only.
    let hide = "(() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        document.documentElement.setAttribute('data-sounds', '0');
        return true;
    })()";
    for w in [&first, &tab_b] {
        b.client.switch_to_window(w.clone()).await.unwrap();
        b.eval(hide).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await; // heartbeats say hidden
    // (Rooms alert on mentions unless told otherwise.)
    http_post(&n.url("/api/rooms/general/messages"), r#"{"name":"bot","id":"ding","body":"ding @tess"}"#).await;
    let mut sounds = 0;
    for w in [&first, &tab_b] {
        b.client.switch_to_window(w.clone()).await.unwrap();
        b.wait_message("ding @tess").await;
        sounds += b.eval("Number(document.documentElement.getAttribute('data-sounds'))").await.as_u64().unwrap();
    }
    assert_eq!(sounds, 1, "one sound over two hidden tabs");

    // A new name in one tab is taken up by the other.
    b.client.switch_to_window(first.clone()).await.unwrap();
    b.click_text(".me .link", "Sign in").await;
    b.guest("tessa").await;
    b.client.switch_to_window(tab_b).await.unwrap();
    b.wait_true(
        "document.querySelector('.me-name') && document.querySelector('.me-name').textContent === 'tessa'",
        "the other tab's name",
    )
    .await;
    b.close().await;
}
