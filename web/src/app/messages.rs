//! The message list: rows of the current room, scrolled like a messenger.
//!
//! - At the bottom, new messages keep it at the bottom; scrolled up, a
//!   "new messages" button appears instead of a jump.
//! - Near the top, the page before the oldest message is asked for, and the
//!   view stays put while it is prepended.
//! - Each room remembers where it was scrolled.

use std::collections::HashMap;

use leptos::html::Div;
use leptos::prelude::*;
use meshchat_shared::Message;

use super::avatar::Avatar;
use super::{format, use_ctx};
use crate::state::timeline::{self, Row, typing_line};

/// Within this many pixels of the bottom counts as at the bottom.
const STICKY_PX: f64 = 48.0;
/// Within this many pixels of the top, older messages load.
const LOAD_OLDER_PX: f64 = 120.0;

#[derive(Clone, Copy, Default)]
struct Scroll {
    top: f64,
    height: f64,
}

#[component]
pub fn MessageList() -> impl IntoView {
    let ctx = use_ctx();
    let chat = ctx.chat;
    let now = ctx.now;
    let list = NodeRef::<Div>::new();
    let at_bottom = RwSignal::new(true);
    let new_below = RwSignal::new(false);
    // Where each room was left: `None` means at the bottom.
    let positions = StoredValue::new(HashMap::<String, Option<f64>>::new());
    let last = StoredValue::new(Scroll::default());

    let rows = Memo::new(move |_| {
        chat.with(|c| c.current_room().map(|r| timeline::rows(r, &c.name, &format::local_day)).unwrap_or_default())
    });
    let room = Memo::new(move |_| chat.with(|c| c.current.clone()));

    let measure = move || {
        list.get_untracked().map(|el| (el.scroll_top() as f64, el.scroll_height() as f64, el.client_height() as f64))
    };
    let to_bottom = move || {
        if let Some(el) = list.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    };

    let on_scroll = {
        let ctx = ctx.clone();
        move |_| {
            let Some((top, height, client)) = measure() else {
                return;
            };
            last.set_value(Scroll { top, height });
            let bottom = height - top - client < STICKY_PX;
            at_bottom.set(bottom);
            if bottom {
                new_below.set(false);
            }
            if let Some(r) = room.get_untracked() {
                positions.update_value(|p| {
                    p.insert(r.clone(), (!bottom).then_some(top));
                });
                if top < LOAD_OLDER_PX {
                    ctx.act(|c| c.load_older(&r));
                }
            }
        }
    };

    // After the rows change: keep the view where it belongs. Measuring
    // waits for the next frame, when the DOM holds the new rows.
    Effect::new({
        let ctx = ctx.clone();
        move |prev: Option<(Option<String>, Option<String>, Option<String>)>| {
            let current = room.get();
            let (first, last_key) = rows.with(|r| (first_msg_key(r), r.last().map(Row::key)));
            let switched = prev.as_ref().is_none_or(|(r, _, _)| *r != current);
            let prepended = !switched && prev.as_ref().is_some_and(|(_, f, _)| f.is_some() && *f != first);
            let appended = !switched && prev.as_ref().is_some_and(|(_, _, l)| *l != last_key);
            let ctx = ctx.clone();
            let room_now = current.clone();
            let shown = first.is_some();
            request_animation_frame(move || {
                if shown {
                    crate::perf::mark_once(crate::perf::FIRST_MESSAGE);
                }
                let Some((_, height, client)) = measure() else {
                    return;
                };
                if switched {
                    new_below.set(false);
                    let saved = room_now.as_ref().and_then(|r| positions.with_value(|p| p.get(r).copied().flatten()));
                    match (saved, list.get_untracked()) {
                        (Some(top), Some(el)) => el.set_scroll_top(top as i32),
                        _ => to_bottom(),
                    }
                    at_bottom.set(saved.is_none());
                } else if prepended && !appended {
                    // Older messages went in above: stay on what was in view.
                    let before = last.get_value();
                    if let Some(el) = list.get_untracked() {
                        el.set_scroll_top((before.top + height - before.height) as i32);
                    }
                } else if appended {
                    if at_bottom.get_untracked() {
                        to_bottom();
                    } else {
                        new_below.set(true);
                    }
                }
                if let Some((top, height, _)) = measure() {
                    last.set_value(Scroll { top, height });
                }
                // A room too short to scroll up cannot ask for more by
                // scrolling: ask now.
                if height <= client + 1.0
                    && let Some(r) = &room_now
                {
                    ctx.act(|c| c.load_older(r));
                }
            });
            (current, first, last_key)
        }
    });

    let typing = Memo::new(move |_| {
        let t = now.get();
        chat.with(|c| c.current_room().and_then(|r| typing_line(&r.typing_names(t))))
    });
    let loading = Memo::new(move |_| chat.with(|c| c.current_room().is_some_and(|r| r.loading_older)));

    view! {
        <section class="messages-wrap">
            <div
                class="messages"
                node_ref=list
                role="log"
                aria-live="polite"
                aria-label=move || room.get().map(|r| format!("Messages in #{r}")).unwrap_or_default()
                tabindex="0"
                on:scroll=on_scroll
            >
                <Show when=move || loading.get()>
                    <div class="loading" role="status">"Loading older messages…"</div>
                </Show>
                <For each=move || rows.get() key=Row::key children=move |row| view! { <RowView row/> }/>
            </div>
            <Show when=move || new_below.get()>
                <button class="new-below" on:click=move |_| {
                    if let Some(el) = list.get_untracked() {
                        let opts = web_sys::ScrollToOptions::new();
                        opts.set_top(el.scroll_height() as f64);
                        opts.set_behavior(web_sys::ScrollBehavior::Smooth);
                        el.scroll_to_with_scroll_to_options(&opts);
                    }
                    new_below.set(false);
                }>"New messages ↓"</button>
            </Show>
            <div class="typing" aria-live="polite">{move || typing.get()}</div>
        </section>
    }
}

