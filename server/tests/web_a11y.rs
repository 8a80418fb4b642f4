//! Accessibility, measured: axe-core (fetched by `scripts/setup --test`)
//! runs in headless Chromium on each screen of the app (sign-in, the chat
//! with its members, search, a dialog, the account panel, the mesh map, who
//! is online), in both themes,
//! on a desktop and at phone width, and finds nothing.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use browser::{Browser, Driver, dist};
use common::*;

/// axe-core's script, at the version scripts/lib/common.sh pins.
fn axe() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let common = std::fs::read_to_string(root.join("scripts/lib/common.sh")).unwrap();
    let version = common.lines().find_map(|l| l.strip_prefix("AXE_VERSION=")).unwrap().trim().to_owned();
    let home = std::env::var("HOME").unwrap();
    let path = std::path::Path::new(&home).join(format!(".cache/meshchat/axe-core-{version}/axe.min.js"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup --test)", path.display()))
}

/// What axe-core finds on the page as it is now, one line per rule broken.
async fn violations(b: &Browser, axe: &str) -> Vec<String> {
    b.eval(&format!("(() => {{ if (!window.axe) {{ {axe} }} return true; }})()")).await;
    let found = b
        .eval(
            "axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v =>
                v.id + ' (' + v.impact + '): ' + v.help + ' at ' +
                v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))",
        )
        .await;
    serde_json::from_value(found).unwrap()
}

async fn check(b: &Browser, axe: &str, screen: &str, failures: &mut Vec<String>) {
    for v in violations(b, axe).await {
        failures.push(format!("{screen}: {v}"));
    }
}

/// The screens past the chat: each opened by the controls named (by
/// label, title or text), then shown by what the selector finds.
const SCREENS: &[(&str, &[&str], &str)] = &[
    ("search", &["Search messages"], ".search-panel"),
    ("a dialog", &["Create a room"], "[role=dialog]"),
    // With the list of sessions loaded.
    ("the account panel", &["Account"], "#sessions .session"),
    ("the admin console", &["Account", "Open the admin console"], "#admin-console .audit li"),
    ("the mesh map", &["Account", "Open the mesh map"], "#mesh-map .map-body svg, #mesh-map .map-body table"),
    ("who is online", &["show who"], ".members:not([hidden])"),
    ("a thread", &["Reply in thread"], ".thread-panel:not([hidden])"),
    ("the threads one follows", &["Threads"], "#threads-dialog"),
    // bob has no profile (no time zone): the card of someone who set nothing.
    ("a person's card", &["@bob"], "#profile-card"),
];

/// Clicks the first button or link whose label, title or text has `name`.
async fn click(b: &Browser, name: &str) -> bool {
    let clicked = b
        .eval(&format!(
            "(() => {{ const e = [...document.querySelectorAll('button, a')].find(e =>
                (e.getAttribute('aria-label') || e.title || e.textContent).trim().includes('{name}'));
                if (e) e.click(); return !!e; }})()"
        ))
        .await;
    clicked.as_bool() == Some(true)
}

async fn open(driver: &Driver, width: u32, theme: &str, url: &str, health: &str) -> Browser {
    let b = driver.browser(width, 800).await;
    b.goto(health).await;
    b.eval(&format!("localStorage.setItem('meshchat.theme', '{theme}') || true")).await;
    b.goto(url).await;
    b
}

#[tokio::test]
async fn every_screen_in_both_themes_and_at_phone_width_has_no_violations() {
    let axe = axe();
    let web = dist();
    let dir = tempfile::tempdir().unwrap();
    let node =
        start_node_accounts("n1", &dir.path().join("n1"), 0, &["--guests", "--web", web.to_str().unwrap()], None);
    let (mut poster, _) = Client::hello(&node.ws_url(), "bob").await;
    poster.join("general", None).await;
    for i in 0..5 {
        poster.say("general", &format!("m{i}"), &format!("hello **there** {i} @alice")).await;
    }
    let (status, alice) = register(&node, "alice", "a long password 1").await;
    assert_eq!(status, 201);
    // An entry in the audit log, for the console's list.
    assert_eq!(api("POST", &node.url("/api/invites"), Some(&token(&alice)), None).await.0, 201);
    let driver = Driver::start();
    let mut failures = Vec::new();
    for theme in ["light", "dark"] {
        for width in [1280, 390] {
            let at = format!("{theme}, {width}px");
            let b = open(&driver, width, theme, &node.url("/"), &node.url("/api/health")).await;
            b.wait_true("!!document.querySelector('#tab-guest')", "the sign-in screen").await;
            check(&b, &axe, &format!("sign-in ({at})"), &mut failures).await;
            // The first account, an admin: the mesh map is for admins.
            b.account("signin", "alice", "a long password 1").await;
            b.wait_connected().await;
            b.wait_message("hello there 4 @alice").await;
            check(&b, &axe, &format!("chat ({at})"), &mut failures).await;
            for (screen, buttons, shown_by) in SCREENS {
                let mut shown = true;
                // Up already (the people list, on a desktop): not closed by a click.
                let up = b.eval(&format!("!!document.querySelector('{shown_by}')")).await.as_bool() == Some(true);
                for button in buttons.iter().filter(|_| !up) {
                    if !click(&b, button).await {
                        failures.push(format!("{screen} ({at}): no '{button}' control found"));
                        shown = false;
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                if shown {
                    b.wait_true(&format!("document.querySelector('{shown_by}')"), screen).await;
                    check(&b, &axe, &format!("{screen} ({at})"), &mut failures).await;
                }
                // Closed by a fresh load of the page.
                b.goto(&node.url("/")).await;
                b.wait_connected().await;
            }
            b.close().await;
        }
    }
    failures.dedup();
    assert!(failures.is_empty(), "axe-core found:\n{}", failures.join("\n"));
}
