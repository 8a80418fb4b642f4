//! The room list, the join field and who you are.

use leptos::prelude::*;

use super::use_ctx;

/// What people type into "join a room" becomes a room name: "Rust Lang" → "rust-lang".
fn normalise(input: &str) -> String {
    input.trim().trim_start_matches('#').to_lowercase().split_whitespace().collect::<Vec<_>>().join("-")
}

#[component]
pub fn Sidebar() -> impl IntoView {
    let ctx = use_ctx();
    let chat = ctx.chat;
    let drawer = ctx.drawer;
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let rooms =
        Memo::new(move |_| chat.with(|c| c.rooms.values().map(|r| (r.name.clone(), r.unread)).collect::<Vec<_>>()));
    let current = Memo::new(move |_| chat.with(|c| c.current.clone()));

    let join = {
        let ctx = ctx.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let room = normalise(&draft.get_untracked());
            if room.is_empty() {
                return;
            }
            let mut result = Ok(());
            ctx.act(|c| result = c.join(&room));
            match result {
                Ok(()) => {
                    draft.set(String::new());
                    error.set(None);
                    drawer.set(false);
                }
                Err(e) => error.set(Some(format!("The {e}."))),
            }
        }
    };

    view! {
        <aside class="sidebar" aria-label="Rooms and account">
            <div class="brand"><span class="logo" aria-hidden="true">"◆"</span>" meshchat"</div>
            <nav aria-label="Rooms">
                <h2 class="section-title">"Rooms"</h2>
                <ul class="rooms">
                    <For each=move || rooms.get() key=|r| r.clone() children=move |(room, unread)| {
                        let ctx = use_ctx();
                        let select_room = room.clone();
                        let leave_room = room.clone();
                        let is_current = {
                            let room = room.clone();
                            move || current.get().as_deref() == Some(room.as_str())
                        };
                        let is_current2 = is_current.clone();
                        let ctx2 = ctx.clone();
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
                                    <span class="hash" aria-hidden="true">"#"</span>
                                    <span class="room-name">{room.clone()}</span>
                                    {(unread > 0).then(|| view! {
                                        <span class="badge" aria-label=format!("{unread} unread")>{unread.min(99)}</span>
                                    })}
                                </button>
                                <button
                                    class="icon leave"
                                    title=format!("Leave #{room}")
                                    aria-label=format!("Leave #{room}")
                                    on:click=move |_| ctx2.act(|c| c.leave(&leave_room))
                                >"×"</button>
                            </li>
                        }
                    }/>
                </ul>
                <form class="join" on:submit=join>
                    <label class="visually-hidden" for="join-input">"Join or create a room"</label>
                    <input
                        id="join-input"
                        placeholder="Join or create a room"
                        autocomplete="off"
                        aria-describedby="join-error"
                        prop:value=move || draft.get()
                        on:input=move |ev| {
                            draft.set(event_target_value(&ev));
                            error.set(None);
                        }
                    />
                    <button class="icon add" type="submit" aria-label="Join room" title="Join room">"+"</button>
                </form>
                <p id="join-error" class="error small" role="alert">{move || error.get()}</p>
            </nav>
            <super::me::MeCorner/>
        </aside>
    }
}
