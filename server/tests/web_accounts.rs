//! Accounts in the web app: sign up, sign in, stay signed in across reloads
//! and node failures, sign out, invitations, sessions ended elsewhere.
//! Headless Chromium against real nodes that need sign-in (no guests).
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use std::path::Path;

use browser::{Browser, Driver, dist};
use common::*;
use serde_json::{Value, json};

fn web_arg() -> String {
    dist().to_str().unwrap().to_owned()
}

/// A node that needs sign-in, serving the app.
fn node(extra: &[&str]) -> (tempfile::TempDir, NodeProc) {
    let dir = tempfile::tempdir().unwrap();
    let web = web_arg();
    let mut args = vec!["--web", web.as_str()];
    args.extend_from_slice(extra);
    let n = start_node_accounts("n1", &dir.path().join("n1"), 0, &args, None);
    (dir, n)
}

async fn me_name(b: &Browser) -> String {
    b.eval("document.querySelector('.me-name').textContent").await.as_str().unwrap().to_owned()
}

async fn on_sign_in_screen(b: &Browser) {
    b.wait_true("document.querySelector('#tab-signin') !== null", "the sign-in screen").await;
}

/// Opens the account panel and signs out there.
async fn sign_out(b: &Browser) {
    b.click_text(".me .link", "Account").await;
    b.find(".dialog .sign-out").await.click().await.unwrap();
    on_sign_in_screen(b).await;
}

