//! The admin console and the list of sessions in the web app, in headless
//! Chromium against a real node: a person sees where they are signed in
//! and signs another browser out; an admin deactivates someone (their page
//! is signed out), makes a reset link that the person opens to set a new
//! password, closes sign-ups, and reads it all in the audit log.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use std::time::Duration;

use browser::{Browser, Driver, dist};
use common::*;

fn node() -> (tempfile::TempDir, NodeProc) {
    let dir = tempfile::tempdir().unwrap();
    let web = dist().to_str().unwrap().to_owned();
    let n = start_node_accounts("n1", &dir.path().join("n1"), 0, &["--web", &web], None);
    (dir, n)
}

async fn open_account(b: &Browser) {
    b.click_text(".me .link", "Account").await;
    b.wait_true("document.querySelector('#sessions .session') !== null", "the sessions listed").await;
}

async fn text(b: &Browser, css: &str) -> String {
    b.eval(&format!("(document.querySelector('{css}') || {{}}).innerText || ''")).await.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn people_end_sessions_and_admins_run_the_community_from_the_console() {
    let (_d, n) = node();
    let (status, root) = register(&n, "root", "root password").await;
    assert_eq!(status, 201);
    let driver = Driver::start();
    let admin = driver.browser(1280, 900).await;
    admin.goto(&n.url("/")).await;
    admin.account("signin", "root", "root password").await;
    let bob_page = driver.browser(1280, 900).await;
    bob_page.goto(&n.url("/")).await;
    let (status, bob) = register(&n, "bob", "bob's password").await;
    assert_eq!(status, 201);
    let plans = serde_json::json!({"room": "plans", "title": "Secret plans", "topic": "", "private": true});
    assert_eq!(api("POST", &n.url("/api/rooms"), Some(&token(&bob)), Some(plans)).await.0, 201);
    bob_page.account("signin", "bob", "bob's password").await;
    let other = driver.browser(1280, 900).await;
    other.goto(&n.url("/")).await;
    other.account("signin", "bob", "bob's password").await;

    // bob sees three sessions (sign-up by the test, two browsers; this one
    // marked) and signs the others out.
    open_account(&bob_page).await;
    bob_page.wait_true("document.querySelectorAll('#sessions .session').length === 3", "three sessions").await;
    let list = text(&bob_page, "#sessions").await;
    assert!(list.contains("this device") && list.contains("Chrome on Linux") && list.contains("unknown app"), "{list}");
    assert_eq!(list.matches("this device").count(), 1, "{list}");
    bob_page.click_text("#sessions button", "Sign out everywhere else").await;
    other.wait_true("document.querySelector('#tab-signin') !== null", "the other browser signed out").await;
    bob_page.wait_true("document.querySelectorAll('#sessions .session').length === 1", "one session left").await;
    // bob's data, fetched with his session and saved as a zip.
    bob_page.eval("document.querySelector('#download-data').click(), true").await;
    let exported = "performance.getEntriesByType('resource').some(e => e.name.endsWith('/api/me/export') && e.responseStatus === 200)";
    bob_page.wait_true(exported, "the export downloaded").await;
    bob_page.find("#account-title").await;
    bob_page.eval("document.querySelector('.dialog .icon').click(), true").await;

    // The console: bob listed; deactivated, his page goes to sign-in.
    open_account(&admin).await;
    admin.click_text(".dialog button", "Open the admin console").await;
    admin.wait_true("document.querySelectorAll('.people-admin .session').length === 2", "two people").await;
    admin.find("#people-search").await.send_keys("bo").await.unwrap();
    admin.wait_true("document.querySelectorAll('.people-admin .session').length === 1", "bob alone").await;
    admin.click_text(".people-admin button", "Deactivate").await;
    admin.wait_true("document.querySelector('#admin-said').innerText.includes('done for bob')", "said").await;
    bob_page.wait_true("document.querySelector('#tab-signin') !== null", "bob signed out").await;
    bob_page.account_attempt("signin", "bob", "bob's password").await;
    bob_page
        .wait_true("document.querySelector('#signin-error').innerText.includes('not allowed')", "sign-in refused")
        .await;
    admin.wait_true("document.querySelector('.people-admin').innerText.includes('deactivated')", "shown").await;
    admin.click_text(".people-admin button", "Reactivate").await;
    admin.wait_true("!document.querySelector('.people-admin').innerText.includes('deactivated')", "active").await;

    // A reset link, opened by bob: a new password, signed in. (An
    // invitation made meanwhile shows when the console reloads.)
    assert_eq!(api("POST", &n.url("/api/invites"), Some(&token(&root)), None).await.0, 201);
    admin.click_text(".people-admin button", "Reset link").await;
    admin.wait_true("document.querySelector('#admin-said').innerText.includes('#reset=')", "the link").await;
    let said = text(&admin, "#admin-said").await;
    let url = said.split_whitespace().find(|w| w.contains("#reset=")).unwrap().to_owned();
    bob_page.goto(&url).await;
    bob_page.find("#reset-password").await.send_keys("a brand new password").await.unwrap();
    bob_page.find("form button[type=submit]").await.click().await.unwrap();
    bob_page.wait_connected().await;
    assert_eq!(login(&n, "bob", "bob's password").await.0, 401);
    assert_eq!(login(&n, "bob", "a brand new password").await.0, 200);

    // The invitation, listed, withdrawn.
    admin.wait_true("document.querySelectorAll('.invites li').length === 1", "the invitation listed").await;
    assert!(text(&admin, ".invites").await.contains("made by root"));
    admin.click_text(".invites button", "Revoke").await;
    admin.wait_true("document.querySelector('#admin-said').innerText.includes('withdrawn')", "withdrawn").await;
    admin.wait_true("document.querySelector('.invites') === null", "no invitation left").await;

    // bob's private room, by name and size only; archived from the console.
    admin
        .wait_true("(document.querySelector('.rooms-admin') || {}).innerText?.includes('plans')", "the room listed")
        .await;
    let rooms = text(&admin, ".rooms-admin").await;
    assert!(rooms.contains("plans") && rooms.contains("private · 1 members"), "{rooms}");
    assert!(!rooms.contains("Secret plans"), "no title of a private room: {rooms}");
    admin.click_text(".rooms-admin button", "Archive").await;
    admin.wait_true("document.querySelector('.rooms-admin').innerText.includes('archived')", "archived").await;
    let (_, list) = api("GET", &n.url("/api/admin/rooms"), Some(&token(&root)), None).await;
    assert_eq!(list["rooms"][0]["archived"], true, "{list}");

    // Sign-ups closed for the mesh; the audit log says it all.
    admin.eval("(s => { s.value = 'closed'; s.dispatchEvent(new Event('change')); })(document.querySelector('#registration')), true").await;
    admin.click_text(".admin-console button", "Save").await;
    admin.wait_true("document.querySelector('#admin-said').innerText.includes('every node')", "saved").await;
    assert_eq!(http_get(&n.url("/api/auth")).await.1["registration"], "closed");
    // Messages kept 30 days, mesh-wide.
    admin
        .eval("(i => { i.value = '30'; i.dispatchEvent(new Event('input')); i.form.requestSubmit(); })(document.querySelector('#mesh-retention')), true")
        .await;
    eventually(Duration::from_secs(5), "the policy set", || async {
        http_get(&n.url("/api/auth")).await.1["retention_days"] == 30
    })
    .await;
    admin.wait_true("document.querySelectorAll('.audit li').length === 8", "eight audit entries").await;
    let audit = text(&admin, ".audit").await;
    let actions = ["deactivate bob", "reactivate bob", "reset link bob", "root invite", "revoke invite"];
    for action in actions.into_iter().chain(["archive room plans", "registration closed", "retention 30 days"]) {
        assert!(audit.contains(action), "{action}: {audit}");
    }

    // bob deletes his account from the account panel: signed out, for good.
    open_account(&bob_page).await;
    bob_page.eval("(window.confirm = () => true, document.querySelector('.danger-zone').open = true, true)").await;
    bob_page.find("#delete-password").await.send_keys("a brand new password").await.unwrap();
    bob_page.click_text(".danger-zone button", "Delete my account").await;
    bob_page.wait_true("document.querySelector('#tab-signin') !== null", "signed out").await;
    assert_eq!(login(&n, "bob", "a brand new password").await.0, 401);
}

/// An account with two-factor sign-in (enrolled over the API): the
/// sign-in form asks for the code after the password; a recovery code
/// signs in.
#[tokio::test]
async fn the_sign_in_form_asks_for_the_second_factor() {
    let (_d, n) = node();
    let (_, s) = register(&n, "ada", "ada's password").await;
    let tok = token(&s);
    let (_, setup) = api("POST", &n.url("/api/2fa/setup"), Some(&tok), None).await;
    let secret = totp_rs::Secret::try_from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let code = totp_rs::Builder::new().with_secret(secret).build_noncompliant().generate(now).to_string();
    let enable = serde_json::json!({"secret": setup["secret"], "code": code, "password": "ada's password"});
    let (status, codes) = api("POST", &n.url("/api/2fa/enable"), Some(&tok), Some(enable)).await;
    assert_eq!(status, 200, "{codes}");
    let driver = Driver::start();
    let b = driver.browser(1280, 900).await;
    b.goto(&n.url("/")).await;
    b.account_attempt("signin", "ada", "ada's password").await;
    b.wait_true("document.querySelector('#signin-code') !== null", "the code asked for").await;
    b.find("#signin-code").await.send_keys("0000-0000-0000").await.unwrap();
    b.find("#auth-panel form button[type=submit]").await.click().await.unwrap();
    b.wait_true("document.querySelector('#signin-error').innerText.includes('wrong or was used already')", "wrong")
        .await;
    let input = b.find("#signin-code").await;
    input.clear().await.unwrap();
    input.send_keys(codes["codes"][3].as_str().unwrap()).await.unwrap();
    b.find("#auth-panel form button[type=submit]").await.click().await.unwrap();
    b.wait_connected().await;
}

/// Two-factor sign-in turned on in the account panel: the QR code shown as
/// an image, a code of the app and the password, ten recovery codes; then
/// every sign-in asks for a code, until it is turned off there.
#[tokio::test]
async fn two_factor_is_turned_on_and_off_in_the_account_panel() {
    let (_d, n) = node();
    assert_eq!(register(&n, "ada", "ada's password").await.0, 201);
    let driver = Driver::start();
    let b = driver.browser(1280, 900).await;
    b.goto(&n.url("/")).await;
    b.account("signin", "ada", "ada's password").await;
    open_account(&b).await;
    b.find("#tf-start").await.click().await.unwrap();
    b.wait_true("document.querySelector('#two-factor img.qr') !== null", "the QR code").await;
    assert_eq!(
        b.eval("document.querySelector('#two-factor img.qr').src.startsWith('data:image/svg+xml;base64,')").await,
        true
    );
    let secret = text(&b, "#tf-secret").await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let totp = totp_rs::Builder::new().with_secret(totp_rs::Secret::try_from_base32(secret.trim()).unwrap());
    b.find("#tf-code").await.send_keys(&totp.build_noncompliant().generate(now).to_string()).await.unwrap();
    b.find("#tf-password").await.send_keys("ada's password").await.unwrap();
    b.find("#two-factor button[type=submit]").await.click().await.unwrap();
    b.wait_true("document.querySelectorAll('#tf-codes li').length === 10", "ten recovery codes").await;
    let (status, body) = login(&n, "ada", "ada's password").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("code_required")));
    b.click_text("#two-factor button", "Done").await;
    b.find("#tf-password").await.send_keys("ada's password").await.unwrap();
    b.find("#two-factor button[type=submit]").await.click().await.unwrap();
    b.wait_true("document.querySelector('#tf-start') !== null", "off again").await;
    assert_eq!(login(&n, "ada", "ada's password").await.0, 200);
}
