//! Messages people can work with, in the web app: reply (and jump to the
//! original), edit, react, delete. Headless Chromium against a real node.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Browser, Driver, dist};
use common::*;
use serde_json::json;

/// Clicks the action `label` of the message whose text is `body`.
async fn on_message(b: &Browser, body: &str, label: &str) {
    let expr = format!(
        "(Array.from(document.querySelectorAll('.msg')).find(m => m.querySelector('.body') && \
         m.querySelector('.body').textContent === {}).querySelector('[aria-label=\"{label}\"]').click(), true)",
        json!(body)
    );
    b.eval(&expr).await;
}

#[tokio::test]
async fn reply_edit_react_and_delete_in_two_browsers() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let driver = Driver::start();
    let alice = driver.browser(1280, 800).await;
    let bob = driver.browser(1280, 800).await;
    alice.sign_in(&n.url("/"), "alice").await;
    bob.sign_in(&n.url("/"), "bob").await;
    alice.say("lunch at noon?").await;
    bob.wait_message("lunch at noon?").await;

    // Bob replies: the reply quotes alice's message.
    on_message(&bob, "lunch at noon?", "Reply").await;
    bob.wait_true("document.body.innerText.includes('Replying to alice')", "reply mode").await;
    bob.say("yes, see you there").await;
    alice.wait_message("yes, see you there").await;
    alice
        .wait_true(
            "Array.from(document.querySelectorAll('.quote')).some(q => q.textContent.includes('lunch at noon?'))",
            "the quote",
        )
        .await;
    // A click on the quote shows the original.
    alice.eval("(document.querySelector('.quote').click(), true)").await;
    alice.wait_true("document.querySelector('.msg.flash') !== null", "the original, shown").await;

    // Alice edits her message: both see the new text, marked edited, and
    // the quote follows.
    on_message(&alice, "lunch at noon?", "Edit").await;
    alice.wait_true("document.querySelector('#composer-input').value === 'lunch at noon?'", "the text to edit").await;
    alice.paste("lunch at one?").await;
    alice.find("#composer-input").await.send_keys("\u{E007}").await.unwrap();
    for b in [&alice, &bob] {
        b.wait_message("lunch at one?").await;
        b.wait_true("document.querySelector('.edited') !== null", "marked edited").await;
        b.wait_true("document.querySelector('.quote').textContent.includes('lunch at one?')", "quote updated").await;
    }

    // Bob reacts; alice sees the count and who; a second click takes it back.
    on_message(&bob, "lunch at one?", "React").await;
    bob.wait_true("document.querySelector('.picker [aria-label=\"React 🎉\"]') !== null", "the picker").await;
    bob.eval("(document.querySelector('.picker [aria-label=\"React 🎉\"]').click(), true)").await;
    alice
        .wait_true(
            "document.querySelector('.reaction') && document.querySelector('.reaction').textContent.includes('🎉 1')",
            "a reaction",
        )
        .await;
    assert!(alice.eval("document.querySelector('.reaction').title").await.as_str().unwrap().contains("bob"));
    bob.wait_true("document.querySelector('.reaction.mine') !== null", "bob's own").await;
    bob.eval("(document.querySelector('.reaction.mine').click(), true)").await;
    alice.wait_true("document.querySelector('.reaction') === null", "taken back").await;
    // The picker finds emoji by shortcode.
    on_message(&bob, "lunch at one?", "React").await;
    bob.find(".emoji-search").await.send_keys("unic").await.unwrap();
    bob.wait_true("document.querySelector('.picker [aria-label=\"React 🦄 :unicorn:\"]') !== null", "a search result")
        .await;
    bob.eval("(document.querySelector('.picker [aria-label=\"React 🦄 :unicorn:\"]').click(), true)").await;
    alice
        .wait_true(
            "document.querySelector('.reaction') && document.querySelector('.reaction').textContent.includes('🦄 1')",
            "🦄",
        )
        .await;

    // Bob deletes his reply: a tombstone in both browsers.
    bob.eval("(window.confirm = () => true, true)").await;
    on_message(&bob, "yes, see you there", "Delete message").await;
    for b in [&alice, &bob] {
        b.wait_true("!document.body.innerText.includes('yes, see you there')", "the text is gone").await;
        b.wait_true("document.querySelector('.tombstone') !== null", "a tombstone").await;
    }
    // A reload shows the same (history carries the current state).
    alice.client.refresh().await.unwrap();
    alice.wait_connected().await;
    alice.wait_message("lunch at one?").await;
    alice
        .wait_true(
            "document.querySelector('.tombstone') !== null && document.querySelector('.edited') !== null",
            "after reload",
        )
        .await;
    // Formatting: built as elements; markup and scripts stay text.
    bob.paste("**bold** and `code` at https://example.org/x. javascript:alert(1) <script>alert(2)</script>").await;
    bob.find("#composer-input").await.send_keys("\u{E007}").await.unwrap();
    alice.wait_true("document.querySelector('.msg .body strong') !== null", "bold").await;
    let check = "(() => { const b = Array.from(document.querySelectorAll('.msg .body')).find(e => e.querySelector('strong')); \
        const links = Array.from(b.querySelectorAll('a')); \
        return JSON.stringify({ strong: b.querySelector('strong').textContent, code: b.querySelector('code').textContent, \
            links: links.map(a => [a.getAttribute('href'), a.getAttribute('rel'), a.getAttribute('target')]), \
            scripts: b.querySelectorAll('script').length, text: b.textContent }); })()";
    let got: serde_json::Value = serde_json::from_str(alice.eval(check).await.as_str().unwrap()).unwrap();
    assert_eq!(got["strong"], "bold");
    assert_eq!(got["code"], "code");
    assert_eq!(got["links"], json!([["https://example.org/x", "noopener noreferrer", "_blank"]]), "{got}");
    assert_eq!(got["scripts"], 0);
    assert!(got["text"].as_str().unwrap().contains("javascript:alert(1) <script>alert(2)</script>"), "{got}");
    // Mentions: bob types "@al", takes the suggestion; alice's message is
    // highlighted, counted apart in another room, and listed.
    alice.click_text(".room-button .room-name", "general").await;
    alice.find("#join-input").await.send_keys("elsewhere\u{E007}").await.unwrap();
    alice.wait_true("document.querySelector('.room-title').textContent.includes('elsewhere')", "alice elsewhere").await;
    bob.paste("lunch is ready @al").await;
    bob.wait_true("document.querySelector('.mention-option') && document.querySelector('.mention-option').textContent === '@alice'", "a suggestion").await;
    bob.eval("(document.querySelector('.mention-option').click(), true)").await;
    assert_eq!(bob.eval("document.querySelector('#composer-input').value").await, "lunch is ready @alice ");
    bob.find("#composer-input").await.send_keys("\u{E007}").await.unwrap();
    alice.wait_true("document.querySelector('.mention-badge') !== null", "a mention badge").await;
    alice.find(".mentions-toggle").await.click().await.unwrap();
    alice.wait_true("document.querySelector('.mention-item') && document.querySelector('.mention-item').textContent.includes('lunch is ready')", "listed").await;
    alice.eval("(document.querySelector('.mention-item').click(), true)").await;
    alice.wait_true("document.querySelector('.msg.mention') !== null", "highlighted").await;
    alice.wait_true("document.querySelector('.mention-badge') === null", "read").await;
    // A conversation with all of it, in both themes (README; with
    // MESHCHAT_UPDATE_SCREENSHOTS=1 also into docs/screenshots).
    alice.click_text(".room-button .room-name", "general").await;
    alice.wait_message("lunch at one?").await;
    on_message(&bob, "lunch at one?", "Reply").await;
    bob.say("count me in, **one** it is").await;
    alice.wait_true("document.querySelectorAll('.quote').length > 0", "a reply with its quote").await;
    for theme in ["light", "dark"] {
        if alice.theme().await != theme {
            alice.find(".theme-toggle").await.click().await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let file = format!("conversation-{theme}.png");
        let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots").join(&file);
        alice.screenshot(&shot).await;
        if std::env::var("MESHCHAT_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
            let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots").join(&file);
            std::fs::copy(&shot, docs).unwrap();
        }
    }
    alice.close().await;
    bob.close().await;
}

