//! The web app in headless Chromium, against a real node serving the
//! trunk build.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use std::path::Path;
use std::time::Duration;

use browser::{Driver, dist};
use common::*;

fn node() -> (tempfile::TempDir, NodeProc) {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    (dir, n)
}

#[tokio::test]
async fn two_browsers_exchange_messages_both_ways() {
    let (_d, n) = node();
    let driver = Driver::start();
    let alice = driver.browser(1280, 800).await;
    let bob = driver.browser(1280, 800).await;
    alice.sign_in(&n.url("/"), "alice").await;
    bob.sign_in(&n.url("/"), "bob").await;

    alice.say("hello bob").await;
    assert_eq!(bob.wait_message("hello bob").await, 1);
    // Shift+Enter is a new line, not a send (WebDriver's Shift stays down
    // until the NULL key \u{E000}).
    bob.say("hi alice, two\u{E008}\u{E007}\u{E000}lines").await;
    assert_eq!(alice.wait_message("hi alice, two\nlines").await, 1);

    // The sender sees its own message confirmed by the node.
    alice.wait_true(
        "Array.from(document.querySelectorAll('.msg.mine')).some(m => m.querySelector('.body').textContent === 'hello bob' && m.querySelector('.tick'))",
        "alice's message marked sent",
    ).await;
    // Who is online, and who is typing.
    alice
        .wait_true(
            "Array.from(document.querySelectorAll('.member-name')).map(e => e.textContent).join() === 'alice,bob'",
            "both online",
        )
        .await;
    bob.find("#composer-input").await.send_keys("typing away").await.unwrap();
    alice.wait_true("document.querySelector('.typing').textContent === 'bob is typing…'", "bob is typing").await;
    // The page's status names its node.
    assert!(
        alice.eval("document.querySelector('.status').textContent").await.as_str().unwrap().contains("n1 · connected")
    );
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn a_reload_keeps_name_theme_and_history() {
    let (_d, n) = node();
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&n.url("/"), "carol").await;
    for text in ["first", "second", "third"] {
        b.say(text).await;
        b.wait_message(text).await;
    }
    let before = b.theme().await;
    b.find(".theme-toggle").await.click().await.unwrap();
    let toggled = b.theme().await;
    assert_ne!(before, toggled);

    b.client.refresh().await.unwrap();
    b.wait_connected().await;
    assert_eq!(b.eval("document.querySelector('.me-name').textContent").await, "carol");
    assert_eq!(b.theme().await, toggled);
    b.wait_message("third").await;
    assert_eq!(b.bodies().await, ["first", "second", "third"]);
    b.close().await;
}

#[tokio::test]
async fn the_character_limit_blocks_sending() {
    let (_d, n) = node();
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&n.url("/"), "dave").await;
    b.paste(&"x".repeat(4001)).await;
    b.wait_true("document.querySelector('.composer .count.over') !== null", "the count over the limit").await;
    assert_eq!(b.eval("document.querySelector('.composer .count').textContent").await, "4001 / 4000");
    assert_eq!(b.eval("document.querySelector('.composer .send').disabled").await, true);
    b.find("#composer-input").await.send_keys("\u{E007}").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.eval("document.querySelectorAll('.msg').length").await, 0, "nothing was sent");
    let (_, page) = http_get(&n.url("/api/rooms/general/messages")).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 0);

    // Exactly at the limit it goes.
    b.paste(&"é".repeat(4000)).await;
    b.wait_true("!document.querySelector('.composer .send').disabled", "send enabled").await;
    b.find("#composer-input").await.send_keys("\u{E007}").await.unwrap();
    b.wait_message(&"é".repeat(4000)).await;
    let (_, page) = http_get(&n.url("/api/rooms/general/messages")).await;
    assert_eq!(page["messages"][0]["body"].as_str().unwrap().chars().count(), 4000);
    b.close().await;
}

