//! Threads in the app: a reply in a thread stays out of the room, its root
//! counts the replies, the panel shows them with one sent from elsewhere,
//! and "also send to the room" shows one in both. Headless Chromium
//! against a real node.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Browser, Driver, dist};
use common::*;
use serde_json::json;

const MAIN: &str = "[role=log][aria-label^='Messages in'] .msg:not(.pending) .body";
const PANEL: &str = ".thread-panel .msg:not(.pending) .body";

async fn texts(b: &Browser, css: &str) -> Vec<String> {
    let v = b.eval(&format!("Array.from(document.querySelectorAll({})).map(e => e.textContent)", json!(css))).await;
    serde_json::from_value(v).unwrap()
}

async fn shows(b: &Browser, css: &str, text: &str) {
    let expr =
        format!("Array.from(document.querySelectorAll({})).some(e => e.textContent === {})", json!(css), json!(text));
    b.wait_true(&expr, &format!("{text:?} in {css}")).await;
}

#[tokio::test]
async fn a_thread_opens_beside_the_room_and_keeps_its_replies_there() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.goto(&n.url("/")).await;
    b.account("signup", "ada", "correct horse").await;
    let bob = token(&register(&n, "bob", "correct horse").await.1);
    b.say("the deploy plan").await;
    b.wait_message("the deploy plan").await;

    // Her own message's thread, from its actions; a reply there.
    b.eval("(document.querySelector('.msg [aria-label=\"Reply in thread\"]').click(), true)").await;
    b.wait_true("!document.querySelector('.thread-panel').hidden", "the thread panel").await;
    b.find("#thread-input").await.send_keys("first in the thread\u{E007}").await.unwrap();
    shows(&b, PANEL, "first in the thread").await;
    b.wait_true(
        "(document.querySelector('.thread-summary') || {textContent: ''}).textContent.startsWith('1 reply')",
        "1 reply",
    )
    .await;
    assert!(!texts(&b, MAIN).await.contains(&"first in the thread".to_owned()), "not in the room");

    // bob answers in the thread from elsewhere, also to the room.
    let msgs = all_messages_as(&n, "general", Some(&bob)).await;
    let root = msgs.iter().find(|m| m["body"] == "the deploy plan").unwrap();
    let action = json!({"event": "reply", "origin": root["origin"], "seq": root["seq"], "body": "from bob, here too", "thread": true, "also": true});
    let (status, body) =
        api("POST", &n.url("/api/rooms/general/actions"), Some(&bob), Some(json!({"id": "b1", "action": action})))
            .await;
    assert!((200..300).contains(&status), "{status} {body}");
    shows(&b, PANEL, "from bob, here too").await;
    shows(&b, MAIN, "from bob, here too").await;
    b.wait_true("document.querySelector('.thread-summary').textContent.startsWith('2 replies')", "2 replies").await;
    assert_eq!(texts(&b, PANEL).await, ["the deploy plan", "first in the thread", "from bob, here too"]);

    // A file chosen with the thread's paperclip goes to the thread, not the room.
    b.eval(
        "(() => { const dt = new DataTransfer(); dt.items.add(new File(['agreed: friday'], 'minutes.txt', {type: 'text/plain'}));
           const input = document.querySelector('#thread-attach-input'); input.files = dt.files;
           input.dispatchEvent(new Event('change', {bubbles: true})); return true; })()",
    )
    .await;
    shows(&b, ".thread-panel .file-card .file-name", "minutes.txt").await;
    b.wait_true("document.querySelector('.thread-summary').textContent.startsWith('3 replies')", "3 replies").await;
    let in_room = "document.querySelectorAll('[role=log][aria-label^=\"Messages in\"] .file-card').length";
    assert_eq!(b.eval(in_room).await, 0, "not in the room");

    // bob comes online: "@bo" in the thread's composer suggests him, Tab takes it.
    let (mut bob_ws, _) = ws_with_token(&n, &bob).await;
    bob_ws.join("general", None).await;
    b.find("#thread-input").await.send_keys("@bo").await.unwrap();
    b.wait_true(
        "Array.from(document.querySelectorAll('.thread-panel .mention-option')).some(e => e.textContent.startsWith('@bob'))",
        "bob suggested in the thread",
    )
    .await;
    b.find("#thread-input").await.send_keys("\u{E004}").await.unwrap();
    b.wait_true("document.querySelector('#thread-input').value === '@bob '", "Tab took the name").await;
    b.eval("(e => (e.value = '', e.dispatchEvent(new Event('input')), true))(document.querySelector('#thread-input'))")
        .await;

    // Closed, and opened again from the root's summary.
    b.eval("(document.querySelector('.thread-panel .members-head button').click(), true)").await;
    b.wait_true("document.querySelector('.thread-panel').hidden", "closed").await;
    b.eval("(document.querySelector('.thread-summary').click(), true)").await;
    shows(&b, PANEL, "first in the thread").await;

    // A half-written reply is kept with the thread through a reload.
    b.find("#thread-input").await.send_keys("half a thought").await.unwrap();
    b.wait_true("Object.keys(localStorage).some(k => k.startsWith('meshchat.draft.ada.general/'))", "kept").await;
    b.goto(&n.url("/")).await;
    b.wait_connected().await;
    b.wait_true("document.querySelector('.thread-summary') !== null", "the root's summary").await;
    b.eval("(document.querySelector('.thread-summary').click(), true)").await;
    b.wait_true("document.querySelector('#thread-input').value === 'half a thought'", "the thread's draft").await;
    assert_eq!(b.eval("document.querySelector('#composer-input').value").await, "", "not the room's draft");
}

