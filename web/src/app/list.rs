//! The message list: a window of the current room's rows, scrolled like a
//! messenger, costing the same at message 10 and message 100,000.
//!
//! - Only the window is in the DOM ([`Window`]): the newest entries while
//!   following them; scrolling near the top brings older ones in (and asks
//!   the node for more once the view holds nothing older), scrolling back
//!   down brings newer ones in, and past [`timeline::MOST`] rows the far
//!   side is unloaded; the row at the top of the view stays where it was
//!   (the list keeps the view itself: `overflow-anchor: none`).
//! - The rows are rebuilt only when the room's entries, its sends on their
//!   way or the window changed (not on a keystroke, a typing hint or a
//!   presence tick), and only for the window.
//! - At the bottom, new messages keep it at the bottom; scrolled up, a
//!   "new messages" button appears instead of a jump.
//! - Each room remembers its window and where it was scrolled.

use std::collections::HashMap;

use leptos::html::Div;
use leptos::prelude::*;

use super::messages::RowView;
use super::{format, use_ctx};
use crate::i18n::{fill, t};
use crate::timeline::{self, Row, Window, typing_line};

/// Within this many pixels of the bottom counts as at the bottom.
const STICKY_PX: f64 = 48.0;
/// Within this many pixels of an edge, the window moves (or older
/// messages load).
const EDGE_PX: f64 = 120.0;

#[derive(Clone, Copy, Default)]
struct Scroll {
    top: f64,
    height: f64,
}

/// Where a room was left scrolled up: the message at the top of the view
/// and how far below the list's top it was (what the person saw), and the
/// scroll offset for when that message is no longer drawn.
#[derive(Clone)]
struct Place {
    top: f64,
    row: Option<(String, f64)>,
}

/// What a change of rows was, for where the view goes next.
#[derive(Clone, PartialEq)]
struct Shown {
    room: Option<String>,
    window: Window,
    first: Option<String>,
    last: Option<String>,
}

