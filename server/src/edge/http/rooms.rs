//! Rooms that belong to people over HTTP: create, act, direct messages,
//! a room's members, the directory of public rooms, the rooms one is in;
//! and the read check of every chat route.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use meshchat_shared::api::{CreateRoom, Directory, MyRooms, RoomAction, StartDm};
use meshchat_shared::limits;
use meshchat_shared::rooms::{DirectoryEntry, RoomEvent, RoomInfo, present, present_as};
use meshchat_shared::{ErrorCode, Message};

use super::AppState;
use super::api::{client_ip, query_map, refused, room_param};
use super::auth::{Auth, json_body};
use super::error::ApiError;
use super::serve::ClientAddr;
use crate::edge::govern::{self, Asker, RoomError};
use crate::room::{Governance, RoomHandle};

impl From<RoomError> for ApiError {
    fn from(e: RoomError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

/// The room if `who` may read it: `None` when it does not exist here (an
/// empty answer, as in protocol 1); `not_found` when `who` may not know it.
pub async fn readable(
    app: &AppState,
    room: &str,
    who: &str,
) -> Result<Option<(RoomHandle, Arc<Governance>)>, ApiError> {
    match govern::readable(&app.hub, room, who).await {
        Ok(found) => Ok(Some(found)),
        Err(RoomError::NotFound) if app.hub.open(room).is_none() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The room `who` posts to (a message or a file): one it may read, or a
/// new open room by that name, made within the caller's limits; `not_found`
/// for a room `who` may not know.
pub async fn postable(
    app: &AppState,
    room: &str,
    who: &str,
    ip: std::net::IpAddr,
) -> Result<(RoomHandle, Arc<Governance>), ApiError> {
    if let Some(found) = readable(app, room, who).await? {
        return Ok(found);
    }
    let guard = &app.guard;
    let handle = app.hub.open_or_create(room, |rooms| guard.create_room(ip, rooms)).map_err(refused)?;
    let gov = handle.governance().await?;
    Ok((handle, gov))
}

/// What a reader is shown of messages: only what is part of the room,
/// events as notices (or as they are, for a client that applies them:
/// `?events=1`).
pub fn shown(gov: &Governance, msgs: impl IntoIterator<Item = Message>, raw: bool) -> Vec<Message> {
    msgs.into_iter()
        .filter(|m| gov.visible(m) && (raw || !meshchat_shared::rooms::is_read_marker(m)))
        .map(|m| present_as(&m, raw).into_owned())
        .collect()
}

fn opener(app: &Arc<AppState>, ip: std::net::IpAddr) -> govern::Opener {
    govern::Opener { hub: app.hub.clone(), guard: app.guard.clone(), ip }
}

/// `POST /api/rooms` `{"room","title","topic","private"}`: `201` and the room.
pub async fn create(
    State(app): State<Arc<AppState>>,
    addr: Option<axum::Extension<ClientAddr>>,
    Auth(me): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let ip = client_ip(addr);
    app.guard.write(ip).map_err(refused)?;
    let c: CreateRoom = json_body(body, "room, title, topic and private")?;
    limits::validate_room(&c.room)?;
    let created = RoomEvent::Created { title: c.title, topic: c.topic, private: c.private, dm: Vec::new() };
    created.validate()?;
    let info =
        govern::create(&opener(&app, ip), &app.accounts, &Asker::of(&app.accounts, &me), &c.room, created).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `POST /api/rooms/{room}/actions` `{"id","action"}`: the event's message.
pub async fn act(
    State(app): State<Arc<AppState>>,
    addr: Option<axum::Extension<ClientAddr>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    app.guard.write(client_ip(addr)).map_err(refused)?;
    let room = room_param(path)?;
    let a: RoomAction = json_body(body, "id and action")?;
    meshchat_shared::rooms::validate_act(&a.id, &a.action)?;
    let who = Asker::of(&app.accounts, &me);
    // A public room may be joined by anyone who may read it.
    let (handle, _) = govern::readable(&app.hub, &room, &who.name).await?;
    let prepared = govern::prepare(&app.accounts, &app.store, &room, a.action, &who.name).await?;
    let msg = govern::act(&handle, &app.guard, &who, &a.id, prepared).await?;
    Ok(Json(present(&msg).into_owned()))
}

/// `POST /api/dm` `{"users":[…]}`: the conversation's room.
pub async fn dm(
    State(app): State<Arc<AppState>>,
    addr: Option<axum::Extension<ClientAddr>>,
    Auth(me): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RoomInfo>, ApiError> {
    let ip = client_ip(addr);
    app.guard.write(ip).map_err(refused)?;
    let d: StartDm = json_body(body, "users")?;
    if d.users.is_empty() || d.users.len() >= meshchat_shared::rooms::MAX_DM {
        return Err(ApiError::invalid("a direct message has 2 to 10 people"));
    }
    Ok(Json(govern::dm(&opener(&app, ip), &app.accounts, &Asker::of(&app.accounts, &me), &d.users).await?))
}

/// `GET /api/rooms/{room}`: members, roles, topic.
pub async fn info(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<RoomInfo>, ApiError> {
    let room = room_param(path)?;
    let (_, gov) = govern::readable(&app.hub, &room, &me.name).await?;
    Ok(Json(gov.info(&room, &me.name)))
}

/// `GET /api/directory?q=`: public rooms whose name, title or topic holds `q`.
pub async fn directory(
    State(app): State<Arc<AppState>>,
    Auth(_): Auth,
    RawQuery(raw): RawQuery,
) -> Result<Json<Directory>, ApiError> {
    let q = query_map(raw)?;
    let needle = q.get("q").map(|s| s.trim().to_lowercase()).unwrap_or_default();
    let stored = app.store.rooms().await.map_err(|_| ApiError::from(ErrorCode::Unavailable))?;
    let index = app.hub.index();
    let mut rooms: Vec<DirectoryEntry> = Vec::new();
    for (room, _) in stored {
        if meshchat_shared::limits::validate_room(&room).is_err() || !index.is_listed(&room) {
            continue;
        }
        let meta = index.meta(&room).unwrap_or_default();
        let title = if meta.title.is_empty() { room.clone() } else { meta.title.clone() };
        let hay = format!("{room}\n{title}\n{}", meta.topic).to_lowercase();
        if !needle.is_empty() && !hay.contains(&needle) {
            continue;
        }
        rooms.push(DirectoryEntry { room, title, topic: meta.topic, members: meta.members, last: 0 });
        if rooms.len() >= 200 {
            break;
        }
    }
    let names: Vec<String> = rooms.iter().map(|r| r.room.clone()).collect();
    let lasts = app.store.last_ts(names).await.map_err(|_| ApiError::from(ErrorCode::Unavailable))?;
    for (r, last) in rooms.iter_mut().zip(lasts) {
        r.last = last;
    }
    rooms.sort_by_key(|r| std::cmp::Reverse(r.last));
    Ok(Json(Directory { rooms }))
}

/// `GET /api/users?q=`: up to 20 account names starting with `q`, for
/// inviting people and starting conversations.
pub async fn users(
    State(app): State<Arc<AppState>>,
    Auth(_): Auth,
    RawQuery(raw): RawQuery,
) -> Result<Json<meshchat_shared::api::Users>, ApiError> {
    let q = query_map(raw)?;
    let prefix = q.get("q").map(|s| s.trim().to_owned()).unwrap_or_default();
    Ok(Json(meshchat_shared::api::Users { users: app.accounts.names_starting(&prefix) }))
}

/// `GET /api/me/rooms`: the rooms the caller is a member of (private ones
/// and direct messages included).
pub async fn mine(State(app): State<Arc<AppState>>, Auth(me): Auth) -> Result<Json<MyRooms>, ApiError> {
    let mut names = app.store.rooms_of(&me.name).await.map_err(|_| ApiError::from(ErrorCode::Unavailable))?;
    // The store lists memberships once committed; a running room knows of
    // one from the moment it takes the event (the reads of this node go by
    // that), so those are added: a room one may read is listed.
    for handle in app.hub.open_rooms() {
        if handle.status().gov.is_some_and(|g| g.role(&me.name).is_some()) {
            names.push(handle.name().to_owned());
        }
    }
    names.sort();
    names.dedup();
    let mut rooms = Vec::new();
    for room in names {
        if let Ok((_, gov)) = govern::readable(&app.hub, &room, &me.name).await {
            rooms.push(gov.info(&room, &me.name));
        }
    }
    Ok(Json(MyRooms { rooms }))
}
