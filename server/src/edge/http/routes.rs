//! Every route of the API, in one table: the router is built from it, and
//! the authorization test (`tests/authz.rs`) walks it, so that a route
//! added here without a line in docs/security.md's table of who may call
//! it fails that test.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, delete, get, post};

use super::{
    AppState, admin, admin_rooms, api, auth, avatar, export, files, import, mesh, poll, profile, push, rooms, search,
    sso, ws,
};

/// Who a route is for, before its own checks: the chat routes need a
/// session unless the node takes guests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    Chat,
}

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub gate: Gate,
    pub handler: MethodRouter<Arc<AppState>>,
}

fn open(method: &'static str, path: &'static str, handler: MethodRouter<Arc<AppState>>) -> Route {
    Route { method, path, gate: Gate::Open, handler }
}

fn chat(method: &'static str, path: &'static str, handler: MethodRouter<Arc<AppState>>) -> Route {
    Route { method, path, gate: Gate::Chat, handler }
}

pub fn table() -> Vec<Route> {
    vec![
        chat("GET", "/api/rooms", get(api::rooms)),
        chat("POST", "/api/rooms", post(rooms::create)),
        chat("GET", "/api/rooms/{room}", get(rooms::info)),
        chat("POST", "/api/rooms/{room}/actions", post(rooms::act)),
        chat("POST", "/api/dm", post(rooms::dm)),
        chat("GET", "/api/directory", get(rooms::directory)),
        chat("GET", "/api/me/rooms", get(rooms::mine)),
        chat("GET", "/api/users", get(rooms::users)),
        chat("GET", "/api/profiles", get(profile::list)),
        chat("GET", "/api/avatars/{hash}", get(avatar::get)),
        chat("GET", "/api/search", get(search::search)),
        chat("GET", "/api/rooms/{room}/messages", get(api::get_messages)),
        chat("POST", "/api/rooms/{room}/messages", post(api::post_message)),
        chat("GET", "/api/rooms/{room}/poll", get(poll::poll)),
        // Files stream in under their own limit (--max-file-bytes).
        chat("POST", "/api/rooms/{room}/files", post(files::upload).layer(DefaultBodyLimit::disable())),
        chat("GET", "/api/rooms/{room}/files/{hash}", get(files::download)),
        open("GET", "/ws", get(ws::upgrade)),
        open("GET", "/api/health", get(api::health)),
        open("GET", "/api/nodes", get(api::nodes)),
        open("GET", "/api/auth", get(auth::info)),
        open("POST", "/api/register", post(auth::register)),
        open("POST", "/api/login", post(auth::login)),
        open("POST", "/api/logout", post(auth::logout)),
        open("GET", "/api/me", get(auth::me)),
        open("POST", "/api/password", post(auth::password)),
        open("POST", "/api/profile", post(profile::set)),
        // A picture streams in under its own limit.
        open("POST", "/api/profile/avatar", post(avatar::upload).layer(DefaultBodyLimit::disable())),
        open("DELETE", "/api/profile/avatar", delete(avatar::remove)),
        open("GET", "/api/tokens", get(auth::tokens)),
        open("POST", "/api/tokens", post(auth::create_token)),
        open("DELETE", "/api/tokens/{id}", delete(auth::revoke_token)),
        open("GET", "/api/push/key", get(push::key)),
        open("POST", "/api/push/subscriptions", post(push::subscribe)),
        open("DELETE", "/api/push/subscriptions", delete(push::unsubscribe)),
        open("GET", "/api/sessions", get(admin::sessions)),
        open("GET", "/api/me/export", get(export::export)),
        open("POST", "/api/me/delete", post(auth::delete_account)),
        open("DELETE", "/api/sessions/{id}", delete(admin::end_session)),
        open("POST", "/api/sessions/others", post(admin::end_others)),
        open("POST", "/api/reset", post(admin::use_reset_link)),
        open("GET", "/api/sso/start", get(sso::start)),
        open("GET", "/api/sso/callback", get(sso::callback)),
        open("POST", "/api/sso/redeem", post(sso::redeem)),
        open("POST", "/api/2fa/setup", post(auth::two_factor_setup)),
        open("POST", "/api/2fa/enable", post(auth::two_factor_enable)),
        open("POST", "/api/2fa/disable", post(auth::two_factor_disable)),
        open("POST", "/api/invites", post(admin::create_invite)),
        open("GET", "/api/admin/invites", get(admin::invites)),
        open("DELETE", "/api/admin/invites/{id}", delete(admin::revoke_invite)),
        open("POST", "/api/users/{name}/role", post(admin::set_role)),
        open("GET", "/api/admin/people", get(admin::people)),
        open("POST", "/api/admin/people/{name}/active", post(admin::set_active)),
        open("POST", "/api/admin/people/{name}/reset", post(admin::reset_link)),
        open("POST", "/api/admin/settings", post(admin::settings)),
        open("GET", "/api/admin/audit", get(admin::audit)),
        open("GET", "/api/admin/rooms", get(admin_rooms::list)),
        open("POST", "/api/admin/rooms/{room}/archive", post(admin_rooms::archive)),
        open("DELETE", "/api/admin/rooms/{room}", delete(admin_rooms::delete)),
        open("POST", "/api/admin/rooms/{room}/retention", post(admin_rooms::room_retention)),
        open("POST", "/api/admin/retention", post(admin_rooms::retention)),
        // A room's zip streams in under its own limit.
        open("POST", "/api/admin/rooms/{room}/import", post(import::import).layer(DefaultBodyLimit::disable())),
        open("GET", "/api/admin/rooms/{room}/export", get(export::export_room)),
        open("GET", "/api/mesh", get(mesh::view)),
        open("POST", "/api/mesh/join", post(mesh::join)),
        open("GET", "/api/mesh/join/{key}", get(mesh::invitation)),
        open("POST", "/api/mesh/remove", post(mesh::remove)),
        open("GET", "/metrics", get(super::metrics)),
        open("GET", "/api", get(super::api_not_found)),
        open("GET", "/api/{*rest}", get(super::api_not_found)),
        open("POST", "/api/{*rest}", post(super::api_not_found)),
    ]
}

/// `(method, path)` of every route, as the router serves them.
pub fn list() -> Vec<(&'static str, &'static str)> {
    table().into_iter().map(|r| (r.method, r.path)).collect()
}
