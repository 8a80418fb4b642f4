//! Profiles in the app: a name shows as its person set it (the account
//! name on hover), a click opens their card (status, availability, local
//! time), and "do not disturb" set in the account panel silences
//! notifications until it is lifted. Headless Chromium against a real node.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Browser, Driver, dist};
use common::*;
use serde_json::json;

const CARD: &str = "(document.querySelector('#profile-card') || {textContent: ''}).textContent";

/// Sets the availability in the account panel and saves the profile.
async fn set_availability(b: &Browser, value: &str) {
    b.find(".me button.link").await.click().await.unwrap();
    b.wait_true("document.querySelector('#profile-availability') !== null", "the profile form").await;
    let js = format!(
        "(s => (s.value = {}, s.dispatchEvent(new Event('change')), true))(document.querySelector('#profile-availability'))",
        json!(value)
    );
    b.eval(&js).await;
    b.eval("(document.querySelector('.profile-form button[type=submit]').click(), true)").await;
    b.wait_true("document.querySelector('#profile-said').textContent === 'Profile saved.'", "saved").await;
    b.eval("(document.querySelector('#account-title').closest('.dialog').querySelector('.dialog-head button').click(), true)")
        .await;
}

#[tokio::test]
async fn names_show_as_set_a_card_tells_more_and_do_not_disturb_silences() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let bob = token(&register(&n, "bob", "correct horse").await.1);
    let profile = json!({"display": "Bob the Builder", "status": "fixing it", "emoji": "🔧", "tz": "Asia/Tokyo", "availability": "away"});
    assert_eq!(api("POST", &n.url("/api/profile"), Some(&bob), Some(profile)).await.0, 204);
    let say = |id: &str, body: &str| {
        let (url, bob) = (n.url("/api/rooms/general/messages"), bob.clone());
        let body = json!({"id": id, "body": body});
        async move {
            let (status, body) = api("POST", &url, Some(&bob), Some(body)).await;
            assert!((200..300).contains(&status), "{status} {body}");
        }
    };

    let driver = Driver::start();
    let ada = driver.browser_notifying(1280, 800).await;
    ada.goto(&n.url("/")).await;
    ada.account("signup", "ada", "correct horse").await;
    say("b1", "hello from bob").await;
    ada.wait_message("hello from bob").await;

    // bob's name as he set it, his account name on hover.
    let author = "Array.from(document.querySelectorAll('.msg .author')).find(a => a.textContent === 'Bob the Builder')";
    ada.wait_true(author, "bob's display name").await;
    assert_eq!(ada.eval(&format!("{author}.title")).await, "@bob");

    // His card: who, status, away, his local time.
    ada.eval(&format!("({author}.click(), true)")).await;
    ada.wait_true(&format!("{CARD}.includes('@bob')"), "the card").await;
    let card = ada.eval(CARD).await.as_str().unwrap().to_owned();
    for want in ["Bob the Builder", "🔧 fixing it", "Away", "for Bob the Builder"] {
        assert!(card.contains(want), "{want:?} in {card:?}");
    }
    ada.eval("(document.querySelector('#profile-card .dialog-head button').click(), true)").await;
    ada.wait_true("document.querySelector('#profile-card') === null", "the card closed").await;
    // His avatar opens it too.
    ada.eval(&format!("({author}.closest('.msg').querySelector('.avatar').click(), true)")).await;
    ada.wait_true(&format!("{CARD}.includes('@bob')"), "the card, from his avatar").await;
    ada.eval("(document.querySelector('#profile-card .dialog-head button').click(), true)").await;
    // A conversation bob starts is named by his display name.
    let (status, dm) = api("POST", &n.url("/api/dm"), Some(&bob), Some(json!({"users": ["ada"]}))).await;
    assert!((200..300).contains(&status), "{status} {dm}");
    ada.wait_true(
        "Array.from(document.querySelectorAll('.room-name')).some(e => e.textContent === 'Bob the Builder')",
        "the conversation, under bob's display name",
    )
    .await;
    // Open, with bob not here: when he was last seen.
    ada.click_text(".room-button .room-name", "Bob the Builder").await;
    ada.wait_true(
        "(document.querySelector('.last-seen') || {textContent: ''}).textContent.startsWith('last seen ')",
        "bob's last seen in the conversation's header",
    )
    .await;
    ada.click_text(".room-button .room-name", "general").await;

    // Record notifications; the tab is hidden.
    ada.eval(
        "(() => { const N = window.Notification; window.__notes = []; \
          window.Notification = class extends N { constructor(t, o) { super(t, o); window.__notes.push(t); } }; \
          Object.defineProperty(document, 'hidden', { configurable: true, get: () => true }); \
          Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' }); \
          return true; })()",
    )
    .await;
    // Do not disturb: a mention makes no notification.
    set_availability(&ada, "dnd").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await; // heartbeats say hidden
    say("b2", "@ada are you there?").await;
    ada.wait_message("@ada are you there?").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(ada.eval("window.__notes.length").await, 0, "nothing while not to be disturbed");
    // Lifted: the next mention notifies.
    set_availability(&ada, "active").await;
    say("b3", "@ada now?").await;
    ada.wait_message("@ada now?").await;
    ada.wait_true("window.__notes.length === 1", "a notification once available").await;

    // Ten minutes without input (as this browser notes it): away, on every
    // node's word; the next key: active again.
    let availability = || async {
        let (_, p) = api("GET", &n.url("/api/profiles?names=ada"), Some(&bob), None).await;
        p["profiles"][0]["availability"].as_str().unwrap_or_default().to_owned()
    };
    ada.eval("localStorage.setItem('meshchat.input', String(Date.now() - 11 * 60 * 1000)) || true").await;
    eventually(std::time::Duration::from_secs(45), "away after 10 idle minutes", || async {
        availability().await == "away"
    })
    .await;
    ada.eval("(window.dispatchEvent(new KeyboardEvent('keydown', {key: 'a'})), true)").await;
    eventually(std::time::Duration::from_secs(10), "active at the next key", || async {
        availability().await == "active"
    })
    .await;
    ada.close().await;
}

