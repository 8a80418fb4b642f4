//! People's pictures over HTTP.
//!
//! `POST /api/profile/avatar` takes a picture (PNG, JPEG, GIF or WebP) as
//! the body; the node decodes it within its picture budget, crops the
//! middle square, makes it 256 pixels a side and keeps that PNG as a file
//! event of the person in the internal room `!avatars`: the files
//! machinery stores it by hash, replicates it (a peer holds it before the
//! answer) and removes it from every node when it is replaced, removed or
//! its account deleted. The account log says which is the person's now.
//! `GET /api/avatars/{hash}` serves a picture that is someone's now to
//! anyone who may read profiles; `DELETE /api/profile/avatar` removes one's
//! own. A picture that lost to one set at the same moment on another node
//! is deleted by the node that made it ([`start_sweeper`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::{Extension, Json};
use meshchat_shared::ErrorCode;
use meshchat_shared::rooms::{RoomEvent, is_file_hash};
use serde::Serialize;

use super::AppState;
use super::api::{client_ip, refused};
use super::auth::Auth;
use super::error::ApiError;
use super::picture::PictureError;
use super::serve::ClientAddr;
use crate::accounts::Me;
use crate::accounts::events::{AVATARS, AvatarRef};
use crate::edge::govern::{self, Asker};

/// A picture sent to be an avatar is at most this (the node's file limit
/// if lower).
pub const MAX_AVATAR_UPLOAD: u64 = 10 << 20;
/// An avatar is a square of this many pixels a side.
pub const AVATAR_SIDE: u32 = 256;
/// The sweeper looks again this often besides each picture set (for a
/// delete the room was too busy to take).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// The time an upload may take.
const UPLOAD_TIME: std::time::Duration = std::time::Duration::from_secs(120);

/// What `POST /api/profile/avatar` answers.
#[derive(Debug, Serialize)]
pub struct AvatarSet {
    pub avatar: String,
}

fn busy() -> ApiError {
    ApiError::new(ErrorCode::Unavailable, "the node could not take the picture now; try again")
        .with_status(StatusCode::SERVICE_UNAVAILABLE)
}

/// `POST /api/profile/avatar`.
pub async fn upload(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    Auth(me): Auth,
    req: Request,
) -> Result<Json<AvatarSet>, ApiError> {
    app.metrics.http_requests.inc();
    // A write, as an upload of a file is (a picture costs a decode too).
    app.guard.write(client_ip(addr)).map_err(refused)?;
    let max = MAX_AVATAR_UPLOAD.min(app.max_file_bytes);
    let too_large = || {
        let most = meshchat_shared::rooms::human_size(max);
        ApiError::new(ErrorCode::LimitReached, format!("a picture is at most {most}"))
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    };
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let files = app.store.files().clone();
    let body = req.into_body().into_data_stream();
    let received = tokio::time::timeout(UPLOAD_TIME, files.receive_scratch(body, max, "avatar"));
    let sent = super::files::taken(received.await, |_| too_large())?;
    // What was sent is read from a file of this request's own, never
    // kept: it goes with `sent` (another upload of the same bytes took it
    // away from the store in the middle of a decode).
    let made = super::picture::decoded(
        &files,
        sent.path().to_owned(),
        || None,
        |img| super::picture::png(&super::picture::square(&img, AVATAR_SIDE)),
    )
    .await;
    drop(sent);
    let png = match made {
        Ok(png) => png,
        Err(PictureError::Unreadable(e)) => {
            return Err(ApiError::invalid(format!("not a picture this node reads: {e}")));
        }
        Err(PictureError::Busy | PictureError::Stopped(_)) => return Err(busy()),
    };
    let avatar = share(&app, &me, png).await?;
    let hash = avatar.hash.clone();
    replace(&app, &me, Some(avatar)).await?;
    Ok(Json(AvatarSet { avatar: hash }))
}

