//! The admin console: people (search, role, deactivate, a password reset
//! link), invitations, rooms (in `admin_rooms`), the mesh's sign-up rules,
//! and the audit log. Every action is the
//! node's API, which checks that the caller is an admin.

use leptos::prelude::*;
use meshchat_shared::api::{AuditEntry, InviteEntry, Person};

use super::format::when;
use super::use_ctx;
use crate::api;
use crate::i18n::{fill, t};

#[leptos::wasm_split::wasm_split(admin_panel, wasm_split_path = ::leptos::wasm_split, fallible)]
pub fn admin_panel(close: Callback<()>) -> Result<AnyView, super::lazy::Unloaded> {
    Ok(view! { <AdminPanel close/> }.into_any())
}

#[component]
fn AdminPanel(close: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let query = RwSignal::new(String::new());
    let people = RwSignal::new(None::<Result<Vec<Person>, String>>);
    let audit = RwSignal::new(None::<Result<Vec<AuditEntry>, String>>);
    let invites = RwSignal::new(None::<Result<Vec<InviteEntry>, String>>);
    let said = RwSignal::new(None::<Result<String, String>>);
    let load = {
        let ctx = ctx.clone();
        move || {
            let (Some(token), base, q) = (ctx.token(), ctx.api_base(), query.get_untracked()) else { return };
            leptos::task::spawn_local(async move {
                people.set(Some(api::people(&base, &token, &q).await));
                invites.set(Some(api::invites(&base, &token).await));
                audit.set(Some(api::audit(&base, &token).await));
            });
        }
    };
    load();
    // One way for every action: POST, say what came of it, reload.
    let act = {
        let (ctx, load) = (ctx.clone(), load.clone());
        Callback::new(move |(path, body, done): (String, String, String)| {
            let (Some(token), base, load) = (ctx.token(), ctx.api_base(), load.clone()) else { return };
            leptos::task::spawn_local(async move {
                let answer = api::admin_post(&base, &token, &path, body).await;
                said.set(Some(answer.map(|text| reset_url(&text).unwrap_or(done))));
                load();
            });
        })
    };
    let revoke = {
        let (ctx, load) = (ctx.clone(), load.clone());
        Callback::new(move |id: String| {
            let (Some(token), base, load) = (ctx.token(), ctx.api_base(), load.clone()) else { return };
            leptos::task::spawn_local(async move {
                let answer = api::admin_delete(&base, &token, &format!("/api/admin/invites/{id}")).await;
                said.set(Some(answer.map(|_| t().invite_revoked.to_owned())));
                load();
            });
        })
    };
    let search = {
        let load = load.clone();
        Callback::new(move |ev: leptos::ev::Event| {
            query.set(event_target_value(&ev));
            load();
        })
    };
    view! {
        <super::dialogs::Dialog id="admin-console" title=t().admin_console class="admin-console" close>
            <p id="admin-said" role="status" class=move || match said.get() {
                Some(Err(_)) => "error",
                _ => "ok-text",
            }>{move || said.get().map(|r| r.unwrap_or_else(|e| e))}</p>
            <h3>{t().people_title}</h3>
            <label for="people-search" class="visually-hidden">{t().search_people}</label>
            <input id="people-search" type="search" placeholder=t().search_people maxlength="64"
                prop:value=move || query.get() on:input=move |ev| search.run(ev)/>
            {move || match people.get() {
                None => view! { <p class="small muted">{t().checking}</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error small" role="alert">{e}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ul class="sessions people-admin" aria-label=t().people_title>
                        {list.into_iter().map(|p| view! { <PersonRow p act/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <h3>{t().invites_title}</h3>
            {move || match invites.get() {
                None => view! { <p class="small muted">{t().checking}</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error small" role="alert">{e}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="small muted">{t().invites_none}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ul class="sessions invites" aria-label=t().invites_title>
                        {list.into_iter().map(|i| {
                            let line = fill(t().invite_line, &[&i.by, &when(i.expires)]);
                            let id = i.id.clone();
                            view! { <li class="session"><span class="small">{line}</span>
                                <button class="secondary small" on:click=move |_| revoke.run(id.clone())>{t().revoke}</button></li> }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <super::admin_rooms::Rooms said/>
            <SignUpRules act/>
            <MeshRetention act/>
            <h3>{t().audit_title}</h3>
            {move || match audit.get() {
                None => view! { <p class="small muted">{t().checking}</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error small" role="alert">{e}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="small muted">{t().audit_empty}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ol class="audit small" aria-label=t().audit_title>
                        {list.into_iter().map(|e| view! {
                            <li><span class="muted">{when(e.at)}</span>" "<strong>{e.by}</strong>" "{e.action}" "{e.target}</li>
                        }).collect_view()}
                    </ol>
                }.into_any(),
            }}
        </super::dialogs::Dialog>
    }
}

/// A reset link's URL, from the answer that made it.
fn reset_url(answer: &str) -> Option<String> {
    serde_json::from_str::<meshchat_shared::api::ResetLink>(answer).ok().map(|l| fill(t().reset_link_made, &[&l.url]))
}

#[component]
fn PersonRow(p: Person, act: Callback<(String, String, String)>) -> impl IntoView {
    let seen = p.last_seen.map_or_else(|| t().never_used.to_owned(), when);
    let role = if p.role == "admin" { t().role_admin } else { t().role_member };
    let state = if p.active { String::new() } else { format!(" · {}", t().deactivated) };
    let line = fill(t().person_line, &[role, &p.sessions.to_string(), &seen]) + &state;
    let name = StoredValue::new(String::from(js_sys::encode_uri_component(&p.name)));
    let path = move |what: &str| format!("/api/admin/people/{}/{what}", name.get_value());
    let (flip, flip_label) = if p.active { (false, t().deactivate) } else { (true, t().reactivate) };
    let (to_role, role_label) = if p.role == "admin" { ("member", t().make_member) } else { ("admin", t().make_admin) };
    let shown = StoredValue::new(p.name.clone());
    let done = move |what: &str| fill(t().done_for, &[what, &shown.get_value()]);
    view! {
        <li class="session">
            <span><strong>{p.name.clone()}</strong><br/><span class="small muted">{line}</span></span>
            <span class="row-actions">
                <button class="secondary small" on:click=move |_| act.run((path("active"),
                    format!(r#"{{"active":{flip}}}"#), done(flip_label)))>{flip_label}</button>
                <button class="secondary small" on:click=move |_| act.run((format!("/api/users/{}/role", name.get_value()),
                    format!(r#"{{"role":"{to_role}"}}"#), done(role_label)))>{role_label}</button>
                <button class="secondary small" on:click=move |_| act.run((path("reset"), "{}".into(),
                    done(t().reset_link)))>{t().reset_link}</button>
            </span>
        </li>
    }
}

/// Who may sign up, for every node at once.
#[component]
fn SignUpRules(act: Callback<(String, String, String)>) -> impl IntoView {
    let mode = RwSignal::new(String::from("open"));
    let guests = RwSignal::new(false);
    let admins_2fa = RwSignal::new(false);
    leptos::task::spawn_local(async move {
        if let Ok((_, info)) = api::info().await {
            mode.set(info.registration);
            guests.set(info.guests);
            admins_2fa.set(info.admins_need_two_factor);
        }
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // The select's own values: nothing to escape.
        let (m, g, a) = (mode.get_untracked(), guests.get_untracked(), admins_2fa.get_untracked());
        let body = format!(r#"{{"registration":"{m}","guests":{g},"admins_need_two_factor":{a}}}"#);
        act.run(("/api/admin/settings".into(), body, t().saved_everywhere.into()));
    };
    let modes = [("open", t().reg_open), ("invite", t().reg_invite), ("closed", t().reg_closed)];
    view! {
        <form class="auth-form" on:submit=save aria-labelledby="rules-title">
            <h3 id="rules-title">{t().signup_rules}</h3>
            <label for="registration">{t().registration_label}</label>
            <select id="registration" on:change=move |ev| mode.set(event_target_value(&ev))>
                {modes.into_iter().map(|(v, label)| view! {
                    <option value=v selected=move || mode.get() == v>{label}</option>
                }).collect_view()}
            </select>
            <label class="check"><input id="guests" type="checkbox" prop:checked=move || guests.get()
                on:change=move |ev| guests.set(event_target_checked(&ev))/>{t().guests_label}</label>
            <label class="check"><input id="admins-2fa" type="checkbox" prop:checked=move || admins_2fa.get()
                on:change=move |ev| admins_2fa.set(event_target_checked(&ev))/>{t().admins_2fa_label}</label>
            <button class="primary" type="submit">{t().save}</button>
        </form>
    }
}

/// How long the mesh keeps messages (rooms may keep their own policy).
#[component]
fn MeshRetention(act: Callback<(String, String, String)>) -> impl IntoView {
    let days = RwSignal::new(String::from("0"));
    leptos::task::spawn_local(async move {
        if let Ok((_, info)) = api::info().await {
            days.set(info.retention_days.to_string());
        }
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let n = days.get_untracked().trim().parse::<u32>().unwrap_or(u32::MAX);
        act.run(("/api/admin/retention".into(), format!(r#"{{"days":{n}}}"#), t().saved_everywhere.into()));
    };
    view! {
        <form class="auth-form" on:submit=save aria-labelledby="retention-title">
            <h3 id="retention-title">{t().retention_title}</h3>
            <label for="mesh-retention">{t().retention_label}</label>
            <input id="mesh-retention" type="number" min="0" max="3650" prop:value=move || days.get()
                on:input=move |ev| days.set(event_target_value(&ev))/>
            <button class="primary" type="submit">{t().save}</button>
        </form>
    }
}