/// Do not disturb set in one tab silences every tab of the browser at once,
/// whichever of them shows notifications (the one that leads may be the
/// other): set in each tab in turn, a mention notifies nowhere; lifted, the
/// next one notifies once.
#[tokio::test]
async fn do_not_disturb_set_in_one_tab_silences_every_tab() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let bob = token(&register(&n, "bob", "correct horse").await.1);
    let driver = Driver::start();
    let b = driver.browser_notifying(1280, 800).await;
    b.goto(&n.url("/")).await;
    b.account("signup", "ada", "correct horse").await;
    b.wait_connected().await;
    let first = b.client.window().await.unwrap();
    let second = b.client.new_window(true).await.unwrap().handle;
    b.client.switch_to_window(second.clone()).await.unwrap();
    b.goto(&n.url("/")).await;
    b.wait_connected().await;
    let record = "(() => { const N = window.Notification; window.__notes = []; \
          window.Notification = class extends N { constructor(t, o) { super(t, o); window.__notes.push(t); } }; \
          Object.defineProperty(document, 'hidden', { configurable: true, get: () => true }); \
          Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' }); \
          return true; })()";
    for w in [&first, &second] {
        b.client.switch_to_window(w.clone()).await.unwrap();
        b.eval(record).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await; // heartbeats say hidden
    let mention = |id: String, body: String| {
        let (url, bob) = (n.url("/api/rooms/general/messages"), bob.clone());
        async move { api("POST", &url, Some(&bob), Some(json!({"id": id, "body": body}))).await.0 }
    };
    let notes = async |b: &Browser| {
        let mut all = 0;
        for w in [&first, &second] {
            b.client.switch_to_window(w.clone()).await.unwrap();
            all += b.eval("window.__notes.length").await.as_u64().unwrap();
        }
        all
    };
    for (i, setter) in [&first, &second].into_iter().enumerate() {
        let heard = i as u64;
        b.client.switch_to_window(setter.clone()).await.unwrap();
        set_availability(&b, "dnd").await;
        assert_eq!(mention(format!("q{i}"), format!("@ada quiet {i}?")).await, 200);
        b.wait_message(&format!("@ada quiet {i}?")).await;
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        assert_eq!(notes(&b).await, heard, "set in tab {i}: nothing in any tab");
        b.client.switch_to_window(setter.clone()).await.unwrap();
        set_availability(&b, "active").await;
        assert_eq!(mention(format!("l{i}"), format!("@ada loud {i}")).await, 200);
        eventually(std::time::Duration::from_secs(10), "one notification once available", || async {
            notes(&b).await == heard + 1
        })
        .await;
    }
}

