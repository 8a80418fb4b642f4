//! Shared files over HTTP.
//!
//! `POST /api/rooms/{room}/files?id=[&thread=origin:seq]` takes the file
//! as the request body (its name in `X-File-Name`, percent-encoded; its
//! type in `Content-Type`), keeps it by its SHA-256, posts a `file` event
//! in the room (or the thread), and answers with that message once a peer (if one is up) holds
//! both the file and the message.
//!
//! `GET /api/rooms/{room}/files/{hash}[?thumb=1]` serves it to whoever may
//! read the room, and only if a message of that room shares it: raster
//! images inline, everything else (SVG included) as an attachment, never
//! sniffed, sandboxed; ranges for large files. A node that lacks the file
//! fetches it from a peer first.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use meshchat_shared::api::Posted;
use meshchat_shared::rooms::{RoomEvent, is_file_hash, is_inline_image, present_as};
use meshchat_shared::{ErrorCode, limits};
use tower::ServiceExt;

use super::AppState;
use super::api::{client_ip, query_map, refused};
use super::auth::MaybeAuth;
use super::error::ApiError;
use super::picture::PictureError;
use super::serve::ClientAddr;
use crate::edge::govern::{self, Asker};
use crate::store::file_refs::FileInfo;
use crate::store::files::{Blob, FileError};

/// The header that names an upload (and that no HTML form can send).
pub const FILE_NAME: HeaderName = HeaderName::from_static("x-file-name");
/// An upload must arrive within this.
const UPLOAD_TIME: Duration = Duration::from_secs(600);
/// Thumbnails fit in this square.
const THUMB: u32 = 320;

/// What a file name keeps unescaped in `Content-Disposition` (RFC 5987's
/// attr-char, less what some browsers mishandle).
const NAME_SAFE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'.').remove(b'-').remove(b'_');

/// The upload's name and type, made safe to keep and to show.
fn name_and_type(headers: &HeaderMap) -> Result<(String, String), ApiError> {
    let raw = headers.get(&FILE_NAME).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let bad = || ApiError::invalid("X-File-Name is percent-encoded UTF-8");
    // Every `%` starts an escape (the decoder would keep a stray one as is).
    if !raw.split('%').skip(1).all(|p| p.get(..2).is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))) {
        return Err(bad());
    }
    let name = percent_encoding::percent_decode_str(raw).decode_utf8().map_err(|_| bad())?;
    // A name, not a path.
    let name: String = name.rsplit(['/', '\\']).next().unwrap_or_default().trim().chars().take(255).collect();
    let name = if name.is_empty() { "file".to_owned() } else { name };
    limits::validate_file_name(&name)?;
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| v.len() <= 100 && v.contains('/') && v.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    Ok((name, mime))
}

/// `&thread=origin:seq`: the file goes to that thread (its root's origin
/// and seq), as a thread reply does.
fn thread_root(t: &str) -> Result<meshchat_shared::rooms::Root, ApiError> {
    let bad = || ApiError::invalid("thread is the root's origin:seq");
    let (origin, seq) = t.split_once(':').ok_or_else(bad)?;
    limits::validate_node_id(origin).map_err(|_| bad())?;
    Ok(meshchat_shared::rooms::Root { origin: origin.to_owned(), seq: seq.parse().map_err(|_| bad())? })
}

fn too_large(max: u64) -> ApiError {
    let most = meshchat_shared::rooms::human_size(max);
    ApiError::new(ErrorCode::LimitReached, format!("files are at most {most} here"))
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
}

