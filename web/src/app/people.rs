//! People as profiles show them: display names, statuses, availability,
//! local time; a card on a click on a name; one's own profile set in the
//! account panel. Profiles come from `GET /api/profiles` for the names
//! the current room shows, now and every 15 s.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use leptos::prelude::*;
use meshchat_shared::profile::{Availability, ProfileFields};

use super::avatar::Avatar;
use super::{Ctx, use_ctx};
use crate::i18n::{fill, t};
use crate::{api, net::now_ms};

/// The latest entries of the room whose authors are asked about.
const AUTHORS_SEEN: usize = 200;

/// The profiles this page knows, by account name.
#[derive(Clone, Copy)]
pub struct People {
    pub profiles: RwSignal<HashMap<String, ProfileFields>>,
    /// When each was last seen (ms), as the nodes know it.
    pub seen: RwSignal<HashMap<String, u64>>,
    /// Whose card is open.
    pub card: RwSignal<Option<String>>,
    /// Each person's picture (its hash), for those who have one.
    pub avatars: RwSignal<HashMap<String, String>>,
    /// A person's name as shown and their picture's hash, for the views
    /// of each row (each its own signal: [`super::fanout`]).
    pub shown: super::fanout::PerKey<String, (String, String)>,
    /// Pictures fetched (with the session) as `blob:` URLs, by hash.
    /// Reference-counted signals: one made while a view reruns must not
    /// go with that run's owner.
    pictures: StoredValue<HashMap<String, ArcRwSignal<Option<String>>>, LocalStorage>,
}

impl People {
    pub fn new() -> People {
        let profiles = RwSignal::new(HashMap::<String, ProfileFields>::new());
        let avatars = RwSignal::new(HashMap::<String, String>::new());
        let shown = super::fanout::PerKey::new(move |name: &String| {
            let display = profiles.with(|p| p.get(name).map(|f| f.display.clone()).filter(|d| !d.is_empty()));
            let hash = avatars.with(|a| a.get(name).cloned()).unwrap_or_default();
            (display.unwrap_or_else(|| name.clone()), hash)
        });
        People {
            profiles,
            seen: RwSignal::new(HashMap::new()),
            card: RwSignal::new(None),
            avatars,
            shown,
            pictures: StoredValue::new_local(HashMap::new()),
        }
    }

    /// The picture of hash `hash` as a URL the page can show (fetched once
    /// per picture, then kept; tracked: shows when it comes).
    pub fn picture(&self, ctx: &Ctx, hash: &str) -> Option<String> {
        let hash = Some(hash.to_owned()).filter(|h| !h.is_empty())?;
        let known = self.pictures.with_value(|p| p.get(&hash).cloned());
        let url = known.unwrap_or_else(|| {
            let url = ArcRwSignal::new(None);
            self.pictures.update_value(|p| {
                p.insert(hash.clone(), url.clone());
            });
            let (c, fetched) = (ctx.clone(), url.clone());
            leptos::task::spawn_local(async move {
                // A node that does not hold it yet fetches it from a peer.
                for wait in [0, 2, 5] {
                    crate::net::sleep(Duration::from_secs(wait)).await;
                    if let Some(u) = super::files::blob_url(&c, &format!("/api/avatars/{hash}")).await {
                        return fetched.set(Some(u));
                    }
                }
            });
            url
        });
        url.get()
    }

    /// The name to show for `name` (its display name, if set).
    pub fn display(&self, name: &str) -> String {
        self.profiles
            .with(|p| p.get(name).map(|f| f.display.clone()).filter(|d| !d.is_empty()))
            .unwrap_or_else(|| name.to_owned())
    }

    pub fn availability(&self, name: &str) -> Availability {
        self.profiles.with(|p| p.get(name).map(|f| f.availability).unwrap_or_default())
    }
}

/// "🌙" away, "⛔" do not disturb: a mark beside a name, with words for
/// screen readers.
pub fn mark(a: Availability) -> Option<(&'static str, &'static str)> {
    match a {
        Availability::Active => None,
        Availability::Away => Some(("🌙", t().away)),
        Availability::Dnd => Some(("⛔", t().dnd)),
    }
}

