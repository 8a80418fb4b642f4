//! The web app with the keyboard alone, in headless Chromium: once signed
//! in, no click. Sending, replying, reacting, searching and moving between
//! rooms, each by keys a person presses (WebDriver key actions, which go to
//! whatever has the focus); and what a screen reader is told of new
//! messages: a polite region, the last few only.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Browser, Driver, dist};
use common::*;
use fantoccini::key::Key;

const FOCUSED: &str = "document.activeElement";

/// What has the focus, in a few words (for the failure messages).
async fn focused(b: &Browser) -> String {
    let v = b
        .eval(&format!(
            "(e => e.tagName + ' ' + (e.id || '') + ' ' + (e.getAttribute('aria-label') || '') + ' ' +
                (e.className || ''))({FOCUSED})"
        ))
        .await;
    v.as_str().unwrap_or_default().to_owned()
}

/// Presses `key` until `expr` (about the focus) holds, at most `max` times.
async fn press_until(b: &Browser, chord: &[char], expr: &str, max: usize) {
    for _ in 0..max {
        if b.eval(&format!("!!({expr})")).await.as_bool() == Some(true) {
            return;
        }
        b.press(chord).await;
    }
    assert!(
        b.eval(&format!("!!({expr})")).await.as_bool() == Some(true),
        "after {max} presses, {expr} is still false; the focus is on {}",
        focused(b).await
    );
}

/// From the composer, by keys alone: Shift+Tab into the list, ↑ (at most
/// `ups` times) to the message showing `body`, Tab to its action `label`.
async fn to_action(b: &Browser, body: &str, ups: usize, label: &str) {
    press_until(b, &[Key::Shift.into(), Key::Tab.into()], &format!("{FOCUSED}.closest('.messages')"), 8).await;
    press_until(b, &[Key::Up.into()], &on_message(body), ups).await;
    press_until(b, &[Key::Tab.into()], &format!("{FOCUSED}.getAttribute('aria-label') === '{label}'"), 6).await;
}

/// The focus is on (or in) the message showing `text`.
fn on_message(text: &str) -> String {
    format!(
        "(m => m && m.querySelector('.body') && m.querySelector('.body').textContent === '{text}')({FOCUSED}.closest('.msg'))"
    )
}

#[tokio::test]
async fn the_keyboard_alone_sends_replies_reacts_searches_and_moves_between_rooms() {
    let web = dist();
    let dir = tempfile::tempdir().unwrap();
    let node =
        start_node_accounts("n1", &dir.path().join("n1"), 0, &["--guests", "--web", web.to_str().unwrap()], None);
    let (mut bob, _) = Client::hello(&node.ws_url(), "bob").await;
    bob.join("random", None).await;
    bob.say("random", "r1", "over in random").await;
    bob.join("general", None).await;
    bob.say("general", "g1", "bob one").await;
    bob.say("general", "g2", "bob two").await;

    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.goto(&node.url("/api/health")).await;
    b.eval("localStorage.setItem('meshchat.rooms', '[\"general\",\"random\"]') || true").await;
    b.eval("localStorage.setItem('meshchat.room', 'general') || true").await;
    b.goto(&node.url("/")).await;
    b.account("signup", "alice", "a long password 1").await;
    b.wait_message("bob two").await;

    // Send: the composer has the focus when a room opens.
    b.wait_true(&format!("{FOCUSED}.id === 'composer-input'"), "the composer focused").await;
    b.type_keys("typed alone").await;
    b.press(&[Key::Enter.into()]).await;
    b.wait_message("typed alone").await;

    // Reply: back into the list, up to bob's message, Tab to its Reply.
    to_action(&b, "bob two", 4, "Reply").await;
    b.press(&[Key::Enter.into()]).await;
    b.wait_true(&format!("{FOCUSED}.id === 'composer-input'"), "the composer focused for the reply").await;
    b.type_keys("a reply").await;
    b.press(&[Key::Enter.into()]).await;
    b.wait_true(
        "[...document.querySelectorAll('.msg')].some(m => m.querySelector('.body')?.textContent === 'a reply'
            && m.querySelector('.quote')?.textContent.includes('bob two'))",
        "the reply, quoting bob two",
    )
    .await;

    // React: to bob one, with the picker's search and Enter.
    to_action(&b, "bob one", 6, "React").await;
    b.press(&[Key::Enter.into()]).await;
    b.wait_true(&format!("{FOCUSED}.classList.contains('emoji-search')"), "the emoji search focused").await;
    b.type_keys("tada").await;
    b.press(&[Key::Enter.into()]).await;
    b.wait_true(
        "[...document.querySelectorAll('.msg')].some(m => m.querySelector('.body')?.textContent === 'bob one'
            && m.querySelector('.reactions')?.textContent.includes('🎉'))",
        "🎉 on bob one",
    )
    .await;
    // The row was drawn anew with its reaction: the focus is back on React.
    b.wait_true(
        &format!("{FOCUSED}.getAttribute('aria-label') === 'React' && {}", on_message("bob one")),
        "the focus back on bob one's React",
    )
    .await;

    // Search: Ctrl+K, words, Enter; Tab to the first hit, Enter jumps there.
    b.press(&[Key::Control.into(), 'k']).await;
    b.wait_true(&format!("{FOCUSED}.id === 'search-input'"), "the search focused").await;
    b.type_keys("random").await;
    b.press(&[Key::Enter.into()]).await;
    b.wait_true("document.querySelector('.search-hit')", "a search hit").await;
    press_until(&b, &[Key::Tab.into()], &format!("{FOCUSED}.classList.contains('search-hit')"), 4).await;
    b.press(&[Key::Enter.into()]).await;
    b.wait_true("!document.querySelector('.search-panel')", "the search closed").await;
    b.wait_message("over in random").await;
    b.wait_true("document.title.includes('#random')", "#random open").await;

    // Rooms: Alt+↑ back to general, Alt+↓ to random again.
    b.press(&[Key::Alt.into(), Key::Up.into()]).await;
    b.wait_true("document.title.includes('#general')", "Alt+↑ to #general").await;
    b.press(&[Key::Alt.into(), Key::Down.into()]).await;
    b.wait_true("document.title.includes('#random')", "Alt+↓ to #random").await;
    b.press(&[Key::Alt.into(), Key::Down.into()]).await;
    b.wait_true("document.title.includes('#general')", "Alt+↓ around to #general").await;

    // A screen reader hears what is new in the room looked at, not the
    // list (whose window moves), and only the last few.
    assert_eq!(b.eval("document.querySelector('.messages').getAttribute('aria-live')").await, "off");
    for i in 0..5 {
        bob.say_busy("general", &format!("h{i}"), &format!("heard {i}")).await;
        b.wait_message(&format!("heard {i}")).await;
    }
    bob.say_busy("random", "elsewhere", "not looked at").await;
    b.wait_true("document.querySelector('.badge[aria-label=\"1 unread\"]')", "random's unread count").await;
    let region = "[...document.querySelectorAll('[role=status][aria-live=polite] p')].map(p => p.textContent)";
    b.wait_true(&format!("{region}.join('|') === 'bob: heard 2|bob: heard 3|bob: heard 4'"), "the last three said")
        .await;
    b.close().await;
}
