//! The account routes of the page's own node (`/api/auth`, `register`,
//! `login`, `logout`, `password`, `invites`). Errors come back in words.

use gloo_net::http::{Request, RequestBuilder, Response};
use meshchat_shared::api::{AuthInfo, ChangePassword, ErrorBody, Invite, Login, Register, Session as Answer};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::account::{NO_ANSWER, Session, explain};

fn with_token(req: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    match token {
        Some(t) => req.header("Authorization", &format!("Bearer {t}")),
        None => req,
    }
}

async fn answer<T: DeserializeOwned>(resp: Result<Response, gloo_net::Error>) -> Result<T, String> {
    let resp = resp.map_err(|_| NO_ANSWER.to_owned())?;
    if resp.ok() {
        return resp.json::<T>().await.map_err(|_| NO_ANSWER.to_owned());
    }
    match resp.json::<ErrorBody>().await {
        Ok(ErrorBody { error }) => Err(explain(error.code, &error.message)),
        Err(_) => Err(NO_ANSWER.to_owned()),
    }
}

async fn post<B: Serialize, T: DeserializeOwned>(path: &str, token: Option<&str>, body: &B) -> Result<T, String> {
    let req = with_token(Request::post(path), token).json(body).map_err(|e| e.to_string())?;
    answer(req.send().await).await
}

fn session(a: Answer) -> Session {
    Session { token: a.token, name: a.name, role: a.role }
}

pub async fn info() -> Result<AuthInfo, String> {
    answer(Request::get("/api/auth").send().await).await
}

pub async fn register(name: String, password: String, invite: Option<String>) -> Result<Session, String> {
    post("/api/register", None, &Register { name, password, invite }).await.map(session)
}

pub async fn login(name: String, password: String) -> Result<Session, String> {
    post("/api/login", None, &Login { name, password }).await.map(session)
}

/// Ends the session on every node; the app forgets it whatever the answer.
pub async fn logout(token: &str) {
    let _ = with_token(Request::post("/api/logout"), Some(token)).send().await;
}

/// A new password: every other session ends; this one gets a new token.
pub async fn change_password(token: &str, old: String, new: String) -> Result<Session, String> {
    post("/api/password", Some(token), &ChangePassword { old, new }).await.map(session)
}

pub async fn invite(token: &str) -> Result<Invite, String> {
    let req = with_token(Request::post("/api/invites"), Some(token));
    answer(req.send().await).await
}
