//! The JSON API: health, nodes, rooms, messages.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use meshchat_shared::api::{Health, MessagesPage, Nodes, PeerState, PostMessage, Posted, RoomSummary, Rooms};
use meshchat_shared::limits::{self, history_limit};
use meshchat_shared::{Cursor, ErrorCode, Message};
use tokio::sync::oneshot;

use super::AppState;
use super::auth::MaybeAuth;
use super::error::ApiError;
use super::serve::ClientAddr;
use crate::edge::guard::Refused;
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
        // A removed node takes no writes: it should be stopped.
        status: if app.cluster.is_removed() { "removed" } else { "ok" }.into(),
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

/// Rooms per page of `/api/rooms`, at most (and by default).
const ROOMS_PAGE: usize = 1000;

/// The rooms anyone may know of: open rooms and public created ones
/// (private rooms and direct messages are listed by `/api/me/rooms`).
pub async fn rooms(State(app): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Result<Json<Rooms>, ApiError> {
    app.metrics.http_requests.inc();
    let q = query_map(raw)?;
    let limit = parse_num::<usize>(&q, "limit")?.unwrap_or(ROOMS_PAGE);
    if !(1..=ROOMS_PAGE).contains(&limit) {
        return Err(ApiError::invalid(format!("limit must be 1-{ROOMS_PAGE}")));
    }
    let after = q.get("after").map(String::as_str).unwrap_or("");
    // One more than asked: whether there is a next page.
    let mut stored =
        app.store.rooms_page(after, limit + 1).await.map_err(|_| ApiError::from(ErrorCode::Unavailable))?;
    let next = (stored.len() > limit).then(|| stored[limit - 1].0.clone());
    stored.truncate(limit);
    let online: HashMap<String, u64> =
        app.hub.open_rooms().iter().map(|h| (h.name().to_owned(), h.status().online as u64)).collect();
    let index = app.hub.index();
    let rooms = stored
        .into_iter()
        .filter(|(room, _)| index.is_listed(room))
        .map(|(room, messages)| RoomSummary { members: online.get(&room).copied().unwrap_or(0), room, messages })
        .collect();
    Ok(Json(Rooms { rooms, next }))
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
    MaybeAuth(me): MaybeAuth,
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
    let who = me.map(|m| m.name).unwrap_or_default();
    let Some((_, gov)) = super::rooms::readable(&app, &room, &who).await? else {
        return Ok(Json(MessagesPage { messages: Vec::new(), more: false }));
    };
    let (messages, more) =
        app.store.history(&room, before, limit).await.map_err(|_| ApiError::from(ErrorCode::Unavailable))?;
    let raw = q.get("events").is_some_and(|v| v == "1");
    Ok(Json(MessagesPage { messages: super::rooms::shown(&gov, messages, raw), more }))
}

pub async fn post_message(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    MaybeAuth(me): MaybeAuth,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    app.metrics.http_requests.inc();
    let ip = client_ip(addr);
    app.guard.write(ip).map_err(refused)?;
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
    // Signed in: the token says who (a `name` field is ignored). A guest's
    // name must not be an account's.
    let name = match me {
        Some(me) => me.name,
        None => {
            let name = crate::core::names::canonical(&post.name)?;
            if app.accounts.is_account_name(&name) {
                return Err(ApiError::new(ErrorCode::NameTaken, "that name belongs to an account: sign in to post"));
            }
            name
        }
    };
    limits::validate_msg_id(&post.id)?;
    limits::validate_body(&post.body)?;
    // What one may not read, one cannot post to either, and is not told of
    // (`not_found`, as for history); a new name makes an open room.
    let (handle, _) = super::rooms::postable(&app, &room, &name, ip).await?;
    let (tx, rx) = oneshot::channel();
    handle.send(RoomCmd::Send { to: AckTo::Http(tx), author: name.into(), id: post.id, body: post.body })?;
    let msg: Arc<Message> = match tokio::time::timeout(POST_TIMEOUT, rx).await {
        Ok(Ok(Ok(msg))) => msg,
        Ok(Ok(Err(code))) => return Err(code.into()),
        _ => return Err(ErrorCode::Unavailable.into()),
    };
    let posted = Posted { msg: meshchat_shared::rooms::present(&msg).into_owned() };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(posted)))
}

/// The client's address (unspecified when unknown, as in unit tests).
pub fn client_ip(addr: Option<Extension<ClientAddr>>) -> IpAddr {
    addr.map_or(IpAddr::from([0, 0, 0, 0]), |Extension(ClientAddr(a))| a.ip())
}

/// A limit of the [`Guard`](crate::edge::guard::Guard), as an HTTP error.
pub fn refused(why: Refused) -> ApiError {
    match why {
        Refused::Rate | Refused::Events => ApiError::new(ErrorCode::RateLimited, why.to_string()),
        Refused::Rooms | Refused::Connections => {
            ApiError::new(ErrorCode::LimitReached, why.to_string()).with_status(StatusCode::SERVICE_UNAVAILABLE)
        }
        _ => ApiError::new(ErrorCode::LimitReached, why.to_string()),
    }
}
