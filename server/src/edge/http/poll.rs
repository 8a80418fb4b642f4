//! The long poll, for clients that cannot hold a WebSocket.
//!
//! It answers as soon as the room holds anything `since` lacks, or with
//! nothing at the timeout. Waiting costs no task of the room's: the poller
//! watches the room's committed vector and asks the room only when that
//! vector goes past `since`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use meshchat_shared::RoomVector;
use meshchat_shared::api::Poll;

use super::AppState;
use super::api::{client_ip, parse_num, query_map, refused, room_param};
use super::error::ApiError;
use super::serve::ClientAddr;

const DEFAULT_TIMEOUT_S: u64 = 25;
const MAX_TIMEOUT_S: u64 = 60;

pub async fn poll(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    super::auth::MaybeAuth(me): super::auth::MaybeAuth,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Poll>, ApiError> {
    app.metrics.http_requests.inc();
    let ip = client_ip(addr);
    app.guard.write(ip).map_err(refused)?;
    // Held while it waits: an address has only so many waiting at once.
    let _slot = app.guard.poll(ip).map_err(refused)?;
    let room = room_param(path)?;
    let q = query_map(raw)?;
    let since: RoomVector = q.get("since").map_or(Ok(RoomVector::new()), |s| s.parse())?;
    let timeout_s = parse_num::<u64>(&q, "timeout_s")?.unwrap_or(DEFAULT_TIMEOUT_S);
    if timeout_s > MAX_TIMEOUT_S {
        return Err(ApiError::invalid(format!("timeout_s must be 0-{MAX_TIMEOUT_S}")));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_s);
    // A poll never creates a room: until someone does, there is nothing to
    // wait for but the room's creation (checked once a second).
    let handle = loop {
        if let Some(h) = app.hub.open(&room) {
            break h;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(Json(Poll { messages: Vec::new(), vector: since, gap: false }));
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.min(now + Duration::from_secs(1))) => {}
            _ = app.shutdown.cancelled() => return Ok(Json(Poll { messages: Vec::new(), vector: since, gap: false })),
        }
    };
    let who = me.map(|m| m.name).unwrap_or_default();
    let gov = handle.governance().await?;
    if !gov.can_read(&who) {
        return Err(crate::edge::govern::RoomError::NotFound.into());
    }
    let mut status = handle.watch();
    loop {
        let ahead = !since.dominates(&status.borrow_and_update().vector);
        if ahead {
            let c = handle.catch_up(since.clone()).await?;
            let raw = q.get("events").is_some_and(|v| v == "1");
            let messages = c
                .messages
                .iter()
                .filter(|m| raw || !meshchat_shared::rooms::is_read_marker(m))
                .map(|m| meshchat_shared::rooms::present_as(m, raw).into_owned())
                .collect();
            return Ok(Json(Poll { messages, vector: c.vector, gap: c.gap }));
        }
        tokio::select! {
            r = status.changed() => if r.is_err() { break },
            _ = tokio::time::sleep_until(deadline) => break,
            _ = app.shutdown.cancelled() => break,
        }
    }
    Ok(Json(Poll { messages: Vec::new(), vector: since, gap: false }))
}
