//! The signed-in user's corner: who they are, and a panel to change the
//! password, see where one is signed in, invite someone or open the mesh
//! map and the admin console (admins), or sign out. Guests get "Change name"
//! and "Sign in" instead.

use leptos::prelude::*;

use super::avatar::Avatar;
use super::use_ctx;
use crate::account::{self, Who};
use crate::api;
use crate::i18n::{Lang, t};

#[component]
pub fn MeCorner() -> impl IntoView {
    let ctx = use_ctx();
    let who = ctx.who;
    let open = RwSignal::new(false);
    let map_open = RwSignal::new(false);
    let admin_open = RwSignal::new(false);
    let name = move || who.with(|w| w.name().to_owned());
    let role = move || match who.get() {
        Who::Account(s) if s.is_admin() => t().signed_in_admin,
        Who::Account(_) => t().signed_in,
        Who::Guest(_) => t().tab_guest,
    };
    view! {
        <div class="me">
            <Avatar name=name()/>
            <span class="me-text">
                <span class="me-name" title=name>{name}</span>
                <span class="me-role small muted">{role}</span>
            </span>
            {move || match who.get() {
                Who::Account(_) => view! {
                    <button
                        class="link"
                        aria-haspopup="dialog"
                        aria-expanded=move || open.get().to_string()
                        on:click=move |_| open.set(true)
                    >{t().account}</button>
                }.into_any(),
                Who::Guest(_) => view! {
                    <button class="link" title=t().sign_in_title on:click=move |_| use_ctx().sign_out(None)>{t().tab_sign_in}</button>
                }.into_any(),
            }}
        </div>
        // In the body: the sidebar is a moved drawer on phones, which
        // would carry a fixed dialog off screen with it.
        <Show when=move || open.get()>
            <leptos::portal::Portal>
                {move || {
                    let close = Callback::new(move |_| open.set(false));
                    let open_map = Callback::new(move |_| { open.set(false); map_open.set(true); });
                    let open_admin = Callback::new(move |_| { open.set(false); admin_open.set(true); });
                    super::lazy::screen(account_panel(close, open_map, open_admin), close)
                }}
            </leptos::portal::Portal>
        </Show>
        <Show when=move || map_open.get()>
            {move || {
                let close = Callback::new(move |_| map_open.set(false));
                super::lazy::screen(super::meshmap::mesh_map_panel(close), close)
            }}
        </Show>
        <Show when=move || admin_open.get()>
            {move || {
                let close = Callback::new(move |_| admin_open.set(false));
                super::lazy::screen(super::admin::admin_panel(close), close)
            }}
        </Show>
    }
}

#[leptos::wasm_split::wasm_split(account_panel, wasm_split_path = ::leptos::wasm_split, fallible)]
fn account_panel(
    close: Callback<()>,
    open_map: Callback<()>,
    open_admin: Callback<()>,
) -> Result<AnyView, super::lazy::Unloaded> {
    Ok(view! { <AccountPanel close open_map open_admin/> }.into_any())
}

#[component]
fn AccountPanel(close: Callback<()>, open_map: Callback<()>, open_admin: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let who = ctx.who;
    let session = move || match who.get() {
        Who::Account(s) => Some(s),
        Who::Guest(_) => None,
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            close.run(());
        }
    };
    view! {
        <div class="scrim visible" aria-hidden="true" on:click=move |_| close.run(())></div>
        <section class="dialog" role="dialog" aria-modal="true" aria-labelledby="account-title" on:keydown=on_key>
            <div class="dialog-head">
                <h2 id="account-title">{t().account}</h2>
                <button class="icon" aria-label=t().close autofocus on:click=move |_| close.run(())>"×"</button>
            </div>
            <p>{t().signed_in_as}<strong>{move || session().map(|s| s.name)}</strong>
                {move || session().filter(|s| s.is_admin()).map(|_| t().admin_mark)}</p>
            <super::people::ProfileForm/>
            <PasswordForm/>
            <super::two_factor::TwoFactor/>
            <super::sessions::SessionsList/>
            <MyData/>
            <PushSwitch/>
            <LanguagePicker/>
            {move || session().filter(|s| s.is_admin()).map(|_| view! {
                <InviteMaker/>
                <div class="invite">
                    <h3>{t().admin_console}</h3>
                    <p class="small muted">{t().admin_intro}</p>
                    <button class="secondary" on:click=move |_| open_admin.run(())>{t().open_admin}</button>
                </div>
                <div class="invite">
                    <h3>{t().the_mesh}</h3>
                    <p class="small muted">{t().mesh_intro}</p>
                    <button class="secondary" on:click=move |_| open_map.run(())>{t().open_mesh_map}</button>
                </div>
            })}
            <button class="secondary sign-out" on:click=move |_| {
                let ctx = use_ctx();
                if let Some(token) = ctx.who.with_untracked(|w| w.token().map(str::to_owned)) {
                    let base = ctx.api_base();
                    leptos::task::spawn_local(async move { api::logout(&base, &token).await });
                }
                ctx.sign_out(None);
            }>{t().sign_out}</button>
        </section>
    }
}

