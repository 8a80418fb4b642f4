//! The sign-in screen: sign in, create an account (with an invitation where
//! the mesh asks for one), or chat as a guest where the node takes guests.
//! Fields carry the `autocomplete` names password managers look for.

use leptos::prelude::*;
use meshchat_shared::api::AuthInfo;

use crate::account::{self, Session, SsoReturn, Tab, Who};
use crate::api;
use crate::i18n::{fill, t};

/// The screen, in a module of its own: a person whose session the browser
/// kept (most loads of a chat kept open all day) never fetches it. If it
/// cannot come, closing the dialog that says so asks again (`retry`).
pub fn screen(notice: Option<String>, on_in: Callback<Who>, retry: Callback<()>) -> impl IntoView {
    super::lazy::screen(sign_in(notice, on_in), retry)
}

#[leptos::wasm_split::wasm_split(sign_in, wasm_split_path = ::leptos::wasm_split, fallible)]
fn sign_in(notice: Option<String>, on_in: Callback<Who>) -> Result<AnyView, super::lazy::Unloaded> {
    Ok(view! { <SignIn notice on_in/> }.into_any())
}

/// The screen; `on_in` gets whoever signed in.
#[component]
fn SignIn(notice: Option<String>, on_in: Callback<Who>) -> impl IntoView {
    let info = RwSignal::new(None::<Result<(String, AuthInfo), String>>);
    let load = move || {
        info.set(None);
        leptos::task::spawn_local(async move { info.set(Some(api::info().await)) });
    };
    load();
    // A link pasted into this tab changes only the fragment: follow it.
    let hash = RwSignal::new(window().location().hash().unwrap_or_default());
    let handle = window_event_listener(leptos::ev::hashchange, move |_| {
        hash.set(window().location().hash().unwrap_or_default())
    });
    on_cleanup(move || handle.remove());
    view! {
        <main class="onboarding">
            <section class="card auth" aria-labelledby="auth-title">
                <h1 id="auth-title"><span class="logo" aria-hidden="true">"◆"</span>" meshchat"</h1>
                {notice.map(|n| view! { <p class="auth-notice" role="status">{n}</p> })}
                {move || match info.get() {
                    None => view! { <p class="muted" role="status">{t().connecting}</p> }.into_any(),
                    Some(Err(e)) => view! {
                        <p class="error" role="alert">{e}</p>
                        <button class="primary" on:click=move |_| load()>{t().try_again}</button>
                    }.into_any(),
                    Some(Ok((base, i))) => {
                        let (reset, invite, sso) = hash.with(|h| {
                            (account::reset_from_hash(h), account::invite_from_hash(h), account::sso_from_hash(h))
                        });
                        match (reset, sso) {
                            (Some(code), _) => view! { <ResetForm base code on_in/> }.into_any(),
                            (None, Some(SsoReturn::Code(code))) => view! { <SsoReturning base code on_in/> }.into_any(),
                            (None, failed) => {
                                let failed = match failed {
                                    Some(SsoReturn::Failed(why)) => Some(fill(t().sso_failed, &[&why])),
                                    _ => None,
                                };
                                view! {
                                    {failed.map(|f| view! { <p class="error" role="alert">{f}</p> })}
                                    <Forms base info=i invite on_in/>
                                }.into_any()
                            }
                        }
                    }
                }}
            </section>
        </main>
    }
}

fn tab_label(tab: Tab) -> &'static str {
    match tab {
        Tab::SignIn => t().tab_sign_in,
        Tab::SignUp => t().tab_sign_up,
        Tab::Guest => t().tab_guest,
    }
}

fn tab_id(t: Tab) -> &'static str {
    match t {
        Tab::SignIn => "tab-signin",
        Tab::SignUp => "tab-signup",
        Tab::Guest => "tab-guest",
    }
}

