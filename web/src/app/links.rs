//! Links to messages: a page opened at `#m=room/origin/seq` (on any node's
//! address) shows that message, loading older history until it is there;
//! so does a link to one followed inside the app; each message's "Copy
//! link" puts its link on the clipboard.

use leptos::prelude::*;

use super::Ctx;

/// Follows the page's link now, and each link the page is sent to.
pub fn follow(ctx: Ctx) {
    open_hash(&ctx);
    let on_hash = ctx.clone();
    let handle = window_event_listener(leptos::ev::hashchange, move |_| open_hash(&on_hash));
    on_cleanup(move || handle.remove());
}

fn open_hash(ctx: &Ctx) {
    let hash = window().location().hash().unwrap_or_default();
    let Some((room, origin, seq)) = crate::rooms::from_permalink(&hash) else { return };
    // Followed once: a reload shows the room as it was left.
    let _ = window().history().map(|h| h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/")));
    super::messages::show_message(ctx.clone(), room, super::messages::anchor_id(&origin, seq));
}

/// The address of a message, on this node's page.
pub fn of(room: &str, origin: &str, seq: u64) -> String {
    let here = window().location().origin().unwrap_or_default();
    format!("{here}/{}", crate::rooms::permalink(room, origin, seq))
}

/// Puts `text` on the clipboard (the browser may refuse: nothing to do then).
pub fn copy(text: &str) {
    let _ = window().navigator().clipboard().write_text(text);
}