#[component]
fn PasswordForm() -> impl IntoView {
    let ctx = use_ctx();
    let old = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let said = RwSignal::new(None::<Result<String, String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Err(e) = account::check_password(&new.get_untracked()) {
            return said.set(Some(Err(e)));
        }
        let Some(token) = ctx.who.with_untracked(|w| w.token().map(str::to_owned)) else { return };
        let ctx = ctx.clone();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let (was, now) = (old.get_untracked(), new.get_untracked());
            let answer = api::change_password(&ctx.api_base(), &token, was, now).await;
            busy.set(false);
            match answer {
                Ok(session) => {
                    ctx.renew(session);
                    old.set(String::new());
                    new.set(String::new());
                    said.set(Some(Ok(t().password_changed.into())));
                }
                Err(e) => said.set(Some(Err(e))),
            }
        });
    };
    view! {
        <form class="auth-form" on:submit=submit novalidate aria-labelledby="password-title">
            <h3 id="password-title">{t().change_password}</h3>
            <label for="password-old">{t().current_password}</label>
            <input id="password-old" type="password" name="current-password" autocomplete="current-password"
                required prop:value=move || old.get() on:input=move |ev| old.set(event_target_value(&ev))/>
            <label for="password-new">{t().new_password}</label>
            <input id="password-new" type="password" name="new-password" autocomplete="new-password"
                minlength="8" maxlength="256" required aria-describedby="password-said"
                prop:value=move || new.get() on:input=move |ev| new.set(event_target_value(&ev))/>
            <p id="password-said" role="alert" class=move || match said.get() {
                Some(Ok(_)) => "ok-text",
                _ => "error",
            }>{move || said.get().map(|r| r.unwrap_or_else(|e| e))}</p>
            <button class="primary" type="submit" disabled=move || busy.get()>{t().change_password}</button>
        </form>
    }
}

/// Admins: a single-use link to the sign-up with an invitation in it.
#[component]
fn InviteMaker() -> impl IntoView {
    let ctx = use_ctx();
    let link = RwSignal::new(None::<Result<String, String>>);
    let make = move |_| {
        let Some(token) = ctx.who.with_untracked(|w| w.token().map(str::to_owned)) else { return };
        let base = ctx.api_base();
        leptos::task::spawn_local(async move { link.set(Some(api::invite(&base, &token).await.map(|i| i.url))) });
    };
    view! {
        <div class="invite">
            <h3>{t().invite_someone}</h3>
            <p class="small muted">{t().invite_intro}</p>
            <button class="secondary" on:click=make>{t().make_invitation}</button>
            {move || link.get().map(|r| match r {
                Ok(url) => view! {
                    <label for="invite-link" class="visually-hidden">{t().invitation_link}</label>
                    <input id="invite-link" class="invite-link" readonly prop:value=url
                        on:focus=move |ev| {
                            use wasm_bindgen::JsCast;
                            if let Some(i) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                                i.select();
                            }
                        }/>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            })}
        </div>
    }
}