pub async fn upload(
    State(app): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    MaybeAuth(me): MaybeAuth,
    Path(room): Path<String>,
    RawQuery(raw): RawQuery,
    req: Request,
) -> Result<Response, ApiError> {
    app.metrics.http_requests.inc();
    let ip = client_ip(addr);
    app.guard.write(ip).map_err(refused)?;
    limits::validate_room(&room)?;
    let q = query_map(raw)?;
    let id = q.get("id").cloned().unwrap_or_default();
    limits::validate_msg_id(&id)?;
    let (name, mime) = name_and_type(req.headers())?;
    let thread = q.get("thread").map(|t| thread_root(t)).transpose()?;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.max_file_bytes) {
        return Err(too_large(app.max_file_bytes));
    }
    let who = match me {
        Some(me) => Asker::of(&app.accounts, &me),
        None => {
            let name = crate::core::names::canonical(q.get("name").map_or("", String::as_str))?;
            if app.accounts.is_account_name(&name) {
                return Err(ApiError::new(ErrorCode::NameTaken, "that name belongs to an account: sign in to post"));
            }
            Asker { name: name.as_str().into(), admin: false, account: false }
        }
    };
    let (handle, gov) = super::rooms::postable(&app, &room, &who.name, ip).await?;
    if !gov.can_post(&who.name) {
        return Err(ApiError::new(ErrorCode::Forbidden, "you may not post in this room"));
    }
    // The bytes, then a peer's copy, then the message: acknowledged only
    // once the file is on disk here and (when a peer is up) there too.
    let files = app.store.files().clone();
    let body = req.into_body().into_data_stream();
    let received = tokio::time::timeout(UPLOAD_TIME, files.receive(body, app.max_file_bytes, None)).await;
    let blob = taken(received, too_large)?;
    let event = RoomEvent::File { hash: blob.hash.clone(), name, size: blob.size, mime, body: String::new(), thread };
    event.validate()?;
    // A thread's root, aimed as a reply's is (at the copy every node shows).
    let prepared = govern::aim(&app.store, &room, event, &who.name).await?;
    let msg = post(&app, (&handle, &who, &id), prepared, &blob).await?;
    let posted = Posted { msg: present_as(&msg, true).into_owned() };
    Ok((StatusCode::CREATED, Json(posted)).into_response())
}

/// What an upload's body came to, in the client's words: too slow, too
/// large (`too_large` of the limit), broken off, or not stored here.
pub(super) fn taken<T>(
    received: Result<Result<T, FileError>, tokio::time::error::Elapsed>,
    too_large: impl FnOnce(u64) -> ApiError,
) -> Result<T, ApiError> {
    match received {
        Err(_) => Err(ApiError::invalid("the upload took too long")),
        Ok(Err(FileError::TooLarge { max })) => Err(too_large(max)),
        Ok(Err(FileError::Body(e))) => Err(ApiError::invalid(format!("the upload broke off: {e}"))),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot store a file");
            Err(ErrorCode::Unavailable.into())
        }
        Ok(Ok(taken)) => Ok(taken),
    }
}

/// Posts the `file` event of `blob` kept here: a refused one leaves the
/// file only if a message shares it already; a taken one is answered
/// once a peer (if one is up) holds the file and the message, readable
/// there even if this node dies the moment it has answered.
pub(super) async fn post(
    app: &AppState,
    (handle, who, id): (&crate::room::RoomHandle, &Asker, &str),
    prepared: (RoomEvent, govern::Marks),
    blob: &Blob,
) -> Result<Arc<meshchat_shared::Message>, ApiError> {
    let files = app.store.files();
    let msg = match govern::act(handle, &app.guard, who, id, prepared).await {
        Ok(msg) => msg,
        Err(e) => {
            if !app.store.file_referenced(&blob.hash).await.unwrap_or(true) {
                files.remove(&blob.hash);
            }
            return Err(e.into());
        }
    };
    if let Some(mesh) = &app.mesh {
        let by = (msg.room.clone(), msg.origin.clone(), msg.seq);
        mesh.replicate_file(files, blob, Some(by)).await;
    }
    Ok(msg)
}

/// Makes sure this node holds `hash`, fetching it from a peer (at most
/// `max` bytes) if it does not: one shared or set on another node a
/// moment ago, or while this one was down.
pub(super) async fn held(app: &AppState, hash: &str, max: u64) -> Result<(), ApiError> {
    let files = app.store.files();
    if files.has(hash) {
        return Ok(());
    }
    let fetched = match &app.mesh {
        Some(mesh) => mesh.fetch_file(files, hash, max).await,
        None => false,
    };
    if fetched {
        return Ok(());
    }
    Err(ApiError::new(ErrorCode::Unavailable, "the file has not reached this node yet")
        .with_status(StatusCode::SERVICE_UNAVAILABLE))
}

