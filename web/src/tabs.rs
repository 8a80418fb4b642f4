//! Several tabs of the app in one browser, kept in step over a
//! BroadcastChannel: the theme, who is signed in and the mute switch follow
//! from one tab to the others, and a new-message sound plays in one tab only.
//!
//! Tabs send a heartbeat every second saying whether they are visible. The
//! sound plays only when no tab is visible (someone looking at a tab sees
//! the message), and then only in the tab with the lowest id among those
//! heard from lately, so that three hidden tabs make one sound, not three.

use std::collections::HashMap;
use std::time::Duration;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::account::Who;
use crate::prefs::{self, Theme};

const CHANNEL: &str = "meshchat";
/// A tab not heard from for this long is gone.
const STALE_MS: f64 = 3_500.0;

/// Between our own tabs only, so serde's default (externally tagged) form:
/// an internally tagged enum decodes through a buffer whose code added
/// 12 KB to the wasm.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Note {
    Beat {
        id: u64,
        visible: bool,
    },
    Bye {
        id: u64,
    },
    Theme {
        v: String,
    },
    /// Signed in (the session's JSON), a guest's name, or signed out.
    Who {
        session: Option<String>,
        guest: Option<String>,
    },
    Mute {
        v: bool,
    },
}

struct State {
    id: u64,
    channel: Option<web_sys::BroadcastChannel>,
    /// Other tabs: id → (last heard, visible).
    peers: HashMap<u64, (f64, bool)>,
    audio: Option<web_sys::AudioContext>,
}

/// The app's handle on its sibling tabs. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Tabs {
    state: StoredValue<State, LocalStorage>,
    pub muted: RwSignal<bool>,
    theme: RwSignal<Theme>,
    /// Who this page speaks as, to tell whether another tab's is new.
    who: RwSignal<Option<Who>>,
    /// New messages in the room looked at, for the screen reader.
    pub heard: RwSignal<crate::announce::Heard>,
}

fn visible() -> bool {
    !document().hidden()
}

impl Tabs {
    /// Joins the channel; `theme` and who is signed in follow the other tabs.
    pub fn start(theme: RwSignal<Theme>, who: RwSignal<Option<Who>>) -> Tabs {
        let id = (js_sys::Math::random() * 9e15) as u64;
        let channel = web_sys::BroadcastChannel::new(CHANNEL).ok();
        let state = StoredValue::new_local(State { id, channel, peers: HashMap::new(), audio: None });
        let heard = RwSignal::new(crate::announce::Heard::default());
        let tabs = Tabs { state, muted: RwSignal::new(prefs::muted()), theme, who, heard };
        tabs.listen();
        tabs.post(&Note::Beat { id, visible: visible() });
        let _ =
            set_interval_with_handle(move || tabs.post(&Note::Beat { id, visible: visible() }), Duration::from_secs(1));
        // Say goodbye when the page goes, so the others stop counting on us.
        let bye = Closure::<dyn Fn()>::new(move || tabs.post(&Note::Bye { id }));
        let _ = window().add_event_listener_with_callback("pagehide", bye.as_ref().unchecked_ref());
        bye.forget();
        // Browsers start audio only after a gesture: prepare it on the first one.
        let unlock = Closure::<dyn Fn()>::new(move || tabs.audio());
        for ev in ["pointerdown", "keydown"] {
            let _ = window().add_event_listener_with_callback(ev, unlock.as_ref().unchecked_ref());
        }
        unlock.forget();
        tabs
    }

