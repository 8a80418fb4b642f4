//! Dialogs about rooms: create one, browse the public ones, start a
//! direct conversation. Each joins the room it ends with and shows it.

use leptos::prelude::*;
use meshchat_shared::api::CreateRoom;
use meshchat_shared::limits::validate_room;
use meshchat_shared::rooms::{DirectoryEntry, RoomInfo};

use super::{Ctx, use_ctx};
use crate::i18n::{count, fill, t};
use crate::{api, rooms};

/// Which dialog is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    NewRoom,
    Browse,
    NewDm,
    Threads,
}

/// A modal dialog in the page's body (the sidebar is a moved drawer on
/// phones), closed by Escape, the × or a click outside.
#[component]
pub fn Dialog(
    id: &'static str,
    title: &'static str,
    close: Callback<()>,
    /// Besides `dialog`, for a dialog of its own size.
    #[prop(optional)]
    class: &'static str,
    children: ChildrenFn,
) -> impl IntoView {
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            close.run(());
        }
    };
    let heading = format!("{id}-title");
    view! {
        <leptos::portal::Portal>
            <div class="scrim visible" aria-hidden="true" on:click=move |_| close.run(())></div>
            <section id=id class=format!("dialog {class}") role="dialog" aria-modal="true" aria-labelledby=heading.clone() on:keydown=on_key>
                <div class="dialog-head">
                    <h2 id=heading.clone()>{title}</h2>
                    <button class="icon" aria-label=t().close on:click=move |_| close.run(())>"×"</button>
                </div>
                {children()}
            </section>
        </leptos::portal::Portal>
    }
}

/// Starts (or opens) the direct conversation with `user` and shows it.
pub fn message(ctx: &Ctx, user: String) {
    let Some(token) = ctx.token() else { return };
    let (ctx, base) = (ctx.clone(), ctx.api_base());
    leptos::task::spawn_local(async move {
        if let Ok(info) = api::dm(&base, &token, vec![user]).await {
            enter(&ctx, &info, Callback::new(|_| {}));
        }
    });
}

/// Joins `room` and shows it; closes the dialog.
fn enter(ctx: &Ctx, info: &RoomInfo, close: Callback<()>) {
    let room = info.room.clone();
    ctx.act(|c| {
        let _ = c.join(&room);
        c.select(&room);
        if let Some(r) = c.rooms.get_mut(&room) {
            r.info = Some(info.clone());
        }
    });
    ctx.drawer.set(false);
    close.run(());
}

#[component]
pub fn NewRoom(close: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let (name, topic, private) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(false));
    let (busy, error) = (RwSignal::new(false), RwSignal::new(None::<String>));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let room = rooms::normalise(&name.get_untracked());
        if let Err(e) = validate_room(&room) {
            return error.set(Some(crate::i18n::invalid(&e)));
        }
        let Some(token) = ctx.token() else { return };
        let (ctx, base) = (ctx.clone(), ctx.api_base());
        let body = CreateRoom {
            room,
            title: name.get_untracked().trim().to_owned(),
            topic: topic.get_untracked(),
            private: private.get_untracked(),
        };
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = api::create_room(&base, &token, body).await;
            busy.set(false);
            match answer {
                Ok(info) => enter(&ctx, &info, close),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <Dialog id="new-room-dialog" title=t().create_a_room close>
            <form class="auth-form" on:submit=submit.clone() novalidate>
                <label for="room-name">{t().name}</label>
                <input id="room-name" autocomplete="off" maxlength="48" required autofocus placeholder=t().room_example
                    aria-describedby="room-error"
                    prop:value=move || name.get() on:input=move |ev| { name.set(event_target_value(&ev)); error.set(None); }/>
                <p class="hint">{move || fill(t().room_address, &[&rooms::normalise(&name.get())])}</p>
                <label for="room-topic">{t().topic}</label>
                <input id="room-topic" autocomplete="off" maxlength="300" placeholder=t().topic_placeholder
                    prop:value=move || topic.get() on:input=move |ev| topic.set(event_target_value(&ev))/>
                <label class="check">
                    <input id="room-private" type="checkbox" prop:checked=move || private.get()
                        on:change=move |_| private.update(|p| *p = !*p)/>
                    {t().private_room}
                </label>
                <p id="room-error" class="error" role="alert">{move || error.get()}</p>
                <button class="primary" type="submit" disabled=move || busy.get()>{t().create_room}</button>
            </form>
        </Dialog>
    }
}