pub async fn download(
    State(app): State<Arc<AppState>>,
    MaybeAuth(me): MaybeAuth,
    Path((room, hash)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    req: Request,
) -> Result<Response, ApiError> {
    app.metrics.http_requests.inc();
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such file").with_status(StatusCode::NOT_FOUND);
    limits::validate_room(&room)?;
    if !is_file_hash(&hash) {
        return Err(not_found());
    }
    let who = me.map(|m| m.name).unwrap_or_default();
    let (_, gov) = govern::readable(&app.hub, &room, &who).await.map_err(|_| not_found())?;
    if gov.is_deleted() {
        return Err(not_found());
    }
    let info = app.store.file_in_room(&room, &hash).await.map_err(|_| ApiError::from(ErrorCode::Unavailable))?;
    let info = info.ok_or_else(not_found)?;
    held(&app, &hash, app.max_file_bytes.max(info.size)).await?;
    let files = app.store.files().clone();
    let thumb = query_map(raw)?.get("thumb").is_some_and(|v| v == "1");
    if thumb && is_inline_image(&info.mime) {
        return thumbnail(&files, &hash).await;
    }
    serve(files.path(&hash), &info, req).await
}

/// The file itself, ranges and conditional requests included, under
/// headers that keep a browser from running or sniffing it.
async fn serve(path: PathBuf, info: &FileInfo, req: Request) -> Result<Response, ApiError> {
    let res = tower_http::services::ServeFile::new(path)
        .oneshot(req)
        .await
        .map_err(|_| ApiError::from(ErrorCode::Unavailable))?;
    let mut res = res.map(Body::new);
    let inline = is_inline_image(&info.mime);
    let h = res.headers_mut();
    let mime = if inline { info.mime.as_str() } else { "application/octet-stream" };
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let encoded = percent_encoding::utf8_percent_encode(&info.name, NAME_SAFE);
    let disposition = format!("{}; filename*=UTF-8''{encoded}", if inline { "inline" } else { "attachment" });
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    // The bytes of a hash never change; who may read them might.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok(res)
}

/// A PNG that fits in [`THUMB`]², made once per node and kept; decoded
/// within the node's budget ([`super::picture`]). A picture too large to
/// shrink gets none (its original is still served).
async fn thumbnail(files: &Arc<crate::store::files::FileStore>, hash: &str) -> Result<Response, ApiError> {
    let (src, dest) = (files.path(hash), files.thumb(hash));
    if let Ok(png) = tokio::fs::read(&dest).await {
        return Ok(png_response(png, THUMB_CACHE));
    }
    // Named only when a thumbnail is made, not for one served from disk.
    let part = files.scratch("thumb");
    let kept = dest.clone();
    // Made meanwhile by another request for the same picture.
    let ready = move || std::fs::read(&kept).ok();
    let make = move |img: image::DynamicImage| {
        let out = super::picture::png(&img.thumbnail(THUMB, THUMB))?;
        if let Err(e) = keep_thumbnail(&part, &dest, &out) {
            tracing::debug!("cannot keep a thumbnail: {e}");
        }
        Ok(out)
    };
    match super::picture::decoded(files, src, ready, make).await {
        Ok(png) => Ok(png_response(png, THUMB_CACHE)),
        // Not a picture after all (or too big to shrink): no thumbnail.
        Err(PictureError::Unreadable(e)) => {
            Err(ApiError::invalid(format!("no thumbnail: {e}")).with_status(StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e @ PictureError::Busy) => Err(ApiError::new(ErrorCode::Unavailable, e.to_string())),
        Err(PictureError::Stopped(_)) => Err(ErrorCode::Unavailable.into()),
    }
}

/// Keeps a thumbnail whole or not at all: written to `part`, then renamed
/// over `dest`, so a request reading it meanwhile (another member's
/// browser, at the same moment) or after a crash mid-write never gets a
/// stump (it was written in place, and the next request read it back).
fn keep_thumbnail(part: &std::path::Path, dest: &std::path::Path, png: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = dest.parent() {
        crate::store::private::dir(dir)?;
    }
    let written = crate::store::private::create(part).and_then(|mut f| std::io::Write::write_all(&mut f, png));
    match written.and_then(|()| std::fs::rename(part, dest)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(part);
            Err(e)
        }
    }
}

/// How long a browser keeps a thumbnail: who may read it might change.
const THUMB_CACHE: &str = "private, max-age=3600";

/// A PNG the node made, never run or sniffed by a browser.
pub(super) fn png_response(png: Vec<u8>, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'"),
            (header::CACHE_CONTROL, cache),
        ],
        png,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::keep_thumbnail;

    #[test]
    fn a_thumbnail_is_kept_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (part, dest) = (dir.path().join("part"), dir.path().join("thumbs").join("x.png"));
        keep_thumbnail(&part, &dest, b"whole").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
        assert!(!part.exists(), "nothing left beside");
        // A write that fails (a full disk, say) leaves what was there: the
        // in-place write left an empty file, served as the thumbnail for good.
        let nowhere = dir.path().join("no").join("part");
        assert!(keep_thumbnail(&nowhere, &dest, b"new").is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
    }
}
