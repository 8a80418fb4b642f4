//! The mesh's own routes: a node joining with a token, a node removed by
//! the CA. Neither needs a session: the token's secret, or the CA's
//! signature, is the authority.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use bytes::Bytes;
use meshchat_shared::ErrorCode;
use serde::Deserialize;

use super::api::{client_ip, refused};
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

#[derive(Deserialize)]
struct Removal {
    id: String,
    at: u64,
    sig: String,
}

/// `POST /api/mesh/remove`: a node taken out, signed by the CA.
pub async fn remove(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    app.guard.write(client_ip(addr)).map_err(refused)?;
    let r: Removal = json(&body)?;
    membership(&app)?.remove(r.id, r.at, r.sig).await.map_err(join_error)?;
    Ok(StatusCode::NO_CONTENT)
}
