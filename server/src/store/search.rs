//! Full-text search: an FTS5 table beside `messages`, kept in step by the
//! writer in the same transaction as the messages it indexes.
//!
//! A row of `search` has the rowid of the message it shows and holds the
//! text people see: a message's or a reply's text, replaced by its
//! author's latest edit, gone once it is deleted (its text is erased) or
//! turns out to be the hidden copy of a duplicate. Who may read what is
//! not decided here: the caller filters by room.

use std::borrow::Cow;

use meshchat_shared::Message;
use meshchat_shared::rooms::{RoomEvent, is_event_id, is_redacted};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use super::schema::{COLUMNS, message_from_row};

pub const SCHEMA: &str = "
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(
    text,
    -- Indexed, so that a search in one room does not read every room's matches.
    room,
    author UNINDEXED,
    ts UNINDEXED,
    -- The edit whose text this is: zero-padded ts, origin, seq ('' for none),
    -- so that the latest edit wins whatever order edits arrive in.
    edit UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
-- A deleted message's words leave the index itself, not only its rows.
INSERT INTO search (search, rank) VALUES ('secure-delete', 1);
";

pub use crate::core::query::{HIT_END, HIT_START};

fn clean(text: &str) -> String {
    text.replace([HIT_START, HIT_END], " ")
}

/// What indexing a newly stored message does.
enum Indexed<'a> {
    /// A message or a reply: its own text.
    Own(Cow<'a, str>),
    /// An edit: the new text of its target.
    Edit {
        origin: &'a str,
        seq: u64,
        text: &'a str,
    },
    Nothing,
}

/// `event`: the message's event, if it is one (the writer reads it once).
fn indexed<'a>(m: &'a Message, event: Option<&'a RoomEvent>) -> Indexed<'a> {
    // The nodes' own rooms (the account log: password hashes, second
    // factors, sessions) are nobody's to search.
    if is_redacted(&m.body) || meshchat_shared::limits::is_system_room(&m.room) {
        return Indexed::Nothing;
    }
    if !is_event_id(&m.id) {
        return Indexed::Own(Cow::Borrowed(&m.body));
    }
    match event {
        Some(RoomEvent::Reply { body, .. }) => Indexed::Own(Cow::Borrowed(body)),
        // Found by its name, and by the words that came with it.
        Some(RoomEvent::File { name, body, .. }) => Indexed::Own(Cow::Owned(format!("{name} {body}"))),
        Some(RoomEvent::Edited { origin, seq, body }) => Indexed::Edit { origin, seq: *seq, text: body },
        _ => Indexed::Nothing,
    }
}

fn edit_key(m: &Message) -> String {
    format!("{:020}:{}:{:020}", m.ts, m.origin, m.seq)
}

/// Indexes a message just inserted at `rowid` (not a hidden copy);
/// `event` is its event, if it is one.
pub fn on_append(tx: &Transaction<'_>, rowid: i64, m: &Message, event: Option<&RoomEvent>) -> Result<(), StoreError> {
    let insert = |text: &str| -> Result<(), StoreError> {
        tx.prepare_cached("INSERT INTO search (rowid, text, room, author, ts, edit) VALUES (?1, ?2, ?3, ?4, ?5, '')")?
            .execute(params![rowid, clean(text), m.room, m.author, m.ts as i64])?;
        Ok(())
    };
    match indexed(m, event) {
        Indexed::Own(text) => insert(&text),
        Indexed::Edit { origin, seq, text } => {
            // Only the target's author edits it; a later edit wins.
            tx.prepare_cached(
                "UPDATE search SET text = ?1, edit = ?2 WHERE rowid = (
                     SELECT rowid FROM messages WHERE room = ?3 AND origin = ?4 AND seq = ?5 AND author = ?6
                 ) AND edit < ?2",
            )?
            .execute(params![clean(text), edit_key(m), m.room, origin, seq as i64, m.author])?;
            Ok(())
        }
        Indexed::Nothing => Ok(()),
    }
}

