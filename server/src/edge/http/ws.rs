//! The WebSocket route: upgrade, then hand the socket to a session.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use meshchat_shared::ErrorCode;
use meshchat_shared::limits::MAX_FRAME_BYTES;

use super::serve::{ClientAddr, HeldSlot};
use super::{ApiError, AppState};
use crate::edge::session;

pub async fn upgrade(
    State(app): State<Arc<AppState>>,
    slot: Option<Extension<HeldSlot>>,
    addr: Option<Extension<ClientAddr>>,
    ws: WebSocketUpgrade,
) -> Response {
    if app.cluster.is_removed() {
        let err = ApiError::new(ErrorCode::Unavailable, "this node was removed from the mesh; use another node");
        return err.with_status(StatusCode::SERVICE_UNAVAILABLE).into_response();
    }
    if !app.websocket {
        let err = ApiError::new(ErrorCode::Unavailable, "this node takes no WebSockets; use the long poll");
        return err.with_status(StatusCode::SERVICE_UNAVAILABLE).into_response();
    }
    let sessions = app.sessions.clone();
    let tracker = app.tracker.clone();
    // The socket counts against its address for as long as it lives.
    let slot = slot.and_then(|Extension(s)| s.take());
    let ip = addr.map(|Extension(ClientAddr(a))| a.ip());
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // tungstenite reserves its read buffer per connection up front (and
        // zero-fills it on every read); chat frames are small, so a small one
        // keeps idle sockets cheap and grows when a larger frame comes.
        .read_buffer_size(app.ws_read_buffer)
        // Frames queued for one connection go out in one write up to this.
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                let _slot = slot;
                session::serve(socket, sessions, ip).await
            })
        })
}
