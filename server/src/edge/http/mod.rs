//! The HTTP listener: the WebSocket at `/ws`, the JSON API, `/metrics` and
//! the web app.

mod admin;
mod admin_rooms;
mod api;
mod assets;
mod auth;
mod avatar;
mod embedded;
mod error;
mod export;
mod files;
mod import;
mod mesh;
mod picture;
mod poll;
mod profile;
mod push;
mod rooms;
pub mod routes;
mod search;
pub mod secure;
pub mod serve;
mod sso;
pub mod tls;
mod ws;

pub use avatar::start_sweeper as start_picture_sweeper;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use meshchat_shared::limits::MAX_FRAME_BYTES;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use assets::inline_script_hashes;

/// The CSP hashes of the inline scripts of the app this node serves:
/// `--web DIR`'s, else the one built into the binary.
pub fn app_script_hashes(web: Option<&std::path::Path>) -> Vec<String> {
    match web {
        Some(dir) => inline_script_hashes(dir),
        None => embedded::index_html().map(|h| assets::script_hashes(&h)).unwrap_or_default(),
    }
}
pub use error::ApiError;

use crate::edge::session::SessionCtx;
use crate::infra::metrics::Metrics;
use crate::mesh::cluster::Cluster;
use crate::room::Hub;
use crate::store::Store;

/// What every handler shares.
pub struct AppState {
    /// Per-address limits: rates, polls, room creation.
    pub guard: Arc<crate::edge::guard::Guard>,
    pub accounts: Arc<crate::accounts::Accounts>,
    pub hub: Arc<Hub>,
    pub store: Store,
    pub cluster: Arc<Cluster>,
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<SessionCtx>,
    /// Every WebSocket session, so that a stop can wait for them to close.
    pub tracker: TaskTracker,
    pub started: Instant,
    pub shutdown: CancellationToken,
    /// tungstenite's initial read buffer per connection, in bytes.
    pub ws_read_buffer: usize,
    /// `false`: `/ws` answers 503 and clients use the long poll.
    pub websocket: bool,
    /// Served over TLS (HSTS, https invitation links).
    pub tls: bool,
    /// Origins allowed for WebSockets and changes; empty: every node's page.
    pub allowed_origins: Vec<String>,
    /// CSP hashes of the web app's inline scripts.
    pub inline_scripts: Vec<String>,
    /// Files go to (and come from) the peers through it.
    pub mesh: Option<crate::mesh::MeshHandle>,
    /// Joins and removals of nodes (with a mesh).
    pub membership: Option<Arc<crate::membership::Membership>>,
    pub max_file_bytes: u64,
    /// Single sign-on through the operator's identity provider, if set up.
    pub oidc: Option<Arc<crate::trust::oidc::Oidc>>,
}

pub fn router(app: Arc<AppState>, web: Option<PathBuf>) -> Router {
    // Chat routes need a session, unless the node takes guests.
    let (mut chat, mut api) = (Router::new(), Router::new());
    for r in routes::table() {
        match r.gate {
            routes::Gate::Chat => chat = chat.route(r.path, r.handler),
            routes::Gate::Open => api = api.route(r.path, r.handler),
        }
    }
    let chat = chat.route_layer(middleware::from_fn_with_state(app.clone(), secure::require_session));
    let api =
        api.merge(chat).method_not_allowed_fallback(method_not_allowed).layer(DefaultBodyLimit::max(MAX_FRAME_BYTES));
    let router = match web {
        Some(dir) => api.fallback_service(assets::service(&dir)),
        None if embedded::available() => api.fallback_service(embedded::service()),
        None => api.fallback(no_web_app),
    };
    router
        .layer(middleware::from_fn_with_state(app.clone(), secure::check_origin))
        .layer(secure::cors(app.clone()))
        .layer(middleware::from_fn_with_state(app.clone(), secure::headers))
        .with_state(app)
}

async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    let peers = app.cluster.peers();
    let up = peers.iter().filter(|p| p.up).count();
    app.metrics.rooms.set(app.hub.index().len() as i64);
    app.metrics.files_bytes.set(app.store.files().total_bytes() as i64);
    let (behind, lag_s) = app.hub.index().lag_gauges();
    app.metrics.rooms_behind.set(behind as i64);
    app.metrics.replication_lag_seconds.set(lag_s as i64);
    let jumps = crate::infra::clock::jumps();
    let seen = app.metrics.clock_jumps.get();
    app.metrics.clock_jumps.inc_by(jumps.saturating_sub(seen));
    let text = app.metrics.render(&app.cluster.me().id, up, peers.len());
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], text).into_response()
}

async fn api_not_found() -> ApiError {
    ApiError::new(meshchat_shared::ErrorCode::NotFound, "no such API route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::invalid("method not allowed on this route").with_status(StatusCode::METHOD_NOT_ALLOWED)
}

async fn no_web_app(State(app): State<Arc<AppState>>) -> Response {
    let id = &app.cluster.me().id;
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>meshchat {id}</title>\
         <p>meshchat node <b>{id}</b> is running, but this binary was built without the web app. \
         Build it with <code>scripts/build-web</code> (trunk), then either build meshchat again \
         (<code>cargo build --release</code> puts the app inside the binary) or start the node \
         with <code>--web dist</code>. See the README.</p>"
    );
    Html(page).into_response()
}
