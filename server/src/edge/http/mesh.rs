//! The mesh's own routes: a node joining with a token, a node removed by
//! the CA (neither needs a session: the token's secret, or the CA's
//! signature, is the authority), and the mesh as this node sees it, for
//! admins.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use bytes::Bytes;
use meshchat_shared::ErrorCode;
use meshchat_shared::api::{LinkView, MeshView, RoomLagView, RoomVectorView};

use super::api::{client_ip, query_map, refused};
use super::auth::Auth;
use super::serve::ClientAddr;
use super::{ApiError, AppState};
use crate::membership::{JoinError, JoinRequest, JoinResponse, Membership};

fn membership(app: &AppState) -> Result<&Arc<Membership>, ApiError> {
    app.membership.as_ref().ok_or_else(|| {
        ApiError::invalid("this node runs alone (no --mesh): nothing to join").with_status(StatusCode::NOT_FOUND)
    })
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::BadFrame, format!("not a request of this route: {e}")))
}

fn join_error(e: JoinError) -> ApiError {
    let message = e.to_string();
    match e {
        JoinError::Taken(_) => ApiError::invalid(message).with_status(StatusCode::CONFLICT),
        JoinError::NoCa => ApiError::invalid(message).with_status(StatusCode::NOT_IMPLEMENTED),
        JoinError::Unavailable(_) | JoinError::Io(..) | JoinError::Certs(_) => {
            ApiError::new(ErrorCode::Unavailable, message)
        }
        _ => ApiError::new(ErrorCode::Forbidden, message),
    }
}

/// `GET /api/mesh/join/{key}`: `204` if the invitation `key` waits here
/// (unused), else `404`. What `meshchat invite-node` asks before it hands
/// out a token: a key is 128 random bits, so this tells nobody anything
/// they did not hold already.
pub async fn invitation(
    State(app): State<Arc<AppState>>,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    if membership(&app)?.invitation_waits(&key) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(ErrorCode::NotFound, "no such invitation waits here"))
    }
}

/// `POST /api/mesh/join`: a join request made with a token.
pub async fn join(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    body: Bytes,
) -> Result<Json<JoinResponse>, ApiError> {
    let ip = client_ip(addr);
    app.guard.write(ip).map_err(refused)?;
    let req: JoinRequest = json(&body)?;
    let m = membership(&app)?;
    match m.admit(req, ip).await {
        Ok(r) => Ok(Json(r)),
        Err(e) => {
            tracing::warn!(%ip, "refused a node's join: {e}");
            Err(join_error(e))
        }
    }
}

/// `POST /api/mesh/remove`: a node taken out, signed by the CA.
pub async fn remove(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    app.guard.write(client_ip(addr)).map_err(refused)?;
    let r: crate::membership::Removal = json(&body)?;
    membership(&app)?.remove(r.id, r.at, r.sig).await.map_err(join_error)?;
    Ok(StatusCode::NO_CONTENT)
}

fn view_of(room: String, v: &meshchat_shared::RoomVector) -> RoomVectorView {
    RoomVectorView { room, vector: v.iter().map(|(o, s)| (o.to_owned(), s)).collect() }
}

/// Rooms a `/api/mesh` request may ask for by name.
const MAX_ASKED_ROOMS: usize = 64;
/// Rooms behind listed, at most.
const LAGGING_SHOWN: usize = 20;

/// `GET /api/mesh`: links, clients, repairs and room vectors (admins only:
/// it names every room, private ones too).
pub async fn view(
    State(app): State<Arc<AppState>>,
    Auth(me): Auth,
    RawQuery(raw): RawQuery,
) -> Result<Json<MeshView>, ApiError> {
    app.metrics.http_requests.inc();
    if !app.accounts.acts_as_admin(&me) {
        return Err(ApiError::new(ErrorCode::Forbidden, "the mesh map is for admins"));
    }
    let q = query_map(raw)?;
    let asked: Vec<String> = q
        .get("rooms")
        .map(|r| {
            r.split(',').filter(|r| meshchat_shared::limits::validate_mesh_room(r).is_ok()).map(str::to_owned).collect()
        })
        .unwrap_or_default();
    if asked.len() > MAX_ASKED_ROOMS {
        return Err(ApiError::invalid(format!("at most {MAX_ASKED_ROOMS} rooms")));
    }
    let index = app.hub.index();
    let mut rooms: Vec<RoomVectorView> = index.recent().into_iter().map(|(room, v)| view_of(room, &v)).collect();
    for room in asked {
        if !rooms.iter().any(|r| r.room == room) {
            let v = index.vector(&room).unwrap_or_default();
            rooms.push(view_of(room, &v));
        }
    }
    let rtts = app.mesh.as_ref().map(|m| m.rtts()).unwrap_or_default();
    let links = app
        .cluster
        .peers()
        .into_iter()
        .map(|p| LinkView {
            rtt_us: rtts.get(&p.id).filter(|_| p.up).map(|d| d.as_micros() as u64),
            up: p.up,
            peer: p.id,
        })
        .collect();
    let (behind, lag_seconds) = index.lag_gauges();
    let lagging = index
        .worst_lag(LAGGING_SHOWN)
        .into_iter()
        .map(|l| RoomLagView { room: l.room, messages: l.messages, seconds: l.seconds })
        .collect();
    Ok(Json(MeshView {
        node: app.cluster.me().id.clone(),
        uptime_s: app.started.elapsed().as_secs(),
        clients: app.metrics.connections.get().max(0) as u64,
        stored: app.metrics.store_committed_msgs.get(),
        repairs: app.metrics.mesh_repairs.get(),
        digest: format!("{:016x}", index.with_vectors(|v| v.root())),
        links,
        rooms_behind: behind as u64,
        lag_seconds,
        lagging,
        rooms,
    }))
}