#[tokio::test]
async fn a_body_with_html_is_shown_as_text() {
    let (_d, n) = node();
    let driver = Driver::start();
    let alice = driver.browser(1280, 800).await;
    let bob = driver.browser(1280, 800).await;
    alice.sign_in(&n.url("/"), "alice").await;
    bob.sign_in(&n.url("/"), "bob").await;
    let evil = r#"<b>bold</b> <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>"#;
    alice.say(evil).await;
    assert_eq!(bob.wait_message(evil).await, 1);
    for b in [&alice, &bob] {
        b.wait_message(evil).await;
        assert_eq!(
            b.eval("document.querySelectorAll('.msg .body b, .msg .body img, .msg .body script').length").await,
            0
        );
        assert_eq!(b.eval("typeof window.__pwned").await, "undefined");
    }
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn the_theme_follows_the_system_then_the_toggle_and_persists() {
    let (_d, n) = node();
    let driver = Driver::start();
    let light = driver.browser(1280, 800).await;
    let dark = driver.browser_with(1280, 800, &["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]).await;
    light.sign_in(&n.url("/"), "erin").await;
    dark.sign_in(&n.url("/"), "frank").await;
    assert_eq!(light.theme().await, "light");
    assert_eq!(dark.theme().await, "dark");
    // The two themes are designed, not inverted: the background really changes.
    let bg = "getComputedStyle(document.body).backgroundColor";
    let light_bg = light.eval(bg).await;
    assert_ne!(light_bg, dark.eval(bg).await);

    light.find(".theme-toggle").await.click().await.unwrap();
    assert_eq!(light.theme().await, "dark");
    assert_eq!(
        light.eval("document.querySelector('.theme-toggle').getAttribute('aria-label')").await,
        "Switch to light theme"
    );
    light.client.refresh().await.unwrap();
    light.wait_connected().await;
    assert_eq!(light.theme().await, "dark", "the choice is remembered");
    light.close().await;
    dark.close().await;
}

/// Screenshots of both themes at desktop and phone widths, from the real
/// app. They land in target/screenshots; with MESHCHAT_UPDATE_SCREENSHOTS=1
/// also in docs/screenshots (the ones the README shows).
#[tokio::test]
async fn screenshots_of_both_themes() {
    let (_d, n) = node();
    // A conversation to show.
    let lines = [
        ("ada", "Morning! Did the n2 restart go through?"),
        ("grace", "Yes, rolling restart done. Nobody noticed a thing 🎉"),
        ("grace", "Clients moved to n1 and n3 and came back."),
        ("ada", "Lovely. Pushing the release notes now."),
        ("linus", "<b>tags</b> show as typed, by the way"),
    ];
    for (i, (who, text)) in lines.iter().enumerate() {
        let body = serde_json::json!({"name": who, "id": format!("s{i}"), "body": text}).to_string();
        http_post(&n.url("/api/rooms/general/messages"), &body).await;
    }
    let driver = Driver::start();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    let update = std::env::var("MESHCHAT_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    for (label, w, h) in [("desktop", 1280, 800), ("phone", 390, 844)] {
        for dark_mode in [false, true] {
            let flags: &[&str] = if dark_mode { &["--force-dark-mode"] } else { &[] };
            let b = driver.browser_with(w, h, flags).await;
            b.sign_in(&n.url("/"), "ada").await;
            b.wait_message("Lovely. Pushing the release notes now.").await;
            let theme = if dark_mode { "dark" } else { "light" };
            assert_eq!(b.theme().await, theme);
            // Even on a phone the header has room for the room's whole name.
            let title_fits = "(() => { const t = document.querySelector('.room-title'); \
                return t.textContent === '#general' && t.scrollWidth <= t.clientWidth; })()";
            assert_eq!(b.eval(title_fits).await, true, "{label}: the room title is cut");
            b.paste("Shipping it 🚀").await;
            tokio::time::sleep(Duration::from_millis(400)).await;
            let file = format!("{label}-{theme}.png");
            b.screenshot(&out.join(&file)).await;
            if update {
                std::fs::create_dir_all(&docs).unwrap();
                std::fs::copy(out.join(&file), docs.join(&file)).unwrap();
            }
            b.close().await;
        }
    }
    assert!(out.join("phone-dark.png").exists());
}

/// The message at the top of the list's view and how far below the list's
/// top it is: `msg-<origin>-<seq>@<px>`.
const TOP_MESSAGE: &str = "(() => { const l = document.querySelector('.messages'); const t = l.getBoundingClientRect().top; \
    const m = Array.from(l.querySelectorAll(':scope > [id^=msg-]')).find(e => e.getBoundingClientRect().bottom > t); \
    return m ? m.id + '@' + Math.round(m.getBoundingClientRect().top - t) : null; })()";

#[tokio::test]
async fn scrolling_up_pages_back_to_the_beginning_and_rooms_keep_their_place() {
    let (_d, n) = node();
    let (_, session) = register(&n, "ann", "correct horse battery").await;
    let ann = token(&session);
    let mut first = serde_json::Value::Null;
    for i in 0..130 {
        let body = serde_json::json!({"id": format!("h{i}"), "body": format!("history line {i}")});
        let (status, answer) = api("POST", &n.url("/api/rooms/general/messages"), Some(&ann), Some(body)).await;
        assert_eq!(status, 200, "{answer}");
        if i == 0 {
            first = answer["msg"].clone();
        }
    }
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&n.url("/"), "gina").await;
    b.wait_message("history line 129").await;
    assert_eq!(b.bodies().await.len(), 50, "the first screen is the latest 50");
    // Scroll to the top until the room's beginning shows.
    for _ in 0..20 {
        if b.eval("document.querySelector('.beginning') !== null").await == true {
            break;
        }
        b.eval("(document.querySelector('.messages').scrollTop = 0, true)").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    b.wait_true("document.querySelector('.beginning') !== null", "the beginning of the room").await;
    let bodies = b.bodies().await;
    let expected: Vec<String> = (0..130).map(|i| format!("history line {i}")).collect();
    assert_eq!(bodies, expected, "every message once, in order");

    // Scrolled up, a new message shows the button instead of jumping.
    b.eval("(document.querySelector('.messages').scrollTop = 200, true)").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let top_before = b.eval("document.querySelector('.messages').scrollTop").await;
    let seen_before = b.eval(TOP_MESSAGE).await;
    assert!(seen_before.as_str().is_some_and(|s| s.starts_with("msg-")), "a message at the top: {seen_before}");
    http_post(&n.url("/api/rooms/general/messages"), r#"{"name":"bot","id":"late","body":"a late one"}"#).await;
    b.wait_true("document.querySelector('.new-below') !== null", "the new-messages button").await;
    assert_eq!(b.eval("document.querySelector('.messages').scrollTop").await, top_before);

    // Another room, then back: the scroll position is kept.
    b.find("#join-input").await.send_keys("side-room\u{E007}").await.unwrap();
    b.wait_true("document.querySelector('.room-title').textContent.includes('side-room')", "the new room").await;
    // While away, the first message (above where gina was) grows to many
    // lines: what she saw stays where it was all the same.
    let long = "a long edit that wraps over many lines ".repeat(30);
    let edit = serde_json::json!({"id": "e0", "action": {"event": "edited", "origin": first["origin"], "seq": first["seq"], "body": long}});
    let (status, answer) = api("POST", &n.url("/api/rooms/general/actions"), Some(&ann), Some(edit)).await;
    assert_eq!(status, 200, "{answer}");
    // A message in general while away is counted as unread.
    http_post(&n.url("/api/rooms/general/messages"), r#"{"name":"bot","id":"away","body":"while you were away"}"#)
        .await;
    b.wait_true(
        "document.querySelector('.room .badge') && document.querySelector('.room .badge').textContent === '1'",
        "an unread badge",
    )
    .await;
    b.eval("(Array.from(document.querySelectorAll('.room-button')).find(e => e.textContent.includes('general')).click(), true)").await;
    b.wait_true("document.querySelector('.room-title').textContent.includes('general')", "back in general").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // What the person saw is kept: the same message at the top of the view,
    // as far down. (Its scroll offset may differ by what changed above it.)
    assert_eq!(
        b.eval(TOP_MESSAGE).await,
        seen_before,
        "scroll position kept (scrollTop {} before leaving, now {})",
        top_before,
        b.eval("document.querySelector('.messages').scrollTop").await
    );
    assert_eq!(b.eval("document.querySelectorAll('.room .badge').length").await, 0, "read once shown");
    b.close().await;
}

#[tokio::test]
async fn a_rate_limited_send_waits_and_goes_out_by_itself_once() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    // A tiny rate limit: the burst is used up by the join and two sends.
    let n =
        start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap(), "--rate", "1", "--burst", "4"]);
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&n.url("/"), "hank").await;
    for i in 0..4 {
        b.say(&format!("burst {i}")).await;
    }
    // Refused for now: it stays "Sending…" (no error shown), then goes by itself.
    b.wait_true("document.querySelector('.msg.pending') !== null", "a message waiting").await;
    for i in 0..4 {
        assert_eq!(b.wait_message(&format!("burst {i}")).await, 1);
    }
    b.wait_true("document.querySelectorAll('.msg.pending, .msg.failed').length === 0", "all sent").await;
    assert_eq!(b.eval("document.querySelectorAll('.banner').length").await, 0, "no error banner");
    let (_, page) = http_get(&n.url("/api/rooms/general/messages")).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 4, "each stored once");
    b.close().await;
}
