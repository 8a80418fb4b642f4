//! The Threads view: every thread the person follows (they started it,
//! replied or were mentioned in it) across their rooms, those with unread
//! replies first; a thread's replies are read once its panel is looked at
//! (a `read_thread` marker, shared by their tabs, devices and nodes).

use leptos::prelude::*;
use meshchat_shared::client::threads::{Followed, FollowedCache};

use super::dialogs::Dialog;
use super::{format, use_ctx};
use crate::i18n::{count, fill, t};

/// The followed threads, folded again only when an event reached a room
/// (a thread reply, a marker, an edit, a delete), not for every message.
fn followed() -> Memo<Vec<Followed>> {
    let chat = use_ctx().chat;
    let stamp = Memo::new(move |_| {
        chat.with(|c| c.rooms.values().map(|r| (r.name.clone(), r.thread_changes())).collect::<Vec<_>>())
    });
    let cache = StoredValue::new_local(FollowedCache::default());
    Memo::new(move |_| {
        // Read, not only tracked: a memo never computed never changes.
        stamp.with(|_| ());
        chat.with_untracked(|c| cache.try_update_value(|k| k.refresh(c)).unwrap_or_default())
    })
}

/// The sidebar's entry to the Threads view, with the unread replies.
#[component]
pub fn ThreadsEntry(open: Callback<()>) -> impl IntoView {
    let list = followed();
    let unread = Memo::new(move |_| list.with(|l| l.iter().map(|f| f.unread).sum::<usize>()));
    view! {
        <div class="threads-entry">
            <button id="threads-view" class="room-button" on:click=move |_| open.run(())>
                <span class="hash" aria-hidden="true">"🧵"</span>
                <span class="room-name">{t().threads}</span>
                {move || (unread.get() > 0).then(|| view! {
                    <span class="badge" aria-label=fill(t().unread, &[&unread.get().to_string()])>{unread.get().min(99)}</span>
                })}
            </button>
        </div>
    }
}

/// The list of followed threads; one opens its room with its thread.
#[component]
pub fn ThreadsDialog(close: Callback<()>) -> impl IntoView {
    let list = followed();
    view! {
        <Dialog id="threads-dialog" title=t().threads close>
            {move || {
                let all = list.get();
                if all.is_empty() {
                    return view! { <p class="muted" role="status">{t().no_threads}</p> }.into_any();
                }
                view! {
                    <ul class="followed">
                        {all.into_iter().map(|f| view! { <Entry f close/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </Dialog>
    }
}

#[component]
fn Entry(f: Followed, close: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let who = ctx.people.display(&f.author);
    let text = if f.deleted { t().message_deleted.to_owned() } else { f.text.clone() };
    let about = format!(
        "#{} · {} · {}",
        f.room,
        count(f.replies, t().replies_one, t().replies_other),
        fill(t().last_reply, &[&format::time(f.last)])
    );
    let (room, root) = (f.room.clone(), f.root.clone());
    let unread = f.unread > 0;
    view! {
        <li>
            <button class="followed-thread" class:unread=unread on:click=move |_| {
                close.run(());
                let anchor = super::messages::anchor_id(&root.0, root.1);
                super::messages::show_message(ctx.clone(), room.clone(), anchor);
                super::threads::open(&ctx, root.0.clone(), root.1);
            }>
                <span class="small muted">{about}</span>
                <span class="followed-text"><strong>{who}</strong>" "{text}</span>
                {(f.unread > 0).then(|| view! { <span class="badge">{fill(t().new_replies, &[&f.unread.to_string()])}</span> })}
            </button>
        </li>
    }
}