/// The names the current room shows: its members, who is online, the
/// latest authors; and one's own (for "do not disturb"). Read tracked:
/// a new author asks again.
fn names_shown(ctx: &Ctx) -> Vec<String> {
    ctx.chat.with(|c| {
        let mut names: BTreeSet<String> = BTreeSet::from([c.name.clone()]);
        if let Some(r) = c.current_room() {
            names.extend(r.members.iter().cloned());
            names.extend(r.info.iter().flat_map(|i| i.members.iter().map(|m| m.name.clone())));
            let authors = r.entries().rev().take(AUTHORS_SEEN).filter_map(|(_, e)| match e {
                meshchat_shared::client::room::Entry::Msg(m) => Some(m.author.clone()),
                _ => None,
            });
            names.extend(authors);
        }
        names.into_iter().take(meshchat_shared::profile::MAX_PROFILES_ASKED).collect()
    })
}

/// Asks for the profiles of `names`.
pub fn refresh(ctx: &Ctx, names: Vec<String>) {
    let (people, me) = (ctx.people, ctx.chat.with_untracked(|c| c.name.clone()));
    let (base, token) = (ctx.api_base(), ctx.token());
    let asked = now_ms();
    leptos::task::spawn_local(async move {
        let Ok(got) = api::profiles(&base, token.as_deref(), &names).await else { return };
        take_in(people, got, &me, asked);
    });
}

/// Profiles as the node gave them (asked at `asked`, or pushed).
fn take_in(people: People, got: Vec<meshchat_shared::profile::Profile>, me: &str, asked: u64) {
    let seen: Vec<(String, u64)> = got.iter().filter_map(|g| Some((g.name.clone(), g.last_seen?))).collect();
    let _ = people.avatars.try_update(|a| {
        for g in &got {
            if g.avatar.is_empty() {
                a.remove(&g.name);
            } else {
                a.insert(g.name.clone(), g.avatar.clone());
            }
        }
    });
    let _ = people.profiles.try_update(|p| {
        for g in got {
            p.insert(g.name, g.fields);
        }
    });
    if !seen.is_empty() {
        let _ = people.seen.try_update(|s| s.extend(seen));
    }
    crate::prefs::dnd_from_node(people.availability(me) == Availability::Dnd, asked);
}

/// Profiles follow the names shown (asked again when one is new, and
/// watched: the node pushes their changes), and are asked again every 15 s.
pub fn follow(ctx: &Ctx) {
    let c = ctx.clone();
    let names = Memo::new(move |_| names_shown(&c));
    let c = ctx.clone();
    Effect::new(move |_| {
        let names = names.get();
        c.chat.update_untracked(|chat| chat.watch(names.clone()));
        c.net.flush();
        refresh(&c, names);
    });
    // What the node pushed: taken in as it comes (a cheap look per frame).
    let c = ctx.clone();
    Effect::new(move |_| {
        if c.chat.with(|chat| chat.has_profiles()) {
            let got = c.chat.try_update_untracked(|chat| chat.take_profiles()).unwrap_or_default();
            let me = c.chat.with_untracked(|chat| chat.name.clone());
            take_in(c.people, got, &me, now_ms());
        }
    });
    let c = ctx.clone();
    let _ = set_interval_with_handle(move || refresh(&c, names.get_untracked()), Duration::from_secs(15));
}

/// No input for this long: away, until the next.
const IDLE_MS: u64 = 10 * 60 * 1000;
/// Input is noted at most this often (it goes to localStorage).
const INPUT_EVERY_MS: u64 = 15_000;

/// Away after 10 minutes with no input in any tab of this browser, active
/// again at the next; only from "active", and undone only if it was this
/// (a person who set away or do not disturb by hand keeps it). One tab
/// decides, so that tabs do not take turns.
pub fn idle_away(ctx: &Ctx) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let Some(token) = ctx.token() else { return };
    crate::prefs::set_last_input(now_ms());
    let c = ctx.clone();
    let token2 = token.clone();
    let on_input = Closure::<dyn Fn()>::new(move || {
        let now = now_ms();
        if now.saturating_sub(crate::prefs::last_input()) > INPUT_EVERY_MS {
            crate::prefs::set_last_input(now);
        }
        if crate::prefs::auto_away() {
            let me = c.chat.with_untracked(|chat| chat.name.clone());
            match c.people.availability(&me) {
                // Chosen since, on another device: theirs.
                Availability::Dnd => crate::prefs::set_auto_away(false),
                // (Active here may be a refresh that crossed the change.)
                _ => set_availability(&c, &token2, Availability::Active, true),
            }
        }
    });
    for event in ["keydown", "pointerdown", "wheel", "focus"] {
        let _ = window().add_event_listener_with_callback(event, on_input.as_ref().unchecked_ref());
    }
    on_input.forget();
    let c = ctx.clone();
    let _ = set_interval_with_handle(
        move || {
            let me = c.chat.with_untracked(|chat| chat.name.clone());
            let idle = now_ms().saturating_sub(crate::prefs::last_input()) > IDLE_MS;
            if idle && c.tabs.first() && c.people.availability(&me) == Availability::Active {
                set_availability(&c, &token, Availability::Away, false);
            }
        },
        Duration::from_secs(30),
    );
}