/// A picture chosen in the account panel shows in place of one's initial
/// (the node's square of it), another person's picture shows on their
/// messages, and a removed one gives the initial back; a profile changed
/// elsewhere shows at once, pushed by the node.
#[tokio::test]
async fn pictures_show_for_oneself_and_others_and_go_when_removed() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n = start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap()]);
    let bob = token(&register(&n, "bob", "correct horse").await.1);
    let driver = Driver::start();
    let ada = driver.browser(1280, 800).await;
    ada.goto(&n.url("/")).await;
    ada.account("signup", "ada", "correct horse").await;
    ada.say("my first words").await;
    ada.wait_message("my first words").await;

    // Her picture, from the account panel: a 300×100 PNG, blue in the middle.
    ada.find(".me button.link").await.click().await.unwrap();
    ada.wait_true("document.querySelector('#picture-input') !== null", "the picture field").await;
    ada.eval(
        "(() => { const c = document.createElement('canvas'); c.width = 300; c.height = 100;
           const g = c.getContext('2d'); g.fillStyle = '#f00'; g.fillRect(0, 0, 300, 100);
           g.fillStyle = '#00f'; g.fillRect(100, 0, 100, 100);
           c.toBlob(b => { const dt = new DataTransfer(); dt.items.add(new File([b], 'me.png', {type: 'image/png'}));
             const i = document.querySelector('#picture-input'); i.files = dt.files;
             i.dispatchEvent(new Event('change', {bubbles: true})); });
           return true; })()",
    )
    .await;
    ada.wait_true("document.querySelector('#picture-said').textContent.startsWith('Picture saved')", "saved").await;
    ada.eval("(document.querySelector('#account-title').closest('.dialog').querySelector('.dialog-head button').click(), true)")
        .await;
    let mine = "Array.from(document.querySelectorAll('.msg')).find(m => m.textContent.includes('my first words')).querySelector('.avatar img')";
    ada.wait_true(
        &format!("{mine} !== null && {mine}.complete && {mine}.naturalWidth === 256"),
        "her picture on her message",
    )
    .await;
    // What shows is the middle square: blue where the sides were red.
    let corner = format!(
        "(() => {{ const i = {mine}; const c = document.createElement('canvas'); c.width = 256; c.height = 256;
           const g = c.getContext('2d'); g.drawImage(i, 0, 0); return Array.from(g.getImageData(3, 3, 1, 1).data).slice(0, 3); }})()"
    );
    assert_eq!(ada.eval(&corner).await, json!([0, 0, 255]));

    // bob's, set elsewhere, on his message.
    let png = {
        let img = image::RgbImage::from_fn(64, 64, |_, _| image::Rgb([0, 200, 0]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let auth = format!("Bearer {bob}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "image/png"), ("X-File-Name", "bob.png")];
    let set =
        meshchat::infra::http::request("POST", &n.url("/api/profile/avatar"), &headers, Some(&png)).await.unwrap();
    assert_eq!(set.status, 200, "{}", set.text());
    let (status, body) = api(
        "POST",
        &n.url("/api/rooms/general/messages"),
        Some(&bob),
        Some(json!({"id": "b1", "body": "hi from bob"})),
    )
    .await;
    assert!((200..300).contains(&status), "{status} {body}");
    ada.wait_message("hi from bob").await;
    let his = "Array.from(document.querySelectorAll('.msg')).find(m => m.textContent.includes('hi from bob')).querySelector('.avatar img')";
    ada.wait_true(&format!("{his} !== null && {his}.naturalWidth === 256"), "bob's picture").await;

    // Removed: her initial again.
    ada.find(".me button.link").await.click().await.unwrap();
    ada.wait_true(
        "document.querySelector('#picture-remove') && !document.querySelector('#picture-remove').hidden",
        "remove",
    )
    .await;
    ada.eval("(document.querySelector('#picture-remove').click(), true)").await;
    ada.wait_true(&format!("{mine} === null"), "her initial again").await;

    // Live: with the page's profile requests answered empty from now on,
    // bob's new display name can only come by the node's push.
    ada.eval(
        "(() => { const f = window.fetch; window.fetch = (r, o) => String(r.url || r).includes('/api/profiles')
           ? Promise.resolve(new Response('{\"profiles\":[]}', {headers: {'content-type': 'application/json'}}))
           : f(r, o); return true; })()",
    )
    .await;
    let profile = json!({"display": "Robert", "availability": "dnd"});
    assert_eq!(api("POST", &n.url("/api/profile"), Some(&bob), Some(profile)).await.0, 204);
    ada.wait_true(
        "Array.from(document.querySelectorAll('.msg .author')).some(a => a.textContent === 'Robert')",
        "bob's new name, pushed",
    )
    .await;
    ada.close().await;
}