/// The message at `(room, origin, seq)` is no longer shown: deleted, or
/// the hidden copy of a duplicate.
pub fn forget(tx: &Transaction<'_>, room: &str, origin: &str, seq: u64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "DELETE FROM search WHERE rowid = (SELECT rowid FROM messages WHERE room = ?1 AND origin = ?2 AND seq = ?3)",
    )?
    .execute(params![room, origin, seq as i64])?;
    Ok(())
}

/// The edit at `(room, origin, seq)` is erased: if its target's row shows
/// it, the row goes back to what it shows without it (the author's latest
/// other standing edit, or the target's own text). Searching the room's
/// events costs a scan of the author's messages there: a moderator's act.
pub fn on_edit_erased(tx: &Transaction<'_>, room: &str, origin: &str, seq: u64) -> Result<(), StoreError> {
    let edit: Option<Message> = tx
        .query_row(
            &format!("SELECT {COLUMNS} FROM messages WHERE room = ?1 AND origin = ?2 AND seq = ?3"),
            params![room, origin, seq as i64],
            message_from_row,
        )
        .optional()?;
    let Some(edit) = edit else { return Ok(()) };
    let Some(RoomEvent::Edited { origin: t_origin, seq: t_seq, .. }) = super::event_of(&edit) else { return Ok(()) };
    let target: Option<(i64, Message)> = tx
        .query_row(
            &format!(
                "SELECT {COLUMNS}, rowid FROM messages WHERE room = ?1 AND origin = ?2 AND seq = ?3 AND hidden = 0"
            ),
            params![room, t_origin, t_seq as i64],
            |r| Ok((r.get(8)?, message_from_row(r)?)),
        )
        .optional()?;
    let Some((rowid, target)) = target else { return Ok(()) };
    let shown: Option<String> =
        tx.query_row("SELECT edit FROM search WHERE rowid = ?1", [rowid], |r| r.get(0)).optional()?;
    if shown.as_deref() != Some(edit_key(&edit).as_str()) {
        return Ok(());
    }
    let (mut text, mut key) = match indexed(&target, super::event_of(&target).as_ref()) {
        Indexed::Own(text) => (text.into_owned(), String::new()),
        _ => (String::new(), String::new()),
    };
    let mut st =
        tx.prepare_cached(&format!("SELECT {COLUMNS} FROM messages WHERE room = ?1 AND author = ?2 AND hidden = 0"))?;
    let mut rows = st.query(params![room, target.author])?;
    while let Some(r) = rows.next()? {
        let m = message_from_row(r)?;
        if (m.origin.as_str(), m.seq) == (edit.origin.as_str(), edit.seq) || is_redacted(&m.body) {
            continue;
        }
        if let Some(RoomEvent::Edited { origin, seq, body }) = super::event_of(&m)
            && (origin.as_str(), seq) == (t_origin.as_str(), t_seq)
            && edit_key(&m) > key
        {
            (text, key) = (body, edit_key(&m));
        }
    }
    tx.prepare_cached("UPDATE search SET text = ?1, edit = ?2 WHERE rowid = ?3")?.execute(params![
        clean(&text),
        key,
        rowid
    ])?;
    Ok(())
}

/// Indexes every message already stored (a database from before search),
/// in the order they were stored, so edits land on their targets.
pub fn backfill(conn: &Connection) -> Result<u64, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let mut n = 0;
    {
        let mut st = tx.prepare(&format!("SELECT {COLUMNS}, rowid FROM messages WHERE hidden = 0 ORDER BY rowid"))?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let m = message_from_row(r)?;
            on_append(&tx, r.get(8)?, &m, super::event_of(&m).as_ref())?;
            n += 1;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Newest,
    /// FTS5's bm25 rank.
    Relevance,
}

