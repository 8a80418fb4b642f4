//! Web Push over HTTP: the mesh's VAPID key, and a browser's subscription
//! made or ended (for the signed-in account; `accounts` checks the rest).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use meshchat_shared::api::{PushKey, PushSubscribe, PushUnsubscribe};

use super::AppState;
use super::auth::{Auth, json_body};
use super::error::ApiError;

pub async fn key(State(app): State<Arc<AppState>>, Auth(_): Auth) -> Result<Json<PushKey>, ApiError> {
    app.metrics.http_requests.inc();
    Ok(Json(PushKey { key: app.accounts.vapid().await?.public_b64() }))
}

pub async fn subscribe(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    app.metrics.http_requests.inc();
    let s: PushSubscribe = json_body(body, "endpoint, p256dh, auth and key")?;
    app.accounts.subscribe_push(&me, s).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unsubscribe(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    app.metrics.http_requests.inc();
    let s: PushUnsubscribe = json_body(body, "an endpoint")?;
    app.accounts.unsubscribe_push(&me, &s.endpoint).await?;
    Ok(StatusCode::NO_CONTENT)
}