async fn token_of(b: &Browser) -> String {
    let s = b.eval("localStorage.getItem('meshchat.session')").await;
    let v: Value = serde_json::from_str(s.as_str().expect("a saved session")).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sign_up_reload_sign_out_and_sign_in_again() {
    let (_d, n) = node(&[]);
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.goto(&n.url("/")).await;
    // An empty mesh opens on sign-up, and says the first account runs it.
    b.wait_true("document.querySelector('#tab-signup[aria-selected=true]') !== null", "sign-up first").await;
    assert!(b.eval("document.body.innerText").await.as_str().unwrap().contains("admin"));
    assert_eq!(b.eval("document.querySelector('#tab-guest') === null").await, true, "no guests on this node");
    // Checked before asking the node.
    b.find("#tab-signup").await.click().await.unwrap();
    b.find("#signup-name").await.send_keys("Ada").await.unwrap();
    b.find("#signup-password").await.send_keys("short").await.unwrap();
    b.find("#auth-panel form button[type=submit]").await.click().await.unwrap();
    b.wait_true("document.querySelector('#signup-error').textContent.includes('8 characters')", "too short").await;
    b.find("#signup-password").await.send_keys(" but longer now").await.unwrap();
    b.find("#auth-panel form button[type=submit]").await.click().await.unwrap();
    b.wait_connected().await;
    assert_eq!(me_name(&b).await, "Ada");
    assert!(b.eval("document.querySelector('.me-role').textContent").await.as_str().unwrap().contains("admin"));
    b.say("signed up and talking").await;
    b.wait_message("signed up and talking").await;
    // The password is never kept; the session is.
    let stored = b.eval("JSON.stringify(Object.assign({}, localStorage))").await;
    assert!(!stored.as_str().unwrap().contains("but longer now"), "{stored}");

    b.client.refresh().await.unwrap();
    b.wait_connected().await;
    assert_eq!(me_name(&b).await, "Ada", "a reload stays signed in");
    let token = token_of(&b).await;

    sign_out(&b).await;
    assert_eq!(b.eval("localStorage.getItem('meshchat.session')").await, Value::Null);
    // Signing out revoked the token on the node, not only in this browser.
    let revoked = async {
        for _ in 0..50 {
            let r = me_status(&n, &token).await;
            if r == 401 {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    };
    assert!(revoked.await, "the node still takes the signed-out token");

    // A wrong password says so, and names nothing.
    b.account_attempt("signin", "Ada", "not the password").await;
    b.wait_true("document.querySelector('#signin-error').textContent === 'Wrong name or password.'", "refused").await;
    b.client.refresh().await.unwrap();
    b.account("signin", "Ada", "short but longer now").await;
    assert_eq!(me_name(&b).await, "Ada");
    b.wait_message("signed up and talking").await;
    b.close().await;
}

/// `GET /api/me` with a token: the status.
async fn me_status(n: &NodeProc, token: &str) -> u16 {
    api("GET", &n.url("/api/me"), Some(token), None).await.0
}

#[tokio::test]
async fn an_invitation_link_opens_sign_up_with_its_code() {
    let (_d, n) = node(&["--registration", "invite"]);
    let driver = Driver::start();
    let admin = driver.browser(1280, 800).await;
    admin.goto(&n.url("/")).await;
    admin.account("signup", "root", "correct horse battery").await;
    admin.click_text(".me .link", "Account").await;
    admin.click_text(".dialog button", "Make an invitation link").await;
    admin
        .wait_true("document.querySelector('#invite-link') && document.querySelector('#invite-link').value", "a link")
        .await;
    let link = admin.eval("document.querySelector('#invite-link').value").await.as_str().unwrap().to_owned();
    assert!(link.contains("#invite="), "{link}");

    let guest = driver.browser(1280, 800).await;
    // Without the link, there is no way in.
    guest.goto(&n.url("/")).await;
    on_sign_in_screen(&guest).await;
    guest.account_attempt("signup", "mallory", "a long password").await;
    guest
        .wait_true("document.querySelector('#signup-error').textContent.includes('invitation')", "refused without")
        .await;
    // With it: sign-up opens with the code filled in.
    guest.goto(&link).await;
    guest.client.refresh().await.unwrap();
    guest.wait_true("document.querySelector('#tab-signup[aria-selected=true]') !== null", "sign-up").await;
    let code = link.rsplit('=').next().unwrap();
    guest.wait_true(&format!("document.querySelector('#signup-invite').value === {}", json!(code)), "the code").await;
    guest.account_attempt("signup", "Bea", "another long password").await;
    guest.wait_connected().await;
    assert_eq!(me_name(&guest).await, "Bea");
    // The used code leaves the address bar.
    assert!(!guest.eval("location.href").await.as_str().unwrap().contains("invite"));
    // It was single use.
    let third = driver.browser(1280, 800).await;
    third.goto(&link).await;
    third.account_attempt("signup", "Cy", "yet another password").await;
    third.wait_true("document.querySelector('#signup-error').textContent !== ''", "used already").await;
    for b in [admin, guest, third] {
        b.close().await;
    }
}

#[tokio::test]
async fn a_session_follows_the_user_to_another_node_and_ends_everywhere() {
    let web = web_arg();
    let mut m = Mesh::start_accounts(3, &["--web", &web]).await;
    let driver = Driver::start();
    let laptop = driver.browser(1280, 800).await;
    laptop.goto(&m.nodes[0].url("/")).await;
    laptop.account("signup", "Dana", "dana's long password").await;
    laptop.say("from the laptop").await;
    laptop.wait_message("from the laptop").await;

    // Its node dies: the app moves on, still signed in, and goes on talking.
    m.nodes[0].kill9();
    laptop.say("after the crash").await;
    laptop.wait_true("document.querySelector('.status.ok') !== null", "connected again").await;
    let status = laptop.eval("document.querySelector('.status-text').textContent").await;
    assert!(!status.as_str().unwrap().contains("n1"), "on another node: {status}");
    assert_eq!(me_name(&laptop).await, "Dana");
    laptop.wait_message("after the crash").await;
    laptop.wait_true("document.querySelectorAll('.msg.pending, .msg.failed').length === 0", "all sent").await;

    // A phone signs in on another node and changes the password: the
    // laptop's session ends, and it asks to sign in again, saying why.
    let phone = driver.browser(390, 800).await;
    phone.goto(&m.nodes[2].url("/")).await;
    phone.account("signin", "Dana", "dana's long password").await;
    phone.click_text(".me .link", "Account").await;
    phone.find("#password-old").await.send_keys("dana's long password").await.unwrap();
    phone.find("#password-new").await.send_keys("a brand new password").await.unwrap();
    phone.click_text(".dialog button", "Change password").await;
    phone.wait_true("document.querySelector('#password-said').textContent.includes('changed')", "changed").await;
    on_sign_in_screen(&laptop).await;
    laptop.wait_true("document.querySelector('.auth-notice') !== null", "why the session ended").await;
    // Its own node is still down: it signs in again through another one.
    laptop.account("signin", "Dana", "a brand new password").await;
    assert_eq!(me_name(&laptop).await, "Dana");
    // The phone carries on with its new token.
    phone.find(".dialog button[aria-label=Close]").await.click().await.unwrap();
    phone.say("still here").await;
    phone.wait_message("still here").await;
    m.nodes[0].restart().unwrap();
    for b in [laptop, phone] {
        b.close().await;
    }
}

/// The sign-in screen in both themes; with MESHCHAT_UPDATE_SCREENSHOTS=1
/// also copied to docs/screenshots (the README shows them).
#[tokio::test]
async fn screenshots_of_the_sign_in_screen() {
    let (_d, n) = node(&[]);
    let driver = Driver::start();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    let update = std::env::var("MESHCHAT_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1");
    for (theme, width, height, file) in [
        ("light", 1280, 800, "sign-in-light.png"),
        ("dark", 1280, 800, "sign-in-dark.png"),
        ("dark", 390, 800, "sign-in-phone-dark.png"),
    ] {
        let b = driver.browser(width, height).await;
        b.goto(&n.url("/")).await;
        b.eval(&format!("localStorage.setItem('meshchat.theme', '{theme}') || true")).await;
        b.client.refresh().await.unwrap();
        on_sign_in_screen(&b).await;
        b.find("#tab-signin").await.click().await.unwrap();
        assert_eq!(b.theme().await, theme);
        // The form fits the screen: nothing wider than the viewport.
        let fits = "document.documentElement.scrollWidth <= window.innerWidth";
        assert_eq!(b.eval(fits).await, true, "{file}: wider than the screen");
        b.screenshot(&out.join(file)).await;
        if update {
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::copy(out.join(file), docs.join(file)).unwrap();
        }
        b.close().await;
    }
}
