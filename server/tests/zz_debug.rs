#![allow(clippy::unwrap_used)]
mod browser;
mod common;
use browser::{Driver, dist};
use common::*;
#[tokio::test]
async fn debug() {
    let web = dist();
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(
        "n1",
        &dir.path().join("n1"),
        0,
        &["--web", web.to_str().unwrap(), "--rate", "10000", "--burst", "10000"],
    );
    let (mut poster, _) = Client::hello(&node.ws_url(), "poster").await;
    poster.join("general", None).await;
    for i in 0..600 {
        poster.say("general", &format!("m{i}"), &format!("message {i}")).await;
    }
    let driver = Driver::start();
    let b = driver.browser(1280, 800).await;
    b.goto(&node.url("/")).await;
    b.eval("(() => { window.__log = []; const t0 = performance.now(); const tick = () => { const l = document.querySelector('.messages'); if (l) window.__log.push([Math.round(performance.now()-t0), l.scrollTop, l.scrollHeight, l.dataset.window, document.querySelectorAll('.messages .msg').length, (document.querySelector('.messages .msg .body')||{}).textContent, [...document.querySelectorAll('.messages .msg .body')].slice(-1).map(e=>e.textContent)[0], l.clientHeight].join(' ')); if (window.__log.length < 4000) setTimeout(tick, 5); }; tick(); return true; })()").await;
    b.guest("reader").await;
    b.wait_message("message 599").await;
    for i in 600..800 {
        poster.say("general", &format!("m{i}"), &format!("message {i}")).await;
    }
    b.wait_message("message 799").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let log: Vec<String> = serde_json::from_value(b.eval("window.__log").await).unwrap();
    let mut last = String::new();
    for l in log {
        let k: String = l.split(' ').skip(1).collect::<Vec<_>>().join(" ");
        if k != last {
            println!("LOG {l}");
            last = k;
        }
    }
}
