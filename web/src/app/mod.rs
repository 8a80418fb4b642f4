//! The Leptos components: the chat state in a signal, and views of it.

mod admin;
mod admin_rooms;
mod avatar;
mod composer;
mod dialogs;
mod drafts;
mod fanout;
mod files;
mod followed;
mod format;
mod header;
mod icons;
mod keys;
mod lazy;
mod links;
mod list;
mod me;
mod members;
mod meshmap;
mod messages;
mod people;
mod search;
mod sessions;
mod sidebar;
mod signin;
mod suggest;
mod threads;
mod two_factor;

use std::collections::HashMap;
use std::time::Duration;

use leptos::prelude::*;

use crate::account::{Session, Who};
use crate::net::{Net, now_ms};
use crate::prefs::{self, Theme};
use crate::state::Chat;
use crate::tabs::Tabs;

/// Who is signed in, for the whole page: `None` shows the sign-in screen.
#[derive(Clone, Copy)]
pub struct Top {
    pub who: RwSignal<Option<Who>>,
    /// Said on the sign-in screen (why the session ended).
    pub notice: RwSignal<Option<String>>,
}

/// What every component reaches through context.
#[derive(Clone)]
pub struct Ctx {
    pub chat: RwSignal<Chat>,
    /// Who this shell speaks as.
    pub who: RwSignal<Who>,
    top: Top,
    pub net: Net,
    pub theme: RwSignal<Theme>,
    pub tabs: Tabs,
    /// Ticks every second, for what depends on time (typing, "today").
    pub now: RwSignal<u64>,
    /// Small screens: the room drawer is open.
    pub drawer: RwSignal<bool>,
    /// The members panel is open.
    pub members_open: RwSignal<bool>,
    /// The composer answers or edits a message, rather than writing anew.
    pub compose: RwSignal<Option<Compose>>,
    /// Which part of the current room the message list shows.
    pub window: RwSignal<crate::timeline::Window>,
    /// Profiles of the people shown, and whose card is open.
    pub people: people::People,
    /// The thread open beside the room: the room it is in, and its root.
    pub thread: RwSignal<Option<threads::Open>>,
    /// The current room's moderators include this person, for every
    /// message's actions (each its own signal: [`fanout`]).
    pub moderates: fanout::Fanout<bool>,
    /// The reply the thread's composer edits, if it edits one.
    pub thread_edit: RwSignal<Option<meshchat_shared::client::annotate::Target>>,
    /// Half-written messages by room, and by thread (`room/origin:seq`).
    pub drafts: drafts::Drafts,
}

/// What the composer is doing besides writing a new message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compose {
    Reply { origin: String, seq: u64, author: String, preview: String },
    Edit { origin: String, seq: u64 },
}

impl Ctx {
    /// Changes the state, then sends what it queued.
    pub fn act(&self, f: impl FnOnce(&mut Chat)) {
        self.chat.update(f);
        self.net.flush();
    }

    /// Back to the sign-in screen: the link closes, this browser and its
    /// other tabs forget the session (the caller revokes it, if it can).
    pub fn sign_out(&self, notice: Option<String>) {
        self.net.stop();
        // This browser's pushes end with the session (the node stops
        // pushing to it anyway: a subscription lives as long as its session).
        let (base, token) = (self.api_base(), self.token().unwrap_or_default());
        leptos::task::spawn_local(async move { drop(crate::push::disable(&base, &token).await) });
        // What this browser kept of the rooms goes with the session.
        crate::keep::forget(self.who.with_untracked(|w| w.name().to_owned()).as_str());
        prefs::forget_drafts(self.who.with_untracked(|w| w.name().to_owned()).as_str());
        prefs::save_who(None);
        self.tabs.share_who(None);
        self.top.notice.set(notice);
        self.top.who.set(None);
    }

    /// The session's token (`None` for a guest).
    pub fn token(&self) -> Option<String> {
        self.who.with_untracked(|w| w.token().map(str::to_owned))
    }

    /// The HTTP base of the node the link is on (the page's own may be
    /// down); `""` (the page's own) before the first connection.
    pub fn api_base(&self) -> String {
        self.chat
            .with_untracked(|c| {
                let on = c.node.as_deref();
                c.nodes.all().iter().find(|n| Some(n.id.as_str()) == on).map(|n| crate::account::http_base(&n.url))
            })
            .unwrap_or_default()
    }

