//! The bar above the messages: the room, the link's status, the toggles.

use leptos::prelude::*;

use super::{icons, use_ctx};
use crate::prefs;
use crate::state::Link;

#[component]
pub fn Header() -> impl IntoView {
    let ctx = use_ctx();
    let chat = ctx.chat;
    let theme = ctx.theme;
    let drawer = ctx.drawer;
    let members_open = ctx.members_open;
    let room = Memo::new(move |_| chat.with(|c| c.current.clone()));
    let online = Memo::new(move |_| chat.with(|c| c.current_room().map_or(0, |r| r.members.len())));
    let status = Memo::new(move |_| chat.with(|c| (c.link, c.node.clone())));
    let status_text = move || {
        let (link, node) = status.get();
        let node = node.unwrap_or_else(|| "node".into());
        match link {
            Link::Ready => format!("{node} · connected"),
            Link::Open | Link::Connecting => format!("{node} · connecting…"),
            Link::Offline => "offline".to_owned(),
        }
    };
    let status_class = move || match status.get().0 {
        Link::Ready => "status ok",
        Link::Open | Link::Connecting => "status wait",
        Link::Offline => "status down",
    };
    let nodes_title = move || {
        chat.with(|c| {
            c.nodes
                .iter()
                .map(|n| format!("{} {}", n.id, if n.up { "up" } else { "down" }))
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    view! {
        <header class="topbar">
            <button
                class="icon menu"
                aria-label="Rooms"
                aria-expanded=move || drawer.get().to_string()
                on:click=move |_| drawer.update(|d| *d = !*d)
            ><icons::Menu/></button>
            <h1 class="room-title">
                {move || room.get().map(|r| view! { <span class="hash" aria-hidden="true">"#"</span>{r} }.into_any())
                    .unwrap_or_else(|| view! { "No room" }.into_any())}
            </h1>
            <span class=status_class role="status" aria-live="polite" title=nodes_title>
                <span class="dot" aria-hidden="true"></span>
                <span class="status-text">{status_text}</span>
            </span>
            <button
                class="icon people"
                aria-label=move || format!("{} online; show who", online.get())
                aria-expanded=move || members_open.get().to_string()
                title="Who is online"
                on:click=move |_| members_open.update(|m| *m = !*m)
            >
                <icons::People/>
                <span class="count">{move || online.get()}</span>
            </button>
            <button
                class="icon theme-toggle"
                aria-label=move || format!("Switch to {} theme", theme.get().other().as_str())
                title=move || format!("Switch to {} theme", theme.get().other().as_str())
                on:click=move |_| {
                    let next = theme.get_untracked().other();
                    prefs::save_theme(next);
                    theme.set(next);
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
    let offline = Memo::new(move |_| chat.with(|c| c.link == Link::Offline));
    let notice = Memo::new(move |_| chat.with(|c| c.notice.clone()));
    view! {
        <Show when=move || offline.get()>
            <div class="banner offline" role="alert">
                "You are offline. Reconnecting… Messages you send now go out when the connection is back."
            </div>
        </Show>
        {move || notice.get().map(|n| view! {
            <div class="banner notice" role="alert">
                <span>{n}</span>
                <button class="icon" aria-label="Dismiss" on:click=move |_| chat.update(|c| c.notice = None)>"×"</button>
            </div>
        })}
    }
}
