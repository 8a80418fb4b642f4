//! Exports as zips. `GET /api/me/export`: a person's data — their account
//! and profile (`account.json`), every message and event of theirs this
//! node holds (`messages.jsonl`, one JSON object a line, erased texts left
//! out) and the files they shared (`files/<sha256>/<name>`); only the
//! caller's own. `GET /api/admin/rooms/{room}/export`: a room an admin may
//! read, the same way (`room.json`, what is part of the room, its files).
//! Built in an unnamed temporary file and streamed, so memory stays small
//! whatever the size, and at most two at once per node.

use std::io::{Seek, Write};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use meshchat_shared::rooms::{RoomEvent, StoredEvent, is_read_marker, is_redacted};
use meshchat_shared::{ErrorCode, Message};
use serde_json::json;
use tokio::sync::Semaphore;

use axum::extract::Path;
use axum::extract::rejection::PathRejection;

use super::AppState;
use super::api::{client_ip, refused, room_param};
use super::auth::{Auth, NO_STORE};
use super::error::ApiError;
use super::serve::ClientAddr;
use crate::edge::govern;
use crate::store::files::FileStore;

/// Messages one export holds at most.
const MAX_MESSAGES: usize = 1_000_000;

/// Exports built at once: each reads much of the store and writes a file.
static EXPORTS: Semaphore = Semaphore::const_new(2);

pub async fn export(
    State(app): State<Arc<AppState>>,
    addr: Option<axum::Extension<ClientAddr>>,
    Auth(me): Auth,
) -> Result<impl IntoResponse, ApiError> {
    app.guard.write(client_ip(addr)).map_err(refused)?;
    let _one = one_at_a_time()?;
    let unavailable = |_| ApiError::from(ErrorCode::Unavailable);
    let msgs = app.store.by_author(&me.name, MAX_MESSAGES).await.map_err(unavailable)?;
    let profile = app.accounts.profiles(std::slice::from_ref(&me.name))?.pop();
    let account = json!({"name": me.name, "role": me.role.as_str(), "profile": profile.map(|p| p.fields)});
    zipped(&app, msgs, ("account.json", account), format!("meshchat-{}.zip", me.name)).await
}

/// `GET /api/admin/rooms/{room}/export`: admins, of a room they may read
/// (a private room only as its member: the console shows others by name
/// and size alone).
pub async fn export_room(
    State(app): State<Arc<AppState>>,
    addr: Option<axum::Extension<ClientAddr>>,
    Auth(me): Auth,
    path: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    app.guard.write(client_ip(addr)).map_err(refused)?;
    let room = room_param(path)?;
    if !app.accounts.acts_as_admin(&me) {
        return Err(crate::accounts::AuthError::Forbidden.into());
    }
    let (_, gov) = govern::readable(&app.hub, &room, &me.name).await?;
    let _one = one_at_a_time()?;
    let unavailable = |_| ApiError::from(ErrorCode::Unavailable);
    let msgs = app.store.room_messages(&room, MAX_MESSAGES).await.map_err(unavailable)?;
    let msgs = msgs.into_iter().filter(|m| gov.visible(m)).collect();
    let info = serde_json::to_value(gov.info(&room, &me.name)).unwrap_or_default();
    zipped(&app, msgs, ("room.json", info), format!("meshchat-room-{room}.zip")).await
}

fn one_at_a_time() -> Result<tokio::sync::SemaphorePermit<'static>, ApiError> {
    EXPORTS
        .try_acquire()
        .map_err(|_| ApiError::new(ErrorCode::LimitReached, "this node is making other exports; try again in a minute"))
}

/// The zip of `msgs` after `first` (a file name and its JSON), streamed.
async fn zipped(
    app: &AppState,
    msgs: Vec<Message>,
    first: (&'static str, serde_json::Value),
    name: String,
) -> Result<axum::response::Response, ApiError> {
    let files = app.store.files().clone();
    let standalone = first.0 == "room.json";
    let built = tokio::task::spawn_blocking(move || build(&msgs, first, &files, standalone)).await;
    let file = built.map_err(|_| ApiError::from(ErrorCode::Unavailable))?.map_err(|e| {
        tracing::warn!("an export failed: {e}");
        ApiError::from(ErrorCode::Unavailable)
    })?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file)));
    let disposition = format!("attachment; filename=\"{name}\"");
    let headers = [(header::CONTENT_TYPE, "application/zip".to_owned()), (header::CONTENT_DISPOSITION, disposition)];
    Ok((NO_STORE, headers, body).into_response())
}

/// Writes the zip; returns it rewound.
fn build(
    msgs: &[Message],
    (first, head): (&str, serde_json::Value),
    files: &FileStore,
    standalone: bool,
) -> std::io::Result<std::fs::File> {
    use zip::write::SimpleFileOptions;
    let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut zip = zip::ZipWriter::new(tempfile::tempfile()?);
    zip.start_file(first, deflated).map_err(std::io::Error::other)?;
    serde_json::to_writer_pretty(&mut zip, &head)?;
    zip.start_file("messages.jsonl", deflated).map_err(std::io::Error::other)?;
    let mut shared = Vec::new();
    // What the zip holds: in a room's, an event naming a message it leaves
    // out (an erased one) is left out too, so that it stands on its own
    // (an import replays it); one's own data keeps replies to others.
    let mut held = std::collections::HashSet::new();
    for m in msgs.iter().filter(|m| !is_read_marker(m) && !is_redacted(&m.body)) {
        let event = serde_json::from_str::<StoredEvent>(&m.body).ok().filter(|_| m.id.starts_with('§'));
        if standalone && event.as_ref().and_then(|e| e.event.target()).is_some_and(|t| !held.contains(&t)) {
            continue;
        }
        held.insert((m.origin.as_str(), m.seq));
        if let Some(RoomEvent::File { hash, name, .. }) = event.as_ref().map(|e| &e.event) {
            shared.push((hash.clone(), name.clone()));
        }
        let line = match event {
            Some(e) => json!({"room": m.room, "author": m.author, "origin": m.origin, "seq": m.seq, "ts": m.ts,
                "event": e.event, "admin": e.admin, "own": e.own}),
            None => json!({"room": m.room, "author": m.author, "origin": m.origin, "seq": m.seq, "ts": m.ts,
                "id": m.id, "body": m.body}),
        };
        serde_json::to_writer(&mut zip, &line)?;
        zip.write_all(b"\n")?;
    }
    shared.sort();
    shared.dedup();
    // Already compressed, mostly (pictures): stored as they are.
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).large_file(true);
    for (hash, name) in shared.into_iter().filter(|(h, _)| files.has(h)) {
        zip.start_file(format!("files/{hash}/{}", safe_name(&name)), stored).map_err(std::io::Error::other)?;
        std::io::copy(&mut std::fs::File::open(files.path(&hash))?, &mut zip)?;
    }
    let mut file = zip.finish().map_err(std::io::Error::other)?;
    file.rewind()?;
    Ok(file)
}

/// A shared file's name as a path inside the zip: no separators, no `..`,
/// nothing an unzip tool could take for a place outside its folder.
fn safe_name(name: &str) -> String {
    let kept: String = name.chars().map(|c| if c.is_alphanumeric() || "-_. ".contains(c) { c } else { '_' }).collect();
    let kept = kept.trim_start_matches('.').trim();
    if kept.is_empty() { "file".to_owned() } else { kept.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn a_files_name_stays_inside_the_zip() {
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_name("..\\x.png"), "_x.png");
        assert_eq!(safe_name("photo 1.png"), "photo 1.png");
        assert_eq!(safe_name("..."), "file");
    }
}
