//! The rows of the message list (`list.rs` windows and scrolls them): a
//! message with its reply, edits, reactions, file and actions; day
//! separators, notices, sends on their way.

use leptos::prelude::*;
use meshchat_shared::Message;

use super::avatar::Avatar;
use super::{Ctx, format, use_ctx};
use meshchat_shared::rooms::{RoomEvent, is_redacted};

use crate::i18n::{fill, t};
use crate::state::timeline::{Quote, Row};

#[component]
pub(super) fn RowView(row: Row) -> impl IntoView {
    let ctx = use_ctx();
    match row {
        Row::Beginning => {
            // Reactive: the row is kept (one key) when the room changes.
            let (chat, people) = (ctx.chat, ctx.people);
            let title = move || {
                chat.with(|c| {
                    let r = c.current_room()?;
                    Some(crate::rooms::title_as(&r.name, r.info.as_ref(), &c.name, &|n| people.display(n)))
                })
                .unwrap_or_default()
            };
            view! {
                <div class="beginning">
                    <strong>{title}</strong>
                    <span>{t().beginning}</span>
                </div>
            }
            .into_any()
        }
        Row::NewLine => view! {
            <div class="new-line" role="separator"><span>{t().new_messages}</span></div>
        }
        .into_any(),
        Row::Day { ts, .. } => {
            let now = ctx.now;
            view! {
                <div class="day" role="separator"><span>{move || format::day_label(ts, now.get())}</span></div>
            }
            .into_any()
        }
        Row::Presence { name, online, ts } => view! {
            <div class="notice">
                <span class="notice-text">{fill(if online { t().presence_joined } else { t().presence_left }, &[&name])}</span>
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
        Row::Msg { msg, head, mine, edited, reactions, reply_to, mentions_me, file, thread } => {
            view! { <MessageView msg head mine edited reactions reply_to mentions_me file thread/> }.into_any()
        }
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
                        None => view! { <p class="delivery" role="status">{t().sending}</p> }.into_any(),
                        Some(reason) => view! {
                            <p class="delivery failed" role="alert">
                                <span>{t().not_sent}{reason}</span>
                                <button class="link" on:click=move |_| {
                                    retry_ctx.act(|c| c.retry(&retry_room, &retry_id, crate::net::now_ms()));
                                }>{t().retry}</button>
                                <button class="link" on:click=move |_| {
                                    discard_ctx.act(|c| c.discard(&discard_room, &discard_id));
                                }>{t().discard}</button>
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
fn MessageView(
    msg: Message,
    head: bool,
    mine: bool,
    edited: Option<u64>,
    reactions: Vec<(String, Vec<String>)>,
    reply_to: Option<Box<Quote>>,
    mentions_me: bool,
    file: Option<Box<meshchat_shared::client::annotate::FileRef>>,
    thread: Option<Box<meshchat_shared::client::annotate::Thread>>,
) -> impl IntoView {
    let ctx = use_ctx();
    let details = RwSignal::new(false);
    let vc = msg.vc.iter().map(|(o, s)| format!("{o}:{s}")).collect::<Vec<_>>().join(", ");
    let info = fill(t().sent_details, &[&format::full(msg.ts), &msg.origin, &msg.seq.to_string(), &vc]);
    let author = msg.author.clone();
    let deleted = is_redacted(&msg.body);
    // Moderators (and owners) may delete anyone's message.
    let moderates = ctx.moderates.signal();
    let stamp = {
        let info = info.clone();
        let (time, iso) = (format::time(msg.ts), format::iso(msg.ts));
        move || {
            view! {
                <button
                    class="stamp"
                    title=info.clone()
                    aria-label=fill(t().show_details, &[&time, &info])
                    aria-expanded=move || details.get().to_string()
                    on:click=move |_| details.update(|d| *d = !*d)
                >
                    <time datetime=iso.clone()>{time.clone()}</time>
                </button>
            }
        }
    };
    let anchor = anchor_id(&msg.origin, msg.seq);
    let target = (msg.origin.clone(), msg.seq);
    view! {
        <article class="msg" tabindex="-1" class:head=head class:mine=mine class:deleted=deleted class:mention=mentions_me id=anchor>
            {head.then(|| view! {
                <Avatar name=author.clone() card=true/>
                <header class="msg-head">
                    <super::people::Name name=author.clone()/>
                    {stamp.clone()()}
                </header>
            })}
            {(!head).then(|| view! { <span class="gutter">{stamp()}</span> })}
            {reply_to.map(|q| view! { <QuoteView q=*q/> })}
            {if deleted {
                view! { <p class="body tombstone">{t().message_deleted}</p> }.into_any()
            } else {
                view! { <div class="body">{formatted(&msg.body)}</div> }.into_any()
            }}
            {file.map(|f| view! { <super::files::FileView f=*f room=msg.room.clone()/> })}
            {edited.filter(|_| !deleted).map(|ts| view! {
                <span class="edited small muted" title=fill(t().edited_at, &[&format::full(ts)])>{t().edited}</span>
            })}
            {(!reactions.is_empty() && !deleted).then(|| view! { <Reactions target=target.clone() reactions/> })}
            {thread.map(|t| view! { <super::threads::Summary root=target.clone() thread=*t/> })}
            {mine.then(|| view! { <span class="tick" role="img" aria-label=t().sent title=t().sent>"✓"</span> })}
            {(!deleted).then(|| view! { <Actions msg=msg.clone() mine moderates/> })}
            <Show when=move || details.get()>
                <p class="details">{info.clone()}</p>
            </Show>
        </article>
    }
}

/// A message's text with its formatting, built as elements (never HTML).
fn formatted(text: &str) -> impl IntoView + use<> {
    use crate::markup::{Block, parse};
    parse(text)
        .into_iter()
        .map(|b| match b {
            Block::Para(v) => view! { <p class="para">{spans(v)}</p> }.into_any(),
            Block::Code(t) => view! { <pre class="code-block"><code>{t}</code></pre> }.into_any(),
            Block::Quote(v) => view! { <blockquote>{spans(v)}</blockquote> }.into_any(),
        })
        .collect_view()
}

fn spans(v: Vec<crate::markup::Inline>) -> AnyView {
    use crate::markup::Inline;
    v.into_iter()
        .map(|i| match i {
            Inline::Text(t) => t.into_any(),
            Inline::Code(t) => view! { <code>{t}</code> }.into_any(),
            Inline::Bold(x) => view! { <strong>{spans(x)}</strong> }.into_any(),
            Inline::Italic(x) => view! { <em>{spans(x)}</em> }.into_any(),
            Inline::Strike(x) => view! { <s>{spans(x)}</s> }.into_any(),
            Inline::Link(url) => view! {
                <a href=url.clone() target="_blank" rel="noopener noreferrer">{url.clone()}</a>
            }
            .into_any(),
        })
        .collect_view()
        .into_any()
}

/// The answered message, quoted; a click shows it.
#[component]
fn QuoteView(q: Quote) -> impl IntoView {
    let who = q.author.clone().unwrap_or_default();
    let ctx = use_ctx();
    view! {
        <button class="quote" aria-label=fill(t().show_quoted, &[&who]) on:click=move |_| {
            if let Some(room) = ctx.chat.with_untracked(|c| c.current.clone()) {
                show_message(ctx.clone(), room, anchor_id(&q.origin, q.seq));
            }
        }>
            <strong>{q.author.clone()}</strong>" "<span>{q.body.clone()}</span>
        </button>
    }
}

/// Opens `room` (joining it if need be) and shows the message `anchor`,
/// paging back through history until it is loaded (or nothing older is);
/// a reply in a thread is shown in its thread, opened beside the room.
pub fn show_message(ctx: Ctx, room: String, anchor: String) {
    ctx.act(|c| {
        let _ = c.add_room(&room);
        c.select(&room);
    });
    leptos::task::spawn_local(async move {
        let mut thread_opened = false;
        for _ in 0..60 {
            if !thread_opened && let Some((origin, seq)) = thread_of(&ctx, &room, &anchor) {
                super::threads::open(&ctx, origin, seq);
                thread_opened = true;
                crate::net::sleep(std::time::Duration::from_millis(150)).await;
            }
            if let Some(el) = document().get_element_by_id(&anchor) {
                el.scroll_into_view();
                let _ = el.class_list().add_1("flash");
                return;
            }
            // Held, outside the window: a window around it, drawn next.
            if let Some(w) = window_around(&ctx, &room, &anchor) {
                ctx.window.set(w);
            } else {
                let (synced, more) =
                    ctx.chat.with_untracked(|c| c.room(&room).map_or((true, false), |r| (r.synced, r.more)));
                if synced && !more {
                    return;
                }
                ctx.act(|c| c.load_older(&room));
            }
            // Drawn first: the room, the window, each older page.
            crate::net::sleep(std::time::Duration::from_millis(150)).await;
        }
    });
}

/// The element id of the message at `origin:seq` (what permalinks,
/// search results and the list find it by).
pub(super) fn anchor_id(origin: &str, seq: u64) -> String {
    format!("msg-{origin}-{seq}")
}

/// The place of the message [`anchor_id`] names.
fn place(anchor: &str) -> Option<(&str, u64)> {
    let (origin, seq) = anchor.strip_prefix("msg-")?.rsplit_once('-')?;
    Some((origin, seq.parse().ok()?))
}

/// The root of the thread the message [`anchor_id`] names replies in, if
/// it is held and a thread reply.
fn thread_of(ctx: &Ctx, room: &str, anchor: &str) -> Option<(String, u64)> {
    let (origin, seq) = place(anchor)?;
    ctx.chat.with_untracked(|c| meshchat_shared::rooms::thread_root(c.room(room)?.get(origin, seq)?).map(|(r, _)| r))
}

/// A window of `room` around the message [`anchor_id`] names, if held.
fn window_around(ctx: &Ctx, room: &str, anchor: &str) -> Option<crate::timeline::Window> {
    let (origin, seq) = place(anchor)?;
    ctx.chat.with_untracked(|c| {
        let view = c.room(room)?;
        Some(crate::timeline::Window::around(view, &view.get(origin, seq)?.cursor()))
    })
}

/// Reaction chips: emoji, count, who (on hover); a click toggles one's own.
#[component]
fn Reactions(target: (String, u64), reactions: Vec<(String, Vec<String>)>) -> impl IntoView {
    let ctx = use_ctx();
    let me = ctx.chat.with_untracked(|c| c.name.clone());
    view! {
        <div class="reactions">
            {reactions.into_iter().map(|(emoji, who)| {
                let mine = who.contains(&me);
                let (ctx, target, e) = (ctx.clone(), target.clone(), emoji.clone());
                view! {
                    <button class="reaction" class:mine=mine aria-pressed=mine.to_string()
                        title=who.join(", ") aria-label=format!("{emoji} {}: {}", who.len(), who.join(", "))
                        on:click=move |_| react(&ctx, &target, &e, !mine)>
                        {emoji.clone()}" "{who.len()}
                    </button>
                }
            }).collect_view()}
        </div>
    }
}

/// Puts a reaction on (or takes it off) through the outbox.
fn react(ctx: &super::Ctx, target: &(String, u64), emoji: &str, on: bool) {
    let Some(room) = ctx.chat.with_untracked(|c| c.current.clone()) else { return };
    let action = RoomEvent::Reacted { origin: target.0.clone(), seq: target.1, emoji: emoji.to_owned(), on };
    let id = crate::rooms::action_id(js_sys::Math::random(), crate::net::now_ms());
    ctx.act(|c| drop(c.act(&room, &id, action, crate::net::now_ms())));
}

/// The quick reactions of the picker.
const QUICK: [&str; 6] = ["👍", "🎉", "❤️", "😄", "😮", "🙏"];

/// The picker, in a module of its own fetched the first time one opens.
#[leptos::wasm_split::wasm_split(emoji_picker, wasm_split_path = ::leptos::wasm_split, fallible)]
fn emoji_picker(done: Callback<Option<&'static str>>) -> Result<AnyView, super::lazy::Unloaded> {
    Ok(view! { <Picker done/> }.into_any())
}

/// Quick reactions, and a search by shortcode (`tada`, `:+1:`).
#[component]
fn Picker(done: Callback<Option<&'static str>>) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let shown = move || {
        let q = query.get();
        if q.trim().is_empty() {
            QUICK.iter().map(|e| ("", *e)).collect::<Vec<_>>()
        } else {
            crate::emoji::search(&q).into_iter().take(12).collect()
        }
    };
    // Enter takes the first match; Escape closes, back on the React button.
    let search = NodeRef::<leptos::html::Input>::new();
    search.on_load(|el| drop(el.focus()));
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Enter" => {
            ev.prevent_default();
            if let Some((_, e)) = shown().into_iter().next() {
                done.run(Some(e));
            }
        }
        "Escape" => {
            ev.stop_propagation();
            done.run(None);
        }
        _ => {}
    };
    view! {
        <div class="picker" role="group" aria-label=t().pick_reaction>
            <input class="emoji-search" type="search" placeholder=":tada:" aria-label=t().search_emoji
                node_ref=search prop:value=move || query.get() on:keydown=on_key
                on:input=move |ev| query.set(event_target_value(&ev))/>
            {move || shown().into_iter().map(|(code, e)| {
                let label = if code.is_empty() { fill(t().react_with, &[e]) } else { fill(t().react_with_code, &[e, code]) };
                view! {
                    <button class="icon" aria-label=label title=format!(":{code}:") on:click=move |_| done.run(Some(e))>{e}</button>
                }
            }).collect_view()}
        </div>
    }
}

/// Reply, react, edit (one's own), delete (one's own, or as a moderator).
#[component]
fn Actions(msg: Message, mine: bool, moderates: RwSignal<bool>) -> impl IntoView {
    let ctx = use_ctx();
    let picking = RwSignal::new(false);
    let target = (msg.origin.clone(), msg.seq);
    let preview: String = msg.body.chars().take(80).collect();
    let (reply_ctx, edit_ctx, del_ctx, pick_ctx) = (ctx.clone(), ctx.clone(), ctx.clone(), ctx);
    let (t1, t2, t3, t4) = (target.clone(), target.clone(), target.clone(), target.clone());
    let t6 = target.clone();
    let t5 = (msg.room.clone(), target);
    let author = msg.author.clone();
    // The picker closes (a pick, Escape): the focus goes back to React
    // first, so that it is not lost with the picker, and the row, drawn anew
    // with the reaction, gives it back there (`keys::refocus`).
    let react_button = NodeRef::<leptos::html::Button>::new();
    let done = Callback::new(move |emoji: Option<&'static str>| {
        if let Some(b) = react_button.get_untracked() {
            let _ = b.focus();
        }
        picking.set(false);
        if let Some(e) = emoji {
            react(&pick_ctx, &t4, e, true);
        }
    });
    view! {
        // Kept up while the picker is open, wherever the pointer goes.
        <div class="msg-actions" class:open=move || picking.get() role="toolbar" aria-label=t().message_actions>
            <button class="icon" title=t().reply aria-label=t().reply on:click=move |_| {
                reply_ctx.compose.set(Some(super::Compose::Reply { origin: t1.0.clone(), seq: t1.1, author: author.clone(), preview: preview.clone() }));
            }>"↩"</button>
            <button class="icon" title=t().react aria-label=t().react node_ref=react_button aria-expanded=move || picking.get().to_string()
                on:click=move |_| picking.update(|p| *p = !*p)>"☺"</button>
            {mine.then(|| view! {
                <button class="icon" title=t().edit aria-label=t().edit on:click=move |_| {
                    // A thread reply is edited in its thread's composer.
                    let in_thread = edit_ctx.chat.with_untracked(|c| {
                        c.current_room().and_then(|r| r.get(&t2.0, t2.1)).and_then(meshchat_shared::rooms::thread_root)
                    });
                    match in_thread {
                        Some(_) => edit_ctx.thread_edit.set(Some(t2.clone())),
                        None => edit_ctx.compose.set(Some(super::Compose::Edit { origin: t2.0.clone(), seq: t2.1 })),
                    }
                }>"✎"</button>
            })}
            <Show when=move || mine || moderates.get()>
                <button class="icon msg-delete" title=t().delete_message aria-label=t().delete_message on:click={
                    let (ctx, t) = (del_ctx.clone(), t3.clone());
                    move |_| {
                        if window().confirm_with_message(crate::i18n::t().confirm_delete).unwrap_or(false) {
                            let Some(room) = ctx.chat.with_untracked(|c| c.current.clone()) else { return };
                            let id = crate::rooms::action_id(js_sys::Math::random(), crate::net::now_ms());
                            let del = RoomEvent::Deleted { origin: t.0.clone(), seq: t.1 };
                            ctx.act(|c| drop(c.act(&room, &id, del, crate::net::now_ms())));
                        }
                    }
                }>"🗑"</button>
            </Show>
            <button class="icon" title=t().reply_in_thread aria-label=t().reply_in_thread
                on:click=move |_| super::threads::open(&use_ctx(), t6.0.clone(), t6.1)>"💬"</button>
            <button class="icon" title=t().copy_link aria-label=t().copy_link
                on:click=move |_| super::links::copy(&super::links::of(&t5.0, &t5.1.0, t5.1.1))>"🔗"</button>
            <Show when=move || picking.get()>
                {move || super::lazy::screen(emoji_picker(done), Callback::new(move |()| done.run(None)))}
            </Show>
        </div>
    }
}