/// Notifications on this device with meshchat closed (Web Push): on or off,
/// with or without the message's text.
#[component]
fn PushSwitch() -> impl IntoView {
    use crate::push::{self, PushState};
    let ctx = use_ctx();
    let state = RwSignal::new(None::<PushState>);
    let preview = RwSignal::new(false);
    let busy = RwSignal::new(false);
    leptos::task::spawn_local(async move { state.set(Some(push::state().await)) });
    let set = Callback::new(move |on: bool| {
        let Some(token) = ctx.token() else { return };
        let base = ctx.api_base();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let now = if on {
                push::enable(&base, &token, preview.get_untracked()).await
            } else {
                push::disable(&base, &token).await
            };
            state.set(Some(now));
            busy.set(false);
        });
    });
    let shown = move || match state.get() {
        None => view! { <p class="small muted">{t().checking}</p> }.into_any(),
        Some(PushState::Unsupported) => view! { <p class="small muted">{t().push_unsupported}</p> }.into_any(),
        Some(PushState::Denied) => view! { <p class="small muted">{t().push_blocked}</p> }.into_any(),
        Some(s) => {
            let on = s == PushState::On;
            let failed = match s {
                PushState::Failed(why) => Some(view! { <p class="error small" role="alert">{why}</p> }),
                _ => None,
            };
            view! {
                <label class="check"><input id="push-on" type="checkbox" prop:checked=on prop:disabled=move || busy.get()
                    on:change=move |ev| set.run(event_target_checked(&ev))/>{t().push_on}</label>
                <label class="check"><input id="push-preview" type="checkbox" prop:checked=move || preview.get()
                    prop:disabled=move || busy.get() on:change=move |ev| {
                        preview.set(event_target_checked(&ev));
                        if on {
                            set.run(true)
                        }
                    }/>{t().push_preview}</label>
                {failed}
            }
            .into_any()
        }
    };
    view! {
        <div class="invite">
            <h3>{t().push_title}</h3>
            <p class="small muted">{t().push_intro}</p>
            {shown}
        </div>
    }
}

/// The app's language: as the browser says, or one chosen here. A change
/// reloads the page, which draws every screen once in one language.
#[component]
fn LanguagePicker() -> impl IntoView {
    let saved = crate::prefs::saved_lang().and_then(|s| Lang::from_tag(&s));
    let on_change = move |ev: leptos::ev::Event| {
        let chosen = Lang::from_tag(&event_target_value(&ev));
        crate::prefs::save_lang(chosen);
        let _ = window().location().reload();
    };
    view! {
        <div class="invite">
            <label for="language"><h3>{t().language}</h3></label>
            <select id="language" on:change=on_change>
                <option value="" selected=saved.is_none()>{t().language_auto}</option>
                {Lang::ALL.into_iter().map(|l| view! {
                    <option value=l.tag() lang=l.tag() selected=saved == Some(l)>{l.name()}</option>
                }).collect_view()}
            </select>
        </div>
    }
}

/// The export of one's data, as a zip the browser saves.
#[component]
fn MyData() -> impl IntoView {
    let ctx = use_ctx();
    let save = move |_| {
        let name = match ctx.who.get_untracked() {
            Who::Account(s) => s.name,
            Who::Guest(_) => return,
        };
        super::files::open(ctx.clone(), "/api/me/export".into(), format!("meshchat-{name}.zip"), false);
    };
    view! {
        <div class="invite">
            <h3>{t().data_title}</h3>
            <p class="small muted">{t().data_intro}</p>
            <button id="download-data" class="secondary" on:click=save>{t().download_data}</button>
            <DeleteAccount/>
        </div>
    }
}

/// Deleting one's account, with the password, after a confirmation.
#[component]
fn DeleteAccount() -> impl IntoView {
    let ctx = use_ctx();
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !window().confirm_with_message(t().delete_account_confirm).unwrap_or(false) {
            return;
        }
        let (Some(token), base, ctx) = (ctx.token(), ctx.api_base(), ctx.clone()) else { return };
        let pw = password.get_untracked();
        leptos::task::spawn_local(async move {
            match api::delete_account(&base, &token, pw).await {
                Ok(()) => ctx.sign_out(Some(t().account_deleted.into())),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <details class="danger-zone">
            <summary>{t().delete_account}</summary>
            <form class="auth-form" on:submit=submit>
                <p class="small muted">{t().delete_account_intro}</p>
                <label for="delete-password">{t().current_password}</label>
                <input id="delete-password" type="password" autocomplete="current-password" required maxlength="256"
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                <p class="error small" role="alert">{move || error.get()}</p>
                <button class="secondary danger" type="submit">{t().delete_account}</button>
            </form>
        </details>
    }
}
