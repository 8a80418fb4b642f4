//! Search across the rooms one may read: a panel under the top bar, opened
//! by its button, Ctrl+K (⌘K) or `/`. Results newest first or best first,
//! the matching words marked; a click opens the room at the message. With
//! no node answering, the messages kept on this device are searched.

use leptos::prelude::*;
use meshchat_shared::api::SearchHit;
use wasm_bindgen::JsCast;

use super::{format, icons, use_ctx};
use crate::api;
use crate::i18n::{count, fill, t};

/// What the panel shows below the box.
#[derive(Clone)]
enum Found {
    Nothing,
    Looking,
    Failed(String),
    Hits(Vec<SearchHit>, Option<u64>),
    /// No node answered: hits among the messages this device keeps.
    Kept(Vec<SearchHit>),
}

#[component]
pub fn SearchButton() -> impl IntoView {
    let open = RwSignal::new(false);
    // Ctrl+K / ⌘K anywhere, `/` outside a text field; Escape closes.
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        let typing = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        let k = ev.key();
        if (k == "k" && (ev.ctrl_key() || ev.meta_key())) || (k == "/" && !typing) {
            ev.prevent_default();
            open.set(true);
        } else if k == "Escape" && open.get_untracked() {
            open.set(false);
        }
    });
    on_cleanup(move || keys.remove());
    view! {
        <button class="icon search-toggle" aria-label=t().search_button title=t().search_button
            aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
            <icons::Search/>
        </button>
        <Show when=move || open.get()>
            {move || {
                let close = Callback::new(move |()| open.set(false));
                super::lazy::screen(search_panel(close), close)
            }}
        </Show>
    }
}

#[leptos::wasm_split::wasm_split(search_panel, wasm_split_path = ::leptos::wasm_split, fallible)]
fn search_panel(close: Callback<()>) -> Result<AnyView, super::lazy::Unloaded> {
    Ok(view! { <SearchPanel close/> }.into_any())
}

#[component]
fn SearchPanel(close: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let query = RwSignal::new(String::new());
    let order = RwSignal::new("new");
    let found = RwSignal::new(Found::Nothing);
    // `from`: the next page of the same search, added below the others.
    let run = {
        let ctx = ctx.clone();
        move |from: Option<u64>| {
            let q = query.get_untracked();
            let token = ctx.token();
            if q.trim().is_empty() {
                found.set(Found::Nothing);
                return;
            }
            let base = ctx.api_base();
            let before = match (from, found.get_untracked()) {
                (Some(_), Found::Hits(h, _)) => h,
                _ => Vec::new(),
            };
            found.set(Found::Looking);
            let chat = ctx.chat;
            leptos::task::spawn_local(async move {
                let answer = api::search(&base, token.as_deref(), &q, order.get_untracked(), from).await;
                // A newer search may have started meanwhile: its answer counts.
                if query.get_untracked() != q {
                    return;
                }
                found.set(match answer {
                    Ok(r) => Found::Hits(before.into_iter().chain(r.results).collect(), r.next),
                    Err(e) if e == t().no_answer => {
                        match chat.with_untracked(|c| crate::offline_search::search(c, &q)) {
                            Ok(hits) => Found::Kept(hits),
                            Err(why) => Found::Failed(why),
                        }
                    }
                    Err(e) => Found::Failed(e),
                });
            });
        }
    };
    let (run2, run3) = (run.clone(), run.clone());
    // Focused when it opens (`autofocus` counts only at page load).
    let input = NodeRef::<leptos::html::Input>::new();
    input.on_load(|el| drop(el.focus()));
    view! {
        <section class="search-panel" aria-label=t().search_messages>
            <form role="search" on:submit=move |ev| { ev.prevent_default(); run(None); }>
                <input id="search-input" class="search" type="search" autocomplete="off" node_ref=input
                    aria-label=t().search_messages placeholder=t().search_placeholder
                    prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev))/>
                <select class="search-order" aria-label=t().order on:change=move |ev| {
                    order.set(if event_target_value(&ev) == "relevance" { "relevance" } else { "new" });
                    run2(None);
                }>
                    <option value="new">{t().newest}</option>
                    <option value="relevance">{t().best_match}</option>
                </select>
            </form>
            {move || match found.get() {
                Found::Nothing => ().into_any(),
                Found::Looking => view! { <p class="muted small" role="status">{t().searching}</p> }.into_any(),
                Found::Failed(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                Found::Hits(hits, _) if hits.is_empty() => {
                    view! { <p class="muted small" role="status">{t().no_match}</p> }.into_any()
                }
                Found::Kept(hits) => view! {
                    <p class="muted small" role="status">{fill(
                        t().kept_results,
                        &[&match hits.len() { 0 => t().nothing_found.to_owned(), n => count(n, t().matches_one, t().matches_other) }],
                    )}</p>
                    <ul class="search-results">
                        {hits.into_iter().map(|h| view! { <Hit hit=h close/> }).collect_view()}
                    </ul>
                }.into_any(),
                Found::Hits(hits, next) => {
                    let more = next.map(|n| {
                        let run = run3.clone();
                        view! { <button class="link small" on:click=move |_| run(Some(n))>{t().more_results}</button> }
                    });
                    view! {
                        <ul class="search-results">
                            {hits.into_iter().map(|h| view! { <Hit hit=h close/> }).collect_view()}
                        </ul>
                        {more}
                    }.into_any()
                }
            }}
        </section>
    }
}

#[component]
fn Hit(hit: SearchHit, close: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let anchor = super::messages::anchor_id(&hit.origin, hit.seq);
    let when = format::day_label(hit.ts, crate::net::now_ms());
    let room = hit.room.clone();
    let thread = hit.thread.clone();
    let where_ = if thread.is_some() { format!(" · {}", t().in_a_thread) } else { String::new() };
    view! {
        <li>
            <button class="search-hit" on:click=move |_| {
                close.run(());
                match &thread {
                    // A thread reply: its room, its root, and the thread open.
                    Some((o, s)) => {
                        let root = super::messages::anchor_id(o, *s);
                        super::messages::show_message(ctx.clone(), room.clone(), root);
                        super::threads::open(&ctx, o.clone(), *s);
                    }
                    None => super::messages::show_message(ctx.clone(), room.clone(), anchor.clone()),
                }
            }>
                <span class="small muted">{format!("#{} · {} · {when}{where_}", hit.room, hit.author)}</span>
                <span class="search-text">
                    {hit.parts.into_iter().map(|p| if p.hit {
                        view! { <mark>{p.text}</mark> }.into_any()
                    } else {
                        p.text.into_any()
                    }).collect_view()}
                </span>
            </button>
        </li>
    }
}
