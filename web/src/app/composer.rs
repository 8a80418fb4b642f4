//! Writing a message: Enter sends, Shift+Enter is a new line.

use leptos::html::Textarea;
use leptos::prelude::*;
use meshchat_shared::limits::MAX_BODY_CHARS;

use meshchat_shared::rooms::RoomEvent;

use super::use_ctx;
use crate::i18n::{fill, t};
use crate::net::now_ms;

/// The count shows once a message is this long.
const SHOW_COUNT_FROM: usize = 3_000;

/// A fresh idempotency key: a random (v4) UUID.
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    let filled = window().crypto().ok().is_some_and(|c| c.get_random_values_with_u8_array(&mut b).is_ok());
    if !filled {
        for x in b.iter_mut() {
            *x = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// The text a message shows now: its latest edit, or what was written.
pub(super) fn current_text(room: &meshchat_shared::client::room::RoomView, origin: &str, seq: u64) -> Option<String> {
    use meshchat_shared::client::annotate::Annotations;
    if let Some((body, _)) = Annotations::of(room).edits.get(&(origin.to_owned(), seq)) {
        return Some(body.clone());
    }
    let m = room.messages().find(|m| m.origin == origin && m.seq == seq)?;
    Some(meshchat_shared::client::shown_text(m)).filter(|t| !t.is_empty())
}

#[component]
pub fn Composer() -> impl IntoView {
    let ctx = use_ctx();
    let chat = ctx.chat;
    let room = Memo::new(move |_| chat.with(|c| c.current.clone()));
    // The room as the composer names it, and why one may not write there.
    let people = ctx.people;
    let title = Memo::new(move |_| {
        chat.with(|c| {
            let r = c.current_room()?;
            Some(crate::rooms::title_as(&r.name, r.info.as_ref(), &c.name, &|n| people.display(n)))
        })
    });
    let removed = Memo::new(move |_| {
        chat.with(|c| {
            let r = c.current_room()?;
            let archived = r.info.as_ref().is_some_and(|i| i.archived);
            r.removed.clone().or_else(|| archived.then(|| t().room_archived.to_owned()))
        })
    });
    // One draft per room, so switching rooms keeps what was typed; kept
    // across reloads and tabs (see `Ctx::drafts`).
    let drafts = ctx.drafts;
    let draft = move || room.get().and_then(|r| drafts.with(|d| d.get(&r).cloned())).unwrap_or_default();
    let count = Memo::new(move |_| draft().chars().count());
    let over = move || count.get() > MAX_BODY_CHARS;
    let blank = move || draft().trim().is_empty();
    let near_limit = move || count.get() >= SHOW_COUNT_FROM;
    let error = RwSignal::new(None::<String>);
    let input = NodeRef::<Textarea>::new();
    let uploads = super::files::Uploads::new();
    let paste_ctx = ctx.clone();
    // Files pasted (a screenshot) are shared; text pastes as text.
    let on_paste = move |ev: leptos::ev::ClipboardEvent| {
        if uploads.add_all(&paste_ctx, ev.clipboard_data().and_then(|d| d.files())) {
            ev.prevent_default();
        }
    };
    let suggestions = super::suggest::suggestions(draft);
    let accept = Callback::new(move |name: String| {
        let Some(r) = room.get_untracked() else { return };
        drafts.update(|d| {
            let now = d.get(&r).cloned().unwrap_or_default();
            d.insert(r.clone(), crate::rooms::complete_mention(&now, &name));
        });
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });

    // Focus the composer when the room changes.
    Effect::new(move |_| {
        room.track();
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });

    let send = {
        let ctx = ctx.clone();
        move || {
            let Some(r) = room.get_untracked() else {
                return;
            };
            let body = drafts.with_untracked(|d| d.get(&r).cloned()).unwrap_or_default();
            if body.trim().is_empty() || body.chars().count() > MAX_BODY_CHARS {
                return;
            }
            let mut result = Ok(());
            let id = new_id();
            // An answer or an edit goes out like a message, through the outbox.
            match ctx.compose.get_untracked() {
                Some(super::Compose::Reply { origin, seq, .. }) => {
                    let reply = RoomEvent::Reply { origin, seq, body: body.clone(), thread: false, also: false };
                    ctx.act(|c| result = c.act(&r, &id, reply, now_ms()));
                }
                Some(super::Compose::Edit { origin, seq }) => {
                    let edit = RoomEvent::Edited { origin, seq, body: body.clone() };
                    ctx.act(|c| result = c.act(&r, &id, edit, now_ms()));
                }
                None => ctx.act(|c| result = c.send(&r, &id, &body, now_ms())),
            }
            match result {
                Ok(()) => {
                    drafts.update(|d| {
                        d.remove(&r);
                    });
                    ctx.compose.set(None);
                    error.set(None);
                }
                Err(e) => error.set(Some(crate::i18n::invalid(&e))),
            }
        }
    };
    let send_key = send.clone();
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        // Tab takes the first suggested name.
        if super::suggest::tab_takes(&ev, suggestions, accept) {
            return;
        }
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send_key();
        }
    };
    let on_input = {
        let ctx = ctx.clone();
        move |ev: leptos::ev::Event| {
            let Some(r) = room.get_untracked() else {
                return;
            };
            let text = event_target_value(&ev);
            let typing = !text.trim().is_empty();
            drafts.update(|d| {
                d.insert(r.clone(), text);
            });
            if typing {
                ctx.act(|c| c.typing(&r, now_ms()));
            }
        }
    };

    // Replying or editing: the focus comes to the composer (from the
    // message's action, with the keyboard too), an edit with its text.
    let compose = ctx.compose;
    Effect::new(move |_| {
        let Some(mode) = compose.get() else { return };
        if let (super::Compose::Edit { origin, seq }, Some(r)) = (mode, room.get_untracked()) {
            let edited = chat.with_untracked(|c| c.current_room().and_then(|v| current_text(v, &origin, seq)));
            drafts.update(|d| {
                d.insert(r, edited.unwrap_or_default());
            });
        }
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });
    let on_escape = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" && compose.get_untracked().is_some() {
            compose.set(None);
        }
    };
    view! {
        <div class="compose-mode" hidden=move || compose.get().is_none()>
            {move || match compose.get() {
                Some(super::Compose::Reply { author, preview, .. }) => view! {
                    <span class="small">{t().replying_to}<strong title=format!("@{author}")>{people.display(&author)}</strong>": "{preview}</span>
                }.into_any(),
                Some(super::Compose::Edit { .. }) => view! { <span class="small">{t().editing}</span> }.into_any(),
                None => ().into_any(),
            }}
            <button class="link small" on:click=move |_| compose.set(None)>{t().cancel}</button>
        </div>
        <super::suggest::MentionList suggestions accept/>
        <super::files::UploadList uploads/>
        <form class="composer" on:keydown=on_escape on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            send();
        }>
            <label class="visually-hidden" for="composer-input">
                {move || title.get().map(|r| fill(t().message_room, &[&r])).unwrap_or_default()}
            </label>
            <textarea
                id="composer-input"
                node_ref=input
                rows="1"
                placeholder=move || match (title.get(), removed.get()) {
                    (_, Some(why)) => fill(t().cannot_write, &[&why]),
                    (Some(r), None) => fill(t().message_room, &[&r]),
                    (None, None) => t().join_to_chat.into(),
                }
                disabled=move || room.get().is_none() || removed.get().is_some()
                aria-describedby="composer-count composer-error"
                aria-invalid=move || over().to_string()
                prop:value=draft
                on:input=on_input
                on:keydown=on_keydown
                on:paste=on_paste
            ></textarea>
            <super::files::Attach uploads/>
            <span
                id="composer-count"
                class="count"
                class:over=over
                class:shown=near_limit
                aria-live="polite"
            >
                {move || format!("{} / {}", count.get(), MAX_BODY_CHARS)}
            </span>
            <button class="primary send" type="submit" disabled=move || blank() || over() aria-label=t().send_message>
                {t().send}
            </button>
            <p id="composer-error" class="error small" role="alert">
                {move || if over() {
                    Some(fill(t().too_long, &[&(count.get() - MAX_BODY_CHARS).to_string()]))
                } else {
                    error.get()
                }}
            </p>
        </form>
    }
}