#[component]
fn Forms(
    /// The node that answered (its HTTP base).
    base: String,
    info: AuthInfo,
    invite: Option<String>,
    on_in: Callback<Who>,
) -> impl IntoView {
    let base = StoredValue::new(base);
    let tabs = account::tabs(&info);
    let tab = RwSignal::new(account::first_tab(&info, invite.is_some()));
    let first = info.first;
    let needs_invite = info.registration == "invite" && !info.first;
    let sso = info.sso.clone();
    let intro = move || match tab.get() {
        Tab::SignIn => t().welcome_back,
        Tab::SignUp if first => t().first_account,
        Tab::SignUp => t().pick_name,
        Tab::Guest => t().guest_intro,
    };
    view! {
        <div class="tabs" role="tablist" aria-label=t().how_to_join>
            {tabs.iter().map(|&t| view! {
                <button
                    type="button"
                    role="tab"
                    id=tab_id(t)
                    aria-selected=move || (tab.get() == t).to_string()
                    aria-controls="auth-panel"
                    class:active=move || tab.get() == t
                    on:click=move |_| tab.set(t)
                >{tab_label(t)}</button>
            }).collect_view()}
        </div>
        <div id="auth-panel" role="tabpanel" aria-labelledby=move || tab_id(tab.get())>
            <p class="muted">{intro}</p>
            {(!sso.is_empty()).then(|| view! {
                <a class="button secondary sso" href=format!("{}/api/sso/start", base.get_value())>
                    {fill(t().sso_button, &[&sso])}
                </a>
            })}
            {move || match tab.get() {
                Tab::SignIn => view! { <Credentials base=base.get_value() signup=false invite=None on_in/> }.into_any(),
                Tab::SignUp => {
                    let code = needs_invite.then(|| invite.clone().unwrap_or_default());
                    view! { <Credentials base=base.get_value() signup=true invite=code on_in/> }.into_any()
                }
                Tab::Guest => view! { <GuestForm on_in/> }.into_any(),
            }}
        </div>
    }
}