#[component]
pub fn Browse(close: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let query = RwSignal::new(String::new());
    let found = RwSignal::new(None::<Result<Vec<DirectoryEntry>, String>>);
    let search = {
        let ctx = ctx.clone();
        move || {
            let Some(token) = ctx.token() else { return };
            let (base, q) = (ctx.api_base(), query.get_untracked());
            leptos::task::spawn_local(async move { found.set(Some(api::directory(&base, &token, &q).await)) });
        }
    };
    search();
    let search2 = search.clone();
    view! {
        <Dialog id="browse-dialog" title=t().browse_rooms close>
            <label for="directory-search" class="visually-hidden">{t().search_rooms}</label>
            <input id="directory-search" class="search" type="search" autocomplete="off" placeholder=t().search_rooms
                autofocus prop:value=move || query.get()
                on:input={
                    let search = search2.clone();
                    move |ev| { query.set(event_target_value(&ev)); search(); }
                }/>
            {move || match found.get() {
                None => view! { <p class="muted" role="status">{t().looking}</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="muted" role="status">{t().no_room_matches}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ul class="directory">
                        {list.into_iter().map(|e| view! { <DirectoryRow entry=e close/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </Dialog>
    }
}

#[component]
fn DirectoryRow(entry: DirectoryEntry, close: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let info = RoomInfo {
        room: entry.room.clone(),
        title: entry.title.clone(),
        topic: entry.topic.clone(),
        ..RoomInfo::default()
    };
    let members = count(entry.members as usize, t().members_one, t().members_other);
    let last = if entry.last == 0 {
        String::new()
    } else {
        fill(t().active_on, &[&super::format::day_label(entry.last, crate::net::now_ms())])
    };
    view! {
        <li class="directory-room">
            <div class="directory-text">
                <strong>{entry.title.clone()}</strong>
                <span class="small muted">{format!("#{} · {members}{last}", entry.room)}</span>
                {(!entry.topic.is_empty()).then(|| view! { <span class="small">{entry.topic.clone()}</span> })}
            </div>
            <button class="secondary" aria-label=fill(t().join_title, &[&entry.title]) on:click=move |_| enter(&ctx, &info, close)>{t().join}</button>
        </li>
    }
}

/// People to write to, with account names suggested as one types.
#[component]
pub fn NewDm(close: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let typed = RwSignal::new(String::new());
    let (busy, error) = (RwSignal::new(false), RwSignal::new(None::<String>));
    let suggestions = people_suggestions(&ctx, typed);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let people = rooms::people(&typed.get_untracked());
        if people.is_empty() {
            return error.set(Some(t().name_someone.into()));
        }
        let Some(token) = ctx.token() else { return };
        let (ctx, base) = (ctx.clone(), ctx.api_base());
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = api::dm(&base, &token, people).await;
            busy.set(false);
            match answer {
                Ok(info) => enter(&ctx, &info, close),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <Dialog id="dm-dialog" title=t().new_message close>
            <form class="auth-form" on:submit=submit.clone() novalidate>
                <label for="dm-people">{t().to}</label>
                <input id="dm-people" autocomplete="off" list="people-list" required autofocus
                    placeholder=t().names_commas aria-describedby="dm-error"
                    prop:value=move || typed.get() on:input=move |ev| { typed.set(event_target_value(&ev)); error.set(None); }/>
                <PeopleList id="people-list" names=suggestions/>
                <p id="dm-error" class="error" role="alert">{move || error.get()}</p>
                <button class="primary" type="submit" disabled=move || busy.get()>{t().start_conversation}</button>
            </form>
        </Dialog>
    }
}

/// Account names starting with the last name being typed in `typed`.
pub fn people_suggestions(ctx: &Ctx, typed: RwSignal<String>) -> RwSignal<Vec<String>> {
    let names = RwSignal::new(Vec::new());
    let ctx = ctx.clone();
    Effect::new(move |_| {
        let text = typed.get();
        let last = text.rsplit(',').next().unwrap_or("").trim().to_owned();
        let Some(token) = ctx.token() else { return };
        if last.is_empty() {
            return names.set(Vec::new());
        }
        let base = ctx.api_base();
        leptos::task::spawn_local(async move {
            if let Ok(found) = api::users(&base, &token, &last).await {
                names.set(found);
            }
        });
    });
    names
}

#[component]
pub fn PeopleList(id: &'static str, names: RwSignal<Vec<String>>) -> impl IntoView {
    view! {
        <datalist id=id>
            {move || names.get().into_iter().map(|n| view! { <option value=n></option> }).collect_view()}
        </datalist>
    }
}