/// The Threads view lists the threads one follows (mentioned in one: it is
/// followed) with the replies not read; looking at a thread reads it, for
/// good: the marker is in the room's log, and a reload shows none unread.
#[tokio::test]
async fn followed_threads_show_new_replies_until_looked_at() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.goto(&n.url("/")).await;
    b.account("signup", "ada", "correct horse").await;
    let bob = token(&register(&n, "bob", "correct horse").await.1);
    let carol = token(&register(&n, "carol", "correct horse").await.1);
    let post = |who: &str, id: &str, body: &str| {
        let (who, body) = (who.to_owned(), json!({"id": id, "body": body}));
        let url = n.url("/api/rooms/general/messages");
        async move { api("POST", &url, Some(&who), Some(body)).await }
    };
    let (status, root) = post(&bob, "r1", "bob's plan").await;
    assert_eq!(status, 200, "{root}");
    let root = &root["msg"];
    b.wait_message("bob's plan").await;
    b.eval("(document.querySelector('#threads-view').click(), true)").await;
    b.wait_true("document.querySelector('#threads-dialog p.muted') !== null", "no threads yet").await;
    b.eval("(document.querySelector('#threads-dialog .dialog-head button').click(), true)").await;

    // carol names ada in bob's thread, bob answers: two new for ada.
    let reply = |who: &str, id: &str, body: &str| {
        let action =
            json!({"event": "reply", "origin": root["origin"], "seq": root["seq"], "body": body, "thread": true});
        let (who, url) = (who.to_owned(), n.url("/api/rooms/general/actions"));
        let body = json!({"id": id, "action": action});
        async move { api("POST", &url, Some(&who), Some(body)).await }
    };
    assert_eq!(reply(&carol, "c1", "what does @ada think?").await.0, 200);
    assert_eq!(reply(&bob, "b2", "yes, ada?").await.0, 200);
    let badge = "(document.querySelector('#threads-view .badge') || {textContent: ''}).textContent";
    b.wait_true(&format!("{badge} === '2'"), "2 new in the sidebar").await;
    b.eval("(document.querySelector('#threads-view').click(), true)").await;
    b.wait_true(
        "Array.from(document.querySelectorAll('.followed-thread')).some(e => e.textContent.includes(\"bob's plan\") && e.textContent.includes('2 new'))",
        "the thread, 2 new",
    )
    .await;
    // Opened from the list: the panel shows it, and it is read.
    b.eval("(document.querySelector('.followed-thread').click(), true)").await;
    shows(&b, PANEL, "yes, ada?").await;
    b.wait_true(&format!("{badge} === ''"), "nothing new once looked at").await;
    let marker = |events: &[serde_json::Value]| {
        events
            .iter()
            .any(|m| m["author"] == "ada" && m["body"].as_str().unwrap_or("").starts_with(r#"{"event":"read_thread""#))
    };
    eventually(std::time::Duration::from_secs(5), "ada's marker in the room's log", || async {
        marker(&all_events_as(&n, "general", Some(&bob)).await)
    })
    .await;

    // A reload: still read; a new reply is new again.
    b.goto(&n.url("/")).await;
    b.wait_connected().await;
    b.wait_true("document.querySelector('.thread-summary') !== null", "the root's summary").await;
    assert_eq!(b.eval(badge).await, "", "read on this device stays read");
    assert_eq!(reply(&bob, "b3", "one more").await.0, 200);
    b.wait_true(&format!("{badge} === '1'"), "1 new again").await;
}

/// A link to a reply in a thread opens its room with the thread beside it,
/// at the reply (it is not drawn in the room itself), also when the one who
/// opens it signs in first.
#[tokio::test]
async fn a_link_to_a_thread_reply_opens_its_thread() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let bob = token(&register(&n, "bob", "correct horse").await.1);
    let (_, root) =
        api("POST", &n.url("/api/rooms/general/messages"), Some(&bob), Some(json!({"id": "r1", "body": "the root"})))
            .await;
    let root = &root["msg"];
    let action = json!({"event": "reply", "origin": root["origin"], "seq": root["seq"], "body": "deep in the thread", "thread": true});
    let (status, reply) =
        api("POST", &n.url("/api/rooms/general/actions"), Some(&bob), Some(json!({"id": "b1", "action": action})))
            .await;
    assert_eq!(status, 200, "{reply}");
    let (origin, seq) = (reply["origin"].as_str().unwrap(), reply["seq"].as_u64().unwrap());
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    // Opened before signing in: followed once in.
    b.goto(&n.url(&format!("/#m=general/{origin}/{seq}"))).await;
    b.account("signup", "ada", "correct horse").await;
    b.wait_true(
        &format!(
            "(e => !!e && e.classList.contains('flash'))(document.querySelector('.thread-panel #msg-{origin}-{seq}'))"
        ),
        "the reply, shown in its thread",
    )
    .await;
    assert_eq!(texts(&b, PANEL).await, ["the root", "deep in the thread"]);
}

