//! The admin console's rooms: every room the node holds, busiest first (a
//! private room or a conversation by name and size only), archived, taken
//! out of the archive or deleted. The node checks that the caller is an
//! admin; its answer is said in the console's status line.

use leptos::prelude::*;
use meshchat_shared::api::{AdminRoom, AdminRooms};

use super::format::when;
use super::use_ctx;
use crate::api;
use crate::i18n::{fill, t};

/// An action on a room: archive (`Some(true)`), take out (`Some(false)`)
/// or delete (`None`).
type RoomAct = (String, Option<bool>);

#[component]
pub fn Rooms(said: RwSignal<Option<Result<String, String>>>) -> impl IntoView {
    let ctx = use_ctx();
    let query = RwSignal::new(String::new());
    let rooms = RwSignal::new(None::<Result<AdminRooms, String>>);
    let load = {
        let ctx = ctx.clone();
        move || {
            let (Some(token), base, q) = (ctx.token(), ctx.api_base(), query.get_untracked()) else { return };
            leptos::task::spawn_local(async move { rooms.set(Some(api::admin_rooms(&base, &token, &q).await)) });
        }
    };
    load();
    let act = {
        let load = load.clone();
        Callback::new(move |(room, archive): RoomAct| {
            let (Some(token), base, load) = (ctx.token(), ctx.api_base(), load.clone()) else { return };
            leptos::task::spawn_local(async move {
                let path = format!("/api/admin/rooms/{}", js_sys::encode_uri_component(&room));
                let (answer, label) = match archive {
                    Some(a) => {
                        let body = format!(r#"{{"archived":{a}}}"#);
                        let label = if a { t().archive } else { t().unarchive };
                        (api::admin_post(&base, &token, &format!("{path}/archive"), body).await.map(drop), label)
                    }
                    None => (api::admin_delete(&base, &token, &path).await, t().delete_room),
                };
                said.set(Some(answer.map(|()| fill(t().done_for, &[label, &room]))));
                load();
            });
        })
    };
    let search = Callback::new(move |ev: leptos::ev::Event| {
        query.set(event_target_value(&ev));
        load();
    });
    view! {
        <h3>{t().rooms_title}</h3>
        <label for="rooms-search" class="visually-hidden">{t().search_rooms}</label>
        <input id="rooms-search" type="search" placeholder=t().search_rooms maxlength="64"
            prop:value=move || query.get() on:input=move |ev| search.run(ev)/>
        {move || match rooms.get() {
            None => view! { <p class="small muted">{t().checking}</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error small" role="alert">{e}</p> }.into_any(),
            Some(Ok(list)) if list.rooms.is_empty() => view! { <p class="small muted">{t().rooms_none}</p> }.into_any(),
            Some(Ok(list)) => view! {
                <ul class="sessions rooms-admin" aria-label=t().rooms_title>
                    {list.rooms.into_iter().map(|r| view! { <RoomRow r act/> }).collect_view()}
                </ul>
                {list.more.then(|| view! { <p class="small muted">{t().more_rooms}</p> })}
            }.into_any(),
        }}
    }
}

/// What a room is, in words.
fn kind(r: &AdminRoom) -> &'static str {
    match (r.dm, r.private, r.governed) {
        (true, _, _) => t().kind_dm,
        (_, true, _) => t().kind_private,
        (_, _, true) => t().kind_public,
        _ => t().kind_open,
    }
}

#[component]
fn RoomRow(r: AdminRoom, act: Callback<RoomAct>) -> impl IntoView {
    let last = if r.last == 0 { t().never_used.to_owned() } else { when(r.last) };
    let mut line = fill(t().room_admin_line, &[kind(&r), &r.members.to_string(), &r.messages.to_string(), &last]);
    if r.archived {
        line = format!("{line} · {}", t().archived_mark);
    }
    if r.retention_days > 0 {
        line = format!("{line} · {}", fill(t().retention_mark, &[&r.retention_days.to_string()]));
    }
    let title = (!r.title.is_empty() && r.title != r.room).then(|| format!(" ({})", r.title));
    let name = StoredValue::new(r.room.clone());
    let (flip, flip_label) = if r.archived { (false, t().unarchive) } else { (true, t().archive) };
    view! {
        <li class="session">
            <span><strong>{r.room.clone()}</strong>{title}<br/><span class="small muted">{line}</span></span>
            // Open rooms of protocol 1 have no owner: they can be neither
            // archived nor deleted, only moderated.
            {r.governed.then(|| view! {
                <span class="row-actions">
                    <button class="secondary small" on:click=move |_| act.run((name.get_value(), Some(flip)))>{flip_label}</button>
                    <button class="secondary small danger" on:click=move |_| {
                        if window().confirm_with_message(t().confirm_delete_room).unwrap_or(false) {
                            act.run((name.get_value(), None));
                        }
                    }>{t().delete_room}</button>
                </span>
            })}
        </li>
    }
}
