//! `@name` suggestions while writing, for any composer: the room's members
//! and who is online there, the display name beside the account name a
//! mention takes; Tab or a click takes one.

use leptos::prelude::*;

use super::use_ctx;
use crate::i18n::t;

/// The names to suggest for the `@` being typed at the end of `draft`.
pub fn suggestions(draft: impl Fn() -> String + Send + Sync + 'static) -> Memo<Vec<String>> {
    let chat = use_ctx().chat;
    Memo::new(move |_| {
        let d = draft();
        let Some(prefix) = crate::rooms::mention_prefix(&d) else { return Vec::new() };
        chat.with(|c| {
            let Some(r) = c.current_room() else { return Vec::new() };
            let mut people: Vec<String> = r.members.iter().cloned().collect();
            if let Some(i) = &r.info {
                people.extend(i.members.iter().map(|m| m.name.clone()));
            }
            crate::rooms::mention_candidates(prefix, &people, &c.name)
        })
    })
}

/// The suggestions as a list to pick from.
#[component]
pub fn MentionList(suggestions: Memo<Vec<String>>, accept: Callback<String>) -> impl IntoView {
    let people = use_ctx().people;
    view! {
        <ul class="mention-list" role="listbox" aria-label=t().people_to_mention hidden=move || suggestions.get().is_empty()>
            {move || suggestions.get().into_iter().map(|name| {
                // The account name is what a mention takes; the display name beside it.
                let shown = people.display(&name);
                view! {
                    <li><button type="button" class="mention-option" on:click={
                        let name = name.clone();
                        move |_| accept.run(name.clone())
                    }>"@"{name.clone()}{(shown != name).then(|| view! { <span class="muted">" "{shown}</span> })}</button></li>
                }
            }).collect_view()}
        </ul>
    }
}

/// Tab takes the first suggestion: true if it did (the key is used).
pub fn tab_takes(ev: &leptos::ev::KeyboardEvent, suggestions: Memo<Vec<String>>, accept: Callback<String>) -> bool {
    if ev.key() != "Tab" {
        return false;
    }
    let Some(first) = suggestions.get_untracked().first().cloned() else { return false };
    ev.prevent_default();
    accept.run(first);
    true
}
