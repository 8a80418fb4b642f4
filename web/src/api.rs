//! The account routes (`/api/auth`, `register`, `login`, `logout`,
//! `password`, `invites`) of one node, named by its HTTP base (`""`: the
//! page's own). Errors come back in words.

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

/// The first node that answers, of the page's own and the others this
/// browser knows: its base and what it offers.
pub async fn info() -> Result<(String, AuthInfo), String> {
    let own = crate::net::own_url();
    let mut last = NO_ANSWER.to_owned();
    for base in crate::account::bases(&own, crate::prefs::nodes().all()) {
        match answer(Request::get(&format!("{base}/api/auth")).send().await).await {
            Ok(info) => return Ok((base, info)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

pub async fn register(base: &str, name: String, password: String, invite: Option<String>) -> Result<Session, String> {
    post(&format!("{base}/api/register"), None, &Register { name, password, invite }).await.map(session)
}

pub async fn login(base: &str, name: String, password: String) -> Result<Session, String> {
    post(&format!("{base}/api/login"), None, &Login { name, password }).await.map(session)
}

/// Ends the session on every node; the app forgets it whatever the answer.
pub async fn logout(base: &str, token: &str) {
    let _ = with_token(Request::post(&format!("{base}/api/logout")), Some(token)).send().await;
}

/// A new password: every other session ends; this one gets a new token.
pub async fn change_password(base: &str, token: &str, old: String, new: String) -> Result<Session, String> {
    post(&format!("{base}/api/password"), Some(token), &ChangePassword { old, new }).await.map(session)
}

pub async fn invite(base: &str, token: &str) -> Result<Invite, String> {
    let req = with_token(Request::post(&format!("{base}/api/invites")), Some(token));
    answer(req.send().await).await
}
