//! Single sign-on against a real OpenID provider: `oidc-provider` from npm
//! (installed by `scripts/setup --test`), run by node on 127.0.0.1, signing
//! people in through its own login form. Over a 2-node mesh: the first
//! sign-in makes the account under the provider's preferred name, the
//! session works on the other node, a second sign-in finds the same
//! account, the one-time code works once, and the account has no password.
//! In headless Chromium, the sign-in screen's button goes there and back.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use common::*;
use meshchat::infra::http::{Response, request};
use serde_json::json;

/// The provider, stopped when dropped.
struct Provider {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the provider on `port`, sending people back to `redirect`.
fn provider(port: u16, redirect: &str) -> Provider {
    let home = std::env::var("HOME").unwrap();
    let modules = std::path::Path::new(&home).join(".cache/meshchat/oidc-provider/node_modules");
    assert!(modules.is_dir(), "{} is missing: run scripts/setup --test", modules.display());
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/provider.mjs");
    std::fs::copy(script, dir.path().join("provider.mjs")).unwrap();
    std::os::unix::fs::symlink(&modules, dir.path().join("node_modules")).unwrap();
    let mut child = Command::new("node")
        .arg(dir.path().join("provider.mjs"))
        .env("PORT", port.to_string())
        .env("REDIRECT_URI", redirect)
        .env("AUTO_CONSENT", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs (scripts/setup --test installs it)");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.is_ok_and(|l| l.starts_with("listening"))), "the provider did not start");
    Provider { child, _dir: dir }
}

/// A browser's cookies, enough for the provider's pages.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    async fn go(&mut self, method: &str, url: &str, form: Option<&str>) -> Response {
        let cookie: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let cookie = cookie.join("; ");
        let mut headers = vec![("Cookie", cookie.as_str())];
        if form.is_some() {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        let r = request(method, url, &headers, form.map(str::as_bytes)).await.unwrap();
        for (name, value) in &r.headers {
            if name == "set-cookie"
                && let Some((k, v)) = value.split(';').next().and_then(|c| c.split_once('='))
            {
                self.0.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
        r
    }
}

/// Where a redirect goes, made absolute against `base`.
fn location(r: &Response, base: &str) -> String {
    let to = r.header("location").unwrap_or_else(|| panic!("no redirect: {} {}", r.status, r.text()));
    if to.starts_with('/') { format!("{base}{to}") } else { to.to_owned() }
}

/// Takes a browser (`jar`) from node `node` through the provider at
/// `issuer` as `user`, up to the node's callback: its URL.
async fn to_callback(jar: &mut Jar, node: &NodeProc, issuer: &str, user: &str) -> String {
    let start = jar.go("GET", &node.url("/api/sso/start"), None).await;
    assert_eq!(start.status, 303, "{}", start.text());
    let mut url = location(&start, issuer);
    assert!(url.starts_with(issuer) && url.contains("code_challenge="), "{url}");
    // The provider's pages: its login form, then back to the node.
    let callback = loop {
        let r = jar.go("GET", &url, None).await;
        if r.status == 200 && r.text().contains("name=\"login\"") {
            let r = jar.go("POST", &url, Some(&format!("prompt=login&login={user}&password=anything"))).await;
            url = location(&r, issuer);
            continue;
        }
        url = location(&r, issuer);
        if !url.starts_with(issuer) {
            break url;
        }
    };
    assert!(callback.starts_with(&node.url("/api/sso/callback")), "{callback}");
    callback
}

/// Signs `user` in from node `node` through the provider at `issuer`, as
/// a browser would; returns the session's token and name.
async fn sign_in(node: &NodeProc, issuer: &str, user: &str) -> (String, String) {
    let mut jar = Jar::default();
    let callback = to_callback(&mut jar, node, issuer, user).await;
    let back = jar.go("GET", &callback, None).await;
    let to = location(&back, "");
    let code = to.strip_prefix("/#sso=").unwrap_or_else(|| panic!("{to}"));
    let redeem = |code: String| async move {
        api("POST", &node.url("/api/sso/redeem"), None, Some(json!({ "code": code }))).await
    };
    let (status, session) = redeem(code.to_owned()).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(redeem(code.to_owned()).await.0, 401, "a code works once");
    (session["token"].as_str().unwrap().to_owned(), session["name"].as_str().unwrap().to_owned())
}

/// The nodes' flags for the provider at `port`; the secret in `dir`.
fn sso_flags(dir: &std::path::Path, port: u16) -> Vec<String> {
    let secret = dir.join("oidc-secret");
    std::fs::write(&secret, "meshchat-secret\n").unwrap();
    let issuer = format!("http://127.0.0.1:{port}");
    let flags = ["--oidc-issuer", &issuer, "--oidc-client-id", "meshchat", "--oidc-label", "Example ID"];
    let mut args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    args.extend(["--oidc-client-secret-file".to_owned(), secret.to_str().unwrap().to_owned()]);
    args
}

#[tokio::test]
async fn people_sign_in_through_the_operators_provider_on_any_node() {
    let dir = tempfile::tempdir().unwrap();
    let port = meshchat::tools::harness::free_port().unwrap();
    let issuer = format!("http://127.0.0.1:{port}");
    let args = sso_flags(dir.path(), port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let m = Mesh::start_accounts(2, &args).await;
    let (n1, n2) = (&m.nodes[0], &m.nodes[1]);
    assert_eq!(http_get(&n1.url("/api/auth")).await.1["sso"], "Example ID");
    let _provider = provider(port, &n1.url("/api/sso/callback"));

    let (token, name) = sign_in(n1, &issuer, "alice").await;
    assert_eq!(name, "alice");
    // The session is the mesh's: the other node takes it.
    eventually(std::time::Duration::from_secs(5), "n2 knows the session", || async { me(n2, &token).await.0 == 200 })
        .await;
    assert_eq!(me(n2, &token).await.1["name"], "alice");
    // Signed in again: the same account, not a second one.
    let (again, name) = sign_in(n1, &issuer, "alice").await;
    assert_eq!((name.as_str(), me(n1, &again).await.1["name"].as_str()), ("alice", Some("alice")));
    // The first account of the mesh is its admin: one account in all.
    let (_, people) = api("GET", &n1.url("/api/admin/people"), Some(&token), None).await;
    assert_eq!(people["people"].as_array().map(Vec::len), Some(1), "{people}");
    // No password to guess.
    assert_eq!(login(n1, "alice", "").await.0, 401);
    assert_eq!(login(n2, "alice", "anything").await.0, 401);
    // A flow nobody started is refused, in words for the app.
    let r = request("GET", &n1.url("/api/sso/callback?state=forged&code=x"), &[], None).await.unwrap();
    assert!(location(&r, "").starts_with("/#sso-error="), "{:?}", r.header("location"));
    // Another browser cannot finish someone's flow (a link sent to a victim
    // would sign them in as its sender): its answer is refused.
    let callback = to_callback(&mut Jar::default(), n1, &issuer, "mallory").await;
    let r = request("GET", &callback, &[], None).await.unwrap();
    assert!(location(&r, "").starts_with("/#sso-error="), "{:?}", r.header("location"));
}

#[tokio::test]
async fn the_sign_in_screens_button_goes_to_the_provider_and_back_signed_in() {
    let dir = tempfile::tempdir().unwrap();
    let port = meshchat::tools::harness::free_port().unwrap();
    let web = browser::dist().to_str().unwrap().to_owned();
    let mut args = sso_flags(dir.path(), port);
    args.extend(["--web".to_owned(), web]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let n = start_node_accounts("n1", &dir.path().join("n1"), 0, &args, None);
    let _provider = provider(port, &n.url("/api/sso/callback"));
    let driver = browser::Driver::start();
    let b = driver.browser(1280, 800).await;
    b.goto(&n.url("/")).await;
    b.wait_true("document.querySelector('a.sso') !== null", "the single sign-on button").await;
    assert_eq!(b.eval("document.querySelector('a.sso').innerText").await, "Sign in with Example ID");
    b.eval("(document.querySelector('a.sso').click(), true)").await;
    // The provider's own sign-in page.
    b.wait_true("document.querySelector('input[name=login]') !== null", "the provider's form").await;
    b.eval("(f => { f.login.value = 'bob'; f.password.value = 'anything'; f.submit(); })(document.querySelector('form')), true")
        .await;
    b.wait_true("(document.querySelector('.me-name') || {}).textContent === 'bob'", "signed in as bob").await;
    assert_eq!(b.eval("location.hash").await, "", "the code is gone from the address");
}
