//! Two-factor sign-in in the account panel: turned on by scanning a QR
//! code (drawn by the node, shown as an image, never as markup) and typing
//! a code of the app with the password; the ten recovery codes shown once;
//! turned off with the password.

use leptos::prelude::*;
use meshchat_shared::api::TwoFactorSetup;

use super::use_ctx;
use crate::api;
use crate::i18n::t;

#[derive(Clone, PartialEq)]
enum Step {
    Checking,
    Off,
    Enrolling(TwoFactorSetup),
    Codes(Vec<String>),
    On,
}

#[component]
pub fn TwoFactor() -> impl IntoView {
    let ctx = use_ctx();
    let step = RwSignal::new(Step::Checking);
    let code = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let (base, token) = (StoredValue::new(ctx.api_base()), StoredValue::new(ctx.token().unwrap_or_default()));
    leptos::task::spawn_local(async move {
        let on = api::two_factor_on(&base.get_value(), &token.get_value()).await.unwrap_or(false);
        step.set(if on { Step::On } else { Step::Off });
    });
    // One way for the three actions: ask, then the next step or the error.
    let run = move |next: std::pin::Pin<Box<dyn std::future::Future<Output = Result<Step, String>>>>| {
        leptos::task::spawn_local(async move {
            match next.await {
                Ok(s) => {
                    error.set(None);
                    password.set(String::new());
                    code.set(String::new());
                    step.set(s);
                }
                Err(e) => error.set(Some(e)),
            }
        })
    };
    let (b, k) = (move || base.get_value(), move || token.get_value());
    let start = move |_| run(Box::pin(async move { api::two_factor_setup(&b(), &k()).await.map(Step::Enrolling) }));
    let enable = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Step::Enrolling(s) = step.get_untracked() else { return };
        let (c, p) = (code.get_untracked(), password.get_untracked());
        run(Box::pin(async move { api::two_factor_enable(&b(), &k(), s.secret, c, p).await.map(Step::Codes) }))
    };
    let disable = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let p = password.get_untracked();
        run(Box::pin(async move { api::two_factor_disable(&b(), &k(), p).await.map(|_| Step::Off) }))
    };
    let password_field = move || {
        view! {
            <label for="tf-password">{t().current_password}</label>
            <input id="tf-password" type="password" autocomplete="current-password" required
                prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
        }
    };
    let shown = move || {
        match step.get() {
        Step::Checking => view! { <p class="small muted">{t().checking}</p> }.into_any(),
        Step::Off => view! {
            <p class="small muted">{t().two_factor_off}</p>
            <button id="tf-start" class="secondary" on:click=start>{t().two_factor_turn_on}</button>
        }.into_any(),
        Step::Enrolling(s) => {
            let img = format!("data:image/svg+xml;base64,{}", window().btoa(&s.svg).unwrap_or_default());
            view! {
                <form class="auth-form" on:submit=enable>
                    <p class="small">{t().two_factor_scan}</p>
                    <img class="qr" src=img width="200" height="200" alt=t().two_factor_qr/>
                    <p class="small muted">{t().two_factor_key}<code id="tf-secret">{s.secret}</code></p>
                    <label for="tf-code">{t().two_factor_code}</label>
                    <input id="tf-code" autocomplete="one-time-code" inputmode="numeric" maxlength="6" required
                        prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev))/>
                    {password_field}
                    <button class="primary" type="submit">{t().two_factor_turn_on}</button>
                </form>
            }.into_any()
        }
        Step::Codes(codes) => view! {
            <p class="small">{t().two_factor_codes}</p>
            <ul id="tf-codes" class="recovery">{codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ul>
            <button class="secondary" on:click=move |_| step.set(Step::On)>{t().done}</button>
        }.into_any(),
        Step::On => view! {
            <form class="auth-form" on:submit=disable>
                <p class="small ok-text">{t().two_factor_is_on}</p>
                {password_field}
                <button class="secondary" type="submit">{t().two_factor_turn_off}</button>
            </form>
        }.into_any(),
    }
    };
    view! {
        <div class="invite" id="two-factor">
            <h3>{t().two_factor_title}</h3>
            {shown}
            <p class="error small" role="alert">{move || error.get()}</p>
        </div>
    }
}
