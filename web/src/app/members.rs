//! The room's people: in a created room every member with their role
//! (online or not) and, for moderators, invite, remove, ban and the room's
//! settings; in an open room of protocol 1, who is online.

use leptos::prelude::*;
use meshchat_shared::rooms::{MemberInfo, RoomEvent, RoomInfo, RoomRole};

use super::avatar::Avatar;
use super::dialogs::{PeopleList, people_suggestions};
use super::{Ctx, use_ctx};
use crate::i18n::{fill, t};
use crate::rooms;

/// Sends an action in the current room; a refusal lands in `said`.
pub fn act(ctx: &Ctx, action: RoomEvent, said: RwSignal<Option<String>>) {
    let (Some(token), Some(room)) = (ctx.token(), ctx.chat.with_untracked(|c| c.current.clone())) else { return };
    let base = ctx.api_base();
    let id = rooms::action_id(js_sys::Math::random(), crate::net::now_ms());
    leptos::task::spawn_local(async move {
        match crate::api::act(&base, &token, &room, id, action).await {
            Ok(()) => said.set(None),
            Err(e) => said.set(Some(e)),
        }
    });
}

#[component]
pub fn Members() -> impl IntoView {
    let ctx = use_ctx();
    let chat = ctx.chat;
    let open = ctx.members_open;
    let info = Memo::new(move |_| chat.with(|c| c.current_room().and_then(|r| r.info.clone())));
    let online = Memo::new(move |_| {
        chat.with(|c| c.current_room().map(|r| r.members.iter().cloned().collect::<Vec<_>>()).unwrap_or_default())
    });
    let room = Memo::new(move |_| chat.with(|c| c.current.clone().unwrap_or_default()));
    view! {
        <aside class="members" aria-label=move || fill(t().people_in, &[&room.get()]) hidden=move || !open.get()>
            {move || match info.get().filter(|i| i.governed) {
                Some(i) => view! { <RoomPeople info=i online/> }.into_any(),
                None => view! { <OnlineOnly online/> }.into_any(),
            }}
        </aside>
    }
}

fn head(title: String) -> impl IntoView {
    let open = use_ctx().members_open;
    view! {
        <div class="members-head">
            <h2 class="section-title">{title}</h2>
            <button class="icon" aria-label=t().close_people on:click=move |_| open.set(false)>"×"</button>
        </div>
    }
}

#[component]
fn OnlineOnly(online: Memo<Vec<String>>) -> impl IntoView {
    let me = use_ctx().chat.with_untracked(|c| c.name.clone());
    view! {
        {move || head(fill(t().online_count, &[&online.get().len().to_string()]))}
        <ul class="member-list">
            <For each=move || online.get() key=|n| n.clone() children=move |name| {
                let you = name == me;
                view! {
                    <li class="member">
                        <Avatar name=name.clone()/>
                        <span class="member-name">{name.clone()}</span>
                        {you.then(|| view! { <span class="you">{t().you}</span> })}
                    </li>
                }
            }/>
        </ul>
    }
}

#[component]
fn RoomPeople(info: RoomInfo, online: Memo<Vec<String>>) -> impl IntoView {
    let said = RwSignal::new(None::<String>);
    let moderates = rooms::moderates(Some(&info));
    let owns = rooms::owns(Some(&info)) && info.dm.is_empty();
    let count = info.members.len();
    let banned = info.banned.clone();
    let dm = !info.dm.is_empty();
    view! {
        {head(fill(t().members_count, &[&count.to_string()]))}
        {(!info.topic.is_empty()).then(|| view! { <p class="room-topic small">{info.topic.clone()}</p> })}
        <p class="error small" role="alert">{move || said.get()}</p>
        <ul class="member-list">
            {info.members.iter().cloned().map(|m| view! { <MemberRow member=m online moderates owns said/> }).collect_view()}
        </ul>
        {(moderates && !dm).then(|| view! { <InviteForm said/> })}
        {(moderates && !banned.is_empty()).then(|| view! { <Banned names=banned.clone() said/> })}
        {(!dm).then(|| view! { <Settings info=info.clone() said/> })}
    }
}

