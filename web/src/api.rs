//! The account routes (`/api/auth`, `register`, `login`, `logout`,
//! `password`, `invites`) of one node, named by its HTTP base (`""`: the
//! page's own). Errors come back in words.

use gloo_net::http::{Request, RequestBuilder, Response};
use meshchat_shared::api::{
    AuthInfo, ChangePassword, CreateRoom, Directory, ErrorBody, Invite, Login, MyRooms, Register, RoomAction,
    SearchResults, Session as Answer, StartDm, Users,
};
use meshchat_shared::rooms::{DirectoryEntry, RoomEvent, RoomInfo};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::account::{Session, explain, no_answer};
use meshchat_shared::ErrorCode;
use meshchat_shared::profile::{Profile, ProfileFields, Profiles};

/// The request with the session, if any (`Authorization: Bearer`).
pub fn with_token(req: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    match token {
        Some(t) => req.header("Authorization", &format!("Bearer {t}")),
        None => req,
    }
}

/// The body of a good answer, or the error in words. Not generic, so the
/// wasm holds one copy of this state machine rather than one per type.
async fn answer_text(resp: Result<Response, gloo_net::Error>) -> Result<String, String> {
    answer_coded(resp).await.map_err(|(_, words)| words)
}

/// As [`answer_text`], with the refusal's code when the node gave one.
async fn answer_coded(resp: Result<Response, gloo_net::Error>) -> Result<String, (Option<ErrorCode>, String)> {
    let resp = resp.map_err(|_| (None, no_answer()))?;
    if resp.ok() {
        return resp.text().await.map_err(|_| (None, no_answer()));
    }
    match resp.json::<ErrorBody>().await {
        Ok(ErrorBody { error }) => Err((Some(error.code), explain(error.code, &error.message))),
        Err(_) => Err((None, no_answer())),
    }
}

async fn answer<T: DeserializeOwned>(resp: Result<Response, gloo_net::Error>) -> Result<T, String> {
    let text = answer_text(resp).await?;
    serde_json::from_str(&text).map_err(|_| no_answer())
}

async fn post<B: Serialize, T: DeserializeOwned>(path: &str, token: Option<&str>, body: &B) -> Result<T, String> {
    let body = serde_json::to_string(body).map_err(|e| e.to_string())?;
    let text = post_text(path, token, body).await?;
    serde_json::from_str(&text).map_err(|_| no_answer())
}

async fn post_text(path: &str, token: Option<&str>, body: String) -> Result<String, String> {
    let req = with_token(Request::post(path), token)
        .header("Content-Type", "application/json")
        .body(body)
        .map_err(|e| e.to_string())?;
    answer_text(req.send().await).await
}

fn session(a: Answer) -> Session {
    Session { token: a.token, name: a.name, role: a.role }
}