/// A mention and a direct message notify when the tab is hidden (the
/// browser allowed notifications); a room set to "Nothing" does not.
#[tokio::test]
async fn mentions_notify_in_a_hidden_tab_as_each_room_allows() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let driver = Driver::start();
    let alice = driver.browser_notifying(1280, 800).await;
    alice.sign_in(&n.url("/"), "alice").await;
    assert_eq!(alice.eval("Notification.permission").await, "granted");
    // Record notifications; the tab is hidden.
    alice
        .eval(
            "(() => { const N = window.Notification; window.__notes = []; \
              window.Notification = class extends N { constructor(t, o) { super(t, o); window.__notes.push([t, o && o.body]); } }; \
              Object.defineProperty(document, 'hidden', { configurable: true, get: () => true }); \
              Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' }); \
              return true; })()",
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await; // heartbeats say hidden
    let post = |id: &str, body: &str| json!({"name":"bob","id":id,"body":body}).to_string();
    http_post(&n.url("/api/rooms/general/messages"), &post("p1", "just chatting")).await;
    http_post(&n.url("/api/rooms/general/messages"), &post("p2", "@alice can you look?")).await;
    alice.wait_message("@alice can you look?").await;
    alice.wait_true("window.__notes.length > 0", "a notification").await;
    let notes = alice.eval("JSON.stringify(window.__notes)").await;
    assert_eq!(notes, json!([["bob in #general", "@alice can you look?"]]).to_string(), "only the mention");
    // "Nothing" for this room: no notification, even for a mention.
    alice.eval("(document.querySelector('#notify-level').value = 'nothing', document.querySelector('#notify-level').dispatchEvent(new Event('change')), true)").await;
    http_post(&n.url("/api/rooms/general/messages"), &post("p3", "@alice again")).await;
    alice.wait_message("@alice again").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(alice.eval("window.__notes.length").await, 1);
    alice.close().await;
}