fn first_msg_key(rows: &[Row]) -> Option<String> {
    rows.iter().find(|r| matches!(r, Row::Msg { .. })).map(Row::key)
}

#[component]
fn RowView(row: Row) -> impl IntoView {
    let ctx = use_ctx();
    match row {
        Row::Beginning => {
            let title = ctx.chat.with_untracked(|c| {
                c.current_room().map(|r| crate::rooms::title(&r.name, r.info.as_ref(), &c.name)).unwrap_or_default()
            });
            view! {
                <div class="beginning">
                    <strong>{title}</strong>
                    <span>" This is the very beginning of the room."</span>
                </div>
            }
            .into_any()
        }
        Row::Day { ts, .. } => {
            let now = ctx.now;
            view! {
                <div class="day" role="separator"><span>{move || format::day_label(ts, now.get())}</span></div>
            }
            .into_any()
        }
        Row::Presence { name, online, ts } => view! {
            <div class="notice">
                <span class="notice-text">{name}{if online { " joined" } else { " left" }}</span>
                <time datetime=format::iso(ts) title=format::full(ts)>{format::time(ts)}</time>
            </div>
        }
        .into_any(),
        Row::Event { text, ts, .. } => view! {
            <div class="notice event">
                <span class="notice-text">{text}</span>
                <time datetime=format::iso(ts) title=format::full(ts)>{format::time(ts)}</time>
            </div>
        }
        .into_any(),
        Row::Msg { msg, head, mine } => view! { <MessageView msg head mine/> }.into_any(),
        Row::Pending { id, body, created_ms, failed, head } => {
            let room = ctx.chat.with_untracked(|c| c.current.clone()).unwrap_or_default();
            let name = ctx.chat.with_untracked(|c| c.name.clone());
            let failed_now = failed.is_some();
            let (retry_ctx, discard_ctx) = (ctx.clone(), ctx.clone());
            let (retry_room, discard_room) = (room.clone(), room);
            let (retry_id, discard_id) = (id.clone(), id);
            view! {
                <article
                    class="msg mine"
                    class:head=head
                    class:pending=!failed_now
                    class:failed=failed_now
                >
                    {head.then(|| view! {
                        <Avatar name=name.clone()/>
                        <header class="msg-head">
                            <span class="author">{name.clone()}</span>
                            <time datetime=format::iso(created_ms)>{format::time(created_ms)}</time>
                        </header>
                    })}
                    <p class="body">{body}</p>
                    {match failed {
                        None => view! { <p class="delivery" role="status">"Sending…"</p> }.into_any(),
                        Some(reason) => view! {
                            <p class="delivery failed" role="alert">
                                <span>"Not sent. "{reason}</span>
                                <button class="link" on:click=move |_| {
                                    retry_ctx.act(|c| c.retry(&retry_room, &retry_id, crate::net::now_ms()));
                                }>"Retry"</button>
                                <button class="link" on:click=move |_| {
                                    discard_ctx.act(|c| c.discard(&discard_room, &discard_id));
                                }>"Discard"</button>
                            </p>
                        }.into_any(),
                    }}
                </article>
            }
            .into_any()
        }
    }
}

#[component]
fn MessageView(msg: Message, head: bool, mine: bool) -> impl IntoView {
    let details = RwSignal::new(false);
    let vc = msg.vc.iter().map(|(o, s)| format!("{o}:{s}")).collect::<Vec<_>>().join(", ");
    let info = format!("{} · from node {} (#{}) · vector {{{}}}", format::full(msg.ts), msg.origin, msg.seq, vc);
    let author = msg.author.clone();
    let ctx = use_ctx();
    // Moderators (and owners) may delete anyone's message.
    let moderates =
        Memo::new(move |_| ctx.chat.with(|c| crate::rooms::moderates(c.current_room().and_then(|r| r.info.as_ref()))));
    let target = (msg.origin.clone(), msg.seq);
    let delete = move |_| {
        if window().confirm_with_message("Delete this message for everyone?").unwrap_or(false) {
            let event = meshchat_shared::rooms::RoomEvent::Deleted { origin: target.0.clone(), seq: target.1 };
            super::members::act(&use_ctx(), event, RwSignal::new(None));
        }
    };
    let stamp = {
        let info = info.clone();
        let (time, iso) = (format::time(msg.ts), format::iso(msg.ts));
        move || {
            view! {
                <button
                    class="stamp"
                    title=info.clone()
                    aria-label=format!("Sent {info}. Show details")
                    aria-expanded=move || details.get().to_string()
                    on:click=move |_| details.update(|d| *d = !*d)
                >
                    <time datetime=iso.clone()>{time.clone()}</time>
                </button>
            }
        }
    };
    view! {
        <article class="msg" class:head=head class:mine=mine>
            {head.then(|| view! {
                <Avatar name=author.clone()/>
                <header class="msg-head">
                    <span class="author">{author.clone()}</span>
                    {stamp.clone()()}
                </header>
            })}
            {(!head).then(|| view! { <span class="gutter">{stamp()}</span> })}
            <p class="body">{msg.body.clone()}</p>
            {mine.then(|| view! { <span class="tick" role="img" aria-label="Sent" title="Sent">"✓"</span> })}
            <Show when=move || moderates.get()>
                <button class="icon msg-delete" title="Delete message" aria-label="Delete message" on:click=delete.clone()>"🗑"</button>
            </Show>
            <Show when=move || details.get()>
                <p class="details">{info.clone()}</p>
            </Show>
        </article>
    }
}