    fn listen(self) {
        let on_message = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let Some(text) = ev.data().as_string() else {
                return;
            };
            let Ok(note) = serde_json::from_str::<Note>(&text) else {
                return;
            };
            match note {
                Note::Beat { id, visible } => self.state.update_value(|s| {
                    s.peers.insert(id, (js_sys::Date::now(), visible));
                }),
                Note::Bye { id } => self.state.update_value(|s| {
                    s.peers.remove(&id);
                }),
                Note::Theme { v } => {
                    let t = if v == "dark" { Theme::Dark } else { Theme::Light };
                    if self.theme.get_untracked() != t {
                        self.theme.set(t);
                    }
                }
                // Another tab signed in or out: this one follows. The session
                // comes with the note: localStorage reaches other tabs later.
                Note::Who { session, guest } => {
                    let session = session.and_then(|s| serde_json::from_str(&s).ok());
                    let who = session.map(Who::Account).or_else(|| guest.map(Who::Guest));
                    if self.who.get_untracked() != who {
                        prefs::save_who(who.as_ref());
                        let _ = window().location().reload();
                    }
                }
                Note::Mute { v } => self.muted.set(v),
            }
        });
        self.state.with_value(|s| {
            if let Some(c) = &s.channel {
                c.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            }
        });
        on_message.forget();
    }

    fn post(&self, note: &Note) {
        let Ok(text) = serde_json::to_string(note) else {
            return;
        };
        self.state.with_value(|s| {
            if let Some(c) = &s.channel {
                let _ = c.post_message(&wasm_bindgen::JsValue::from_str(&text));
            }
        });
    }

    pub fn share_theme(&self, t: Theme) {
        self.post(&Note::Theme { v: t.as_str().to_owned() });
    }

    /// This tab signed in (or out): the others follow.
    pub fn share_who(&self, who: Option<&Who>) {
        let note = match who {
            Some(Who::Account(s)) => Note::Who { session: serde_json::to_string(s).ok(), guest: None },
            Some(Who::Guest(n)) => Note::Who { session: None, guest: Some(n.clone()) },
            None => Note::Who { session: None, guest: None },
        };
        self.post(&note);
    }

    pub fn toggle_mute(&self) {
        let m = !self.muted.get_untracked();
        self.muted.set(m);
        prefs::set_muted(m);
        self.post(&Note::Mute { v: m });
    }

    /// New messages from others came: those in the room looked at are told
    /// to a screen reader; the ones each room's setting lets through chime
    /// and, where allowed, show a browser notification; in one hidden tab
    /// only, and not while someone looks at a tab.
    pub fn alert(&self, chat: RwSignal<meshchat_shared::client::Chat>) {
        // Untracked: taking the alerts changes nothing on screen.
        let alerts = chat.try_update_untracked(|c| {
            c.take_fresh();
            c.take_alerts()
        });
        if visible()
            && let Some(alerts) = &alerts
        {
            self.announce(chat, alerts);
        }
        let due: Vec<_> = chat.with_untracked(|c| {
            alerts
                .unwrap_or_default()
                .into_iter()
                .filter(|a| {
                    let dm = crate::rooms::is_dm(&a.room, c.room(&a.room).and_then(|r| r.info.as_ref()));
                    prefs::notify_level(&a.room, dm).alerts(a.mention)
                })
                .map(|a| {
                    let room = c.room(&a.room).map(|r| crate::rooms::title(&r.name, r.info.as_ref(), &c.name));
                    (a, room.unwrap_or_default())
                })
                .collect()
        });
        // Not to be disturbed: as this browser's tabs last heard (any of them).
        if due.is_empty() || visible() || !self.leads() || prefs::dnd() {
            return;
        }
        if !self.muted.get_untracked() {
            self.play();
        }
        for (a, title) in due.iter().rev().take(3) {
            notify(&crate::i18n::fill(crate::i18n::t().in_room, &[&a.author, title]), &a.text, &a.room);
        }
    }

    fn announce(&self, chat: RwSignal<meshchat_shared::client::Chat>, alerts: &[meshchat_shared::client::Alert]) {
        let Some((room, title)) = chat.with_untracked(|c| {
            let r = c.current_room()?;
            Some((r.name.clone(), crate::rooms::title(&r.name, r.info.as_ref(), &c.name)))
        }) else {
            return;
        };
        let here: Vec<crate::announce::Arrived> = alerts
            .iter()
            .filter(|a| a.room == room)
            .map(|a| (a.author.as_str(), a.text.as_str(), a.at.clone()))
            .collect();
        if !here.is_empty() {
            self.heard.update(|h| h.arrived(&title, here.into_iter()));
        }
    }

    /// This tab has the smallest id of those alive: the one that decides
    /// for the browser what is the browser's (being away).
    pub fn first(&self) -> bool {
        let now = js_sys::Date::now();
        self.state
            .with_value(|s| s.peers.iter().filter(|(_, (seen, _))| now - seen < STALE_MS).all(|(id, _)| *id > s.id))
    }

    /// This tab speaks for the browser: none of the others is looked at,
    /// and it has the smallest id of those alive.
    fn leads(&self) -> bool {
        let now = js_sys::Date::now();
        let (me, leader, someone_looks) = self.state.with_value(|s| {
            let live: Vec<(&u64, &(f64, bool))> =
                s.peers.iter().filter(|(_, (seen, _))| now - seen < STALE_MS).collect();
            let leader = live.iter().map(|(id, _)| **id).chain([s.id]).min().unwrap_or(s.id);
            (s.id, leader, live.iter().any(|(_, (_, v))| *v))
        });
        !someone_looks && me == leader
    }

    fn audio(&self) {
        self.state.update_value(|s| {
            if s.audio.is_none() {
                s.audio = web_sys::AudioContext::new().ok();
            }
            if let Some(a) = &s.audio {
                let _ = a.resume();
            }
        });
    }

    /// A short two-note chime.
    fn play(&self) {
        self.audio();
        self.state.with_value(|s| {
            if let Some(ctx) = &s.audio {
                let _ = chime(ctx);
            }
        });
        // Observable by tests and harmless: how many sounds this page made.
        if let Some(root) = document().document_element() {
            let n: u32 = root.get_attribute("data-sounds").and_then(|v| v.parse().ok()).unwrap_or(0);
            let _ = root.set_attribute("data-sounds", &(n + 1).to_string());
        }
    }
}

fn chime(ctx: &web_sys::AudioContext) -> Result<(), wasm_bindgen::JsValue> {
    let t = ctx.current_time();
    let osc = ctx.create_oscillator()?;
    let gain = ctx.create_gain()?;
    osc.set_type(web_sys::OscillatorType::Sine);
    osc.frequency().set_value_at_time(880.0, t)?;
    osc.frequency().set_value_at_time(660.0, t + 0.09)?;
    gain.gain().set_value_at_time(0.0001, t)?;
    gain.gain().exponential_ramp_to_value_at_time(0.2, t + 0.02)?;
    gain.gain().exponential_ramp_to_value_at_time(0.0001, t + 0.3)?;
    osc.connect_with_audio_node(&gain)?;
    gain.connect_with_audio_node(&ctx.destination())?;
    osc.start()?;
    osc.stop_with_when(t + 0.32)?;
    Ok(())
}

/// A browser notification, if the user allowed them (asked on a click,
/// never on load); one per room at a time (`tag`).
fn notify(title: &str, body: &str, room: &str) {
    if web_sys::Notification::permission() != web_sys::NotificationPermission::Granted {
        return;
    }
    let opts = web_sys::NotificationOptions::new();
    opts.set_body(body);
    opts.set_tag(room);
    let _ = web_sys::Notification::new_with_options(title, &opts);
}
