//! What the browser remembers between visits, in localStorage.

use meshchat_shared::client::OutboxEntry;

use crate::account::{Session, Who};
use meshchat_shared::client::nodes::NodeList;
use serde::{Serialize, de::DeserializeOwned};

const NAME: &str = "meshchat.name";
const THEME: &str = "meshchat.theme";
const ROOMS: &str = "meshchat.rooms";
const CURRENT: &str = "meshchat.room";
const NODES: &str = "meshchat.nodes";
const MUTED: &str = "meshchat.muted";
/// Not to be disturbed: shared by this browser's tabs at once, whichever
/// of them shows notifications.
const DND: &str = "meshchat.dnd";
const OUTBOX: &str = "meshchat.outbox";
const SESSION: &str = "meshchat.session";
const NOTIFY: &str = "meshchat.notify";
const LANG: &str = "meshchat.lang";
const INPUT: &str = "meshchat.input";
const AUTO_AWAY: &str = "meshchat.auto-away";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn other(self) -> Theme {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub fn get(key: &str) -> Option<String> {
    storage()?.get_item(key).ok()?
}

pub fn set(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

pub fn get_json<T: DeserializeOwned>(key: &str) -> Option<T> {
    serde_json::from_str(&get(key)?).ok()
}

pub fn set_json<T: Serialize>(key: &str, value: &T) {
    if let Ok(text) = serde_json::to_string(value) {
        set(key, &text);
    }
}

pub fn name() -> Option<String> {
    get(NAME).filter(|n| meshchat_shared::limits::validate_name(n).is_ok())
}

pub fn set_name(name: &str) {
    set(NAME, name);
}

fn remove(key: &str) {
    if let Some(s) = storage() {
        let _ = s.remove_item(key);
    }
}

/// What `room` may interrupt with (saved per room, in this browser).
pub fn notify_level(room: &str, dm: bool) -> crate::rooms::Notify {
    let saved: std::collections::BTreeMap<String, String> = get_json(NOTIFY).unwrap_or_default();
    crate::rooms::Notify::parse(saved.get(room).map(String::as_str), dm)
}

pub fn set_notify_level(room: &str, level: crate::rooms::Notify) {
    let mut saved: std::collections::BTreeMap<String, String> = get_json(NOTIFY).unwrap_or_default();
    saved.insert(room.to_owned(), level.as_str().to_owned());
    set_json(NOTIFY, &saved);
}

/// The signed-in session, if any.
pub fn session() -> Option<Session> {
    get_json(SESSION)
}

pub fn save_session(s: &Session) {
    set_json(SESSION, s);
}

/// Who this browser last spoke as: an account's session, else a guest's name.
pub fn who() -> Option<Who> {
    session().map(Who::Account).or_else(|| name().map(Who::Guest))
}

/// Remembers `who` (and forgets the other kind); `None` forgets both.
pub fn save_who(who: Option<&Who>) {
    remove(SESSION);
    remove(NAME);
    match who {
        Some(Who::Account(s)) => save_session(s),
        Some(Who::Guest(n)) => set_name(n),
        None => {}
    }
}

/// The theme chosen with the toggle, if ever.
pub fn saved_theme() -> Option<Theme> {
    match get(THEME)?.as_str() {
        "light" => Some(Theme::Light),
        "dark" => Some(Theme::Dark),
        _ => None,
    }
}

pub fn save_theme(t: Theme) {
    set(THEME, t.as_str());
}

/// The language chosen in the account panel, if any.
pub fn saved_lang() -> Option<String> {
    get(LANG)
}

/// `None`: as the browser says.
pub fn save_lang(lang: Option<crate::i18n::Lang>) {
    match lang {
        Some(l) => set(LANG, l.tag()),
        None => remove(LANG),
    }
}

/// Picks the language (the saved choice, else the browser's) and says it
/// on `<html lang>`, for screen readers and the browser's own widgets.
pub fn apply_lang() {
    let browser: Vec<String> = web_sys::window()
        .map(|w| w.navigator().languages().iter().filter_map(|l| l.as_string()).collect())
        .unwrap_or_default();
    let lang = crate::i18n::Lang::pick(saved_lang().as_deref(), browser.iter().map(String::as_str));
    crate::i18n::set(lang);
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = root.set_attribute("lang", lang.tag());
    }
}

/// When someone last used this browser (any tab), in ms.
pub fn last_input() -> u64 {
    get(INPUT).and_then(|v| v.parse().ok()).unwrap_or(0)
}

pub fn set_last_input(ms: u64) {
    set(INPUT, &ms.to_string());
}

/// This browser set its person away for being idle (and will undo it).
pub fn auto_away() -> bool {
    get(AUTO_AWAY).is_some()
}

pub fn set_auto_away(on: bool) {
    if on { set(AUTO_AWAY, "1") } else { remove(AUTO_AWAY) }
}

/// The system's `prefers-color-scheme`.
pub fn system_theme() -> Theme {
    let dark = web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches());
    if dark { Theme::Dark } else { Theme::Light }
}

