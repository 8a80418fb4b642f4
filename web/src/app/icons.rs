//! Small inline SVG icons: no icon font, no emoji font needed.

use leptos::prelude::*;

#[component]
pub fn People() -> impl IntoView {
    view! {
        <svg class="svg-icon" viewBox="0 0 24 24" aria-hidden="true">
            <circle cx="9" cy="8" r="3.5"/>
            <path d="M2.5 20c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6"/>
            <circle cx="17" cy="9" r="2.5"/>
            <path d="M16.5 14.2c2.8.2 5 2.2 5 5"/>
        </svg>
    }
}

#[component]
pub fn Sun() -> impl IntoView {
    view! {
        <svg class="svg-icon" viewBox="0 0 24 24" aria-hidden="true">
            <circle cx="12" cy="12" r="4.2"/>
            <path d="M12 2.5v2.2M12 19.3v2.2M2.5 12h2.2M19.3 12h2.2M5.3 5.3l1.6 1.6M17.1 17.1l1.6 1.6M5.3 18.7l1.6-1.6M17.1 6.9l1.6-1.6"/>
        </svg>
    }
}

#[component]
pub fn Moon() -> impl IntoView {
    view! {
        <svg class="svg-icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M20.5 14.6A8.5 8.5 0 0 1 9.4 3.5a8.5 8.5 0 1 0 11.1 11.1z"/>
        </svg>
    }
}

#[component]
pub fn Menu() -> impl IntoView {
    view! {
        <svg class="svg-icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M4 6.5h16M4 12h16M4 17.5h16"/>
        </svg>
    }
}

#[component]
pub fn Bell() -> impl IntoView {
    view! {
        <svg class="svg-icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 2H4.5z"/>
            <path d="M10 20.5a2 2 0 0 0 4 0"/>
        </svg>
    }
}

#[component]
pub fn BellOff() -> impl IntoView {
    view! {
        <svg class="svg-icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M6 16.5V11a6 6 0 0 1 9.5-4.9M18 11v5.5l1.5 2H4.5"/>
            <path d="M10 20.5a2 2 0 0 0 4 0M3.5 3.5l17 17"/>
        </svg>
    }
}

#[component]
pub fn Search() -> impl IntoView {
    view! {
        <svg class="svg-icon" viewBox="0 0 24 24" aria-hidden="true">
            <circle cx="10.5" cy="10.5" r="6"/>
            <path d="M15 15l5.5 5.5"/>
        </svg>
    }
}
