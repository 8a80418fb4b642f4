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

#[component]
pub fn Avatar(name: String) -> impl IntoView {
    view! {
        <span class="avatar" aria-hidden="true" style=("--hue", hue(&name).to_string())>{initial(&name)}</span>
    }
}
