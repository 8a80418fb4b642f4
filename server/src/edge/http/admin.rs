//! Sessions a person can see and end, and the admin console's routes:
//! people, deactivation, reset links, invitations, roles, sign-up rules,
//! the audit log. Who may do what is decided in `accounts`, not here.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use meshchat_shared::api::{
    Audit, Ended, Invite, Invites, People, ResetLink, SetActive, SetRole, SignUpSettings, UseResetLink,
};

use super::AppState;
use super::api::refused;
use super::auth::{Auth, NO_STORE, caller, json_body, session};
use super::error::ApiError;
use super::serve::ClientAddr;
use crate::accounts::Role;

/// How many audit entries one answer holds at most.
const MAX_AUDIT: usize = 1000;

pub async fn sessions(State(app): State<Arc<AppState>>, Auth(me): Auth) -> impl IntoResponse {
    (NO_STORE, Json(app.accounts.sessions(&me)))
}

pub async fn end_session(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    app.accounts.end_session(&me, &param(path, "session id")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn end_others(State(app): State<Arc<AppState>>, Auth(me): Auth) -> Result<Json<Ended>, ApiError> {
    Ok(Json(Ended { ended: app.accounts.end_other_sessions(&me).await? }))
}

pub async fn people(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    let query = q.get("q").map(String::as_str).unwrap_or_default();
    if query.chars().count() > 64 {
        return Err(ApiError::invalid("a search is at most 64 characters"));
    }
    Ok((NO_STORE, Json(People { people: app.accounts.people(&me, query)? })))
}

/// The route's one path parameter, or `invalid` naming `what` is malformed.
fn param(path: Result<Path<String>, PathRejection>, what: &str) -> Result<String, ApiError> {
    path.map(|Path(n)| n).map_err(|_| ApiError::invalid(format!("malformed {what}")))
}

pub async fn set_active(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let name = param(path, "name")?;
    let a: SetActive = json_body(body, "active")?;
    app.accounts.set_active(&me, &name, a.active).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_role(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let name = param(path, "name")?;
    let r: SetRole = json_body(body, "a role")?;
    let role = match r.role.as_str() {
        "admin" => Role::Admin,
        "member" => Role::Member,
        _ => return Err(ApiError::invalid("role must be admin or member")),
    };
    app.accounts.set_role(&me, &name, role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The app's page `#<what>=<code>`, as the asker reached this node.
fn app_link(app: &AppState, headers: &HeaderMap, what: &str, code: &str) -> String {
    format!("{}/#{what}={code}", base_url(app, headers))
}

/// This node as the browser reached it: `https://host` (or `http://`).
pub(super) fn base_url(app: &AppState, headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = if app.tls { "https" } else { "http" };
    format!("{scheme}://{host}")
}

pub async fn create_invite(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let (code, expires) = app.accounts.create_invite(&me).await?;
    let url = app_link(&app, &headers, "invite", &code);
    Ok((StatusCode::CREATED, NO_STORE, Json(Invite { code, url, expires })))
}

pub async fn invites(State(app): State<Arc<AppState>>, Auth(me): Auth) -> Result<impl IntoResponse, ApiError> {
    Ok((NO_STORE, Json(Invites { invites: app.accounts.invites(&me)? })))
}

pub async fn revoke_invite(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    app.accounts.revoke_invite(&me, &param(path, "invitation id")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn reset_link(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let name = param(path, "name")?;
    let (code, expires) = app.accounts.create_reset_link(&me, &name).await?;
    let url = app_link(&app, &headers, "reset", &code);
    Ok((StatusCode::CREATED, NO_STORE, Json(ResetLink { code, url, expires })))
}

pub async fn use_reset_link(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let from = caller(addr, &headers);
    app.guard.write(from.ip).map_err(refused)?;
    let r: UseResetLink = json_body(body, "code and password")?;
    Ok((NO_STORE, session(app.accounts.use_reset_link(&r.code, r.password, &from).await?)))
}

pub async fn settings(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let s: SignUpSettings = json_body(body, "registration and guests")?;
    app.accounts.set_settings(&me, &s).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn audit(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).min(MAX_AUDIT);
    Ok((NO_STORE, Json(Audit { entries: app.accounts.audit_log(&me, limit)? })))
}