#[component]
fn MemberRow(
    member: MemberInfo,
    online: Memo<Vec<String>>,
    moderates: bool,
    owns: bool,
    said: RwSignal<Option<String>>,
) -> impl IntoView {
    let ctx = use_ctx();
    let me = ctx.chat.with_untracked(|c| c.name.clone());
    let you = member.name == me;
    let name = member.name.clone();
    let is_online = {
        let name = name.clone();
        move || online.get().contains(&name)
    };
    let role = match member.role {
        RoomRole::Owner => Some(t().role_owner),
        RoomRole::Moderator => Some(t().role_moderator),
        RoomRole::Member => None,
    };
    let can_act = moderates && !you && member.role != RoomRole::Owner;
    let (kick_ctx, ban_ctx, dm_ctx) = (ctx.clone(), ctx.clone(), ctx.clone());
    let dm_name = name.clone();
    let (kick_name, ban_name) = (name.clone(), name.clone());
    view! {
        <li class="member" class:offline=move || !is_online()>
            <Avatar name=name.clone() card=true/>
            <PersonName name=name.clone()/>
            {you.then(|| view! { <span class="you">{t().you}</span> })}
            {role.map(|r| view! { <span class="role">{r}</span> })}
            {(!you).then(|| view! {
                <button class="link small message-member" aria-label=fill(t().message_person, &[&dm_name])
                    on:click=move |_| super::dialogs::message(&dm_ctx, dm_name.clone())>{t().message_verb}</button>
            })}
            {can_act.then(|| view! {
                <span class="member-actions">
                    <button class="link" aria-label=fill(t().remove_person, &[&kick_name]) on:click=move |_| {
                        if let Some(reason) = ask_reason(&fill(t().confirm_remove, &[&kick_name])) {
                            act(&kick_ctx, RoomEvent::Kicked { user: kick_name.clone(), reason }, said);
                        }
                    }>{t().remove}</button>
                    <button class="link danger" aria-label=fill(t().ban_person, &[&ban_name]) on:click=move |_| {
                        if let Some(reason) = ask_reason(&fill(t().confirm_ban, &[&ban_name])) {
                            act(&ban_ctx, RoomEvent::Banned { user: ban_name.clone(), reason }, said);
                        }
                    }>{t().ban}</button>
                </span>
            })}
            {(owns && !you).then(|| view! { <RoleButtons member=member.clone() said/> })}
        </li>
    }
}

/// Owners: make a member a moderator (or back), or pass ownership.
#[component]
fn RoleButtons(member: MemberInfo, said: RwSignal<Option<String>>) -> impl IntoView {
    let ctx = use_ctx();
    let (role_ctx, owner_ctx) = (ctx.clone(), ctx);
    let (user, owner_user) = (member.name.clone(), member.name.clone());
    let (next, label) = match member.role {
        RoomRole::Member => (RoomRole::Moderator, t().make_moderator),
        _ => (RoomRole::Member, t().make_member),
    };
    view! {
        <span class="member-actions">
            <button class="link" aria-label=format!("{label}: {user}")
                on:click=move |_| act(&role_ctx, RoomEvent::Role { user: user.clone(), role: next }, said)>{label}</button>
            <button class="link" aria-label=fill(t().make_owner_of, &[&owner_user]) on:click=move |_| {
                if window().confirm_with_message(&fill(t().confirm_owner, &[&owner_user])).unwrap_or(false) {
                    act(&owner_ctx, RoomEvent::Role { user: owner_user.clone(), role: RoomRole::Owner }, said);
                }
            }>{t().make_owner}</button>
        </span>
    }
}

/// The browser's own prompt: keyboard-friendly, nothing to style. `None`
/// when cancelled.
fn ask_reason(question: &str) -> Option<String> {
    window().prompt_with_message_and_default(question, "").ok().flatten().map(|r| r.trim().to_owned())
}

#[component]
fn InviteForm(said: RwSignal<Option<String>>) -> impl IntoView {
    let ctx = use_ctx();
    let typed = RwSignal::new(String::new());
    let suggestions = people_suggestions(&ctx, typed);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let user = typed.get_untracked().trim().to_owned();
        if !user.is_empty() {
            act(&ctx, RoomEvent::Invited { user }, said);
            typed.set(String::new());
        }
    };
    view! {
        <form class="invite-form" on:submit=submit>
            <label for="invite-name">{t().add_someone}</label>
            <div class="row">
                <input id="invite-name" autocomplete="off" list="invite-people" placeholder=t().name
                    prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev))/>
                <button class="secondary" type="submit">{t().add}</button>
            </div>
            <PeopleList id="invite-people" names=suggestions/>
        </form>
    }
}