/// One's own profile with another availability (`Away` set here is undone
/// here; anything else clears that mark); `force`: even if it seems so.
fn set_availability(ctx: &Ctx, token: &str, a: Availability, force: bool) {
    let me = ctx.chat.with_untracked(|c| c.name.clone());
    let Some(mut p) = ctx.people.profiles.with_untracked(|p| p.get(&me).cloned()) else { return };
    if p.availability == a && !force {
        return;
    }
    crate::prefs::set_auto_away(a == Availability::Away);
    crate::prefs::set_dnd(a == Availability::Dnd, now_ms());
    p.availability = a;
    // Here at once: an input right after must see it to undo it.
    ctx.people.profiles.update(|m| drop(m.insert(me.clone(), p.clone())));
    let (ctx, base, token) = (ctx.clone(), ctx.api_base(), token.to_owned());
    leptos::task::spawn_local(async move {
        if api::set_profile(&base, &token, &p).await.is_ok() {
            refresh(&ctx, vec![me]);
        }
    });
}

/// The time now where `tz` is ("3:12 PM"), by the browser's Intl; `None`
/// for no zone, or one the browser does not know (Intl throws for it: asked
/// through `Reflect`, which catches, not a binding that would abort).
fn local_time(tz: &str) -> Option<String> {
    use wasm_bindgen::JsCast;
    if tz.is_empty() {
        return None;
    }
    let o = js_sys::Object::new();
    for (k, v) in [("hour", "2-digit"), ("minute", "2-digit"), ("timeZone", tz)] {
        let _ = js_sys::Reflect::set(&o, &k.into(), &v.into());
    }
    let intl = js_sys::Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
    let make: js_sys::Function = js_sys::Reflect::get(&intl, &"DateTimeFormat".into()).ok()?.dyn_into().ok()?;
    let args = js_sys::Array::of2(&crate::i18n::lang().tag().into(), &o);
    let f = js_sys::Reflect::construct(&make, &args).ok()?;
    let format: js_sys::Function = js_sys::Reflect::get(&f, &"format".into()).ok()?.dyn_into().ok()?;
    let d = js_sys::Date::new(&(now_ms() as f64).into());
    format.call1(&f, &d).ok()?.as_string()
}

/// A person's name in the timeline or a list: the display name, the
/// account name on hover; a click opens their card.
#[component]
pub fn Name(name: String) -> impl IntoView {
    let people = use_ctx().people;
    let n1 = name.clone();
    let shown = people.shown.signal(name.clone());
    view! {
        <button class="author name-button" title=format!("@{name}")
            on:click=move |_| people.card.set(Some(n1.clone()))>
            {move || shown.with(|s| s.0.clone())}
        </button>
    }
}

/// The open card, if any.
#[component]
pub fn Card() -> impl IntoView {
    let people = use_ctx().people;
    view! {
        {move || people.card.get().map(|name| {
            let close = Callback::new(move |_| people.card.set(None));
            super::lazy::screen(profile_card(name, close), close)
        })}
    }
}

/// The card, in a module of its own fetched the first time one opens.
#[leptos::wasm_split::wasm_split(profile_card, wasm_split_path = ::leptos::wasm_split, fallible)]
fn profile_card(name: String, close: Callback<()>) -> Result<AnyView, super::lazy::Unloaded> {
    Ok(view! {
        <super::dialogs::Dialog id="profile-card" title=t().profile close class="card">
            <CardBody name=name.clone()/>
        </super::dialogs::Dialog>
    }
    .into_any())
}