/// Sets `data-theme` on `<html>`, which the stylesheet keys on.
pub fn apply_theme(t: Theme) {
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-theme", t.as_str());
    }
}

/// The joined rooms and the one on screen.
pub fn rooms() -> (Vec<String>, Option<String>) {
    let rooms: Vec<String> = get_json(ROOMS).unwrap_or_else(|| vec!["general".to_owned()]);
    (rooms, get(CURRENT))
}

pub fn save_rooms(rooms: &[String], current: Option<&str>) {
    set_json(ROOMS, &rooms);
    match current {
        Some(c) => set(CURRENT, c),
        None => remove(CURRENT),
    }
}

/// The nodes of the mesh this browser has heard of.
pub fn nodes() -> NodeList {
    get_json(NODES).unwrap_or_default()
}

pub fn save_nodes(nodes: &NodeList) {
    set_json(NODES, nodes);
}

pub fn dnd() -> bool {
    get(DND).is_some_and(|v| v.starts_with('1'))
}

/// Set here (by hand, or idle away) at `at`: what the nodes say of a
/// profile asked for before that does not undo it.
pub fn set_dnd(on: bool, at: u64) {
    set(DND, &format!("{}{at}", if on { '1' } else { '0' }));
}

/// What the nodes said of this person, asked at `asked`.
pub fn dnd_from_node(on: bool, asked: u64) {
    let set_at = get(DND).and_then(|v| v.get(1..)?.parse::<u64>().ok()).unwrap_or(0);
    if asked >= set_at {
        set_dnd(on, asked);
    }
}

pub fn muted() -> bool {
    get(MUTED).as_deref() == Some("1")
}

pub fn set_muted(m: bool) {
    set(MUTED, if m { "1" } else { "0" });
}

/// Messages typed and not yet acknowledged, per name: they go out on the
/// next connection, even after a reload.
pub fn outbox(name: &str) -> Vec<OutboxEntry> {
    get_json(&format!("{OUTBOX}.{name}")).unwrap_or_default()
}

pub fn save_outbox(name: &str, entries: &[OutboxEntry]) {
    set_json(&format!("{OUTBOX}.{name}"), &entries);
}

/// Half-written messages, one key per person and room (a keystroke writes
/// one room's, not all of them); other tabs hear of each through the
/// `storage` event.
const DRAFT: &str = "meshchat.draft.";

pub fn draft_key(user: &str, room: &str) -> String {
    format!("{DRAFT}{user}.{room}")
}

/// The room a draft key of `user`'s names.
pub fn draft_room<'a>(user: &str, key: &'a str) -> Option<&'a str> {
    key.strip_prefix(DRAFT)?.strip_prefix(user)?.strip_prefix('.')
}

pub fn drafts(user: &str) -> std::collections::HashMap<String, String> {
    draft_keys(user).into_iter().filter_map(|k| Some((draft_room(user, &k)?.to_owned(), get(&k)?))).collect()
}

/// Keeps `text` as `room`'s draft (none when it is empty).
pub fn save_draft(user: &str, room: &str, text: &str) {
    let key = draft_key(user, room);
    if text.is_empty() { remove(&key) } else { set(&key, text) }
}

/// Signing out forgets them.
pub fn forget_drafts(user: &str) {
    for k in draft_keys(user) {
        remove(&k);
    }
}

fn draft_keys(user: &str) -> Vec<String> {
    let Some(s) = storage() else { return Vec::new() };
    let n = s.length().unwrap_or(0);
    (0..n).filter_map(|i| s.key(i).ok().flatten()).filter(|k| draft_room(user, k).is_some()).collect()
}
