//! The JSON API: health, nodes, rooms, messages.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use meshchat_shared::api::{Health, MessagesPage, Nodes, PeerState, PostMessage, Posted, RoomSummary, Rooms};
use meshchat_shared::limits::{self, history_limit};
use meshchat_shared::{Cursor, ErrorCode, Message};
use tokio::sync::oneshot;

use super::AppState;
use super::error::ApiError;
use crate::room::{AckTo, RoomCmd};

/// How long a `POST` waits for its commit before answering `unavailable`.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn health(State(app): State<Arc<AppState>>) -> Json<Health> {
    app.metrics.http_requests.inc();
    let peers =
        app.cluster.peers().into_iter().map(|p| (p.id, if p.up { PeerState::Up } else { PeerState::Down })).collect();
    let (rooms, root) = app.hub.index().with_vectors(|v| (v.len() as u64, v.root()));
    Json(Health {
        node: app.cluster.me().id.clone(),
        status: "ok".into(),
        peers,
        uptime_s: app.started.elapsed().as_secs(),
        rooms,
        digest: format!("{root:016x}"),
    })
}

pub async fn nodes(State(app): State<Arc<AppState>>) -> Json<Nodes> {
    app.metrics.http_requests.inc();
    Json(Nodes { nodes: app.cluster.nodes() })
}

pub async fn rooms(State(app): State<Arc<AppState>>) -> Result<Json<Rooms>, ApiError> {
    app.metrics.http_requests.inc();
    let stored = app.store.rooms().await.map_err(|_| ApiError::from(ErrorCode::Unavailable))?;
    let mut rooms: HashMap<String, RoomSummary> =
        stored.into_iter().map(|(room, messages)| (room.clone(), RoomSummary { room, messages, members: 0 })).collect();
    // Stored rooms were joined or written to; an open room with nobody in
    // it and nothing stored (say, started by a poll) does not exist yet.
    for handle in app.hub.open_rooms() {
        let online = handle.status().online as u64;
        if let Some(r) = rooms.get_mut(handle.name()) {
            r.members = online;
        } else if online > 0 {
            let room = handle.name().to_owned();
            rooms.insert(room.clone(), RoomSummary { room, messages: 0, members: online });
        }
    }
    let mut rooms: Vec<RoomSummary> = rooms.into_values().collect();
    rooms.sort_by(|a, b| a.room.cmp(&b.room));
    Ok(Json(Rooms { rooms }))
}

/// Parses a query string into its fields; a malformed one is `invalid`.
pub fn query_map(raw: Option<String>) -> Result<HashMap<String, String>, ApiError> {
    let raw = raw.unwrap_or_default();
    serde_urlencoded::from_str::<Vec<(String, String)>>(&raw)
        .map(|pairs| pairs.into_iter().collect())
        .map_err(|_| ApiError::invalid("malformed query string"))
}

pub fn parse_num<T: std::str::FromStr>(q: &HashMap<String, String>, key: &str) -> Result<Option<T>, ApiError> {
    match q.get(key).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| ApiError::invalid(format!("{key} must be a non-negative integer"))),
    }
}

pub fn room_param(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(room) = path.map_err(|_| ApiError::invalid("malformed room in the path"))?;
    limits::validate_room(&room)?;
    Ok(room)
}

pub async fn get_messages(
    State(app): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<MessagesPage>, ApiError> {
    app.metrics.http_requests.inc();
    let room = room_param(path)?;
    let q = query_map(raw)?;
    let limit = history_limit(parse_num(&q, "limit")?)?;
    let ts = parse_num::<u64>(&q, "before_ts")?;
    let origin = q.get("before_origin").filter(|o| !o.is_empty()).cloned();
    let seq = parse_num::<u64>(&q, "before_seq")?;
    let before = match (ts, origin, seq) {
        (None, None, None) => None,
        (Some(ts), Some(origin), Some(seq)) => {
            limits::validate_node_id(&origin)?;
            Some(Cursor { ts, origin, seq })
        }
        _ => {
            return Err(ApiError::invalid("before_ts, before_origin and before_seq go together"));
        }
    };
    let (messages, more) =
        app.store.history(&room, before, limit).await.map_err(|_| ApiError::from(ErrorCode::Unavailable))?;
    Ok(Json(MessagesPage { messages, more }))
}

pub async fn post_message(
    State(app): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    app.metrics.http_requests.inc();
    let room = room_param(path)?;
    let body = body.map_err(|e| {
        let status = e.status();
        let err = ApiError::invalid(format!("cannot read the body: {}", e.body_text()));
        if status == StatusCode::PAYLOAD_TOO_LARGE { err.with_status(status) } else { err }
    })?;
    let post: PostMessage = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) if e.is_syntax() || e.is_eof() => {
            return Err(ApiError::new(ErrorCode::BadFrame, "the body must be a JSON object"));
        }
        Err(_) => {
            return Err(ApiError::invalid("the body needs name, id and body, all strings"));
        }
    };
    limits::validate_name(&post.name)?;
    limits::validate_msg_id(&post.id)?;
    limits::validate_body(&post.body)?;
    let (tx, rx) = oneshot::channel();
    let cmd = RoomCmd::Send { to: AckTo::Http(tx), author: post.name.as_str().into(), id: post.id, body: post.body };
    app.hub.room(&room).send(cmd)?;
    let msg: Arc<Message> = match tokio::time::timeout(POST_TIMEOUT, rx).await {
        Ok(Ok(Ok(msg))) => msg,
        Ok(Ok(Err(code))) => return Err(code.into()),
        _ => return Err(ErrorCode::Unavailable.into()),
    };
    let posted = Posted { msg: Message::clone(&msg) };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(posted)))
}
