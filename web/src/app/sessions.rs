//! "Where you're signed in": the account's sessions (this device marked),
//! each ended with a click, or all others at once; API tokens beside them.
//! The node decides what may be ended; this only asks and reloads.

use leptos::prelude::*;
use meshchat_shared::api::Sessions;

use super::format::when;
use super::use_ctx;
use crate::api;
use crate::i18n::{fill, t};

#[component]
pub fn SessionsList() -> impl IntoView {
    let ctx = use_ctx();
    let list = RwSignal::new(None::<Result<Sessions, String>>);
    let failed = RwSignal::new(None::<String>);
    let load = {
        let ctx = ctx.clone();
        move || {
            let (Some(token), base) = (ctx.token(), ctx.api_base()) else { return };
            leptos::task::spawn_local(async move { list.set(Some(api::sessions(&base, &token).await)) });
        }
    };
    load();
    let end = {
        let (ctx, load) = (ctx.clone(), load.clone());
        Callback::new(move |id: Option<String>| {
            let (Some(token), base, load) = (ctx.token(), ctx.api_base(), load.clone()) else { return };
            leptos::task::spawn_local(async move {
                let done = match id {
                    Some(id) => api::end_session(&base, &token, &id).await,
                    None => api::end_other_sessions(&base, &token).await,
                };
                failed.set(done.err());
                load();
            });
        })
    };
    let shown = move || match list.get() {
        None => view! { <p class="small muted">{t().checking}</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error small" role="alert">{e}</p> }.into_any(),
        Some(Ok(s)) => {
            let others = s.sessions.iter().any(|x| !x.current);
            let sessions = s.sessions.into_iter().map(|x| {
                let line = fill(t().session_line, &[&when(x.started), &x.node, &when(x.last)]);
                let label = fill(t().sign_out_of, &[&x.agent]);
                let act = if x.current {
                    view! { <span class="badge">{t().this_device}</span> }.into_any()
                } else {
                    let id = x.id.clone();
                    view! { <button class="secondary small" aria-label=label on:click=move |_| end.run(Some(id.clone()))>
                        {t().sign_out}</button> }.into_any()
                };
                view! { <li class="session"><span><strong>{x.agent}</strong><br/>
                    <span class="small muted">{line}</span></span>{act}</li> }
            });
            let tokens = s
                .tokens
                .into_iter()
                .map(|k| {
                    let used = k.last_used.map_or_else(|| t().never_used.to_owned(), when);
                    let line = fill(t().token_line, &[&when(k.created), &used]);
                    let label = fill(t().revoke_token, &[&k.label]);
                    let id = k.id.clone();
                    view! { <li class="session"><span><strong>{k.label}</strong><br/>
                    <span class="small muted">{line}</span></span>
                    <button class="secondary small" aria-label=label on:click=move |_| end.run(Some(id.clone()))>
                        {t().revoke}</button></li> }
                })
                .collect::<Vec<_>>();
            view! {
                <ul class="sessions" aria-label=t().sessions_title>{sessions.collect_view()}</ul>
                {others.then(|| view! {
                    <button class="secondary" on:click=move |_| end.run(None)>{t().sign_out_others}</button>
                })}
                {(!tokens.is_empty()).then(|| view! {
                    <h4>{t().api_tokens}</h4>
                    <ul class="sessions" aria-label=t().api_tokens>{tokens}</ul>
                })}
            }
            .into_any()
        }
    };
    view! {
        <div class="invite" id="sessions">
            <h3>{t().sessions_title}</h3>
            <p class="small muted">{t().sessions_intro}</p>
            {shown}
            {move || failed.get().map(|e| view! { <p class="error small" role="alert">{e}</p> })}
        </div>
    }
}