/// One person in two browsers (a laptop and a phone): what one reads is
/// read on the other, and the other shows where they left off.
#[tokio::test]
async fn what_one_tab_reads_is_read_in_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let driver = Driver::start();
    let laptop = driver.browser(1280, 800).await;
    let phone = driver.browser(1280, 800).await;
    laptop.sign_in(&n.url("/"), "dana").await;
    phone.sign_in(&n.url("/"), "dana").await;
    // The phone looks at another room.
    phone.find("#join-input").await.send_keys("elsewhere\u{E007}").await.unwrap();
    phone.wait_true("document.querySelector('.room-title').textContent.includes('elsewhere')", "elsewhere").await;
    let post = |id: &str, body: &str| json!({"name":"bob","id":id,"body":body}).to_string();
    http_post(&n.url("/api/rooms/general/messages"), &post("g1", "first news")).await;
    http_post(&n.url("/api/rooms/general/messages"), &post("g2", "second news")).await;
    phone
        .wait_true(
            "document.querySelector('.badge') && document.querySelector('.badge').textContent === '2'",
            "2 unread",
        )
        .await;
    // The laptop, looking at #general, reads them: the phone's count goes.
    laptop.wait_message("second news").await;
    phone.wait_true("document.querySelector('.badge') === null", "read on the laptop, read here").await;
    // New news while the laptop looks away: the phone shows the line.
    laptop.find("#join-input").await.send_keys("third\u{E007}").await.unwrap();
    http_post(&n.url("/api/rooms/general/messages"), &post("g3", "third news")).await;
    phone.click_text(".room-button .room-name", "general").await;
    phone.wait_message("third news").await;
    let order =
        phone.eval("Array.from(document.querySelectorAll('.new-line, .msg .body')).map(e => e.textContent)").await;
    let order: Vec<String> = serde_json::from_value(order).unwrap();
    let line = order.iter().position(|t| t == "New messages").expect("a new-messages line");
    assert_eq!(order.get(line + 1).map(String::as_str), Some("third news"), "{order:?}");
    laptop.close().await;
    phone.close().await;
}

/// A reply to a message older than what the page holds: a click on its
/// quote loads older pages until the original shows.
#[tokio::test]
async fn a_quote_of_an_old_message_loads_history_until_it_shows() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let (mut bob, _) = Client::hello(&n.ws_url(), "bob").await;
    bob.join("general", None).await;
    let first = bob.say("general", "old", "the very first message").await;
    for i in 0..120 {
        bob.say("general", &format!("f{i}"), &format!("filler {i}")).await;
    }
    let reply = json!({"event":"reply","origin":first["origin"],"seq":first["seq"],"body":"answering the first"});
    bob.send(json!({"type":"act","room":"general","id":"r1","action":reply})).await;
    bob.wait_for("ack").await;
    let driver = Driver::start();
    let alice = driver.browser(1280, 800).await;
    alice.sign_in(&n.url("/"), "alice").await;
    alice.wait_message("answering the first").await;
    assert_eq!(alice.eval("document.body.innerText.includes('the very first message')").await, false, "not loaded yet");
    alice
        .wait_true(
            "document.querySelector('.quote').textContent.includes('an earlier message')",
            "a quote of what is not loaded",
        )
        .await;
    alice.eval("(document.querySelector('.quote').click(), true)").await;
    alice.wait_true("document.querySelector('.msg.flash') && document.querySelector('.msg.flash').textContent.includes('the very first message')", "the original, loaded and shown").await;
    alice.close().await;
}