/// Sign in, or sign up (`invite`: the invitation field, prefilled).
#[component]
fn Credentials(base: String, signup: bool, invite: Option<String>, on_in: Callback<Who>) -> impl IntoView {
    let base = StoredValue::new(base);
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(invite.clone().unwrap_or_default());
    let show = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // The second factor, once the node asked for it.
    let second = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (n, p) = (name.get_untracked().trim().to_owned(), password.get_untracked());
        let checked = account::check_name(&n).and_then(|_| if signup { account::check_password(&p) } else { Ok(()) });
        if let Err(e) = checked {
            return error.set(Some(e));
        }
        let invite = (!code.get_untracked().trim().is_empty()).then(|| code.get_untracked().trim().to_owned());
        busy.set(true);
        leptos::task::spawn_local(async move {
            let base = base.get_value();
            let answer = if signup {
                api::register(&base, n, p, invite).await
            } else {
                let given = second.get_untracked();
                api::login(&base, n, p, given.clone()).await.map_err(|(wants_code, e)| match given {
                    Some(c) if wants_code && !c.trim().is_empty() => t().code_wrong.to_owned(),
                    _ => {
                        if wants_code {
                            second.set(Some(String::new()));
                        }
                        e
                    }
                })
            };
            busy.set(false);
            match answer {
                Ok(session) => signed_in(session, on_in),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let (prefix, action) = if signup { ("signup", t().tab_sign_up) } else { ("signin", t().tab_sign_in) };
    let id = move |field: &str| format!("{prefix}-{field}");
    view! {
        <form class="auth-form" on:submit=submit novalidate>
            <label for=id("name")>{t().name}</label>
            <input
                id=id("name")
                name="username"
                autocomplete="username"
                autocapitalize="none"
                spellcheck="false"
                maxlength="64"
                required
                autofocus
                aria-describedby=id("error")
                prop:value=move || name.get()
                on:input=move |ev| { name.set(event_target_value(&ev)); error.set(None); }
            />
            <label for=id("password")>{t().password}</label>
            <input
                id=id("password")
                name="password"
                type=move || if show.get() { "text" } else { "password" }
                autocomplete=if signup { "new-password" } else { "current-password" }
                minlength=if signup { "8" } else { "1" }
                maxlength="256"
                required
                aria-describedby=if signup { id("hint") + " " + &id("error") } else { id("error") }
                prop:value=move || password.get()
                on:input=move |ev| { password.set(event_target_value(&ev)); error.set(None); }
            />
            {signup.then(|| view! { <p id=id("hint") class="hint">{t().password_hint}</p> })}
            <label class="check">
                <input type="checkbox" prop:checked=move || show.get() on:change=move |_| show.update(|s| *s = !*s)/>
                {t().show_password}
            </label>
            {invite.is_some().then(|| view! {
                <label for="signup-invite">{t().invitation_code}</label>
                <input
                    id="signup-invite"
                    name="invite"
                    autocomplete="off"
                    spellcheck="false"
                    maxlength="128"
                    prop:value=move || code.get()
                    on:input=move |ev| { code.set(event_target_value(&ev)); error.set(None); }
                />
            })}
            {move || second.get().is_some().then(|| view! {
                <label for="signin-code">{t().two_factor_code}</label>
                <input id="signin-code" name="one-time-code" autocomplete="one-time-code" inputmode="text"
                    spellcheck="false" maxlength="32" autofocus
                    on:input=move |ev| { second.set(Some(event_target_value(&ev))); error.set(None); }/>
            })}
            <p id=id("error") class="error" role="alert">{move || error.get()}</p>
            <button class="primary" type="submit" disabled=move || busy.get()>
                {move || if busy.get() { t().one_moment } else { action }}
            </button>
        </form>
    }
}

/// Keeps the session, tells the other tabs, drops an invitation from the
/// address (it is used), and goes in.
/// A new password with an admin's reset link (`#reset=CODE`); signed in after.
#[component]
fn ResetForm(base: String, code: String, on_in: Callback<Who>) -> impl IntoView {
    let (base, code) = (StoredValue::new(base), StoredValue::new(code));
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let p = password.get_untracked();
        if let Err(e) = account::check_password(&p) {
            return error.set(Some(e));
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = api::use_reset_link(&base.get_value(), code.get_value(), p).await;
            busy.set(false);
            match answer {
                Ok(session) => signed_in(session, on_in),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <h2>{t().reset_title}</h2>
        <p class="muted">{t().reset_intro}</p>
        <form class="auth-form" on:submit=submit novalidate>
            <label for="reset-password">{t().new_password}</label>
            <input id="reset-password" type="password" name="new-password" autocomplete="new-password"
                minlength="8" maxlength="256" required autofocus aria-describedby="reset-error"
                prop:value=move || password.get() on:input=move |ev| { password.set(event_target_value(&ev)); error.set(None); }/>
            <p id="reset-error" class="error" role="alert">{move || error.get()}</p>
            <button class="primary" type="submit" disabled=move || busy.get()>{t().set_password}</button>
        </form>
    }
}

/// Back from single sign-on with a one-time code: traded for the session.
#[component]
fn SsoReturning(base: String, code: String, on_in: Callback<Who>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    leptos::task::spawn_local(async move {
        match api::sso_redeem(&base, code).await {
            Ok(session) => signed_in(session, on_in),
            Err(e) => error.set(Some(fill(t().sso_failed, &[&e]))),
        }
    });
    view! {
        {move || match error.get() {
            None => view! { <p class="muted" role="status">{t().connecting}</p> }.into_any(),
            Some(e) => view! { <p class="error" role="alert">{e}</p> <a class="button primary" href="/">{t().try_again}</a> }.into_any(),
        }}
    }
}

fn signed_in(session: Session, on_in: Callback<Who>) {
    let who = Who::Account(session);
    crate::prefs::save_who(Some(&who));
    // An invitation, a reset or a sign-in's return is used up; a link to a
    // message stays, for the app to follow once in.
    let hash = window().location().hash().unwrap_or_default();
    if let Ok(path) = window().location().pathname()
        && crate::rooms::from_permalink(&hash).is_none()
    {
        let _ =
            window().history().and_then(|h| h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path)));
    }
    on_in.run(who);
}

#[component]
fn GuestForm(on_in: Callback<Who>) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = draft.get_untracked().trim().to_owned();
        match account::check_name(&name) {
            Ok(()) => {
                let who = Who::Guest(name);
                crate::prefs::save_who(Some(&who));
                on_in.run(who);
            }
            Err(e) => error.set(Some(e)),
        }
    };
    view! {
        <form class="auth-form guest-form" on:submit=submit novalidate>
            <label for="name-input">{t().display_name}</label>
            <input
                id="name-input"
                name="nickname"
                autocomplete="nickname"
                maxlength="64"
                autofocus
                placeholder=t().display_name_example
                aria-describedby="name-error"
                prop:value=move || draft.get()
                on:input=move |ev| { draft.set(event_target_value(&ev)); error.set(None); }
            />
            <p id="name-error" class="error" role="alert">{move || error.get()}</p>
            <button class="primary" type="submit">{t().start_chatting}</button>
        </form>
    }
}
