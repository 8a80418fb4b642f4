//! Threads: a reply to a message can go to its thread, shown in a panel
//! beside the room instead of in it (or in both, on request). The root
//! says how many replies, when the last came and who took part; the panel
//! shows the root and its replies with their edits, reactions and deletes
//! (the rows of the room's own view) and writes into the outbox.

use leptos::prelude::*;
use meshchat_shared::client::annotate::{Target, Thread};
use meshchat_shared::rooms::RoomEvent;

use super::messages::RowView;
use super::{Ctx, format, use_ctx};
use crate::i18n::{count, fill, t};
use crate::net::now_ms;
use crate::timeline::thread_rows;

/// The thread open beside the room: the room it is in, and its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub room: String,
    pub root: Target,
}

/// Opens the thread of `origin:seq` in the current room (one just
/// selected too: only another room's thread is closed when rooms change).
pub fn open(ctx: &Ctx, origin: String, seq: u64) {
    if let Some(room) = ctx.chat.with_untracked(|c| c.current.clone()) {
        ctx.thread.set(Some(Open { room, root: (origin, seq) }));
    }
}

/// Under a root: "2 replies · last 14:05 · bob, carol", opening the thread.
#[component]
pub fn Summary(root: Target, thread: Thread) -> impl IntoView {
    let ctx = use_ctx();
    let people = ctx.people;
    let n = thread.replies.len();
    let who = thread.people.iter().take(3).map(|p| people.display(p)).collect::<Vec<_>>().join(", ");
    let text = format!(
        "{} · {} · {who}",
        count(n, t().replies_one, t().replies_other),
        fill(t().last_reply, &[&format::time(thread.last)])
    );
    view! {
        <button class="link small thread-summary" on:click=move |_| open(&ctx, root.0.clone(), root.1)>{text}</button>
    }
}

/// The open thread, beside the room; its replies and composer are a
/// module of their own, fetched the first time a thread opens.
#[component]
pub fn ThreadPanel() -> impl IntoView {
    let ctx = use_ctx();
    let (thread, chat) = (ctx.thread, ctx.chat);
    let open = Memo::new(move |_| thread.with(Option::is_some));
    let close = Callback::new(move |()| thread.set(None));
    // Another room shown: its threads are its own.
    let room = Memo::new(move |_| chat.with(|c| c.current.clone()));
    Effect::new(move |_| {
        let now = room.get();
        if thread.with_untracked(|t| t.as_ref().is_some_and(|t| Some(&t.room) != now.as_ref())) {
            thread.set(None);
        }
    });
    view! {
        <aside class="thread-panel" aria-label=t().thread hidden=move || !open.get()>
            <div class="members-head">
                <h2 class="section-title">{t().thread}</h2>
                <button class="icon" aria-label=t().close_thread on:click=move |_| close.run(())>"×"</button>
            </div>
            <Show when=move || open.get()>{move || super::lazy::screen(thread_body(), close)}</Show>
        </aside>
    }
}

#[leptos::wasm_split::wasm_split(thread_body, wasm_split_path = ::leptos::wasm_split, fallible)]
fn thread_body() -> Result<AnyView, super::lazy::Unloaded> {
    Ok(view! { <ThreadBody/> }.into_any())
}

/// The open thread's replies and its composer.
#[component]
fn ThreadBody() -> impl IntoView {
    let ctx = use_ctx();
    let (thread, chat) = (ctx.thread, ctx.chat);
    let rows = Memo::new(move |_| {
        let open = thread.get()?;
        chat.with(|c| Some(thread_rows(c.room(&open.room)?, &c.name, &open.root)))
    });
    view! {
        <div class="thread-rows" role="log" aria-live="polite">
            {move || rows.get().unwrap_or_default().into_iter().map(|row| view! { <RowView row/> }).collect_view()}
        </div>
        <ThreadComposer/>
    }
}