/// One query against the index: `fts` is an FTS5 expression made only of
/// quoted strings (see `crate::core::query`), never text from a client as is.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub fts: String,
    pub room: Option<String>,
    pub author: Option<String>,
    /// Only messages with `after_ms <= ts < before_ms`.
    pub after_ms: u64,
    pub before_ms: u64,
    pub order: Order,
    /// Where the previous page ended: a rowid (newest first) or a count
    /// of results skipped (by relevance).
    pub from: u64,
    pub limit: usize,
    /// When the search must give up: SQLite is interrupted then (its
    /// progress handler), whatever the query costs.
    pub deadline: Option<std::time::Instant>,
}

/// What one run of a query gives.
#[derive(Debug, Default)]
pub struct Found {
    pub hits: Vec<Hit>,
    /// The deadline came first: there may be more before where it stopped.
    pub cut: bool,
}

/// A match: the message and its text around the matching words, marked
/// with [`HIT_START`] and [`HIT_END`].
#[derive(Debug, Clone)]
pub struct Hit {
    pub msg: Message,
    pub snippet: String,
    /// What the next page starts from.
    pub next: u64,
}

/// Runs `q` under its deadline: what was found until then, and whether it
/// was cut short.
pub fn run(c: &mut Connection, q: &Query) -> Result<Found, StoreError> {
    if let Some(deadline) = q.deadline {
        // Every 1,000 virtual machine steps: a few microseconds apart.
        c.progress_handler(1_000, Some(move || std::time::Instant::now() > deadline))?;
    }
    let mut found = Found::default();
    let result = run_query(c, q, &mut found.hits);
    // The connection goes back to the pool: no deadline left on it.
    c.progress_handler(0, None::<fn() -> bool>)?;
    match result {
        Ok(()) => Ok(found),
        Err(StoreError::Interrupted) => {
            found.cut = true;
            Ok(found)
        }
        Err(e) => Err(e),
    }
}

fn run_query(c: &Connection, q: &Query, hits: &mut Vec<Hit>) -> Result<(), StoreError> {
    // The words match the text only; a room narrows through its own column
    // (its tokens; the exact name is checked below).
    let expr = match &q.room {
        Some(r) => format!("text : ({}) AND room : \"{}\"", q.fts, r.replace('"', "\"\"")),
        None => format!("text : ({})", q.fts),
    };
    let order = match q.order {
        Order::Newest => "search.rowid DESC",
        Order::Relevance => "rank",
    };
    let cols = COLUMNS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {cols}, snippet(search, 0, char(1), char(2), '…', 16), search.rowid FROM search
         JOIN messages m ON m.rowid = search.rowid
         WHERE search MATCH ?1 AND (?2 IS NULL OR search.room = ?2)
           AND (?3 IS NULL OR search.author = ?3 COLLATE NOCASE)
           AND search.ts >= ?4 AND search.ts < ?5 AND (?6 = 0 OR ?7 = 1 OR search.rowid < ?6)
         ORDER BY {order} LIMIT ?8 OFFSET ?9"
    );
    let relevance = q.order == Order::Relevance;
    let offset = if relevance { q.from as i64 } else { 0 };
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(
        params![
            expr,
            q.room,
            q.author,
            q.after_ms as i64,
            q.before_ms.min(i64::MAX as u64) as i64,
            q.from as i64,
            relevance,
            q.limit as i64,
            offset
        ],
        |r| Ok((message_from_row(r)?, r.get::<_, String>(8)?, r.get::<_, i64>(9)?)),
    )?;
    for (i, row) in rows.enumerate() {
        let (msg, snippet, rowid) = row?;
        let next = if relevance { q.from + i as u64 + 1 } else { rowid as u64 };
        hits.push(Hit { msg, snippet, next });
    }
    Ok(())
}

/// The indexed text of a message, if any (for tests and checks).
pub fn text_of(c: &Connection, room: &str, origin: &str, seq: u64) -> Result<Option<String>, StoreError> {
    Ok(c.query_row(
        "SELECT text FROM search WHERE rowid = (SELECT rowid FROM messages WHERE room = ?1 AND origin = ?2 AND seq = ?3)",
        params![room, origin, seq as i64],
        |r| r.get(0),
    )
    .optional()?)
}
