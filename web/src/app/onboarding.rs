//! The first visit: pick a display name.

use leptos::prelude::*;
use meshchat_shared::limits::validate_name;

#[component]
pub fn Onboarding(on_name: impl Fn(String) + 'static) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = draft.get_untracked();
        match validate_name(&name) {
            Ok(()) => on_name(name),
            Err(e) => error.set(Some(format!("The {e}."))),
        }
    };
    view! {
        <main class="onboarding">
            <form class="card" on:submit=submit aria-labelledby="welcome-title">
                <h1 id="welcome-title"><span class="logo" aria-hidden="true">"◆"</span>" meshchat"</h1>
                <p class="muted">"Pick a name to chat with. It is how others see you, and this browser remembers it."</p>
                <label for="name-input">"Display name"</label>
                <input
                    id="name-input"
                    name="name"
                    autocomplete="nickname"
                    maxlength="64"
                    autofocus
                    placeholder="e.g. Ada Lovelace"
                    aria-describedby="name-error"
                    prop:value=move || draft.get()
                    on:input=move |ev| {
                        draft.set(event_target_value(&ev));
                        error.set(None);
                    }
                />
                <p id="name-error" class="error" role="alert">{move || error.get()}</p>
                <button class="primary" type="submit">"Start chatting"</button>
            </form>
        </main>
    }
}