/// Read state survives a failover: the laptop's node dies, it moves on,
/// reads there, and the phone (on the other node) counts it read.
#[tokio::test]
async fn read_state_follows_through_a_failover() {
    let web = dist().to_str().unwrap().to_owned();
    let mut m = Mesh::start(2, &["--web", &web]).await;
    let driver = Driver::start();
    let laptop = driver.browser(1280, 800).await;
    let phone = driver.browser(1280, 800).await;
    laptop.sign_in(&m.nodes[0].url("/"), "erin").await;
    phone.sign_in(&m.nodes[1].url("/"), "erin").await;
    phone.find("#join-input").await.send_keys("elsewhere\u{E007}").await.unwrap();
    phone.wait_true("document.querySelector('.room-title').textContent.includes('elsewhere')", "elsewhere").await;
    m.nodes[0].kill9();
    laptop.wait_true("document.querySelector('.status.ok') && !document.querySelector('.status-text').textContent.includes('n1')", "moved to n2").await;
    let post = |id: &str, body: &str| json!({"name":"bob","id":id,"body":body}).to_string();
    http_post(&m.nodes[1].url("/api/rooms/general/messages"), &post("f1", "after the crash")).await;
    phone
        .wait_true(
            "document.querySelector('.badge') && document.querySelector('.badge').textContent === '1'",
            "1 unread",
        )
        .await;
    laptop.wait_message("after the crash").await;
    phone.wait_true("document.querySelector('.badge') === null", "read on the laptop, after its move").await;
    m.nodes[0].restart().unwrap();
    laptop.close().await;
    phone.close().await;
}

/// A catch-up applies in one update: alice's 👍 turned into her 😂 there
/// must show 😂 (rows once keyed by the content's lengths kept the old one).
#[tokio::test]
async fn a_reaction_swapped_within_one_catch_up_shows_the_new_one() {
    let web = dist().to_str().unwrap().to_owned();
    let mut m = Mesh::start(2, &["--web", &web]).await;
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&m.nodes[0].url("/"), "erin").await;
    let (mut alice, _) = Client::hello(&m.nodes[1].ws_url(), "alice").await;
    alice.join("general", None).await;
    let posted = alice.say("general", "vote", "vote here").await;
    b.wait_message("vote here").await;
    let (origin, seq) = (posted["origin"].clone(), posted["seq"].clone());
    let react = |id: &str, emoji: &str, on: bool| {
        let action = json!({"event": "reacted", "origin": origin, "seq": seq, "emoji": emoji, "on": on});
        json!({"type": "act", "room": "general", "id": id, "action": action})
    };
    let shows = |emoji: &str| {
        format!(
            "Array.from(document.querySelectorAll('.reaction')).map(r => r.textContent.trim()).join(' ') === '{emoji} 1'"
        )
    };
    alice.send(react("r1", "👍", true)).await;
    alice.wait_for("ack").await;
    b.wait_true(&shows("👍"), "alice's 👍").await;
    // The browser's node stops answering; meanwhile, on the other node,
    // alice takes her 👍 back and laughs instead.
    m.nodes[0].signal("STOP");
    alice.send(react("r2", "👍", false)).await;
    alice.wait_for("ack").await;
    alice.send(react("r3", "😂", true)).await;
    alice.wait_for("ack").await;
    m.nodes[0].kill9();
    b.wait_true(
        "document.querySelector('.status.ok') && !document.querySelector('.status-text').textContent.includes('n1')",
        "moved to n2",
    )
    .await;
    b.wait_true(&shows("😂"), "her 😂, caught up in one update").await;
    m.nodes[0].restart().unwrap();
    b.close().await;
}