    /// A new token for the same account (after a password change).
    pub fn renew(&self, session: Session) {
        let who = Who::Account(session.clone());
        prefs::save_who(Some(&who));
        self.tabs.share_who(Some(&who));
        // The shell stays; only a fresh page load reads this.
        self.top.who.update_untracked(|w| *w = Some(who.clone()));
        self.who.set(who);
        self.chat.update(|c| c.token = Some(session.token));
    }
}

pub fn use_ctx() -> Ctx {
    expect_context::<Ctx>()
}

#[component]
pub fn App() -> impl IntoView {
    prefs::apply_lang();
    let theme = RwSignal::new(prefs::saved_theme().unwrap_or_else(prefs::system_theme));
    Effect::new(move |_| prefs::apply_theme(theme.get()));
    follow_system_theme(theme);
    let top = Top { who: RwSignal::new(prefs::who()), notice: RwSignal::new(None) };
    let tabs = Tabs::start(theme, top.who);
    crate::perf::mark_once(crate::perf::MOUNTED);
    let on_in = Callback::new(move |who: Who| {
        tabs.share_who(Some(&who));
        top.notice.set(None);
        top.who.set(Some(who));
    });
    // Bumped to fetch the sign-in screen's module again after it could not come.
    let again = RwSignal::new(0u32);
    view! {
        {move || match top.who.get() {
            None => {
                again.track();
                let retry = Callback::new(move |()| again.update(|n| *n += 1));
                signin::screen(top.notice.get_untracked(), on_in, retry).into_any()
            }
            Some(who) => view! { <Shell who theme tabs top/> }.into_any(),
        }}
    }
}

/// Joins the rooms the user is a member of and this page is not in.
fn sync_my_rooms(ctx: &Ctx) {
    let Some(token) = ctx.token() else { return };
    let (ctx, base) = (ctx.clone(), ctx.api_base());
    leptos::task::spawn_local(async move {
        let Ok(mine) = crate::api::my_rooms(&base, &token).await else { return };
        let new: Vec<_> =
            ctx.chat.with_untracked(|c| mine.into_iter().filter(|i| !c.rooms.contains_key(&i.room)).collect());
        if new.is_empty() {
            return;
        }
        ctx.act(|c| {
            for info in new {
                if c.add_room(&info.room).is_ok()
                    && let Some(r) = c.rooms.get_mut(&info.room)
                {
                    r.info = Some(info);
                }
            }
        });
    });
}

/// Until the user picks a theme, the app follows the system's.
fn follow_system_theme(theme: RwSignal<Theme>) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let Some(mql) = window().match_media("(prefers-color-scheme: dark)").ok().flatten() else {
        return;
    };
    let on_change = Closure::<dyn Fn(web_sys::MediaQueryListEvent)>::new(move |ev: web_sys::MediaQueryListEvent| {
        if prefs::saved_theme().is_none() {
            theme.set(if ev.matches() { Theme::Dark } else { Theme::Light });
        }
    });
    let _ = mql.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
    // The listener lives as long as the page.
    on_change.forget();
}

