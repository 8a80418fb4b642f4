//! Accounts over HTTP: register, login, logout, me, password, API tokens;
//! and the extractors that say who is asking.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use meshchat_shared::ErrorCode;
use meshchat_shared::api::{
    ApiToken, ApiTokens, AuthInfo, ChangePassword, EnableTwoFactor, Login, Me as MeBody, NewToken, PasswordOnly,
    RecoveryCodes, Register, Session,
};
use serde::de::DeserializeOwned;

use super::AppState;
use super::api::{client_ip, refused};
use super::error::ApiError;
use super::serve::ClientAddr;
use crate::accounts::{AuthError, Caller, Me, SignedIn, registration_name};

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// A signed-in caller: a valid `Authorization: Bearer` token, or `401`.
pub struct Auth(pub Me);

impl FromRequestParts<Arc<AppState>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(|| ApiError::from(ErrorCode::Unauthorized))?;
        Ok(Auth(app.accounts.authenticate(token)?))
    }
}

/// A caller that may be signed in; a bad token is still `401`.
pub struct MaybeAuth(pub Option<Me>);

impl FromRequestParts<Arc<AppState>> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        match bearer(&parts.headers) {
            None => Ok(MaybeAuth(None)),
            Some(t) => Ok(MaybeAuth(Some(app.accounts.authenticate(t)?))),
        }
    }
}

/// A JSON body: `bad_frame` if it is not JSON, `invalid` if fields are missing.
pub fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>, what: &str) -> Result<T, ApiError> {
    let body = body.map_err(|e| {
        let status = e.status();
        let err = ApiError::invalid(format!("cannot read the body: {}", e.body_text()));
        if status == StatusCode::PAYLOAD_TOO_LARGE { err.with_status(status) } else { err }
    })?;
    match serde_json::from_slice(&body) {
        Ok(v) => Ok(v),
        Err(e) if e.is_syntax() || e.is_eof() => {
            Err(ApiError::new(ErrorCode::BadFrame, "the body must be a JSON object"))
        }
        Err(_) => Err(ApiError::invalid(format!("the body needs {what}"))),
    }
}

pub(super) fn session(s: SignedIn) -> Json<Session> {
    Json(Session { token: s.token, name: s.name, role: s.role.as_str().into() })
}

pub(super) const NO_STORE: [(header::HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];

/// Who is signing in: the address and the User-Agent (made a label later).
pub fn caller(addr: Option<Extension<ClientAddr>>, headers: &HeaderMap) -> Caller {
    let agent = headers.get(header::USER_AGENT).and_then(|h| h.to_str().ok()).unwrap_or_default();
    Caller { ip: client_ip(addr), agent: agent.chars().take(512).collect() }
}

pub async fn info(State(app): State<Arc<AppState>>) -> Json<AuthInfo> {
    Json(AuthInfo {
        guests: app.accounts.guests(),
        registration: registration_name(app.accounts.registration()).into(),
        admins_need_two_factor: app.accounts.admins_need_two_factor(),
        first: app.accounts.count() == 0,
        retention_days: app.accounts.retention_days(),
        sso: app.oidc.as_ref().map(|o| o.label().to_owned()).unwrap_or_default(),
    })
}

pub async fn register(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let from = caller(addr, &headers);
    app.guard.write(from.ip).map_err(refused)?;
    let r: Register = json_body(body, "name and password")?;
    let s = app.accounts.register(&r.name, r.password, r.invite.as_deref(), &from).await?;
    Ok((StatusCode::CREATED, NO_STORE, session(s)))
}

pub async fn login(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let from = caller(addr, &headers);
    app.guard.write(from.ip).map_err(refused)?;
    let l: Login = json_body(body, "name and password")?;
    let s = app.accounts.login(&l.name, l.password, l.code.as_deref(), &from).await?;
    Ok((NO_STORE, session(s)))
}

pub async fn logout(State(app): State<Arc<AppState>>, Auth(me): Auth) -> Result<StatusCode, ApiError> {
    app.accounts.logout(&me).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(State(app): State<Arc<AppState>>, Auth(me): Auth) -> impl IntoResponse {
    let two_factor = app.accounts.has_two_factor(&me);
    (NO_STORE, Json(MeBody { name: me.name, role: me.role.as_str().into(), two_factor }))
}

pub async fn password(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let c: ChangePassword = json_body(body, "old and new")?;
    let from = caller(addr, &headers);
    Ok((NO_STORE, session(app.accounts.change_password(&me, c.old, c.new, &from).await?)))
}

pub async fn tokens(State(app): State<Arc<AppState>>, Auth(me): Auth) -> Json<ApiTokens> {
    let tokens = app.accounts.tokens(&me).into_iter().map(|(id, label, created)| ApiToken {
        id,
        label,
        created,
        token: None,
        last_used: None,
    });
    Json(ApiTokens { tokens: tokens.collect() })
}

pub async fn create_token(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let t: NewToken = json_body(body, "a label")?;
    let (token, id) = app.accounts.create_token(&me, &t.label).await?;
    let created = crate::infra::clock::now_ms();
    Ok((
        StatusCode::CREATED,
        NO_STORE,
        Json(ApiToken { id, label: t.label.trim().into(), created, token: Some(token), last_used: None }),
    ))
}

pub async fn revoke_token(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = path.map_err(|_| ApiError::invalid("malformed token id"))?;
    app.accounts.revoke_token(&me, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A secret and its QR code to enrol an authenticator app with.
pub async fn two_factor_setup(State(app): State<Arc<AppState>>, Auth(me): Auth) -> Result<impl IntoResponse, ApiError> {
    Ok((NO_STORE, Json(app.accounts.two_factor_setup(&me)?)))
}

pub async fn two_factor_enable(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let e: EnableTwoFactor = json_body(body, "secret, code and password")?;
    let codes = app.accounts.enable_two_factor(&me, &e.secret, &e.code, e.password).await?;
    Ok((NO_STORE, Json(RecoveryCodes { codes })))
}

pub async fn two_factor_disable(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let p: PasswordOnly = json_body(body, "password")?;
    app.accounts.disable_two_factor(&me, p.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/me/delete` `{"password"}`: the caller's account is deleted.
pub async fn delete_account(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let p: PasswordOnly = json_body(body, "password")?;
    app.accounts.delete_account(&me, p.password).await?;
    if app.accounts.config().deleted_messages == crate::accounts::DeletedMessages::Erase {
        crate::edge::govern::erase_author(&app.hub, &app.store, &me.name).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