/// In the thread's panel, a reply is reacted to, edited and deleted as in
/// the room, and stays in its thread (never shown in the room).
#[tokio::test]
async fn a_reply_in_the_panel_is_reacted_to_edited_and_deleted_there() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.goto(&n.url("/")).await;
    b.account("signup", "ada", "correct horse").await;
    b.say("plans").await;
    b.wait_message("plans").await;
    b.eval("(document.querySelector('.msg [aria-label=\"Reply in thread\"]').click(), true)").await;
    b.wait_true("!document.querySelector('.thread-panel').hidden", "the thread panel").await;
    b.find("#thread-input").await.send_keys("first draft\u{E007}").await.unwrap();
    shows(&b, PANEL, "first draft").await;
    let in_panel = |body: &str, label: &str| {
        format!(
            "(Array.from(document.querySelectorAll('.thread-panel .msg:not(.pending)')).find(m => m.querySelector('.body') && \
             m.querySelector('.body').textContent === {}).querySelector('[aria-label=\"{label}\"]').click(), true)",
            json!(body)
        )
    };

    // A reaction.
    b.eval(&in_panel("first draft", "React")).await;
    b.wait_true("document.querySelector('.picker [aria-label=\"React 🎉\"]') !== null", "the picker").await;
    b.eval("(document.querySelector('.picker [aria-label=\"React 🎉\"]').click(), true)").await;
    b.wait_true(
        "Array.from(document.querySelectorAll('.thread-panel .reaction')).some(r => r.textContent.includes('🎉 1'))",
        "the reaction in the panel",
    )
    .await;
    // An edit, in the thread's own composer.
    b.eval(&in_panel("first draft", "Edit")).await;
    b.wait_true("document.querySelector('#thread-input').value === 'first draft'", "the text to edit").await;
    b.wait_true("document.activeElement === document.querySelector('#thread-input')", "the focus there").await;
    assert_eq!(b.eval("document.querySelector('#composer-input').value").await, "", "not the room's composer");
    b.eval("(e => (e.value = 'second draft', e.dispatchEvent(new Event('input')), true))(document.querySelector('#thread-input'))")
        .await;
    b.find("#thread-input").await.send_keys("\u{E007}").await.unwrap();
    shows(&b, PANEL, "second draft").await;
    b.wait_true("document.querySelector('.thread-panel .edited') !== null", "marked edited").await;
    assert!(!texts(&b, MAIN).await.iter().any(|t| t.contains("draft")), "never in the room");
    // A delete: a tombstone in the thread.
    b.eval("(window.confirm = () => true, true)").await;
    b.eval(&in_panel("second draft", "Delete message")).await;
    b.wait_true("document.querySelector('.thread-panel .tombstone') !== null", "a tombstone in the panel").await;
    b.wait_true("!document.querySelector('.thread-panel').innerText.includes('second draft')", "the text gone").await;
    assert_eq!(b.eval("document.querySelectorAll('.messages .tombstone').length").await, 0, "none in the room");
    // After a reload too (the delete says which thread it was in).
    b.goto(&n.url("/")).await;
    b.wait_connected().await;
    b.wait_message("plans").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(b.eval("document.querySelectorAll('.messages .tombstone').length").await, 0, "none in the room");
}
