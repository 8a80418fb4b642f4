//! The keyboard's ways around the app, beside Tab and the search's Ctrl+K:
//! Alt+↑/↓ to the room before or after in the sidebar, Alt+Shift+↑/↓ to
//! the next one with unread messages (Slack's keys); in the message list
//! ↑/↓ from one message to the next, whose actions Tab then reaches.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, KeyboardEvent};

use super::Ctx;

/// Alt+arrows anywhere in the app, for as long as the app is mounted.
pub fn between_rooms(ctx: Ctx) {
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        let forward = match ev.key().as_str() {
            "ArrowDown" => true,
            "ArrowUp" => false,
            _ => return,
        };
        if !ev.alt_key() || ev.ctrl_key() || ev.meta_key() {
            return;
        }
        let unread_only = ev.shift_key();
        let next = ctx.chat.with_untracked(|c| {
            let listed: Vec<(String, bool)> =
                c.rooms.values().map(|r| (r.name.clone(), crate::rooms::is_dm(&r.name, r.info.as_ref()))).collect();
            let unread = |room: &str| c.room(room).is_some_and(|r| r.unread > 0);
            crate::rooms::step(&listed, c.current.as_deref(), forward, |r| !unread_only || unread(r))
        });
        if let Some(room) = next {
            ev.prevent_default();
            ctx.act(|c| c.select(&room));
        }
    });
    on_cleanup(move || keys.remove());
}

/// ↑/↓ on the message list or a message in it: focus the message before or
/// after (from the list itself, ↑ starts at the newest). Focusing it scrolls
/// it into view, which moves the window at its edges.
pub fn between_messages(ev: &KeyboardEvent) {
    let forward = match ev.key().as_str() {
        "ArrowDown" => true,
        "ArrowUp" => false,
        _ => return,
    };
    if ev.alt_key() || ev.ctrl_key() || ev.meta_key() || ev.shift_key() {
        return;
    }
    let element = |t: Option<web_sys::EventTarget>| t.and_then(|t| t.dyn_into::<Element>().ok());
    let (Some(target), Some(list)) = (element(ev.target()), element(ev.current_target())) else { return };
    // The picker's emoji search keeps its arrows.
    if matches!(target.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT") {
        return;
    }
    let Ok(all) = list.query_selector_all(".msg") else { return };
    let msgs: Vec<HtmlElement> = (0..all.length()).filter_map(|i| all.get(i)?.dyn_into().ok()).collect();
    let at = target.closest(".msg").ok().flatten().and_then(|m| msgs.iter().position(|e| **e == m));
    let next = match (at, forward) {
        (Some(i), true) => msgs.get(i + 1),
        (Some(i), false) => i.checked_sub(1).and_then(|i| msgs.get(i)),
        (None, false) => msgs.last(),
        (None, true) => None,
    };
    if let Some(el) = next {
        ev.prevent_default();
        let _ = el.focus();
    }
}

/// Where the focus is inside the element `id`, if it is there: on the
/// element itself (`Some(None)`), or on a control of it, named by its label.
pub fn focus_in(id: &str) -> Option<Option<String>> {
    let doc = document();
    let active = doc.active_element()?;
    let row = doc.get_element_by_id(id)?;
    if active == row {
        return Some(None);
    }
    row.contains(Some(&active)).then(|| active.get_attribute("aria-label"))
}

/// After the row `id` was drawn anew (a reaction, an edit): the focus goes
/// back where it was in it, which the old elements took with them.
pub fn refocus(id: String, at: Option<String>) {
    request_animation_frame(move || {
        let Some(row) = document().get_element_by_id(&id) else { return };
        // The same control, else (it is gone: a picker closed) the message.
        let control = at.as_ref().and_then(|label| {
            row.query_selector(&format!("[aria-label=\"{}\"]", label.replace('"', "\\\""))).ok().flatten()
        });
        let target = control.or(Some(row));
        if let Some(el) = target.and_then(|e| e.dyn_into::<HtmlElement>().ok()) {
            let _ = el.focus();
        }
    });
}