/// Writes into the open thread, through the outbox; "also send to the
/// room" shows the reply there too.
#[component]
fn ThreadComposer() -> impl IntoView {
    let ctx = use_ctx();
    let (drafts, thread) = (ctx.drafts, ctx.thread);
    // The thread's draft, kept with the rooms' (`room/origin:seq`).
    let key = Memo::new(move |_| thread.with(|t| t.as_ref().map(|t| format!("{}/{}:{}", t.room, t.root.0, t.root.1))));
    let draft = move || key.get().and_then(|k| drafts.with(|d| d.get(&k).cloned())).unwrap_or_default();
    let set_draft = move |text: String| {
        let Some(k) = key.get_untracked() else { return };
        drafts.update(|d| {
            if text.is_empty() {
                d.remove(&k);
            } else {
                d.insert(k, text);
            }
        });
    };
    let suggestions = super::suggest::suggestions(draft);
    let accept = Callback::new(move |name: String| set_draft(crate::rooms::complete_mention(&draft(), &name)));
    let also = RwSignal::new(false);
    let uploads = super::files::Uploads::to_thread(thread);
    let paste_ctx = ctx.clone();
    let (editing, chat) = (ctx.thread_edit, ctx.chat);
    let send = move || {
        let body = draft().trim().to_owned();
        let (Some(Open { room, root: (origin, seq) }), false) = (ctx.thread.get_untracked(), body.is_empty()) else {
            return;
        };
        let id = crate::rooms::action_id(js_sys::Math::random(), now_ms());
        let action = match editing.get_untracked() {
            Some((origin, seq)) => RoomEvent::Edited { origin, seq, body },
            None => RoomEvent::Reply { origin, seq, body, thread: true, also: also.get_untracked() },
        };
        ctx.act(|c| drop(c.act(&room, &id, action, now_ms())));
        set_draft(String::new());
        also.set(false);
        editing.set(None);
    };
    // Editing a reply: its text to edit, the focus here.
    let input = NodeRef::<leptos::html::Textarea>::new();
    Effect::new(move |_| {
        let Some((origin, seq)) = editing.get() else { return };
        let text =
            chat.with_untracked(|c| c.current_room().and_then(|r| super::composer::current_text(r, &origin, seq)));
        set_draft(text.unwrap_or_default());
        if let Some(el) = input.get_untracked() {
            let _ = el.focus();
        }
    });
    // A thread closed or changed: no edit goes on.
    Effect::new(move |_| {
        let _ = key.get();
        editing.set(None);
    });
    let on_paste = move |ev: leptos::ev::ClipboardEvent| {
        if uploads.add_all(&paste_ctx, ev.clipboard_data().and_then(|d| d.files())) {
            ev.prevent_default();
        }
    };
    let send_key = send.clone();
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if super::suggest::tab_takes(&ev, suggestions, accept) {
            return;
        }
        if ev.key() == "Enter" && !ev.shift_key() {
            ev.prevent_default();
            send_key();
        } else if ev.key() == "Escape" && editing.get_untracked().is_some() {
            editing.set(None);
            set_draft(String::new());
        }
    };
    view! {
        <form class="thread-composer" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); send(); }>
            <super::files::UploadList uploads/>
            <super::suggest::MentionList suggestions accept/>
            <div class="compose-mode" hidden=move || editing.with(Option::is_none)>
                <span class="small">{t().editing}</span>
                <button type="button" class="link small" on:click=move |_| { editing.set(None); set_draft(String::new()); }>{t().cancel}</button>
            </div>
            <label class="visually-hidden" for="thread-input">{t().reply_in_thread}</label>
            <textarea id="thread-input" rows="2" placeholder=t().reply_in_thread maxlength="4000" node_ref=input
                prop:value=draft on:input=move |ev| set_draft(event_target_value(&ev)) on:keydown=on_key on:paste=on_paste></textarea>
            <label class="check small">
                <input id="thread-also" type="checkbox" prop:checked=move || also.get()
                    on:change=move |ev| also.set(event_target_checked(&ev))/>
                {t().also_to_room}
            </label>
            <div class="thread-actions">
                <super::files::Attach uploads/>
                <button class="primary" type="submit" disabled=move || draft().trim().is_empty()>{t().send}</button>
            </div>
        </form>
    }
}
