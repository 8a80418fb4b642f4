//! The rooms this browser keeps, so the app opens with its history when no
//! node answers (`keep.js`, IndexedDB): loaded into the chat at start,
//! written when a room changed (its newest messages, bounded by
//! `KEPT_MESSAGES`), forgotten at sign-out.

use js_sys::{Array, Function, Promise, Reflect};
use meshchat_shared::client::kept::KeptRoom;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// `window.meshchatKeep[name]`, if keep.js loaded.
fn call(name: &str, args: &[&str]) -> Option<Promise> {
    call_on("meshchatKeep", name, args)
}

/// `window[api][name](...args)`, a promise, if that script loaded.
pub fn call_on(api: &str, name: &str, args: &[&str]) -> Option<Promise> {
    let window: JsValue = web_sys::window()?.into();
    let api = Reflect::get(&window, &JsValue::from_str(api)).ok()?;
    let f: Function = Reflect::get(&api, &JsValue::from_str(name)).ok()?.dyn_into().ok()?;
    let args: Array = args.iter().map(|a| JsValue::from_str(a)).collect();
    f.apply(&api, &args).ok()?.dyn_into().ok()
}

/// Every room kept for `user`; none if the store cannot say.
pub async fn load(user: &str) -> Vec<KeptRoom> {
    let Some(p) = call("all", &[user]) else { return Vec::new() };
    let Ok(rows) = JsFuture::from(p).await else { return Vec::new() };
    Array::from(&rows)
        .iter()
        .filter_map(|v| v.as_string())
        .filter_map(|json| serde_json::from_str(&json).ok())
        .collect()
}

/// Keeps `room` for `user` (written in the background).
pub fn save(user: &str, room: &KeptRoom) {
    if let Ok(json) = serde_json::to_string(room) {
        let _ = call("put", &[user, &room.room, &json]);
    }
}

/// Forgets every room kept for `user`.
pub fn forget(user: &str) {
    let _ = call("forget", &[user]);
}
