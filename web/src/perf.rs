//! Marks on the page's performance timeline, so the time from page load to
//! what a user sees can be read in a real browser (DevTools, or
//! `performance.getEntriesByName`, as the load benchmark does).

use std::cell::RefCell;

/// The app is mounted: the wasm is fetched, compiled and running.
pub const MOUNTED: &str = "meshchat:mounted";
/// The first `welcome` from a node.
pub const CONNECTED: &str = "meshchat:connected";
/// The first message is on the screen.
pub const FIRST_MESSAGE: &str = "meshchat:first-message";

thread_local! {
    static MARKED: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

/// Marks `name` the first time only: a reconnect is not a page load.
pub fn mark_once(name: &'static str) {
    let first = MARKED.with_borrow_mut(|m| {
        let first = !m.contains(&name);
        if first {
            m.push(name);
        }
        first
    });
    if first && let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}
