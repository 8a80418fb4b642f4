//! Half-written messages kept per room across reloads and the browser's
//! tabs: localStorage, one key per room, written as they change; another
//! tab's typing arrives through the `storage` event. An edit in progress
//! is not kept (after a reload it would come back as a new message).
//! Signing out forgets them (`prefs::forget_drafts`).

use std::collections::HashMap;

use leptos::prelude::*;

use crate::prefs;

pub type Drafts = RwSignal<HashMap<String, String>>;

/// Fills `drafts` with what was kept for `user`, and keeps it from now on.
pub fn keep(drafts: Drafts, user: String, editing: Signal<bool>) {
    let kept = prefs::drafts(&user);
    drafts.set(kept.clone());
    // What storage holds, as far as this tab knows: only changes are written.
    let saved = StoredValue::new(kept);
    let writer = user.clone();
    Effect::new(move |_| {
        let editing = editing.get();
        drafts.with(|now| {
            saved.update_value(|was| {
                let changed: Vec<(&String, &String)> = now.iter().filter(|(r, t)| was.get(*r) != Some(t)).collect();
                for (room, text) in changed.into_iter().filter(|_| !editing) {
                    prefs::save_draft(&writer, room, text);
                    was.insert(room.clone(), text.clone());
                }
                let gone: Vec<String> = was.keys().filter(|r| !now.contains_key(*r)).cloned().collect();
                for room in gone {
                    prefs::save_draft(&writer, &room, "");
                    was.remove(&room);
                }
            });
        });
    });
    let listener = window_event_listener(leptos::ev::storage, move |ev| {
        let Some(key) = ev.key() else { return };
        let Some(room) = prefs::draft_room(&user, &key).map(str::to_owned) else { return };
        let text = ev.new_value().unwrap_or_default();
        // Known as saved first: this tab does not write it back.
        let put = |m: &mut HashMap<String, String>| {
            if text.is_empty() {
                m.remove(&room);
            } else {
                m.insert(room.clone(), text.clone());
            }
        };
        saved.update_value(put);
        drafts.update(put);
    });
    on_cleanup(move || listener.remove());
}
