//! The mesh map in the web app: an admin watches three nodes, one going
//! down while messages flow, and coming back to converge. Headless
//! Chromium against real nodes.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use std::path::Path;

use browser::{Driver, dist};
use common::*;
use serde_json::json;

async fn post(node: &NodeProc, token: &str, room: &str, id: &str) {
    let body = json!({"id": id, "body": format!("message {id}")});
    let (s, r) = api("POST", &node.url(&format!("/api/rooms/{room}/messages")), Some(token), Some(body)).await;
    assert_eq!(s, 200, "{r}");
}

#[tokio::test]
async fn the_mesh_map_shows_a_node_go_down_and_come_back() {
    let web = dist().to_str().unwrap().to_owned();
    let mut m = Mesh::start_accounts(3, &["--web", &web]).await;
    let admin = account_everywhere(&m, "root").await;
    let (s, _) = api("POST", &m.nodes[0].url("/api/rooms"), Some(&admin), Some(json!({"room": "ops"}))).await;
    assert_eq!(s, 201);
    for i in 0..3 {
        post(&m.nodes[0], &admin, "ops", &format!("a{i}")).await;
    }

    let driver = Driver::start();
    let b = driver.browser(1280, 1000).await;
    b.goto(&m.nodes[0].url("/")).await;
    b.account("signin", "root", "root's password").await;
    b.click_text(".me .link", "Account").await;
    b.click_text(".dialog button", "Open the mesh map").await;
    let rows_up = "document.querySelectorAll('.map-nodes tbody tr:not(:has(.down))').length";
    b.wait_true(&format!("{rows_up} === 3"), "three nodes answering").await;
    b.wait_true("document.querySelectorAll('.map-link.up').length === 3", "three links up").await;
    b.wait_true("document.querySelector('.map-summary').textContent.startsWith('Converged')", "converged").await;
    b.wait_true(
        "Array.from(document.querySelectorAll('.map-rooms th[scope=row]')).some(t => t.textContent === 'ops')",
        "the room on the map",
    )
    .await;

    // n3 goes away while messages flow elsewhere.
    m.nodes[2].kill9();
    b.wait_true("document.querySelectorAll('.map-node.down').length === 1", "n3 shown down").await;
    b.wait_true("document.querySelectorAll('.map-link.down').length === 2", "n3's links down").await;
    for i in 0..5 {
        post(&m.nodes[0], &admin, "ops", &format!("b{i}")).await;
    }
    b.wait_true("document.querySelector('.map-log').textContent.includes('n3 stopped answering')", "logged").await;

    // Back: it answers, catches up, and the map converges again.
    m.nodes[2].restart().unwrap();
    b.wait_true(&format!("{rows_up} === 3"), "n3 back").await;
    b.wait_true("document.querySelectorAll('.map-link.up').length === 3", "links up again").await;
    b.wait_true("document.querySelector('.map-summary').textContent.startsWith('Converged')", "converged again").await;
    b.wait_true("document.querySelector('.map-log').textContent.includes('n3 is back')", "logged back").await;
    let ops_cells = "Array.from(document.querySelectorAll('.map-rooms tr')).find(r => r.querySelector('th')?.textContent === 'ops')";
    b.wait_true(
        &format!("Array.from(({ops_cells}).querySelectorAll('td')).every(td => td.textContent === '9')"),
        "the room created and 8 messages, on every node",
    )
    .await;
    // Names from the nodes are text, never markup.
    assert_eq!(b.eval("document.querySelector('.mesh-map script, .mesh-map img') === null").await, true);

    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots/mesh-map.png");
    b.screenshot(&out).await;
    if std::env::var("MESHCHAT_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots/mesh-map.png");
        std::fs::copy(&out, docs).unwrap();
    }
    b.close().await;
}