#[component]
fn Shell(who: Who, theme: RwSignal<Theme>, tabs: Tabs, top: Top) -> impl IntoView {
    let name = who.name().to_owned();
    let (rooms, current) = prefs::rooms();
    let mut state = Chat::new(&name, &rooms, current.as_deref());
    state.token = who.token().map(str::to_owned);
    // What was typed and never acknowledged, before a reload, goes out again.
    state.restore_outbox(prefs::outbox(&name));
    let chat = RwSignal::new(state);
    let net = Net::start(chat, tabs);
    let now = RwSignal::new(now_ms());
    let wide = window().inner_width().ok().and_then(|w| w.as_f64()).is_some_and(|w| w >= 1100.0);
    let who = RwSignal::new(who);
    let (drawer, members_open) = (RwSignal::new(false), RwSignal::new(wide));
    let compose = RwSignal::new(None);
    let window = RwSignal::new(crate::timeline::Window::Follow);
    let people = people::People::new();
    let drafts = RwSignal::new(HashMap::<String, String>::new());
    let editing = Signal::derive(move || matches!(compose.get(), Some(Compose::Edit { .. })));
    drafts::keep(drafts, chat.with_untracked(|c| c.name.clone()), editing);
    let ctx = Ctx {
        chat,
        who,
        top,
        net,
        theme,
        tabs,
        now,
        drawer,
        members_open,
        compose,
        window,
        people,
        thread: RwSignal::new(None),
        thread_edit: RwSignal::new(None),
        moderates: fanout::Fanout::new(Memo::new(move |_| {
            chat.with(|c| crate::rooms::moderates(c.current_room().and_then(|r| r.info.as_ref())))
        })),
        drafts,
    };
    provide_context(ctx.clone());
    // The nodes refused the session: back to the sign-in screen, saying why.
    let ended = ctx.clone();
    Effect::new(move |_| {
        if chat.with(|c| c.signed_out) {
            let why = chat.with_untracked(|c| c.notice.clone());
            ended.sign_out(Some(why.unwrap_or_else(|| crate::i18n::t().session_ended.into())));
        }
    });

    // Rooms one was added to (or a conversation someone started) show up
    // in the sidebar: asked for now and every 10 s.
    if ctx.token().is_some() {
        let sync = ctx.clone();
        sync_my_rooms(&sync);
        let _ = set_interval_with_handle(move || sync_my_rooms(&sync), Duration::from_secs(10));
    }
    // Looking at a room reads it: a read marker goes out (every 2 s at
    // most), so other tabs, devices and nodes count it read.
    let reader = ctx.clone();
    let _ = set_interval_with_handle(
        move || {
            if document().hidden() {
                return;
            }
            if let Some(room) = reader.chat.with_untracked(|c| c.current.clone()) {
                // Untracked: nothing on screen changes for it.
                let mut queued = false;
                let thread = reader.thread.get_untracked();
                reader.chat.update_untracked(|c| {
                    queued = c.mark_read(&room, now_ms());
                    // The thread open beside it is read too.
                    if let Some(open) = thread.as_ref().filter(|t| t.room == room) {
                        queued |= c.read_thread(&room, &open.root, now_ms());
                    }
                });
                if queued {
                    reader.net.flush();
                }
            }
        },
        Duration::from_secs(2),
    );
    // Time passes, for what shows it (typing, "today"); the link ticks the outbox.
    let _ = set_interval_with_handle(move || now.set(now_ms()), Duration::from_secs(1));
    keep_rooms(chat, now, name.clone());
    keys::between_rooms(ctx.clone());
    links::follow(ctx.clone());
    people::follow(&ctx);
    people::idle_away(&ctx);
    // Keep the outbox across reloads, written only when it changed.
    let kept = StoredValue::new(String::new());
    Effect::new(move |_| {
        let outbox = chat.with(|c| c.outbox());
        let json = serde_json::to_string(&outbox).unwrap_or_default();
        if kept.with_value(|k| *k != json) {
            prefs::save_outbox(&name, &outbox);
            kept.set_value(json);
        }
    });
    // Remember the rooms; show unread counts in the title.
    Effect::new(move |_| {
        let (rooms, current, unread, room) = chat.with(|c| {
            (c.rooms.keys().cloned().collect::<Vec<_>>(), c.current.clone(), c.unread_total(), c.current.clone())
        });
        prefs::save_rooms(&rooms, current.as_deref());
        let room = room.map(|r| format!(" · #{r}")).unwrap_or_default();
        let title = if unread > 0 { format!("({unread}) meshchat{room}") } else { format!("meshchat{room}") };
        document().set_title(&title);
    });

    view! {
        <div class="shell" class:drawer-open=move || drawer.get() class:members-open=move || members_open.get()>
            <sidebar::Sidebar/>
            <div class="scrim" aria-hidden="true" on:click=move |_| { drawer.set(false); }></div>
            <main class="main">
                <header::Header/>
                <header::Banners/>
                <list::MessageList/>
                <composer::Composer/>
            </main>
            <members::Members/>
            <threads::ThreadPanel/>
            <people::Card/>
        </div>
    }
}

/// The rooms this browser keeps for reading offline: put back at start
/// (a room a node has already spoken for keeps the node's word), then
/// written every few seconds for each room whose entries changed.
fn keep_rooms(chat: RwSignal<Chat>, now: RwSignal<u64>, name: String) {
    let user = name.clone();
    leptos::task::spawn_local(async move {
        let kept = crate::keep::load(&user).await;
        if !kept.is_empty() {
            chat.update(|c| kept.into_iter().for_each(|k| c.restore_kept(k)));
        }
    });
    let saved = StoredValue::new(HashMap::<String, u64>::new());
    Effect::new(move |_| {
        // Every 3 s at most.
        if !(now.get() / 1000).is_multiple_of(3) {
            return;
        }
        chat.with_untracked(|c| {
            for (room, r) in c.rooms.iter().filter(|(_, r)| r.synced) {
                if saved.with_value(|s| s.get(room) != Some(&r.changes())) {
                    crate::keep::save(&name, &r.kept());
                    saved.update_value(|s| {
                        s.insert(room.clone(), r.changes());
                    });
                }
            }
        });
    });
}
