//! `POST /api/admin/rooms/{room}/import`: an admin brings a room exported
//! from another mesh (the zip of `GET /api/admin/rooms/{room}/export`) in
//! as a new room. Its history is replayed in order through the room's own
//! state machine, each message as its author's with its original time, so
//! every rule is checked again as it was then; references between messages
//! (replies, edits, reactions, deletes) follow them to their new places.
//! The files come first, each checked against its hash.

use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use futures_util::StreamExt;
use meshchat_shared::ErrorCode;
use meshchat_shared::rooms::{EVENT_PREFIX, RoomEvent, StoredEvent};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::AppState;
use super::api::{client_ip, room_param};
use super::auth::Auth;
use super::error::ApiError;
use crate::room::{AckTo, RoomCmd, RoomHandle};

/// The largest zip taken: a room's words and its files.
const MAX_ZIP_BYTES: u64 = 1 << 30;

/// The history unpacked, at most (a million messages of 250 bytes).
const MAX_LINES_BYTES: u64 = 256 << 20;

/// One line of `messages.jsonl`.
#[derive(Deserialize)]
struct Line {
    author: String,
    origin: String,
    seq: u64,
    ts: u64,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    event: Option<RoomEvent>,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    own: bool,
}

/// What an import did.
#[derive(serde::Serialize)]
pub struct Imported {
    room: String,
    messages: usize,
    files: usize,
    /// Lines refused by the room's rules, or naming a message not in the
    /// export (an erased one).
    skipped: usize,
}

pub async fn import(
    State(app): State<Arc<AppState>>,
    addr: Option<axum::Extension<crate::edge::http::serve::ClientAddr>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<(StatusCode, Json<Imported>), ApiError> {
    let room = room_param(path)?;
    if !app.accounts.acts_as_admin(&me) {
        return Err(crate::accounts::AuthError::Forbidden.into());
    }
    if room.starts_with(meshchat_shared::rooms::DM_PREFIX) || app.hub.index().knows(&room) {
        return Err(ApiError::new(ErrorCode::NameTaken, "import into a room name nobody uses here"));
    }
    let zip = spooled(body).await?;
    let (lines, zip) = tokio::task::spawn_blocking(move || read_lines(zip)).await.map_err(|_| unavailable())??;
    let owner = match lines.first() {
        Some(Line { event: Some(RoomEvent::Created { dm, .. }), author, .. }) if dm.is_empty() => author.clone(),
        _ => return Err(ApiError::invalid("an export of a room (not a conversation) begins with its creation")),
    };
    let files = take_files(&app, zip).await?;
    // Within the node's room limits, as any new room.
    let opener = crate::edge::govern::Opener { hub: app.hub.clone(), guard: app.guard.clone(), ip: client_ip(addr) };
    let handle = opener.open(&room)?;
    let mine = format!("{owner}:{}", crate::infra::clock::now_ms());
    match app.accounts.claim(&format!("room:{room}"), &mine).await {
        Ok(chosen) if chosen == mine => {}
        Ok(_) => return Err(ApiError::new(ErrorCode::NameTaken, "a room by that name exists already")),
        Err(_) => return Err(ErrorCode::Unavailable.into()),
    }
    let (messages, skipped) = replay(&handle, lines).await;
    app.accounts.audit_room(&me, "import room", &room).await?;
    Ok((StatusCode::CREATED, Json(Imported { room, messages, files, skipped })))
}

fn unavailable() -> ApiError {
    ApiError::from(ErrorCode::Unavailable)
}

/// The request's body in an unnamed temporary file, at most [`MAX_ZIP_BYTES`].
async fn spooled(body: Body) -> Result<std::fs::File, ApiError> {
    let mut file = tempfile::tempfile().map_err(|_| unavailable())?;
    let (mut stream, mut size) = (body.into_data_stream(), 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::invalid("the upload broke off"))?;
        size += chunk.len() as u64;
        if size > MAX_ZIP_BYTES {
            let too_large = ApiError::new(ErrorCode::LimitReached, "an import is at most 1 GiB");
            return Err(too_large.with_status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        file.write_all(&chunk).map_err(|_| unavailable())?;
    }
    file.rewind().map_err(|_| unavailable())?;
    Ok(file)
}

type Zip = zip::ZipArchive<std::fs::File>;

/// `messages.jsonl`, in order, and the archive for its files.
fn read_lines(file: std::fs::File) -> Result<(Vec<Line>, Zip), ApiError> {
    let mut zip = zip::ZipArchive::new(file).map_err(|_| ApiError::invalid("that is not a zip"))?;
    let mut text = String::new();
    let entry = zip.by_name("messages.jsonl").map_err(|_| ApiError::invalid("the zip has no messages.jsonl"))?;
    // Words compress well: what they unpack to is bounded on its own.
    entry
        .take(MAX_LINES_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|_| ApiError::invalid("messages.jsonl is not text"))?;
    if text.len() as u64 > MAX_LINES_BYTES {
        return Err(ApiError::invalid("messages.jsonl is over 256 MiB unpacked"));
    }
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| ApiError::invalid(format!("a line of messages.jsonl: {e}"))))
        .collect::<Result<_, _>>()?;
    Ok((lines, zip))
}

