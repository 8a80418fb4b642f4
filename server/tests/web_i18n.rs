//! The app speaks the browser's language when it has it (English and
//! French), the account panel overrides it, and dates follow the language.
//! Headless Chromium against a real node.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Browser, Driver, dist};
use common::*;

const LANG: &str = "document.documentElement.lang";
const PLACEHOLDER: &str = "document.querySelector('#composer-input').placeholder";

async fn text_of(b: &Browser, css: &str) -> String {
    let v = b.eval(&format!("(document.querySelector({}) || {{}}).textContent || ''", serde_json::json!(css))).await;
    v.as_str().unwrap_or_default().to_owned()
}

/// Picks `value` in the account panel's language list (the page reloads).
async fn choose_language(b: &Browser, value: &str) {
    b.find(".me button.link").await.click().await.unwrap();
    b.wait_true("document.querySelector('#language') !== null", "the language list").await;
    let js = format!(
        "(s => (s.value = {}, s.dispatchEvent(new Event('change')), true))(document.querySelector('#language'))",
        serde_json::json!(value)
    );
    b.eval(&js).await;
    b.wait_connected().await;
}

#[tokio::test]
async fn a_french_browser_gets_french_and_the_account_panel_overrides_it() {
    let web = dist();
    let dir = tempfile::tempdir().unwrap();
    let node = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let driver = Driver::start();
    let b = driver.browser_speaking(1280, 800, "fr-FR").await;
    b.goto(&node.url("/")).await;

    // The sign-in screen, in French, and said so to screen readers.
    b.wait_true(&format!("{LANG} === 'fr'"), "<html lang=fr>").await;
    b.wait_true("document.querySelector('#tab-signin') !== null", "the sign-in tabs").await;
    assert_eq!(text_of(&b, "#tab-signin").await, "Se connecter");
    b.account("signup", "alice", "correct horse").await;

    // The chat: composer, status, a message under today's date.
    b.wait_true(&format!("{PLACEHOLDER}.startsWith('Message dans')"), "the French composer").await;
    assert!(text_of(&b, ".status-state").await.contains("connecté"), "{}", text_of(&b, ".status").await);
    b.say("bonjour").await;
    b.wait_message("bonjour").await;
    b.wait_true("Array.from(document.querySelectorAll('.day')).some(d => d.textContent === 'Aujourd’hui')", "today")
        .await;
    let stamp = text_of(&b, ".msg .stamp time").await;
    assert!(!stamp.contains("AM") && !stamp.contains("PM"), "a French time has no AM/PM: {stamp}");
    assert_eq!(b.eval("document.querySelector('.send').getAttribute('aria-label')").await, "Envoyer le message");

    // English chosen in the account panel: every screen after the reload.
    choose_language(&b, "en").await;
    b.wait_true(&format!("{LANG} === 'en'"), "<html lang=en>").await;
    b.wait_true(&format!("{PLACEHOLDER} === 'Message #general'"), "the English composer").await;
    assert_eq!(b.eval("document.querySelector('.send').getAttribute('aria-label')").await, "Send message");
    b.wait_message("bonjour").await;

    // Back to what the browser says.
    choose_language(&b, "").await;
    b.wait_true(&format!("{LANG} === 'fr'"), "French again").await;
    b.wait_true(&format!("{PLACEHOLDER}.startsWith('Message dans')"), "the French composer again").await;
}
