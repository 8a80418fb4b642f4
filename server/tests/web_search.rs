//! Search in the web app: Ctrl+K, a query, the matching words marked, and
//! a click that opens the room at the message, paging back through
//! history when it is older than what is loaded. Headless Chromium against
//! a real node.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Driver, dist};
use common::*;

#[tokio::test]
async fn search_marks_the_words_and_opens_the_room_at_an_old_message() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    // Seeding 260 messages at once is faster than the default rate allows.
    let flags = ["--web", web.to_str().unwrap(), "--rate", "10000", "--burst", "10000"];
    let n = start_node("n1", &dir.path().join("n1"), 0, &flags);
    // The match, then enough newer messages that it is not loaded at first.
    let (mut seed, _) = Client::hello(&n.ws_url(), "seed").await;
    seed.join("general", None).await;
    seed.say("general", "needle", "the launch <b>checklist</b> is ready").await;
    for i in 0..260 {
        seed.say_busy("general", &format!("f{i}"), &format!("filler {i}")).await;
    }

    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&n.url("/"), "alice").await;
    b.wait_message("filler 259").await;
    b.eval("(document.dispatchEvent(new KeyboardEvent('keydown', {key: 'k', ctrlKey: true, bubbles: true})), true)")
        .await;
    b.find("#search-input").await.send_keys("checklist\u{E007}").await.unwrap();
    b.wait_true("document.querySelector('.search-hit mark') !== null", "a result").await;
    let mark = b.eval("document.querySelector('.search-hit mark').textContent").await;
    assert_eq!(mark, "checklist");
    // The text is text: the markup in the message is shown, not applied.
    let text = b.eval("document.querySelector('.search-hit .search-text').textContent").await;
    assert_eq!(text, "the launch <b>checklist</b> is ready");
    assert_eq!(b.eval("document.querySelectorAll('.search-hit b').length").await, 0);
    b.eval("(document.querySelector('.search-hit').click(), true)").await;
    b.wait_true(
        "Array.from(document.querySelectorAll('.msg.flash')).some(m => m.textContent.includes('checklist'))",
        "the old message, loaded and shown",
    )
    .await;
    assert_eq!(b.eval("document.querySelector('.search-panel') === null").await, true, "the panel closes");
    b.close().await;
}

/// A message's link (its "Copy link"), opened on another node's page,
/// shows the room at that message, paging back through history.
#[tokio::test]
async fn a_copied_link_opens_the_room_at_the_message_on_another_node() {
    let web = dist();
    let flags = ["--guests", "--web", web.to_str().unwrap(), "--rate", "10000", "--burst", "10000"];
    let m = Mesh::start(2, &flags).await;
    let (n1, n2) = (&m.nodes[0], &m.nodes[1]);
    let (mut seed, _) = Client::hello(&n1.ws_url(), "seed").await;
    seed.join("general", None).await;
    seed.say("general", "target", "the one to link").await;
    for i in 0..260 {
        seed.say_busy("general", &format!("f{i}"), &format!("filler {i}")).await;
    }
    wait_converged(&[n1, n2], "general", 261).await;

    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&n1.url("/"), "alice").await;
    b.wait_message("filler 259").await;
    // Copy link on the newest message: what the clipboard gets.
    b.eval("(navigator.clipboard.writeText = t => { window.copied = t; return Promise.resolve(); }, true)").await;
    b.eval(
        "([...document.querySelectorAll('.msg')].find(m => m.querySelector('.body')?.textContent === 'filler 259')
            .querySelector('[aria-label=\"Copy link\"]').click(), true)",
    )
    .await;
    b.wait_true("window.copied", "the link copied").await;
    let copied = b.eval("window.copied").await;
    assert_eq!(copied.as_str().unwrap(), format!("{}/#m=general/n1/261", n1.url("").trim_end_matches('/')));
    b.close().await;

    // The first message's link, on n2's page: the room, there, at it.
    let b = driver.browser(1280, 800).await;
    b.sign_in(&n2.url("/#m=general/n1/1"), "bob").await;
    b.wait_true(
        "document.querySelector('#msg-n1-1') && document.querySelector('#msg-n1-1').classList.contains('flash')",
        "the linked message shown",
    )
    .await;
    let url = b.eval("location.href").await;
    assert!(!url.as_str().unwrap().contains("#m="), "followed once: {url}");
}