/// The first node that answers, of the page's own and the others this
/// browser knows: its base and what it offers.
pub async fn info() -> Result<(String, AuthInfo), String> {
    let own = crate::net::own_url();
    let mut last = no_answer();
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

/// Signs in; a refusal says whether it wants the second factor (`true`:
/// the account has two-factor sign-in and the code is missing or wrong).
pub async fn login(
    base: &str,
    name: String,
    password: String,
    code: Option<String>,
) -> Result<Session, (bool, String)> {
    let body = serde_json::to_string(&Login { name, password, code }).map_err(|e| (false, e.to_string()))?;
    let req = Request::post(&format!("{base}/api/login")).header("Content-Type", "application/json");
    let req = req.body(body).map_err(|e| (false, e.to_string()))?;
    let text =
        answer_coded(req.send().await).await.map_err(|(code, words)| (code == Some(ErrorCode::CodeRequired), words))?;
    serde_json::from_str::<Answer>(&text).map(session).map_err(|_| (false, no_answer()))
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

// ---- rooms ----

async fn get<T: DeserializeOwned>(url: &str, token: &str) -> Result<T, String> {
    answer(with_token(Request::get(url), Some(token)).send().await).await
}

/// Creates a room the caller owns.
pub async fn create_room(base: &str, token: &str, room: CreateRoom) -> Result<RoomInfo, String> {
    post(&format!("{base}/api/rooms"), Some(token), &room).await
}

/// Invite, kick, ban, topic…: the event lands in the room's log.
pub async fn act(base: &str, token: &str, room: &str, id: String, action: RoomEvent) -> Result<(), String> {
    let url = format!("{base}/api/rooms/{room}/actions");
    post::<_, serde::de::IgnoredAny>(&url, Some(token), &RoomAction { id, action }).await.map(drop)
}

/// The direct conversation with `users`, started if need be.
pub async fn dm(base: &str, token: &str, users: Vec<String>) -> Result<RoomInfo, String> {
    post(&format!("{base}/api/dm"), Some(token), &StartDm { users }).await
}

pub async fn directory(base: &str, token: &str, q: &str) -> Result<Vec<DirectoryEntry>, String> {
    let q: String = js_sys::encode_uri_component(q).into();
    get::<Directory>(&format!("{base}/api/directory?q={q}"), token).await.map(|d| d.rooms)
}

/// The rooms the caller is a member of (private ones and conversations).
pub async fn my_rooms(base: &str, token: &str) -> Result<Vec<RoomInfo>, String> {
    get::<MyRooms>(&format!("{base}/api/me/rooms"), token).await.map(|r| r.rooms)
}

/// Messages matching `q` in the rooms the caller may read (`order`: new
/// or relevance; `from`: where the previous page ended).
/// Guests (no token) search the rooms anyone may read.
pub async fn search(
    base: &str,
    token: Option<&str>,
    q: &str,
    order: &str,
    from: Option<u64>,
) -> Result<SearchResults, String> {
    let q: String = js_sys::encode_uri_component(q).into();
    let from = from.map(|f| format!("&from={f}")).unwrap_or_default();
    let url = format!("{base}/api/search?q={q}&order={order}{from}");
    answer(with_token(Request::get(&url), token).send().await).await
}

/// Account names starting with `q`.
pub async fn users(base: &str, token: &str, q: &str) -> Result<Vec<String>, String> {
    let q: String = js_sys::encode_uri_component(q).into();
    get::<Users>(&format!("{base}/api/users?q={q}"), token).await.map(|u| u.users)
}

/// The profiles of the accounts among `names` (at most 100 at a time).
pub async fn profiles(base: &str, token: Option<&str>, names: &[String]) -> Result<Vec<Profile>, String> {
    let names: Vec<String> = names.iter().map(|n| js_sys::encode_uri_component(n).into()).collect();
    let url = format!("{base}/api/profiles?names={}", names.join(","));
    answer::<Profiles>(with_token(Request::get(&url), token).send().await).await.map(|p| p.profiles)
}

/// Sets the caller's profile, whole.
pub async fn set_profile(base: &str, token: &str, p: &ProfileFields) -> Result<(), String> {
    let body = serde_json::to_string(p).map_err(|e| e.to_string())?;
    post_text(&format!("{base}/api/profile"), Some(token), body).await.map(drop)
}

/// Sets the caller's picture (the node crops and shrinks it).
pub async fn set_avatar(base: &str, token: &str, file: &web_sys::File) -> Result<(), String> {
    let name: String = js_sys::encode_uri_component(&file.name()).into();
    let req = with_token(Request::post(&format!("{base}/api/profile/avatar")), Some(token))
        .header("X-File-Name", &name)
        .header("Content-Type", &file.type_())
        .body(wasm_bindgen::JsValue::from(file.clone()))
        .map_err(|e| e.to_string())?;
    answer_text(req.send().await).await.map(drop)
}

/// Removes the caller's picture.
pub async fn remove_avatar(base: &str, token: &str) -> Result<(), String> {
    let req = with_token(Request::delete(&format!("{base}/api/profile/avatar")), Some(token));
    answer_text(req.send().await).await.map(drop)
}

// ---- the mesh (admins) ----

/// One node's view of the mesh, with the vectors of `rooms` besides the
/// rooms that changed there last.
pub async fn mesh_view(base: &str, token: &str, rooms: &[String]) -> Result<meshchat_shared::api::MeshView, String> {
    get(&format!("{base}/api/mesh?rooms={}", rooms.join(",")), token).await
}

// ---- sessions and the admin console ----

/// Where the caller is signed in, and their API tokens.
pub async fn sessions(base: &str, token: &str) -> Result<meshchat_shared::api::Sessions, String> {
    get(&format!("{base}/api/sessions"), token).await
}

/// Ends one session (or API token) of the caller's, on every node.
pub async fn end_session(base: &str, token: &str, id: &str) -> Result<(), String> {
    let req = with_token(Request::delete(&format!("{base}/api/sessions/{id}")), Some(token));
    answer_text(req.send().await).await.map(drop)
}

pub async fn end_other_sessions(base: &str, token: &str) -> Result<(), String> {
    post_text(&format!("{base}/api/sessions/others"), Some(token), "{}".into()).await.map(drop)
}

/// Sets a new password with a reset link's code: a session.
pub async fn use_reset_link(base: &str, code: String, password: String) -> Result<Session, String> {
    let body = meshchat_shared::api::UseResetLink { code, password };
    post(&format!("{base}/api/reset"), None, &body).await.map(session)
}

/// The session single sign-on left a one-time code for (`#sso=CODE`).
pub async fn sso_redeem(base: &str, code: String) -> Result<Session, String> {
    let body = meshchat_shared::api::SsoRedeem { code };
    post(&format!("{base}/api/sso/redeem"), None, &body).await.map(session)
}

pub async fn people(base: &str, token: &str, q: &str) -> Result<Vec<meshchat_shared::api::Person>, String> {
    let q = js_sys::encode_uri_component(q);
    get::<meshchat_shared::api::People>(&format!("{base}/api/admin/people?q={q}"), token).await.map(|p| p.people)
}

/// An admin's `POST` of `body` to `path`; the answer's text.
pub async fn admin_post(base: &str, token: &str, path: &str, body: String) -> Result<String, String> {
    post_text(&format!("{base}{path}"), Some(token), body).await
}

pub async fn audit(base: &str, token: &str) -> Result<Vec<meshchat_shared::api::AuditEntry>, String> {
    get::<meshchat_shared::api::Audit>(&format!("{base}/api/admin/audit?limit=100"), token).await.map(|a| a.entries)
}

// ---- two-factor sign-in ----

/// Whether the caller has two-factor sign-in on.
pub async fn two_factor_on(base: &str, token: &str) -> Result<bool, String> {
    get::<meshchat_shared::api::Me>(&format!("{base}/api/me"), token).await.map(|m| m.two_factor)
}

pub async fn two_factor_setup(base: &str, token: &str) -> Result<meshchat_shared::api::TwoFactorSetup, String> {
    post(&format!("{base}/api/2fa/setup"), Some(token), &()).await
}

/// Turns it on: the recovery codes, shown once.
pub async fn two_factor_enable(
    base: &str,
    token: &str,
    secret: String,
    code: String,
    password: String,
) -> Result<Vec<String>, String> {
    let body = meshchat_shared::api::EnableTwoFactor { secret, code, password };
    post::<_, meshchat_shared::api::RecoveryCodes>(&format!("{base}/api/2fa/enable"), Some(token), &body)
        .await
        .map(|r| r.codes)
}

pub async fn two_factor_disable(base: &str, token: &str, password: String) -> Result<(), String> {
    let body = serde_json::to_string(&meshchat_shared::api::PasswordOnly { password }).map_err(|e| e.to_string())?;
    post_text(&format!("{base}/api/2fa/disable"), Some(token), body).await.map(drop)
}

/// Deletes the caller's account, with their password.
pub async fn delete_account(base: &str, token: &str, password: String) -> Result<(), String> {
    let body = serde_json::to_string(&meshchat_shared::api::PasswordOnly { password }).map_err(|e| e.to_string())?;
    post_text(&format!("{base}/api/me/delete"), Some(token), body).await.map(drop)
}

/// Invitations that still work (admins).
pub async fn invites(base: &str, token: &str) -> Result<Vec<meshchat_shared::api::InviteEntry>, String> {
    get::<meshchat_shared::api::Invites>(&format!("{base}/api/admin/invites"), token).await.map(|i| i.invites)
}

/// An admin's `DELETE` of `path` (an invitation, a room).
pub async fn admin_delete(base: &str, token: &str, path: &str) -> Result<(), String> {
    let req = with_token(Request::delete(&format!("{base}{path}")), Some(token));
    answer_text(req.send().await).await.map(drop)
}

/// The console's rooms whose name holds `q`, busiest first.
pub async fn admin_rooms(base: &str, token: &str, q: &str) -> Result<meshchat_shared::api::AdminRooms, String> {
    let q = js_sys::encode_uri_component(q);
    get::<meshchat_shared::api::AdminRooms>(&format!("{base}/api/admin/rooms?q={q}"), token).await
}