/// `DELETE /api/profile/avatar`.
pub async fn remove(State(app): State<Arc<AppState>>, Auth(me): Auth) -> Result<StatusCode, ApiError> {
    app.metrics.http_requests.inc();
    replace(&app, &me, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/avatars/{hash}`: a picture that is someone's now.
pub async fn get(
    State(app): State<Arc<AppState>>,
    Auth(_): Auth,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    app.metrics.http_requests.inc();
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such picture").with_status(StatusCode::NOT_FOUND);
    if !is_file_hash(&hash) || !app.accounts.is_avatar(&hash) {
        return Err(not_found());
    }
    super::files::held(&app, &hash, MAX_AVATAR_UPLOAD).await?;
    let png = tokio::fs::read(app.store.files().path(&hash)).await.map_err(|_| not_found())?;
    // A hash's bytes never change.
    Ok(super::files::png_response(png, "private, max-age=86400, immutable"))
}

/// Keeps `png` and shares it as `me`'s file event in [`AVATARS`]; a peer
/// holds both before this returns (when one is up).
async fn share(app: &Arc<AppState>, me: &Me, png: Vec<u8>) -> Result<AvatarRef, ApiError> {
    let files = app.store.files().clone();
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(png))]);
    let blob = files.receive(stream, MAX_AVATAR_UPLOAD, None).await.map_err(|e| {
        tracing::error!(error = %e, "cannot store a picture");
        busy()
    })?;
    let event = RoomEvent::File {
        hash: blob.hash.clone(),
        name: "avatar.png".into(),
        size: blob.size,
        mime: "image/png".into(),
        body: String::new(),
        thread: None,
    };
    let who = Asker::of(&app.accounts, me);
    let handle = app.hub.room(AVATARS);
    let id = format!("avatar-{}", crate::infra::random_id());
    let msg = super::files::post(app, (&handle, &who, &id), (event, govern::Marks::default()), &blob).await?;
    Ok(AvatarRef { origin: msg.origin.clone(), seq: msg.seq, hash: blob.hash })
}

/// Makes `avatar` the person's picture in the account log, then deletes
/// the one it replaces: its file leaves every node's disk.
async fn replace(app: &Arc<AppState>, me: &Me, avatar: Option<AvatarRef>) -> Result<(), ApiError> {
    let old = app.accounts.avatar_of(me);
    app.accounts.set_avatar(me, avatar).await?;
    let Some(old) = old else { return Ok(()) };
    if let Err(e) = delete(app, Asker::of(&app.accounts, me), old).await {
        // The account log no longer names it; the sweeper of the node that
        // made it deletes it later.
        tracing::warn!(error = %e, "cannot delete a replaced picture");
    }
    Ok(())
}

/// Deletes a picture's file event (as its person): its file leaves every
/// node's disk (unless a message shares the same bytes).
async fn delete(app: &Arc<AppState>, who: Asker, old: AvatarRef) -> Result<(), govern::RoomError> {
    let gone = RoomEvent::Deleted { origin: old.origin, seq: old.seq };
    let prepared = govern::aim(&app.store, AVATARS, gone, &who.name).await?;
    let id = format!("avatar-gone-{}", crate::infra::random_id());
    govern::act(&app.hub.room(AVATARS), &app.guard, &who, &id, prepared).await.map(|_| ())
}

/// Deletes, for as long as the node runs, the pictures the account log
/// replaced that this node made: the one `replace` deletes, and one that
/// lost to a picture set at the same moment on another node, which no
/// `replace` knew of. It looks at each picture set applied here, and every
/// minute for a delete the room was too busy to take; each picture is
/// deleted once per run (a delete made already is refused, harmlessly,
/// after a restart).
pub fn start_sweeper(app: &Arc<AppState>) {
    let (app, mut sets) = (app.clone(), app.accounts.pictures_set());
    tokio::spawn(async move {
        let mut done = std::collections::HashSet::new();
        loop {
            sweep(&app, &mut done).await;
            tokio::select! {
                _ = app.shutdown.cancelled() => return,
                changed = sets.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
            }
        }
    });
}

/// One look: this node's replaced pictures not yet deleted in this run.
async fn sweep(app: &Arc<AppState>, done: &mut std::collections::HashSet<u64>) {
    let me = app.cluster.me().id.clone();
    for (name, old) in app.accounts.superseded_pictures(&me) {
        // This node's events: the seq says which.
        if done.contains(&old.seq) {
            continue;
        }
        let seq = old.seq;
        let who = Asker { name: name.as_str().into(), admin: false, account: true };
        match delete(app, who, old).await {
            // Busy now: the next look tries again.
            Err(govern::RoomError::Refused(ErrorCode::Unavailable)) => {}
            Err(e) => {
                tracing::debug!(error = %e, "a replaced picture was not deleted (deleted already?)");
                done.insert(seq);
            }
            Ok(()) => {
                done.insert(seq);
            }
        }
    }
}
