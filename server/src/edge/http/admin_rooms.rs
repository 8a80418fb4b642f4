//! The admin console's rooms: every room this node holds with its size
//! (private ones by name and size only), archived or deleted from there.
//! Who may is decided by `accounts` and the room's fold, not here.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use meshchat_shared::ErrorCode;
use meshchat_shared::api::{AdminRoom, AdminRooms, SetArchived, SetRetention};
use meshchat_shared::rooms::RoomEvent;

use super::AppState;
use super::api::room_param;
use super::auth::{Auth, NO_STORE, json_body};
use super::error::ApiError;
use crate::accounts::AuthError;
use crate::edge::govern::{self, Asker};

/// How many rooms one answer lists at most.
const MAX_ROOMS: usize = 200;

/// `GET /api/admin/rooms?q=`: rooms whose name (or a public room's title)
/// holds `q`, busiest first.
pub async fn list(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    if !app.accounts.acts_as_admin(&me) {
        return Err(AuthError::Forbidden.into());
    }
    let needle = q.get("q").map(|s| s.trim().to_lowercase()).unwrap_or_default();
    if needle.chars().count() > 64 {
        return Err(ApiError::invalid("a search is at most 64 characters"));
    }
    let unavailable = |_| ApiError::from(ErrorCode::Unavailable);
    let index = app.hub.index();
    let mut rooms = Vec::new();
    for (room, messages) in app.store.rooms().await.map_err(unavailable)? {
        if meshchat_shared::limits::validate_room(&room).is_err() {
            continue;
        }
        let found = index.meta(&room);
        let governed = found.is_some();
        let meta = found.unwrap_or_default();
        let hidden = meta.private || meta.dm;
        let title = if hidden { String::new() } else { meta.title };
        if meta.deleted || !format!("{room}\n{title}").to_lowercase().contains(&needle) {
            continue;
        }
        let (private, dm, archived, members) = (meta.private, meta.dm, meta.archived, meta.members);
        let retention_days = meta.retention_days;
        rooms.push(AdminRoom {
            room,
            title,
            private,
            dm,
            governed,
            archived,
            retention_days,
            members,
            messages,
            last: 0,
        });
    }
    rooms.sort_by_key(|r| std::cmp::Reverse(r.messages));
    let more = rooms.len() > MAX_ROOMS;
    rooms.truncate(MAX_ROOMS);
    let names = rooms.iter().map(|r| r.room.clone()).collect();
    for (r, last) in rooms.iter_mut().zip(app.store.last_ts(names).await.map_err(unavailable)?) {
        r.last = last;
    }
    Ok((NO_STORE, Json(AdminRooms { rooms, more })))
}

/// `POST /api/admin/rooms/{room}/archive` `{"archived"}`.
pub async fn archive(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let room = room_param(path)?;
    let s: SetArchived = json_body(body, "archived")?;
    let who = Asker::of(&app.accounts, &me);
    govern::admin_act(&app.hub, &app.guard, &who, &room, RoomEvent::Archived { archived: s.archived }).await?;
    let what = if s.archived { "archive room" } else { "unarchive room" };
    app.accounts.audit_room(&me, what, &room).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/admin/rooms/{room}`.
pub async fn delete(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let room = room_param(path)?;
    let who = Asker::of(&app.accounts, &me);
    govern::admin_act(&app.hub, &app.guard, &who, &room, RoomEvent::RoomDeleted).await?;
    app.accounts.audit_room(&me, "delete room", &room).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/admin/rooms/{room}/retention` `{"days"}`: the room's own
/// policy (0: it follows the mesh's).
pub async fn room_retention(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let room = room_param(path)?;
    let s: SetRetention = json_body(body, "days")?;
    let who = Asker::of(&app.accounts, &me);
    govern::admin_act(&app.hub, &app.guard, &who, &room, RoomEvent::Retention { days: s.days }).await?;
    app.accounts.audit_room(&me, &format!("room retention {} days", s.days), &room).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/admin/retention` `{"days"}`: the mesh's policy.
pub async fn retention(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let s: SetRetention = json_body(body, "days")?;
    app.accounts.set_retention(&me, s.days).await?;
    Ok(StatusCode::NO_CONTENT)
}