/// What a card says of `name`: names, availability, status, local time,
/// rooms in common, and "Message".
#[component]
fn CardBody(name: String) -> impl IntoView {
    let ctx = use_ctx();
    let people = ctx.people;
    let p = people.profiles.with_untracked(|p| p.get(&name).cloned()).unwrap_or_default();
    let me = ctx.chat.with_untracked(|c| c.name.clone());
    let shown = people.display(&name);
    let status = (!p.status.is_empty() || !p.emoji.is_empty()).then(|| format!("{} {}", p.emoji, p.status));
    let time = local_time(&p.tz).map(|at| fill(t().local_time, &[&at, &shown]));
    let common: Vec<String> = ctx.chat.with_untracked(|c| {
        c.rooms
            .values()
            .filter(|r| r.info.as_ref().is_some_and(|i| i.members.iter().any(|m| m.name == name)))
            .map(|r| crate::rooms::title_as(&r.name, r.info.as_ref(), &me, &|n| ctx.people.display(n)))
            .collect()
    });
    let dm = (name != me && ctx.token().is_some()).then(|| {
        let user = name.clone();
        view! {
            <button class="primary" on:click=move |_| {
                people.card.set(None);
                super::dialogs::message(&use_ctx(), user.clone());
            }>{t().message_verb}</button>
        }
    });
    view! {
        <div class="card-who">
            <Avatar name=name.clone()/>
            <div>
                <strong class="card-display">{shown.clone()}</strong>
                <span class="small muted card-name">{format!("@{name}")}</span>
            </div>
        </div>
        {mark(p.availability).map(|(m, words)| view! { <p class="card-availability">{m}" "{words}</p> })}
        {status.map(|s| view! { <p class="card-status">{s}</p> })}
        {time.map(|at| view! { <p class="small muted card-time">{at}</p> })}
        {(!common.is_empty()).then(|| view! {
            <p class="small card-rooms">{fill(t().rooms_in_common, &[&common.join(", ")])}</p>
        })}
        {dm}
    }
}

/// One's picture: chosen, sent (the node crops it), shown, removed.
#[component]
fn PictureField() -> impl IntoView {
    let ctx = use_ctx();
    let me = ctx.chat.with_untracked(|c| c.name.clone());
    let said = RwSignal::new(None::<Result<&'static str, String>>);
    let input = NodeRef::<leptos::html::Input>::new();
    // (The context is taken before the answer: none is current after it.)
    let done = move |ctx: Ctx, r: Result<(), String>, ok: &'static str| {
        if r.is_ok() {
            refresh(&ctx, vec![ctx.chat.with_untracked(|c| c.name.clone())]);
        }
        said.set(Some(r.map(|()| ok)));
    };
    let chosen = move |_| {
        let ctx = use_ctx();
        let (Some(token), Some(file)) = (ctx.token(), input.get().and_then(|i| i.files()).and_then(|f| f.get(0)))
        else {
            return;
        };
        let base = ctx.api_base();
        leptos::task::spawn_local(
            async move { done(ctx, api::set_avatar(&base, &token, &file).await, t().picture_saved) },
        );
    };
    let remove = move |_| {
        let ctx = use_ctx();
        let Some(token) = ctx.token() else { return };
        let base = ctx.api_base();
        leptos::task::spawn_local(async move { done(ctx, api::remove_avatar(&base, &token).await, t().profile_saved) });
    };
    let has = {
        let me = me.clone();
        move || ctx.people.avatars.with(|a| a.contains_key(&me))
    };
    view! {
        <fieldset class="picture-field">
            <legend>{t().picture}</legend>
            <Avatar name=me/>
            <input type="file" id="picture-input" class="visually-hidden" tabindex="-1" aria-label=t().choose_picture
                accept="image/png,image/jpeg,image/gif,image/webp" node_ref=input on:change=chosen/>
            <button type="button" class="secondary" on:click=move |_| { if let Some(i) = input.get() { i.click(); } }>{t().choose_picture}</button>
            <button type="button" id="picture-remove" class="link" hidden=move || !has() on:click=remove>{t().remove_picture}</button>
            <p id="picture-said" role="alert" class=move || if matches!(said.get(), Some(Ok(_))) { "ok-text small" } else { "error small" }>
                {move || said.get().map(|r| r.map(str::to_owned).unwrap_or_else(|e| e))}
            </p>
        </fieldset>
    }
}

