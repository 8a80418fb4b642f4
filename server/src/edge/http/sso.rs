//! Single sign-on over HTTP: `GET /api/sso/start` sends the browser to the
//! identity provider; `GET /api/sso/callback` takes it back, signs the
//! person in (their account made on a first visit) and sends the browser
//! to the app with a one-time code (`/#sso=CODE`), never the session
//! itself; `POST /api/sso/redeem` trades the code for the session. Who is
//! who is decided by `accounts`, the provider's answer checked by `oidc`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use meshchat_shared::ErrorCode;
use meshchat_shared::api::SsoRedeem;

use super::AppState;
use super::admin::base_url;
use super::api::{client_ip, refused};
use super::auth::{NO_STORE, caller, json_body, session};
use super::error::ApiError;
use super::serve::ClientAddr;
use crate::trust::oidc::Oidc;

fn oidc(app: &AppState) -> Result<&Arc<Oidc>, ApiError> {
    app.oidc.as_ref().ok_or_else(|| ApiError::new(ErrorCode::NotFound, "single sign-on is not set up here"))
}

fn callback_url(app: &AppState, headers: &HeaderMap) -> String {
    format!("{}/api/sso/callback", base_url(app, headers))
}

pub async fn start(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.guard.write(client_ip(addr)).map_err(refused)?;
    let oidc = oidc(&app)?;
    let (url, browser) = oidc.start(&callback_url(&app, &headers)).await.map_err(|e| {
        tracing::warn!(error = %e, "single sign-on cannot start");
        ApiError::new(ErrorCode::Unavailable, e.to_string())
    })?;
    let cookie = browser_cookie(&app, &browser, FLOW_SECONDS);
    Ok((NO_STORE, [(header::SET_COOKIE, cookie)], Redirect::to(&url)).into_response())
}

/// The browser's key for its flow, sent back only to the callback: `Lax`,
/// so that it comes along when the provider sends the browser back.
const COOKIE: &str = "meshchat-sso";
const FLOW_SECONDS: u32 = 600;

fn browser_cookie(app: &AppState, value: &str, max_age: u32) -> String {
    let secure = if app.tls { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/api/sso; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// The flow key this browser holds, if any.
fn browser_key(headers: &HeaderMap) -> String {
    let cookies = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    let mut pairs = cookies.flat_map(|c| c.split(';')).map(str::trim);
    let key = pairs.find_map(|kv| kv.strip_prefix(COOKIE).and_then(|rest| rest.strip_prefix('=')));
    key.unwrap_or_default().to_owned()
}

pub async fn callback(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let oidc = oidc(&app)?;
    let from = caller(addr, &headers);
    let signed_in = async {
        if let Some(e) = q.get("error") {
            return Err(format!("the identity provider said no ({})", e.chars().take(64).collect::<String>()));
        }
        let (state, code) = (q.get("state").cloned().unwrap_or_default(), q.get("code").cloned().unwrap_or_default());
        let who = oidc.finish(&state, &code, &browser_key(&headers)).await.map_err(|e| e.to_string())?;
        let signed_in = app.accounts.sso_sign_in(&who, &from).await.map_err(|e| e.to_string())?;
        let Json(session) = session(signed_in);
        oidc.code_for(session).map_err(|e| e.to_string())
    };
    // The app shows what went wrong, as text.
    let to = match signed_in.await {
        Ok(code) => format!("/#sso={code}"),
        Err(why) => {
            tracing::info!("a single sign-on failed: {why}");
            let why: String = percent_encoding::utf8_percent_encode(&why, percent_encoding::NON_ALPHANUMERIC).collect();
            format!("/#sso-error={why}")
        }
    };
    let done = browser_cookie(&app, "", 0);
    Ok((NO_STORE, [(header::SET_COOKIE, done)], Redirect::to(&to)).into_response())
}

pub async fn redeem(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let oidc = oidc(&app)?;
    app.guard.write(client_ip(addr)).map_err(refused)?;
    let r: SsoRedeem = json_body(body, "code")?;
    let found = oidc.redeem(&r.code);
    let s =
        found.ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "that sign-in code is unknown, used or expired"))?;
    Ok((NO_STORE, Json(s)))
}
