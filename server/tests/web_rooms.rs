//! Rooms that belong to people in the web app: create a private room,
//! add someone who then sees it and chats, a moderator deletes a message
//! and it disappears in both browsers, a direct message. Headless
//! Chromium against a real 2-node mesh that needs sign-in.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Browser, Driver, dist};
use common::*;
use serde_json::json;

/// Signs in on the sign-in screen of `url`.
async fn signed_in(b: &Browser, url: &str, name: &str) {
    b.goto(url).await;
    b.account("signin", name, &format!("{name}'s password")).await;
}

/// The sidebar's room titled `title`, clicked.
async fn open_room(b: &Browser, title: &str) {
    b.click_text(".room-button .room-name", title).await;
    b.wait_true(&format!("document.querySelector('.room-title').textContent.includes({})", json!(title)), title).await;
}

#[tokio::test]
async fn a_private_room_an_invitation_a_moderator_and_a_direct_message() {
    let web = dist().to_str().unwrap().to_owned();
    let m = Mesh::start_accounts(2, &["--web", &web]).await;
    // The mesh's first account is its admin: someone else, so that alice
    // moderates as the room's owner and nothing more.
    account_everywhere(&m, "root").await;
    account_everywhere(&m, "alice").await;
    account_everywhere(&m, "bob").await;
    let driver = Driver::start();
    let alice = driver.browser(1280, 800).await;
    let bob = driver.browser(1280, 800).await;
    signed_in(&alice, &m.nodes[0].url("/"), "alice").await;
    signed_in(&bob, &m.nodes[1].url("/"), "bob").await;

    // Alice creates a private room and adds bob.
    alice.find("#new-room").await.click().await.unwrap();
    alice.find("#room-name").await.send_keys("Launch plans").await.unwrap();
    alice.find("#room-topic").await.send_keys("Friday's release").await.unwrap();
    alice.find("#room-private").await.click().await.unwrap();
    alice.find("#new-room-dialog button[type=submit]").await.click().await.unwrap();
    alice.wait_true("document.querySelector('.room-title').textContent === 'Launch plans'", "the new room").await;
    alice
        .wait_true(
            "document.querySelector('#composer-input') && !document.querySelector('#composer-input').disabled",
            "composer",
        )
        .await;
    alice
        .wait_true(
            "Array.from(document.querySelectorAll('.member .role')).some(e => e.textContent === 'owner')",
            "owner",
        )
        .await;
    alice.find("#invite-name").await.send_keys("bob").await.unwrap();
    alice.click_text(".invite-form button", "Add").await;
    alice.wait_true("document.body.innerText.includes('alice added bob')", "the notice").await;

    // Bob sees it appear (the app asks for his rooms every 10 s) and chats.
    open_room(&bob, "Launch plans").await;
    bob.say("count me in").await;
    assert_eq!(alice.wait_message("count me in").await, 1);
    bob.wait_true("document.body.innerText.includes('alice added bob')", "bob sees the notice").await;

    // Alice, the owner, deletes bob's message: gone in both browsers.
    alice.eval("(window.confirm = () => true, true)").await;
    alice
        .eval(
            "(Array.from(document.querySelectorAll('.msg')).find(m => m.querySelector('.body') && \
             m.querySelector('.body').textContent === 'count me in').querySelector('.msg-delete').click(), true)",
        )
        .await;
    for b in [&alice, &bob] {
        b.wait_true("!document.body.innerText.includes('count me in')", "the message is gone").await;
    }
    // Bob, a member, has no delete buttons.
    assert_eq!(bob.eval("document.querySelectorAll('.msg-delete').length").await, 0);

    // A direct message: bob writes to alice.
    bob.find("#new-dm").await.click().await.unwrap();
    bob.find("#dm-people").await.send_keys("alice").await.unwrap();
    bob.find("#dm-dialog button[type=submit]").await.click().await.unwrap();
    bob.wait_true("document.querySelector('.room-title').textContent === 'alice'", "the conversation").await;
    bob.wait_true(
        "document.querySelector('#composer-input') && !document.querySelector('#composer-input').disabled",
        "composer",
    )
    .await;
    bob.say("just between us").await;
    open_room(&alice, "bob").await;
    assert_eq!(alice.wait_message("just between us").await, 1);
    // It sits under "Direct messages", apart from the rooms.
    let sections = alice.eval("Array.from(document.querySelectorAll('.sidebar .rooms')).map(u => u.innerText)").await;
    assert!(
        sections[1].as_str().unwrap().contains("bob") && !sections[0].as_str().unwrap().contains("bob"),
        "{sections}"
    );
    open_room(&alice, "Launch plans").await;
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots/rooms-desktop.png");
    alice.screenshot(&shot).await;
    if std::env::var("MESHCHAT_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots/rooms-desktop.png");
        std::fs::copy(&shot, docs).unwrap();
    }
    alice.close().await;
    bob.close().await;
}