/// Each `files/<sha256>/<name>` into the file store, checked against its hash.
async fn take_files(app: &AppState, mut zip: Zip) -> Result<usize, ApiError> {
    let names: Vec<String> =
        zip.file_names().filter_map(Result::ok).filter(|n| n.starts_with("files/")).map(|n| n.into_owned()).collect();
    let mut taken = 0;
    for name in names {
        let Some(hash) = name.split('/').nth(1).filter(|h| meshchat_shared::rooms::is_file_hash(h)).map(str::to_owned)
        else {
            continue;
        };
        let most = app.max_file_bytes;
        let (zip_back, bytes) = tokio::task::spawn_blocking(move || {
            let mut bytes = Vec::new();
            // One over the limit is enough for the store to refuse it.
            let read = zip.by_name(&name).map(|e| e.take(most.saturating_add(1)).read_to_end(&mut bytes));
            (zip, read.is_ok_and(|r| r.is_ok()).then_some(bytes))
        })
        .await
        .map_err(|_| unavailable())?;
        zip = zip_back;
        let Some(bytes) = bytes else { return Err(ApiError::invalid("a file of the zip cannot be read")) };
        let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes::Bytes::from(bytes)) });
        match app.store.files().receive(Box::pin(body), app.max_file_bytes, Some(&hash)).await {
            Ok(_) => taken += 1,
            Err(e) => return Err(ApiError::invalid(format!("a file of the zip: {e}"))),
        }
    }
    Ok(taken)
}

/// Sends each line in order, waiting for each to be stored (later lines
/// may name it); returns how many were taken and how many skipped.
async fn replay(handle: &RoomHandle, lines: Vec<Line>) -> (usize, usize) {
    let mut placed: HashMap<(String, u64), (String, u64)> = HashMap::new();
    let (mut taken, mut skipped) = (0, 0);
    for line in lines {
        let Some((id, body)) = as_sent(&line, &placed) else {
            skipped += 1;
            continue;
        };
        let (tx, rx) = oneshot::channel();
        let cmd = RoomCmd::Import { to: AckTo::Http(tx), author: line.author.as_str().into(), id, body, ts: line.ts };
        let stored = match handle.send_wait(cmd).await {
            Ok(()) => rx.await.unwrap_or(Err(ErrorCode::Unavailable)),
            Err(code) => Err(code),
        };
        match stored {
            Ok(m) => {
                placed.insert((line.origin, line.seq), (m.origin.clone(), m.seq));
                taken += 1;
            }
            Err(code) => {
                tracing::info!(author = %line.author, ?code, "an imported line was refused");
                skipped += 1;
            }
        }
    }
    (taken, skipped)
}

/// The line as it is sent here: a message as it was; an event under an id
/// of its place, naming messages at their new places (`None`: it names
/// one the export left out).
fn as_sent(line: &Line, placed: &HashMap<(String, u64), (String, u64)>) -> Option<(String, String)> {
    let Some(event) = &line.event else {
        return Some((line.id.clone()?, line.body.clone()?));
    };
    let mut event = event.clone();
    if let Some((origin, seq)) = event.target_mut() {
        (*origin, *seq) = placed.get(&(origin.clone(), *seq))?.clone();
    }
    let body = serde_json::to_string(&StoredEvent { event, admin: line.admin, own: line.own, in_thread: None }).ok()?;
    Some((format!("{EVENT_PREFIX}import-{}-{}", line.origin, line.seq), body))
}