/// One's own profile, in the account panel.
#[component]
pub fn ProfileForm() -> impl IntoView {
    let ctx = use_ctx();
    let me = ctx.chat.with_untracked(|c| c.name.clone());
    let now = ctx.people.profiles.with_untracked(|p| p.get(&me).cloned()).unwrap_or_default();
    let (display, status, emoji) = (RwSignal::new(now.display), RwSignal::new(now.status), RwSignal::new(now.emoji));
    let availability = RwSignal::new(now.availability);
    let clear_after = RwSignal::new(0u64);
    let said = RwSignal::new(None::<Result<(), String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let ctx = use_ctx();
        let Some(token) = ctx.token() else { return };
        let hours = clear_after.get_untracked();
        let tz = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new()).resolved_options();
        let tz = js_sys::Reflect::get(&tz, &"timeZone".into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
        let p = ProfileFields {
            display: display.get_untracked().trim().to_owned(),
            status: status.get_untracked().trim().to_owned(),
            emoji: emoji.get_untracked().trim().to_owned(),
            until: if hours == 0 { 0 } else { now_ms() + hours * 3_600_000 },
            tz,
            availability: availability.get_untracked(),
        };
        let base = ctx.api_base();
        // Set by hand: not this browser's to undo.
        crate::prefs::set_auto_away(false);
        leptos::task::spawn_local(async move {
            let r = api::set_profile(&base, &token, &p).await;
            if r.is_ok() {
                // Every tab of this browser at once (the one that notifies
                // may be another), before the profile comes back.
                crate::prefs::set_dnd(p.availability == Availability::Dnd, now_ms());
                let me = ctx.chat.with_untracked(|c| c.name.clone());
                refresh(&ctx, vec![me]);
            }
            said.set(Some(r));
        });
    };
    let pick = move |ev: leptos::ev::Event| {
        availability.set(match event_target_value(&ev).as_str() {
            "away" => Availability::Away,
            "dnd" => Availability::Dnd,
            _ => Availability::Active,
        })
    };
    view! {
        <form class="auth-form profile-form" on:submit=submit novalidate aria-labelledby="profile-title">
            <h3 id="profile-title">{t().profile}</h3>
            <PictureField/>
            <label for="profile-display">{t().display_name}</label>
            <input id="profile-display" maxlength="32" autocomplete="off" placeholder=me.clone()
                prop:value=move || display.get() on:input=move |ev| display.set(event_target_value(&ev))/>
            <label for="profile-status">{t().status}</label>
            <div class="row">
                <input id="profile-emoji" class="emoji-input" maxlength="16" aria-label=t().status_emoji placeholder="💬"
                    prop:value=move || emoji.get() on:input=move |ev| emoji.set(event_target_value(&ev))/>
                <input id="profile-status" maxlength="100" autocomplete="off" placeholder=t().status_placeholder
                    prop:value=move || status.get() on:input=move |ev| status.set(event_target_value(&ev))/>
            </div>
            <label for="profile-clear">{t().clear_after}</label>
            <select id="profile-clear" on:change=move |ev| clear_after.set(event_target_value(&ev).parse().unwrap_or(0))>
                <option value="0">{t().clear_never}</option>
                <option value="1">{t().clear_hour}</option>
                <option value="4">{t().clear_four_hours}</option>
                <option value="24">{t().clear_day}</option>
            </select>
            <label for="profile-availability">{t().availability}</label>
            <select id="profile-availability" on:change=pick prop:value=move || match availability.get() {
                Availability::Active => "active",
                Availability::Away => "away",
                Availability::Dnd => "dnd",
            }>
                <option value="active">{t().active}</option>
                <option value="away">{t().away}</option>
                <option value="dnd">{t().dnd}</option>
            </select>
            <p id="profile-said" role="alert" class=move || if matches!(said.get(), Some(Ok(()))) { "ok-text" } else { "error" }>
                {move || said.get().map(|r| r.map(|()| t().profile_saved.to_owned()).unwrap_or_else(|e| e))}
            </p>
            <button class="primary" type="submit">{t().save}</button>
        </form>
    }
}