#[component]
pub fn MessageList() -> impl IntoView {
    let ctx = use_ctx();
    let (chat, window) = (ctx.chat, ctx.window);
    let list = NodeRef::<Div>::new();
    let at_bottom = RwSignal::new(true);
    let new_below = RwSignal::new(false);
    // Where each room was left: its window, and `None` at the bottom.
    let positions = StoredValue::new(HashMap::<String, (Window, Option<Place>)>::new());
    let last = StoredValue::new(Scroll::default());
    // The row at the top of the view when the person moved the window, and
    // how far below the list's top it was: put back where it was after.
    let anchor = StoredValue::new_local(None::<(web_sys::Element, f64)>);
    // The first message row after the last update, and how far down the
    // list's content it was: what history coming in above is measured by.
    let first_at = StoredValue::new(None::<(String, f64)>);

    // What the rows depend on, compared cheaply on every change of the
    // chat: a keystroke or a typing hint leaves it equal.
    let stamp = Memo::new(move |_| {
        chat.with(|c| {
            c.current_room().map(|r| {
                let pending: Vec<(String, bool, bool)> =
                    r.pending.iter().map(|p| (p.id.clone(), p.failed.is_some(), p.action.is_some())).collect();
                (r.name.clone(), r.changes(), pending, r.seen_upto.clone(), r.more, r.synced, c.name.clone())
            })
        })
    });
    let rows = Memo::new(move |_| {
        // Read, not only tracked: a memo is computed when read, and one
        // never computed never changes.
        stamp.with(|_| ());
        let w = window.get();
        chat.with_untracked(|c| {
            c.current_room().map(|r| timeline::rows_in(r, &c.name, &format::local_day, &w.span(r))).unwrap_or_default()
        })
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
            let prev = last.get_value();
            last.set_value(Scroll { top, height });
            let below = height - top - client;
            // Only the person scrolling up leaves the bottom: a scroll that
            // came with a change of height is the list's own (rows coming in
            // below while it moved there, anchoring as rows went above).
            let went_up = top < prev.top - 0.5 && (height - prev.height).abs() < 0.5;
            let bottom = below < STICKY_PX || (at_bottom.get_untracked() && !went_up);
            at_bottom.set(bottom);
            if bottom {
                new_below.set(false);
            }
            let Some(r) = room.get_untracked() else { return };
            let w = window.get_untracked();
            let moved = chat.with_untracked(|c| {
                let view = c.current_room()?;
                if top < EDGE_PX && went_up {
                    w.up(view)
                } else if below < EDGE_PX {
                    // Back at the newest: follow it again.
                    w.down(view).or_else(|| (bottom && w != Window::Follow).then_some(Window::Follow))
                } else {
                    None
                }
            });
            match moved {
                Some(next) => {
                    if let Some(el) = list.get_untracked() {
                        anchor.set_value(top_row(&el));
                    }
                    window.set(next);
                }
                None if top < EDGE_PX && went_up => ctx.act(|c| c.load_older(&r)),
                None => {}
            }
            let place = (!bottom).then(|| Place { top, row: list.get_untracked().and_then(|el| top_message(&el)) });
            positions.update_value(|p| {
                p.insert(r.clone(), (window.get_untracked(), place));
            });
        }
    };

    // After the rows change: keep the view where it belongs. Measuring
    // waits for the next frame, when the DOM holds the new rows.
    Effect::new({
        let ctx = ctx.clone();
        move |prev: Option<Shown>| {
            let now = Shown {
                room: room.get(),
                window: window.get(),
                first: rows.with(|r| first_msg_key(r)),
                last: rows.with(|r| r.last().map(Row::key)),
            };
            let switched = prev.as_ref().is_none_or(|p| p.room != now.room);
            if switched {
                // The room's own window, as it was left.
                let saved = now.room.as_ref().and_then(|r| positions.with_value(|p| p.get(r).cloned()));
                let w = saved.as_ref().map(|(w, _)| w.clone()).unwrap_or_default();
                if window.get_untracked() != w {
                    window.set(w);
                }
            }
            // The user moved the window: scroll anchoring keeps the view.
            let moved = !switched && prev.as_ref().is_some_and(|p| p.window != now.window);
            let prepended =
                !switched && !moved && prev.as_ref().is_some_and(|p| p.first.is_some() && p.first != now.first);
            // New rows below are news only in a window that reaches them.
            let at_end = chat.with_untracked(|c| c.current_room().is_none_or(|r| now.window.span(r).to.is_none()));
            let appended = !switched && !moved && at_end && prev.as_ref().is_some_and(|p| p.last != now.last);
            let ctx = ctx.clone();
            let room_now = now.room.clone();
            let shown = now.first.is_some();
            let first_now = now.first.clone();
            request_animation_frame(move || {
                if shown {
                    crate::perf::mark_once(crate::perf::FIRST_MESSAGE);
                }
                let Some((_, height, client)) = measure() else {
                    return;
                };
                if switched {
                    new_below.set(false);
                    let saved =
                        room_now.as_ref().and_then(|r| positions.with_value(|p| p.get(r).and_then(|s| s.1.clone())));
                    match (&saved, list.get_untracked()) {
                        (Some(place), Some(el)) => put_back(&el, place),
                        _ => to_bottom(),
                    }
                    at_bottom.set(saved.is_none());
                } else if moved {
                    if let (Some((row, offset)), Some(el)) = (anchor.get_value(), list.get_untracked())
                        && row.is_connected()
                    {
                        let now = row.get_bounding_client_rect().top() - el.get_bounding_client_rect().top();
                        el.set_scroll_top(el.scroll_top() + (now - offset) as i32);
                    }
                    anchor.set_value(None);
                } else if prepended && !appended {
                    // Older messages went in above: stay on what was in view,
                    // by how far the row that was first moved down.
                    let before = last.get_value();
                    if let Some(el) = list.get_untracked() {
                        let moved_by = first_at
                            .get_value()
                            .and_then(|(key, was)| content_offset(&el, &key).map(|now| now - was))
                            .unwrap_or(height - before.height);
                        el.set_scroll_top((before.top + moved_by) as i32);
                    }
                } else if appended {
                    if at_bottom.get_untracked() {
                        // At the newest: follow it, unloading what was
                        // scrolled through above.
                        if matches!(window.get_untracked(), Window::At(timeline::Span { to: None, .. })) {
                            window.set(Window::Follow);
                        }
                        to_bottom();
                    } else {
                        new_below.set(true);
                    }
                }
                if let Some((top, height, _)) = measure() {
                    last.set_value(Scroll { top, height });
                }
                if let (Some(key), Some(el)) = (first_now, list.get_untracked()) {
                    first_at.set_value(content_offset(&el, &key).map(|off| (key, off)));
                }
                // A room too short to scroll up cannot ask for more by
                // scrolling: ask now.
                if height <= client + 1.0
                    && let Some(r) = &room_now
                {
                    ctx.act(|c| c.load_older(r));
                }
            });
            now
        }
    });

    let heard = ctx.tabs.heard;
    // A message deleted or hidden takes its words out of the region too.
    Effect::new(move |_| {
        let gone: Vec<(String, u64)> = chat.with(|c| {
            let room = c.current_room();
            let shown = |o: &str, s: u64| {
                room.and_then(|r| r.get(o, s)).is_some_and(|m| !meshchat_shared::rooms::is_redacted(&m.body))
            };
            heard.with_untracked(|h| h.messages().filter(|(o, s)| !shown(o, *s)).cloned().collect())
        });
        if !gone.is_empty() {
            heard.update(|h| {
                h.retain(|o, s| !gone.iter().any(|(go, gs)| go == o && *gs == s));
            });
        }
    });
    // Each row drawn follows its entry through a signal of its own.
    let cells = super::fanout::Keyed::new(rows, Row::key);
    let typing = Memo::new(move |_| {
        let t = ctx.now.get();
        chat.with(|c| c.current_room().and_then(|r| typing_line(&r.typing_names(t))))
    });
    let loading = Memo::new(move |_| chat.with(|c| c.current_room().is_some_and(|r| r.loading_older)));
    let jump = move |_| {
        // The newest again: following, at the bottom.
        window.set(Window::Follow);
        request_animation_frame(move || {
            if let Some(el) = list.get_untracked() {
                let opts = web_sys::ScrollToOptions::new();
                opts.set_top(el.scroll_height() as f64);
                opts.set_behavior(web_sys::ScrollBehavior::Smooth);
                el.scroll_to_with_scroll_to_options(&opts);
            }
        });
        new_below.set(false);
    };

    view! {
        <section class="messages-wrap">
            <div
                class="messages"
                node_ref=list
                role="log"
                // The window adds and drops rows as one scrolls: the
                // region below says what is new instead.
                aria-live="off"
                aria-label=move || room.get().map(|r| fill(t().messages_in, &[&r])).unwrap_or_default()
                tabindex="0"
                data-window=move || window.with(|w| match w {
                    Window::Follow => "follow",
                    Window::At(timeline::Span { to: None, .. }) => "to-newest",
                    Window::At(_) => "between",
                })
                on:scroll=on_scroll
                on:keydown=move |ev| super::keys::between_messages(&ev)
            >
                <Show when=move || loading.get()>
                    <div class="loading" role="status">{t().loading_older}</div>
                </Show>
                <For each=move || rows.get() key=Row::key children=move |row| {
                    // Keyed by what the row is; what it shows follows its entry.
                    let shown = cells.signal(row.key(), row);
                    move || {
                        let row = shown.get();
                        // Drawn anew: the focus in it comes back (keyboard users).
                        if let Row::Msg { msg, .. } = &row {
                            let id = super::messages::anchor_id(&msg.origin, msg.seq);
                            if let Some(at) = super::keys::focus_in(&id) {
                                super::keys::refocus(id, at);
                            }
                        }
                        view! { <RowView row/> }
                    }
                }/>
            </div>
            <Show when=move || new_below.get()>
                <button class="new-below" on:click=jump>{t().new_below}</button>
            </Show>
            <div class="typing" aria-live="polite">{move || typing.get()}</div>
            <div class="visually-hidden" role="status" aria-live="polite" aria-relevant="additions">
                <For each=move || heard.get().items() key=|(id, _)| *id children=|(_, text)| view! { <p>{text}</p> }/>
            </div>
        </section>
    }
}

