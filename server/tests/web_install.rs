//! The web app as an installed app: a valid manifest with its icons, a
//! service worker that serves the shell from its cache, rooms kept in
//! IndexedDB (so a reload with no node reachable opens the app with its
//! history, searched there), writing into the outbox while offline, delivery exactly once
//! when the node is back, and nothing kept after sign-out. Headless
//! Chromium against a real node.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Browser, Driver, dist};
use common::*;
use serde_json::{Value, json};

async fn js(b: &Browser, expr: &str) -> Value {
    b.eval(expr).await
}

/// Waits until a promise-valued expression resolves to `true`
/// (`wait_true` takes the promise itself for true).
async fn resolves_true(b: &Browser, expr: &str, what: &str) {
    for _ in 0..150 {
        if b.eval(expr).await.as_bool() == Some(true) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn the_app_installs_and_opens_offline_from_its_own_cache() {
    let web = dist();
    let dir = tempfile::tempdir().unwrap();
    let mut node = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.sign_in(&node.url("/"), "alice").await;
    b.wait_connected().await;

    // Installable: the manifest, its icons served, the worker in control.
    let manifest = js(&b, "fetch('/manifest.webmanifest').then(r => r.json())").await;
    assert_eq!(manifest["display"], "standalone", "{manifest}");
    assert_eq!(manifest["start_url"], "/");
    let icons = manifest["icons"].as_array().unwrap();
    for size in ["192x192", "512x512"] {
        assert!(icons.iter().any(|i| i["sizes"] == size && i["type"] == "image/png"), "{size}: {manifest}");
    }
    for icon in icons {
        let src = icon["src"].as_str().unwrap();
        let ok = js(&b, &format!("fetch('{src}').then(r => r.ok && r.headers.get('content-type'))")).await;
        assert!(ok.as_str().is_some_and(|t| t.starts_with("image/")), "{src}: {ok}");
    }
    b.wait_true("navigator.serviceWorker.controller !== null", "the service worker in control").await;
    let cached = js(
        &b,
        "caches.keys().then(ks => caches.open(ks.find(k => k.startsWith('meshchat-shell-'))))
            .then(c => c.keys()).then(rs => rs.map(r => new URL(r.url).pathname))",
    )
    .await;
    let cached: Vec<String> = serde_json::from_value(cached).unwrap();
    assert!(cached.contains(&"/".to_owned()), "{cached:?}");
    assert!(cached.iter().any(|p| p.ends_with(".wasm")), "{cached:?}");
    assert!(cached.iter().any(|p| p == "/manifest.webmanifest"), "{cached:?}");
    // The screens few people open are modules of their own: not in the
    // page's first load, in the worker's cache for offline use.
    let screens = [
        "split_search_panel",
        "split_account_panel",
        "split_admin_panel",
        "split_mesh_map_panel",
        "split_profile_card",
        "split_sidebar_dialog",
        "split_sign_in",
        "split_thread_body",
        "split_mentions_panel",
        "split_emoji_picker",
    ];
    for screen in screens {
        assert!(cached.iter().any(|p| p.starts_with(&format!("/{screen}-"))), "{screen}: {cached:?}");
    }
    let fetched_now = async || -> Vec<String> {
        let v = js(&b, "performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)").await;
        serde_json::from_value(v).unwrap()
    };
    let splits = |fetched: &[String]| -> Vec<String> {
        fetched.iter().filter(|p| p.starts_with("/split_")).map(|p| p.split('-').next().unwrap().to_owned()).collect()
    };
    // A new visitor's load fetched the sign-in screen and no other.
    let fetched = fetched_now().await;
    assert_eq!(splits(&fetched), ["/split_sign_in"], "{fetched:?}");
    // A returning person's (the session kept) fetches none.
    b.goto(&node.url("/")).await;
    b.wait_connected().await;
    let fetched = fetched_now().await;
    assert!(fetched.iter().any(|p| p.ends_with("_bg.wasm")), "{fetched:?}");
    assert!(splits(&fetched).is_empty(), "loaded before it was opened: {fetched:?}");
    b.say("before the outage").await;
    b.wait_message("before the outage").await;
    // Kept for offline reading (IndexedDB), bounded, for this person.
    resolves_true(
        &b,
        "meshchatKeep.all('alice').then(rs => rs.some(j => j.includes('before the outage')))",
        "the room kept in IndexedDB",
    )
    .await;

    // No node: a reload still opens the app, from the worker's cache, says
    // so, and takes a message into the outbox.
    node.kill9();
    b.goto(&node.url("/")).await;
    b.wait_true("performance.getEntriesByName('meshchat:mounted').length > 0", "the app mounted offline").await;
    b.wait_true("!!document.querySelector('.composer textarea')", "the composer offline").await;
    // With the history it kept, which search finds with no node.
    assert_eq!(b.wait_message("before the outage").await, 1);
    b.press(&[fantoccini::key::Key::Control.into(), 'k']).await;
    b.wait_true("document.activeElement && document.activeElement.id === 'search-input'", "the search").await;
    b.type_keys("outa").await;
    b.press(&[fantoccini::key::Key::Enter.into()]).await;
    b.wait_true(
        "[...document.querySelectorAll('.search-panel [role=status]')].some(e => e.textContent.includes('kept on this device'))
            && [...document.querySelectorAll('.search-hit mark')].map(e => e.textContent).join() === 'outage'",
        "the kept message found, its word marked",
    )
    .await;
    b.press(&[fantoccini::key::Key::Escape.into()]).await;
    b.say("written offline").await;
    b.wait_true(
        "[...document.querySelectorAll('.msg.pending .body, .msg.failed .body')].some(e => e.textContent === 'written offline')",
        "the offline message in the outbox",
    )
    .await;

    // The node is back: the outbox goes out, once.
    node.restart().unwrap();
    assert_eq!(b.wait_message("written offline").await, 1);
    b.wait_true(
        "![...document.querySelectorAll('.msg.pending .body')].some(e => e.textContent === 'written offline')",
        "the message acknowledged",
    )
    .await;
    let (mut reader, _) = Client::hello(&node.ws_url(), "reader").await;
    let (_, backlog, _) = reader.join("general", None).await;
    let n = backlog.iter().filter(|m| m["body"] == "written offline").count();
    assert_eq!(n, 1, "stored once: {backlog:?}");
    assert_eq!(b.wait_message("before the outage").await, 1, "nothing shown twice after the resume");
    // Signing out forgets what was kept.
    // (A guest's "Sign in" ends the guest session.)
    let out = b
        .eval("(() => { const s = [...document.querySelectorAll('button')].find(e => ['Sign out', 'Sign in'].includes(e.textContent.trim())); if (s) s.click(); return !!s; })()")
        .await;
    assert_eq!(out, Value::Bool(true), "a way to sign out");
    resolves_true(&b, "meshchatKeep.all('alice').then(rs => rs.length === 0)", "nothing kept after sign-out").await;
    b.close().await;
}

/// A module that could not be fetched, said in the app's dialog.
const REFUSED: &str = "[...document.querySelectorAll('#unloaded [role=alert]')].some(e => e.textContent.includes('could not be fetched'))";

/// Refuses these URLs (none: refuses nothing) straight at the network,
/// past the service worker's cache.
async fn refuse_modules(b: &Browser, urls: &[&str]) {
    b.cdp("Network.enable", json!({})).await;
    b.cdp("Network.setBypassServiceWorker", json!({"bypass": true})).await;
    b.cdp("Network.setBlockedURLs", json!({"urls": urls})).await;
}

/// A screen of its own module (search here) that cannot be fetched says so
/// in a dialog that closes like the screen; the app goes on (a message
/// goes out meanwhile), and opening the screen again fetches it.
#[tokio::test]
async fn a_screen_whose_module_cannot_be_fetched_says_so_and_opens_later() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node("n1", &dir.path().join("n1"), 0, &["--web", dist().to_str().unwrap()]);
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    refuse_modules(&b, &["*/split_search_panel-*"]).await;
    b.sign_in(&node.url("/"), "alice").await;
    b.wait_connected().await;
    b.press(&[fantoccini::key::Key::Control.into(), 'k']).await;
    b.wait_true(REFUSED, "the screen's refusal in words").await;
    assert_eq!(js(&b, "!!document.querySelector('#search-input')").await, json!(false));
    b.click_text("#unloaded button", "×").await;
    b.wait_true("!document.querySelector('#unloaded')", "the dialog closed").await;
    b.say("still here").await;
    b.wait_message("still here").await;

    refuse_modules(&b, &[]).await;
    b.press(&[fantoccini::key::Key::Control.into(), 'k']).await;
    b.wait_true("document.activeElement && document.activeElement.id === 'search-input'", "the search, fetched").await;
    b.close().await;
}

/// A new visitor whose sign-in screen cannot be fetched is told so, and
/// closing that asks again: once the module comes, they sign in.
#[tokio::test]
async fn a_sign_in_screen_that_cannot_be_fetched_says_so_and_is_asked_again() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node("n1", &dir.path().join("n1"), 0, &["--web", dist().to_str().unwrap()]);
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    refuse_modules(&b, &["*/split_sign_in-*"]).await;
    b.goto(&node.url("/")).await;
    b.wait_true(REFUSED, "the sign-in screen's refusal in words").await;
    assert_eq!(js(&b, "!!document.querySelector('#tab-guest')").await, json!(false));
    // Still refused: asked again, said again.
    b.click_text("#unloaded button", "×").await;
    b.wait_true(REFUSED, "the refusal said again").await;
    refuse_modules(&b, &[]).await;
    b.click_text("#unloaded button", "×").await;
    b.guest("alice").await;
    b.say("signed in at last").await;
    b.wait_message("signed in at last").await;
    b.close().await;
}

