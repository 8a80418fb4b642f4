//! Who is online in the current room.

use leptos::prelude::*;

use super::avatar::Avatar;
use super::use_ctx;

#[component]
pub fn Members() -> impl IntoView {
    let ctx = use_ctx();
    let chat = ctx.chat;
    let open = ctx.members_open;
    let me = chat.with_untracked(|c| c.name.clone());
    let members = Memo::new(move |_| {
        chat.with(|c| c.current_room().map(|r| r.members.iter().cloned().collect::<Vec<_>>()).unwrap_or_default())
    });
    let room = Memo::new(move |_| chat.with(|c| c.current.clone().unwrap_or_default()));
    view! {
        <aside class="members" aria-label=move || format!("Online in #{}", room.get()) hidden=move || !open.get()>
            <div class="members-head">
                <h2 class="section-title">{move || format!("Online · {}", members.get().len())}</h2>
                <button class="icon" aria-label="Close the list of who is online" on:click=move |_| open.set(false)>"×"</button>
            </div>
            <ul class="member-list">
                <For each=move || members.get() key=|n| n.clone() children=move |name| {
                    let you = name == me;
                    view! {
                        <li class="member">
                            <Avatar name=name.clone()/>
                            <span class="member-name">{name.clone()}</span>
                            {you.then(|| view! { <span class="you">"(you)"</span> })}
                        </li>
                    }
                }/>
            </ul>
        </aside>
    }
}
