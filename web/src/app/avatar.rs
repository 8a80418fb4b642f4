//! A person's avatar: their initial on a colour that is theirs everywhere.

use leptos::prelude::*;

/// A stable hue per name.
pub fn hue(name: &str) -> u32 {
    name.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % 360
}

/// The first character of a name; CSS upper-cases it (`text-transform`),
/// which spares the wasm Unicode's case tables.
pub fn initial(name: &str) -> String {
    name.chars().next().map(String::from).unwrap_or_default()
}

/// `card`: a click opens the person's card (for the mouse: the name
/// beside it is the control keyboards and screen readers use).
/// Their picture where they set one, else their initial.
#[component]
pub fn Avatar(name: String, #[prop(optional)] card: bool) -> impl IntoView {
    let ctx = super::use_ctx();
    let people = ctx.people;
    let (who, letter) = (name.clone(), initial(&name));
    let shown = people.shown.signal(name.clone());
    let picture = move || shown.with(|s| people.picture(&ctx, &s.1));
    view! {
        <span class="avatar" class:clickable=card aria-hidden="true" style=("--hue", hue(&name).to_string())
            on:click=move |_| if card { people.card.set(Some(who.clone())) }>
            {letter}
            // Over the initial, once it has come.
            {move || picture().map(|src| view! { <img class="avatar-picture" src=src alt=""/> })}
        </span>
    }
}