/// The service worker shows a push with no tab of the app open: delivered
/// as the push service would, through DevTools (a headless browser has no
/// push service to subscribe with; tests/push.rs covers the node's side).
#[tokio::test]
async fn a_push_reaches_the_service_worker_with_no_app_open() {
    let web = dist();
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()], None);
    let driver = Driver::start();
    let b = driver.browser_notifying(1280, 800).await;
    b.goto(&node.url("/")).await;
    b.account("signup", "alice", "a long password 1").await;
    b.wait_true("navigator.serviceWorker.controller !== null", "the service worker in control").await;
    // The account panel offers the switch (this browser can take pushes).
    b.click_text("button", "Account").await;
    b.wait_true("!!document.querySelector('#push-on')", "the push switch").await;

    // No app on screen: a plain page of the node's.
    b.goto(&node.url("/api/health")).await;
    let origin = node.url("").trim_end_matches('/').to_owned();
    let data = json!({"room": "general", "author": "bob", "dm": false, "text": "lunch?"}).to_string();
    b.cdp("ServiceWorker.enable", json!({})).await;
    let shown = "navigator.serviceWorker.getRegistration().then(r => r.getNotifications())
        .then(ns => ns.map(n => n.title + ' | ' + n.body))";
    let mut got = Value::Null;
    // Registrations are numbered per profile; this fresh one has one.
    for id in 0..4 {
        let params = json!({"origin": origin, "registrationId": id.to_string(), "data": data});
        // An id of no registration is refused: the next one.
        if b.try_cdp("ServiceWorker.deliverPushMessage", params).await.is_err() {
            continue;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        got = js(&b, shown).await;
        if got.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
    }
    assert_eq!(got, json!(["bob mentioned you in #general | lunch?"]));
}
