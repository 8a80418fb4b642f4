//! The long poll, for clients that cannot hold a WebSocket.
//!
//! It answers as soon as the room holds anything `since` lacks, or with
//! nothing at the timeout. Waiting costs no task of the room's: the poller
//! watches the room's committed vector and asks the room only when that
//! vector goes past `since`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use meshchat_shared::api::Poll;
use meshchat_shared::{Message, RoomVector};

use super::AppState;
use super::api::{parse_num, query_map, room_param};
use super::error::ApiError;

const DEFAULT_TIMEOUT_S: u64 = 25;
const MAX_TIMEOUT_S: u64 = 60;

pub async fn poll(
    State(app): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Poll>, ApiError> {
    app.metrics.http_requests.inc();
    let room = room_param(path)?;
    let q = query_map(raw)?;
    let since: RoomVector = q.get("since").map_or(Ok(RoomVector::new()), |s| s.parse())?;
    let timeout_s = parse_num::<u64>(&q, "timeout_s")?.unwrap_or(DEFAULT_TIMEOUT_S);
    if timeout_s > MAX_TIMEOUT_S {
        return Err(ApiError::invalid(format!("timeout_s must be 0-{MAX_TIMEOUT_S}")));
    }
    let handle = app.hub.room(&room);
    let mut status = handle.watch();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_s);
    loop {
        let ahead = !since.dominates(&status.borrow_and_update().vector);
        if ahead {
            let c = handle.catch_up(since.clone()).await?;
            let messages = c.messages.iter().map(|m| Message::clone(m)).collect();
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
