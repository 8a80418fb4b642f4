//! Files in the web app: a pasted picture shows as a thumbnail in another
//! browser, a file chosen with the paperclip downloads there with the same
//! bytes, a dropped file is shared, and an upload over the node's limit
//! says why and offers a retry.
//! Headless Chromium against a real node.
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use base64::Engine;
use browser::{Browser, Driver, dist};
use common::*;

/// A `File` in the page, from bytes.
fn js_file(bytes: &[u8], name: &str, mime: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!("new File([Uint8Array.from(atob('{b64}'), c => c.charCodeAt(0))], '{name}', {{type: '{mime}'}})")
}

/// Chooses `file` with the paperclip's file input.
async fn attach(b: &Browser, file: &str) {
    b.eval(&format!(
        "(() => {{ const dt = new DataTransfer(); dt.items.add({file});
           const input = document.querySelector('#attach-input'); input.files = dt.files;
           input.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()"
    ))
    .await;
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(640, 400, |x, y| image::Rgb([(x / 3) as u8, (y / 2) as u8, 200]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn paste_a_picture_download_a_file_and_see_why_an_upload_failed() {
    let dir = tempfile::tempdir().unwrap();
    let web = dist();
    let n =
        start_node("n1", &dir.path().join("n1"), 0, &["--web", web.to_str().unwrap(), "--max-file-bytes", "100000"]);
    let driver = Driver::start();
    let alice = driver.browser(1280, 800).await;
    let bob = driver.browser(1280, 800).await;
    alice.sign_in(&n.url("/"), "alice").await;
    bob.sign_in(&n.url("/"), "bob").await;

    // A screenshot pasted into the composer: bob sees its thumbnail.
    let file = js_file(&png(), "screenshot.png", "image/png");
    alice
        .eval(&format!(
            "(() => {{ const dt = new DataTransfer(); dt.items.add({file});
               document.querySelector('#composer-input').dispatchEvent(
                 new ClipboardEvent('paste', {{clipboardData: dt, bubbles: true, cancelable: true}}));
               return true; }})()"
        ))
        .await;
    bob.wait_true(
        "(() => { const i = document.querySelector('.file-picture img'); return !!i && i.complete && i.naturalWidth === 320; })()",
        "the thumbnail, made by the node",
    )
    .await;

    // A text file by the paperclip: bob downloads the same bytes.
    let text = "meeting notes: <b>not bold</b>\n";
    attach(&alice, &js_file(text.as_bytes(), "notes.txt", "text/plain")).await;
    bob.wait_true("document.querySelector('.file-card') !== null", "the file's card").await;
    let card = bob.eval("document.querySelector('.file-card').textContent").await;
    assert!(card.as_str().unwrap().contains("notes.txt"), "{card}");
    // The page's policy allows no fetch of blob: URLs: keep the Blob itself.
    bob.eval(
        "(window.saved = null, HTMLAnchorElement.prototype.click = function () {
            window.saved = {href: this.href, download: this.download}; },
          window.made = URL.createObjectURL, URL.createObjectURL = b => (window.blob = b, window.made(b)), true)",
    )
    .await;
    bob.eval("(document.querySelector('.file-card').click(), true)").await;
    bob.wait_true("window.saved !== null", "a download").await;
    assert_eq!(bob.eval("window.saved.download").await, "notes.txt");
    bob.eval("(window.blob.text().then(t => window.got = t), true)").await;
    bob.wait_true("typeof window.got === 'string'", "the downloaded bytes").await;
    assert_eq!(bob.eval("window.got").await, text);

    // A file dropped on the page is shared too.
    let dropped = js_file(b"dropped in", "dropped.txt", "text/plain");
    alice
        .eval(&format!(
            "(() => {{ const dt = new DataTransfer(); dt.items.add({dropped});
               document.body.dispatchEvent(new DragEvent('drop', {{dataTransfer: dt, bubbles: true, cancelable: true}}));
               return true; }})()"
        ))
        .await;
    bob.wait_true(
        "Array.from(document.querySelectorAll('.file-card')).some(c => c.textContent.includes('dropped.txt'))",
        "the dropped file",
    )
    .await;

    // Over the node's limit: the reason, and a retry.
    attach(&alice, &js_file(&vec![b'x'; 150_000], "huge.log", "text/plain")).await;
    alice.wait_true("document.querySelector('.upload.failed') !== null", "the failure").await;
    let why = alice.eval("document.querySelector('.upload.failed').textContent").await;
    assert!(why.as_str().unwrap().contains("at most"), "{why}");
    assert!(why.as_str().unwrap().contains("Retry"), "{why}");
    alice.eval("(Array.from(document.querySelectorAll('.upload button')).find(b => b.textContent === 'Discard').click(), true)").await;
    alice.wait_true("document.querySelector('.upload') === null", "discarded").await;
    alice.close().await;
    bob.close().await;
}
