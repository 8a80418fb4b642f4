//! Profiles over HTTP: anyone in the chat reads the profiles of names
//! they see; a signed-in person sets their own (`accounts` checks it).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use meshchat_shared::profile::{ProfileFields, Profiles};

use super::AppState;
use super::api::query_map;
use super::auth::{Auth, json_body};
use super::error::ApiError;

/// `GET /api/profiles?names=a,b`.
pub async fn list(
    State(app): State<Arc<AppState>>,
    Auth(_): Auth,
    RawQuery(raw): RawQuery,
) -> Result<Json<Profiles>, ApiError> {
    app.metrics.http_requests.inc();
    let q = query_map(raw)?;
    let names: Vec<String> =
        q.get("names").into_iter().flat_map(|s| s.split(',')).filter(|n| !n.is_empty()).map(str::to_owned).collect();
    Ok(Json(Profiles { profiles: app.accounts.profiles(&names)? }))
}

/// `POST /api/profile`: the caller's profile, whole.
pub async fn set(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    app.metrics.http_requests.inc();
    let p: ProfileFields = json_body(body, "display, status, emoji, until, tz and availability")?;
    app.accounts.set_profile(&me, p).await?;
    Ok(StatusCode::NO_CONTENT)
}