/// How far down the list's content the message row keyed `key` is.
fn content_offset(list: &web_sys::HtmlDivElement, key: &str) -> Option<f64> {
    // A message row's key is `m:<origin>:<seq>`.
    let (origin, seq) = key.strip_prefix("m:")?.rsplit_once(':')?;
    let row = document().get_element_by_id(&super::messages::anchor_id(origin, seq.parse().ok()?))?;
    let top = row.get_bounding_client_rect().top() - list.get_bounding_client_rect().top();
    Some(top + f64::from(list.scroll_top()))
}

/// The message row at the top of the list's view (the first whose bottom
/// is below the list's top), by element id, and how far below the list's
/// top it is. Rows are in order: found by halves, not one by one.
fn top_message(list: &web_sys::HtmlDivElement) -> Option<(String, f64)> {
    let top = list.get_bounding_client_rect().top();
    let children = list.children();
    let (mut lo, mut hi) = (0, children.length());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match children.item(mid) {
            Some(c) if c.get_bounding_client_rect().bottom() <= top => lo = mid + 1,
            _ => hi = mid,
        }
    }
    (lo..children.length()).filter_map(|i| children.item(i)).find(|c| c.id().starts_with("msg-")).map(|c| {
        let offset = c.get_bounding_client_rect().top() - top;
        (c.id(), offset)
    })
}

/// Scrolls the list back to `place`: its message where it was in the view,
/// whatever changed above it meanwhile (rows unloaded, a day or a "new"
/// line); its scroll offset if that message is no longer drawn.
fn put_back(list: &web_sys::HtmlDivElement, place: &Place) {
    list.set_scroll_top(place.top as i32);
    let Some((id, was)) = &place.row else { return };
    let children = list.children();
    let row = (0..children.length()).filter_map(|i| children.item(i)).find(|c| c.id() == *id);
    if let Some(row) = row {
        let now = row.get_bounding_client_rect().top() - list.get_bounding_client_rect().top();
        list.set_scroll_top(list.scroll_top() + (now - was) as i32);
    }
}

/// The first row at or below the top of the list's view, and its offset.
fn top_row(list: &web_sys::HtmlDivElement) -> Option<(web_sys::Element, f64)> {
    let top = list.get_bounding_client_rect().top();
    let children = list.children();
    (0..children.length()).filter_map(|i| children.item(i)).find_map(|c| {
        let r = c.get_bounding_client_rect();
        (r.bottom() > top).then(|| (c, r.top() - top))
    })
}

fn first_msg_key(rows: &[Row]) -> Option<String> {
    rows.iter().find(|r| matches!(r, Row::Msg { .. })).map(Row::key)
}
