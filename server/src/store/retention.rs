//! Retention in storage: what a room's policy puts out of it is erased as
//! deletes erase (text overwritten, search entry and file reference gone)
//! and hidden, and the room's low-water mark moves up. The mark is kept per
//! room, so each stamp is erased once and a room loading again knows it.

use rusqlite::{OptionalExtension, Transaction, params};

use super::StoreError;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS room_expiry (
    room   TEXT PRIMARY KEY,
    -- Messages stamped before this are out of the room on this node.
    before INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The room's low-water mark (0: nothing expired yet).
pub fn mark(c: &rusqlite::Connection, room: &str) -> Result<u64, StoreError> {
    let before: Option<i64> = c
        .prepare_cached("SELECT before FROM room_expiry WHERE room = ?1")?
        .query_row([room], |r| r.get(0))
        .optional()?;
    Ok(before.unwrap_or(0) as u64)
}

/// What erasing one message frees: its file, if nothing else shares it.
pub type Orphan = Option<String>;

/// Erases one message's text where it is kept besides its row (search,
/// file references, edits' index) and in its row; its freed file.
pub fn erase(tx: &Transaction<'_>, room: &str, origin: &str, seq: u64) -> Result<Orphan, StoreError> {
    let row: Option<(String, String)> = tx
        .prepare_cached("SELECT id, body FROM messages WHERE room = ?1 AND origin = ?2 AND seq = ?3")?
        .query_row(params![room, origin, seq as i64], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    super::search::forget(tx, room, origin, seq)?;
    super::search::on_edit_erased(tx, room, origin, seq)?;
    let orphan = super::file_refs::forget(tx, room, origin, seq)?;
    if let Some((_, body)) = row.filter(|(id, b)| meshchat_shared::rooms::erasable(id, b)) {
        tx.prepare_cached("UPDATE messages SET body = ?4 WHERE room = ?1 AND origin = ?2 AND seq = ?3")?
            .execute(params![room, origin, seq as i64, crate::core::redacted_body(&body)])?;
    }
    Ok(orphan)
}

/// Texts to erase in a room: messages by place (deletes), and every text
/// of some authors (accounts deleted with what they wrote).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Erasing {
    pub keys: Vec<(String, u64)>,
    pub authors: Vec<String>,
}

impl Erasing {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.authors.is_empty()
    }
}

/// Erases what `erasing` names in `room`; the files freed.
pub fn redact(tx: &Transaction<'_>, room: &str, erasing: &Erasing) -> Result<Vec<String>, StoreError> {
    let mut orphans = Vec::new();
    for (origin, seq) in &erasing.keys {
        orphans.extend(erase(tx, room, origin, *seq)?);
    }
    for author in &erasing.authors {
        let theirs = places(
            tx,
            "SELECT origin, seq, id, body FROM messages WHERE room = ?1 AND author = ?2",
            params![room, author],
            meshchat_shared::rooms::erasable,
        )?;
        for (origin, seq) in theirs {
            orphans.extend(erase(tx, room, &origin, seq)?);
        }
    }
    Ok(orphans)
}

/// Takes what is stamped before `before` out of `room` (from its mark on):
/// how many visible messages left it, and the files freed.
pub fn expire(tx: &Transaction<'_>, room: &str, before: u64) -> Result<(i64, Vec<String>), StoreError> {
    let from = mark(tx, room)?;
    if before <= from {
        return Ok((0, Vec::new()));
    }
    let due = places(
        tx,
        "SELECT origin, seq, id, body FROM messages WHERE room = ?1 AND ts >= ?2 AND ts < ?3 AND hidden = 0",
        params![room, from as i64, before as i64],
        meshchat_shared::rooms::expirable,
    )?;
    let mut orphans = Vec::new();
    for (origin, seq) in &due {
        orphans.extend(erase(tx, room, origin, *seq)?);
        tx.prepare_cached("UPDATE messages SET hidden = 1 WHERE room = ?1 AND origin = ?2 AND seq = ?3")?
            .execute(params![room, origin, *seq as i64])?;
    }
    tx.prepare_cached("INSERT OR REPLACE INTO room_expiry (room, before) VALUES (?1, ?2)")?
        .execute(params![room, before as i64])?;
    Ok((due.len() as i64, orphans))
}

/// `(origin, seq)` of the rows `sql` selects (as `origin, seq, id, body`)
/// whose id and body `keep` takes.
fn places(
    tx: &Transaction<'_>,
    sql: &str,
    args: impl rusqlite::Params,
    keep: fn(&str, &str) -> bool,
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut st = tx.prepare_cached(sql)?;
    let rows = st.query_map(args, |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (origin, seq, id, body) = row?;
        if keep(&id, &body) {
            out.push((origin, seq));
        }
    }
    Ok(out)
}
