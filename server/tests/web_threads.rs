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
