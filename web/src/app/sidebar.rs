//! The room list (rooms, then direct messages), the ways to find or make
//! rooms, and who you are.

use leptos::prelude::*;

use super::dialogs::{Browse, NewDm, NewRoom, Open};
use super::use_ctx;
use crate::account::Who;
use crate::i18n::{fill, t};
use crate::rooms;

#[component]
pub fn Sidebar() -> impl IntoView {
    let ctx = use_ctx();
    let chat = ctx.chat;
    let me = chat.with_untracked(|c| c.name.clone());
    let people = ctx.people;
    // (room, title, (unread, mentions), is a DM)
    let listed = Memo::new(move |_| {
        chat.with(|c| {
            c.rooms
                .values()
                .map(|r| {
                    let info = r.info.as_ref();
                    (
                        r.name.clone(),
                        rooms::title_as(&r.name, info, &me, &|n| people.display(n)),
                        (r.unread, r.mentioned),
                        rooms::is_dm(&r.name, info),
                    )
                })
                .collect::<Vec<_>>()
        })
    });
    let guest = ctx.who.with_untracked(|w| matches!(w, Who::Guest(_)));
    let open = RwSignal::new(None::<Open>);
    let close = Callback::new(move |_| open.set(None));
    let of_kind = move |dm: bool| {
        move || {
            listed
                .get()
                .into_iter()
                .filter(|r| r.3 == dm)
                .map(|(room, title, unread, _)| (room, title, unread))
                .collect::<Vec<_>>()
        }
    };
    view! {
        <aside class="sidebar" aria-label=t().rooms_and_account>
            <div class="brand"><span class="logo" aria-hidden="true">"◆"</span>" meshchat"</div>
            <nav aria-label=t().rooms>
                <super::followed::ThreadsEntry open=Callback::new(move |_| open.set(Some(Open::Threads)))/>
                <div class="section-row">
                    <h2 class="section-title">{t().rooms}</h2>
                    {(!guest).then(|| view! {
                        <button id="browse-rooms" class="link small" on:click=move |_| open.set(Some(Open::Browse))>{t().browse}</button>
                        <button id="new-room" class="icon add" aria-label=t().create_a_room title=t().create_a_room
                            on:click=move |_| open.set(Some(Open::NewRoom))>"+"</button>
                    })}
                </div>
                <RoomList rooms=Signal::derive(of_kind(false))/>
                {guest.then(|| view! { <JoinByName/> })}
                {(!guest).then(|| view! {
                    <div class="section-row">
                        <h2 class="section-title">{t().direct_messages}</h2>
                        <button id="new-dm" class="icon add" aria-label=t().new_message title=t().new_message
                            on:click=move |_| open.set(Some(Open::NewDm))>"+"</button>
                    </div>
                    <RoomList rooms=Signal::derive(of_kind(true))/>
                })}
            </nav>
            <super::me::MeCorner/>
        </aside>
        {move || open.get().map(|which| super::lazy::screen(sidebar_dialog(which, close), close))}
    }
}

/// A room as the list shows it: name, title, (unread, mentions).
type Listed = (String, String, (u32, u32));

/// The sidebar's dialogs (making, finding and messaging rooms, the threads
/// one follows), in a module of their own fetched the first time one opens.
#[leptos::wasm_split::wasm_split(sidebar_dialog, wasm_split_path = ::leptos::wasm_split, fallible)]
fn sidebar_dialog(which: Open, close: Callback<()>) -> Result<AnyView, super::lazy::Unloaded> {
    Ok(match which {
        Open::NewRoom => view! { <NewRoom close/> }.into_any(),
        Open::Browse => view! { <Browse close/> }.into_any(),
        Open::NewDm => view! { <NewDm close/> }.into_any(),
        Open::Threads => view! { <super::followed::ThreadsDialog close/> }.into_any(),
    })
}

#[component]
fn RoomList(rooms: Signal<Vec<Listed>>) -> impl IntoView {
    let ctx = use_ctx();
    let current = Memo::new(move |_| ctx.chat.with(|c| c.current.clone()));
    view! {
        <ul class="rooms">
            <For each=move || rooms.get() key=|r| r.clone() children=move |(room, title, (unread, mentioned))| {
                let ctx = use_ctx();
                let (select_room, leave_room) = (room.clone(), room.clone());
                let is_current = {
                    let room = room.clone();
                    move || current.get().as_deref() == Some(room.as_str())
                };
                let is_current2 = is_current.clone();
                let ctx2 = ctx.clone();
                let shown = title.trim_start_matches('#').to_owned();
                let hash = title.starts_with('#');
                view! {
                    <li class="room" class:active=is_current.clone()>
                        <button
                            class="room-button"
                            aria-current=move || if is_current2() { Some("page") } else { None }
                            on:click=move |_| {
                                ctx.act(|c| c.select(&select_room));
                                ctx.drawer.set(false);
                            }
                        >
                            {hash.then(|| view! { <span class="hash" aria-hidden="true">"#"</span> })}
                            <span class="room-name">{shown}</span>
                            {(mentioned > 0).then(|| view! {
                                <span class="badge mention-badge" aria-label=fill(t().mentioning_you, &[&mentioned.to_string()])>"@"{mentioned.min(99)}</span>
                            })}
                            {(unread > 0).then(|| view! {
                                <span class="badge" aria-label=fill(t().unread, &[&unread.to_string()])>{unread.min(99)}</span>
                            })}
                        </button>
                        <button
                            class="icon leave"
                            title=fill(t().close_room, &[&title])
                            aria-label=fill(t().close_room, &[&title])
                            on:click=move |_| ctx2.act(|c| c.leave(&leave_room))
                        >"×"</button>
                    </li>
                }
            }/>
        </ul>
    }
}

/// Guests join open rooms by name, as in protocol version 1.
#[component]
fn JoinByName() -> impl IntoView {
    let ctx = use_ctx();
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let join = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let room = rooms::normalise(&draft.get_untracked());
        if room.is_empty() {
            return;
        }
        let mut result = Ok(());
        ctx.act(|c| result = c.join(&room));
        match result {
            Ok(()) => {
                draft.set(String::new());
                error.set(None);
                ctx.drawer.set(false);
            }
            Err(e) => error.set(Some(crate::i18n::invalid(&e))),
        }
    };
    view! {
        <form class="join" on:submit=join>
            <label class="visually-hidden" for="join-input">{t().join_or_create}</label>
            <input
                id="join-input"
                placeholder=t().join_or_create
                autocomplete="off"
                aria-describedby="join-error"
                prop:value=move || draft.get()
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    error.set(None);
                }
            />
            <button class="icon add" type="submit" aria-label=t().join_room title=t().join_room>"+"</button>
        </form>
        <p id="join-error" class="error small" role="alert">{move || error.get()}</p>
    }
}
