//! A half-written message is kept per room: through a reload, in the
//! browser's other tabs as it is typed, gone once sent, forgotten at
//! sign-out. Headless Chromium against a real node.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Browser, Driver, dist};
use common::*;

const COMPOSER: &str = "document.querySelector('#composer-input')";
const KEPT: &str = "Object.keys(localStorage).filter(k => k.startsWith('meshchat.draft.'))";

async fn composer_shows(b: &Browser, text: &str, what: &str) {
    b.wait_true(&format!("{COMPOSER} && {COMPOSER}.value === {}", serde_json::json!(text)), what).await;
}

#[tokio::test]
async fn a_draft_survives_a_reload_follows_other_tabs_and_goes_when_sent() {
    let web = dist();
    let dir = tempfile::tempdir().unwrap();
    let node = start_node("n1", &dir.path().join("n1"), 0, &["--guests", "--web", web.to_str().unwrap()]);
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&node.url("/"), "alice").await;
    b.find("#composer-input").await.send_keys("half written").await.unwrap();
    b.wait_true(&format!("{KEPT}.length === 1"), "the draft kept").await;

    // A reload: still there.
    b.goto(&node.url("/")).await;
    b.wait_connected().await;
    composer_shows(&b, "half written", "the draft after a reload").await;

    // A second tab shows it, and follows what the first one types.
    let first = b.client.window().await.unwrap();
    let second = b.client.new_window(true).await.unwrap().handle;
    b.client.switch_to_window(second.clone()).await.unwrap();
    b.goto(&node.url("/")).await;
    b.wait_connected().await;
    composer_shows(&b, "half written", "the draft in a second tab").await;
    b.client.switch_to_window(first.clone()).await.unwrap();
    b.find("#composer-input").await.send_keys(" and more").await.unwrap();
    b.client.switch_to_window(second.clone()).await.unwrap();
    composer_shows(&b, "half written and more", "the other tab's typing").await;

    // Sent from the second tab: gone from both, and from storage.
    b.find("#composer-input").await.send_keys("\u{E007}").await.unwrap();
    b.wait_message("half written and more").await;
    composer_shows(&b, "", "the composer empty after sending").await;
    b.client.switch_to_window(first).await.unwrap();
    composer_shows(&b, "", "the other tab's composer empty too").await;
    assert_eq!(b.eval(&format!("{KEPT}.length")).await, 0);

    // Signing out forgets the drafts.
    b.find("#composer-input").await.send_keys("never sent").await.unwrap();
    b.wait_true(&format!("{KEPT}.length === 1"), "a new draft kept").await;
    b.click_text("button", "Sign in").await;
    b.wait_true(&format!("{KEPT}.length === 0"), "no draft after sign-out").await;
}
