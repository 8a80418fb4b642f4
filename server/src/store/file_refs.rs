//! Which messages share which files: a row per file message, written in
//! the same transaction as the message, gone when the message is deleted.
//! A file no row names any more is removed from disk after the commit.

use meshchat_shared::Message;
use meshchat_shared::rooms::RoomEvent;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS file_refs (
    room   TEXT NOT NULL,
    origin TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    hash   TEXT NOT NULL,
    name   TEXT NOT NULL,
    mime   TEXT NOT NULL,
    size   INTEGER NOT NULL,
    PRIMARY KEY (room, origin, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS file_refs_hash ON file_refs (hash, room);
";

/// A file as a room shares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub mime: String,
    pub size: u64,
}

/// Records a file message just stored (not a hidden copy); `event` is its
/// event, if it is one.
pub fn on_append(tx: &Transaction<'_>, m: &Message, event: Option<&RoomEvent>) -> Result<(), StoreError> {
    if let Some(RoomEvent::File { hash, name, size, mime, .. }) = event {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO file_refs (room, origin, seq, hash, name, mime, size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![m.room, m.origin, m.seq as i64, hash, name, mime, *size as i64])?;
    }
    Ok(())
}

/// The message at `(room, origin, seq)` is gone: its file, if nothing
/// else refers to it now.
pub fn forget(tx: &Transaction<'_>, room: &str, origin: &str, seq: u64) -> Result<Option<String>, StoreError> {
    let hash: Option<String> = tx
        .prepare_cached("DELETE FROM file_refs WHERE room = ?1 AND origin = ?2 AND seq = ?3 RETURNING hash")?
        .query_row(params![room, origin, seq as i64], |r| r.get(0))
        .optional()?;
    let Some(hash) = hash else { return Ok(None) };
    let left: i64 =
        tx.prepare_cached("SELECT count(*) FROM file_refs WHERE hash = ?1")?.query_row([&hash], |r| r.get(0))?;
    Ok((left == 0).then_some(hash))
}

/// The file `hash` as `room` shares it, if a message of the room does.
pub fn lookup(c: &Connection, room: &str, hash: &str) -> Result<Option<FileInfo>, StoreError> {
    Ok(c.prepare_cached("SELECT name, mime, size FROM file_refs WHERE hash = ?1 AND room = ?2 LIMIT 1")?
        .query_row(params![hash, room], |r| {
            Ok(FileInfo { name: r.get(0)?, mime: r.get(1)?, size: r.get::<_, i64>(2)? as u64 })
        })
        .optional()?)
}

/// Whether any message of any room shares `hash` (a peer may ask for it).
pub fn referenced(c: &Connection, hash: &str) -> Result<bool, StoreError> {
    Ok(c.prepare_cached("SELECT 1 FROM file_refs WHERE hash = ?1 LIMIT 1")?.exists([hash])?)
}