#[component]
fn Banned(names: Vec<String>, said: RwSignal<Option<String>>) -> impl IntoView {
    let ctx = use_ctx();
    view! {
        <h3 class="section-title">{t().banned}</h3>
        <ul class="member-list">
            {names.into_iter().map(|n| {
                let (ctx, user) = (ctx.clone(), n.clone());
                view! {
                    <li class="member offline">
                        <span class="member-name">{n.clone()}</span>
                        <button class="link" aria-label=fill(t().unban_person, &[&n])
                            on:click=move |_| act(&ctx, RoomEvent::Unbanned { user: user.clone() }, said)>{t().unban}</button>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// Topic (moderators), public or private and deleting (owners), leaving.
#[component]
fn Settings(info: RoomInfo, said: RwSignal<Option<String>>) -> impl IntoView {
    let ctx = use_ctx();
    let topic = RwSignal::new(info.topic.clone());
    let title = RwSignal::new(info.title.clone());
    let (moderates, owns, private) = (rooms::moderates(Some(&info)), rooms::owns(Some(&info)), info.private);
    let (topic_ctx, vis_ctx, del_ctx, leave_ctx) = (ctx.clone(), ctx.clone(), ctx.clone(), ctx.clone());
    let (archive_ctx, archived) = (ctx.clone(), info.archived);
    let (title_ctx, retention) = (ctx.clone(), info.retention_days);
    view! {
        <details class="room-settings">
            <summary>{t().room_settings}</summary>
            {(retention > 0).then(|| view! { <p class="small muted">{fill(t().retention_mark, &[&retention.to_string()])}</p> })}
            {moderates.then(|| view! {
                <form class="invite-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    act(&topic_ctx, RoomEvent::Topic { topic: topic.get_untracked() }, said);
                }>
                    <label for="topic-input">{t().topic}</label>
                    <div class="row">
                        <input id="topic-input" maxlength="300" prop:value=move || topic.get()
                            on:input=move |ev| topic.set(event_target_value(&ev))/>
                        <button class="secondary" type="submit">{t().save}</button>
                    </div>
                </form>
            })}
            {owns.then(|| view! {
                <form class="invite-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    act(&title_ctx, RoomEvent::Title { title: title.get_untracked().trim().to_owned() }, said);
                }>
                    <label for="title-input">{t().name}</label>
                    <div class="row">
                        <input id="title-input" maxlength="64" prop:value=move || title.get()
                            on:input=move |ev| title.set(event_target_value(&ev))/>
                        <button class="secondary" type="submit">{t().rename}</button>
                    </div>
                </form>
                <KeepFor days=retention said/>
                <button class="secondary" on:click=move |_| act(&vis_ctx, RoomEvent::Visibility { private: !private }, said)>
                    {if private { t().make_public } else { t().make_private }}
                </button>
                <button class="secondary" on:click=move |_| act(&archive_ctx, RoomEvent::Archived { archived: !archived }, said)>
                    {if archived { t().unarchive } else { t().archive }}
                </button>
                <button class="secondary danger" on:click=move |_| {
                    if window().confirm_with_message(t().confirm_delete_room).unwrap_or(false) {
                        act(&del_ctx, RoomEvent::RoomDeleted, said);
                    }
                }>{t().delete_room}</button>
            })}
            <button class="secondary" on:click=move |_| act(&leave_ctx, RoomEvent::Left, said)>{t().leave_room}</button>
        </details>
    }
}

/// The room's own retention policy (owners): days, 0 to follow the mesh.
#[component]
fn KeepFor(days: u32, said: RwSignal<Option<String>>) -> impl IntoView {
    let ctx = use_ctx();
    let value = RwSignal::new(days.to_string());
    view! {
        <form class="invite-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            match value.get_untracked().trim().parse::<u32>() {
                Ok(days) => act(&ctx, RoomEvent::Retention { days }, said),
                Err(_) => said.set(Some(t().room_retention_label.to_owned())),
            }
        }>
            <label for="retention-input">{t().room_retention_label}</label>
            <div class="row">
                <input id="retention-input" type="number" min="0" max="3650" prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))/>
                <button class="secondary" type="submit">{t().save}</button>
            </div>
        </form>
    }
}

/// A member's display name (the account name on hover), a mark when away
/// or not to be disturbed; a click opens their card.
#[component]
fn PersonName(name: String) -> impl IntoView {
    let people = use_ctx().people;
    let (n1, n2, n3) = (name.clone(), name.clone(), name.clone());
    view! {
        <button class="member-name name-button" title=format!("@{name}") on:click=move |_| people.card.set(Some(n1.clone()))>
            {move || people.display(&n2)}
        </button>
        {move || super::people::mark(people.availability(&n3)).map(|(m, words)| view! {
            <span class="availability" role="img" aria-label=words title=words>{m}</span>
        })}
    }
}
