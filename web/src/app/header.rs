//! The bar above the messages: the room, the link's status, the toggles.

use leptos::prelude::*;

use meshchat_shared::client::Status;

use super::{icons, use_ctx};
use crate::i18n::{fill, t};
use crate::net::Transport;
use crate::prefs;

#[component]
pub fn Header() -> impl IntoView {
    let ctx = use_ctx();
    let chat = ctx.chat;
    let theme = ctx.theme;
    let drawer = ctx.drawer;
    let members_open = ctx.members_open;
    let people = ctx.people;
    let title = Memo::new(move |_| {
        chat.with(|c| {
            let r = c.current_room()?;
            Some(crate::rooms::title_as(&r.name, r.info.as_ref(), &c.name, &|n| people.display(n)))
        })
    });
    let online = Memo::new(move |_| chat.with(|c| c.current_room().map_or(0, |r| r.members.len())));
    let tabs = ctx.tabs;
    let transport = ctx.net.transport;
    let status = Memo::new(move |_| chat.with(|c| c.status()));
    // The node and the state apart, so a phone can show just the node while
    // all is well and give the room's name the space.
    let status_node = move || match status.get() {
        Status::Connected(node) => node,
        _ => String::new(),
    };
    let status_state = move || match (status.get(), transport.get()) {
        (Status::Connected(_), Transport::WebSocket) => t().st_connected,
        (Status::Connected(_), Transport::Http) => t().st_connected_http,
        (Status::Connecting, _) => t().st_connecting,
        (Status::Moving, _) => t().st_moving,
        (Status::Offline, _) => t().st_offline,
        (Status::SignedOut, _) => t().st_signed_out,
    };
    let status_class = move || match status.get() {
        Status::Connected(_) => "status ok",
        Status::Connecting | Status::Moving => "status wait",
        Status::Offline | Status::SignedOut => "status down",
    };
    let nodes_title = move || {
        chat.with(|c| {
            c.nodes
                .all()
                .iter()
                .filter(|n| !n.id.is_empty())
                .map(|n| format!("{} {}", n.id, if n.up { "up" } else { "down" }))
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    let muted = tabs.muted;
    view! {
        <header class="topbar">
            <button
                class="icon menu"
                aria-label=t().rooms
                aria-expanded=move || drawer.get().to_string()
                on:click=move |_| drawer.update(|d| *d = !*d)
            ><icons::Menu/></button>
            <h1 class="room-title">
                {move || match title.get() {
                    Some(t) if t.starts_with('#') => view! {
                        <span class="hash" aria-hidden="true">"#"</span>{t.trim_start_matches('#').to_owned()}
                    }.into_any(),
                    Some(t) => view! { {t} }.into_any(),
                    None => view! { {t().no_room} }.into_any(),
                }}
            </h1>
            <LastSeen/>
            <span class=status_class role="status" aria-live="polite" title=nodes_title>
                <span class="dot" aria-hidden="true"></span>
                <span class="status-text">{status_node}<span class="status-state">{status_state}</span></span>
            </span>
            <button
                class="icon people"
                aria-label=move || fill(t().online_show_who, &[&online.get().to_string()])
                aria-expanded=move || members_open.get().to_string()
                title=t().who_is_online
                on:click=move |_| members_open.update(|m| *m = !*m)
            >
                <icons::People/>
                <span class="count">{move || online.get()}</span>
            </button>
            <super::search::SearchButton/>
            <MentionsButton/>
            <NotifyLevel/>
            <button
                class="icon mute-toggle"
                aria-pressed=move || muted.get().to_string()
                aria-label=move || if muted.get() { t().unmute } else { t().mute }
                title=move || if muted.get() { t().sounds_off } else { t().sounds_on }
                on:click=move |_| tabs.toggle_mute()
            >
                {move || if muted.get() {
                    view! { <icons::BellOff/> }.into_any()
                } else {
                    view! { <icons::Bell/> }.into_any()
                }}
            </button>
            <button
                class="icon theme-toggle"
                aria-label=move || theme_switch(theme.get())
                title=move || theme_switch(theme.get())
                on:click=move |_| {
                    let next = theme.get_untracked().other();
                    prefs::save_theme(next);
                    theme.set(next);
                    tabs.share_theme(next);
                }
            >
                {move || if theme.get() == prefs::Theme::Dark {
                    view! { <icons::Sun/> }.into_any()
                } else {
                    view! { <icons::Moon/> }.into_any()
                }}
            </button>
        </header>
    }
}

/// Offline and refusal banners.
#[component]
pub fn Banners() -> impl IntoView {
    let ctx = use_ctx();
    let chat = ctx.chat;
    let offline = Memo::new(move |_| chat.with(|c| c.status() == Status::Offline));
    let notice = Memo::new(move |_| chat.with(|c| c.notice.clone()));
    view! {
        <Show when=move || offline.get()>
            <div class="banner offline" role="alert">
                {t().offline_banner}
            </div>
        </Show>
        {move || notice.get().map(|n| view! {
            <div class="banner notice" role="alert">
                <span>{n}</span>
                <button class="icon" aria-label=t().dismiss on:click=move |_| chat.update(|c| c.notice = None)>"×"</button>
            </div>
        })}
    }
}

/// Messages that mention this user, in every room this page holds, newest
/// first; a click shows one in its room.
#[component]
fn MentionsButton() -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <div class="mentions-wrap">
            <button class="icon mentions-toggle" aria-label=t().mentions_of_you title=t().mentions_of_you
                aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>"@"</button>
            <Show when=move || open.get()>
                {move || super::lazy::screen(mentions_panel(open), Callback::new(move |()| open.set(false)))}
            </Show>
        </div>
    }
}

/// The mentions' list, in a module of its own fetched the first time it opens.
#[leptos::wasm_split::wasm_split(mentions_panel, wasm_split_path = ::leptos::wasm_split, fallible)]
fn mentions_panel(open: RwSignal<bool>) -> Result<AnyView, super::lazy::Unloaded> {
    Ok(view! { <MentionsList open/> }.into_any())
}

#[component]
fn MentionsList(open: RwSignal<bool>) -> impl IntoView {
    let chat = use_ctx().chat;
    let found = Memo::new(move |_| {
        chat.with(|c| {
            let mut out: Vec<(String, meshchat_shared::Message)> = c
                .rooms
                .values()
                .flat_map(|r| r.messages().map(move |m| (r.name.clone(), m)))
                .filter(|(_, m)| m.author != c.name)
                .filter(|(_, m)| meshchat_shared::rooms::mentions(&meshchat_shared::client::shown_text(m), &c.name))
                .map(|(room, m)| (room, m.clone()))
                .collect();
            out.sort_by_key(|(_, m)| std::cmp::Reverse(m.ts));
            out.truncate(30);
            out
        })
    });
    view! {
        <section class="mentions-panel" aria-label=t().mentions_of_you>
            {move || {
                let list = found.get();
                if list.is_empty() {
                    return view! { <p class="muted small">{t().no_mentions}</p> }.into_any();
                }
                list.into_iter().map(|(room, m)| {
                    let anchor = super::messages::anchor_id(&m.origin, m.seq);
                    let text = meshchat_shared::client::shown_text(&m);
                    let ctx = use_ctx();
                    let go = room.clone();
                    view! {
                        <button class="mention-item" on:click=move |_| {
                            open.set(false);
                            super::messages::show_message(ctx.clone(), go.clone(), anchor.clone());
                        }>
                            <span class="small muted">{format!("#{room} · {}", m.author)}</span>
                            <span>{text}</span>
                        </button>
                    }
                }).collect_view().into_any()
            }}
        </section>
    }
}

/// What the room on screen may interrupt with: every message, mentions
/// only, or nothing. Choosing asks the browser's permission for
/// notifications (on that click, never on load).
#[component]
fn NotifyLevel() -> impl IntoView {
    use crate::rooms::Notify;
    let ctx = use_ctx();
    let chat = ctx.chat;
    let bump = RwSignal::new(0u32);
    let level = Memo::new(move |_| {
        bump.track();
        chat.with(|c| {
            c.current_room().map(|r| crate::prefs::notify_level(&r.name, crate::rooms::is_dm(&r.name, r.info.as_ref())))
        })
    });
    let on_change = move |ev: leptos::ev::Event| {
        let Some(room) = chat.with_untracked(|c| c.current.clone()) else { return };
        let chosen = Notify::parse(Some(&event_target_value(&ev)), false);
        crate::prefs::set_notify_level(&room, chosen);
        bump.update(|b| *b += 1);
        if chosen != Notify::Nothing && web_sys::Notification::permission() == web_sys::NotificationPermission::Default
        {
            let _ = web_sys::Notification::request_permission();
        }
    };
    view! {
        <label class="visually-hidden" for="notify-level">{t().notify_me_of}</label>
        <select id="notify-level" class="notify-level" title=t().notify_title on:change=on_change
            prop:value=move || level.get().map(|l| l.as_str()).unwrap_or("mentions")>
            <option value="all">{t().notify_all}</option>
            <option value="mentions">{t().notify_mentions}</option>
            <option value="nothing">{t().notify_nothing}</option>
        </select>
    }
}

/// "Switch to dark theme" from light, and back.
fn theme_switch(now: prefs::Theme) -> &'static str {
    match now {
        prefs::Theme::Light => t().to_dark,
        prefs::Theme::Dark => t().to_light,
    }
}

/// In a conversation with one other person who is not here now: when they
/// were last seen ("last seen today 14:05").
#[component]
fn LastSeen() -> impl IntoView {
    let ctx = use_ctx();
    let (chat, people) = (ctx.chat, ctx.people);
    let text = Memo::new(move |_| {
        let other = chat.with(|c| {
            let r = c.current_room()?;
            let info = r.info.as_ref()?;
            let others: Vec<&String> = info.dm.iter().filter(|n| **n != c.name).collect();
            match others.as_slice() {
                [one] if !r.members.contains(*one) => Some((*one).clone()),
                _ => None,
            }
        })?;
        let at = people.seen.with(|s| s.get(&other).copied())?;
        Some(fill(t().last_seen, &[&super::format::when(at)]))
    });
    view! { <span class="last-seen small muted">{move || text.get()}</span> }
}
