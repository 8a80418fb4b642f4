//! Driving headless Chromium through chromedriver (WebDriver) for the web
//! app's tests: real browsers against a real node serving the web build.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub const WAIT: Duration = Duration::from_secs(15);

/// The web build the node serves; `scripts/test` builds it first.
pub fn dist() -> PathBuf {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist");
    assert!(
        dist.join("index.html").exists(),
        "the web app is not built: run scripts/build-web (scripts/test does) before the browser tests"
    );
    dist
}

fn free_port() -> u16 {
    meshchat::tools::harness::free_port().expect("a free port")
}

/// A chromedriver process; killed when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Driver {
    pub fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is not installed: run scripts/setup --test");
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// A new headless browser with its own empty profile.
    pub async fn browser(&self, width: u32, height: u32) -> Browser {
        self.browser_with(width, height, &[]).await
    }

    /// A browser with extra Chromium flags (`--force-dark-mode` makes the
    /// system prefer dark).
    pub async fn browser_with(&self, width: u32, height: u32, extra: &[&str]) -> Browser {
        self.browser_full(width, height, extra, json!({})).await
    }

    /// A browser whose person reads `lang` first (a BCP 47 tag).
    pub async fn browser_speaking(&self, width: u32, height: u32, lang: &str) -> Browser {
        let prefs = json!({"intl.accept_languages": lang});
        self.browser_full(width, height, &[&format!("--lang={lang}")], prefs).await
    }

    /// A browser whose profile allows notifications (as a user who said yes).
    pub async fn browser_notifying(&self, width: u32, height: u32) -> Browser {
        let prefs = json!({"profile.default_content_setting_values.notifications": 1});
        self.browser_full(width, height, &[], prefs).await
    }

    async fn browser_full(&self, width: u32, height: u32, extra: &[&str], prefs: Value) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        let mut options = json!({"binary": "/usr/bin/chromium", "args": args, "prefs": prefs});
        // Headless windows have a minimum width; a phone is emulated.
        if width < 600 {
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0, "touch": true}});
        }
        caps.insert("goog:chromeOptions".into(), options);
        // chromedriver now and then resets the connection that asks for a
        // session while it is busy starting another (seen in a fresh CI
        // run): asking again is what a person would do.
        let mut tries = 0;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&self.url).await {
                Ok(c) => break c,
                Err(e) if tries < 2 => {
                    tries += 1;
                    eprintln!("starting a browser failed ({e}), again");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Err(e) => panic!("start a browser: {e:?}"),
            }
        };
        Browser { client, _profile: profile }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Browser {
    pub client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("goto");
    }

    /// Runs a JS expression (`return …` is added) and gives its value.
    pub async fn eval(&self, expr: &str) -> Value {
        self.client.execute(&format!("return ({expr});"), vec![]).await.expect("execute script")
    }

    /// Waits until a JS expression is truthy.
    pub async fn wait_true(&self, expr: &str, what: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.client.execute(&format!("return !!({expr});"), vec![]).await;
            if matches!(v, Ok(Value::Bool(true))) {
                return;
            }
            if Instant::now() > deadline {
                let body = self.eval("document.body.innerText").await;
                panic!("timed out waiting for {what} ({expr}); page shows: {body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Presses keys together, as a person at the keyboard does (each down
    /// in order, then up): they go to whatever has the focus.
    pub async fn press(&self, chord: &[char]) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut keys = KeyActions::new("keyboard".into());
        for c in chord {
            keys = keys.then(KeyAction::Down { value: *c });
        }
        for c in chord.iter().rev() {
            keys = keys.then(KeyAction::Up { value: *c });
        }
        self.client.perform_actions(keys).await.expect("press keys");
    }

    /// Types `text` into whatever has the focus, key by key.
    pub async fn type_keys(&self, text: &str) {
        for c in text.chars() {
            self.press(&[c]).await;
        }
    }

    /// A DevTools command, through chromedriver (`goog/cdp/execute`).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.try_cdp(cmd, params).await.unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }

    pub async fn try_cdp(&self, cmd: &str, params: Value) -> Result<Value, fantoccini::error::CmdError> {
        self.client.issue_cmd(Cdp { cmd: cmd.to_owned(), params }).await
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    /// Opens the app and chats as a guest named `name` (the test nodes
    /// take guests).
    pub async fn sign_in(&self, url: &str, name: &str) {
        self.goto(url).await;
        self.guest(name).await;
    }

    /// On the sign-in screen: the guest tab, a name, go.
    pub async fn guest(&self, name: &str) {
        self.find("#tab-guest").await.click().await.unwrap();
        self.find("#name-input").await.send_keys(name).await.unwrap();
        self.find(".guest-form button[type=submit]").await.click().await.unwrap();
        self.wait_connected().await;
    }

    /// On the sign-in screen: a tab (`signin` or `signup`), name and
    /// password, go; waits until connected.
    pub async fn account(&self, tab: &str, name: &str, password: &str) {
        self.account_attempt(tab, name, password).await;
        self.wait_connected().await;
    }

    /// As [`Browser::account`], without waiting for the outcome.
    pub async fn account_attempt(&self, tab: &str, name: &str, password: &str) {
        self.find(&format!("#tab-{tab}")).await.click().await.unwrap();
        for (field, value) in [("name", name), ("password", password)] {
            let input = self.find(&format!("#{tab}-{field}")).await;
            input.clear().await.unwrap();
            input.send_keys(value).await.unwrap();
        }
        self.find("#auth-panel form button[type=submit]").await.click().await.unwrap();
    }

    /// Clicks the first element matching `css` whose text is `text`.
    pub async fn click_text(&self, css: &str, text: &str) {
        let expr = format!(
            "Array.from(document.querySelectorAll({})).find(e => e.textContent === {})",
            json!(css),
            json!(text)
        );
        self.wait_true(&expr, &format!("{css} {text:?}")).await;
        self.eval(&format!("({expr}).click(), true")).await;
    }

    pub async fn wait_connected(&self) {
        self.wait_true("document.querySelector('.status.ok') !== null", "the connected status").await;
        // Joined and synced: the room's first rows or its beginning are shown.
        self.wait_true(
            "document.querySelector('#composer-input') && !document.querySelector('#composer-input').disabled",
            "the composer",
        )
        .await;
    }

    /// Types a message into the composer and presses Enter.
    pub async fn say(&self, text: &str) {
        let input = self.find("#composer-input").await;
        input.send_keys(text).await.unwrap();
        input.send_keys("\u{E007}").await.unwrap();
    }

    /// Sets the composer's text at once (as a paste would).
    pub async fn paste(&self, text: &str) {
        self.client
            .execute(
                "const el = document.querySelector('#composer-input');
                 el.value = arguments[0];
                 el.dispatchEvent(new Event('input', { bubbles: true }));",
                vec![json!(text)],
            )
            .await
            .unwrap();
    }

    /// The text of every message body shown, in order.
    pub async fn bodies(&self) -> Vec<String> {
        let v = self.eval("Array.from(document.querySelectorAll('.msg .body')).map(e => e.textContent)").await;
        serde_json::from_value(v).unwrap()
    }

    /// Waits until a message with exactly this body is shown and confirmed
    /// (not pending); returns how many such are shown.
    pub async fn wait_message(&self, body: &str) -> usize {
        let expr = format!(
            "Array.from(document.querySelectorAll('.msg:not(.pending):not(.failed) .body')).filter(e => e.textContent === {}).length",
            json!(body)
        );
        self.wait_true(&format!("({expr}) > 0"), &format!("message {body:?}")).await;
        self.eval(&expr).await.as_u64().unwrap() as usize
    }

    pub async fn theme(&self) -> String {
        self.eval("document.documentElement.getAttribute('data-theme')").await.as_str().unwrap().to_owned()
    }

    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// A test that fails before `close` would leave Chromium running after
    /// chromedriver is gone: end whatever runs with this profile.
    fn drop(&mut self) {
        let profile = self._profile.path().display().to_string();
        // `--` so that pkill does not read the pattern as an option.
        let _ = Command::new("pkill")
            .args(["-f", "--", &format!("--user-data-dir={profile}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[derive(Debug)]
struct Cdp {
    cmd: String,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(json!({"cmd": self.cmd, "params": self.params}).to_string()))
    }
}
