//! What one person left: every message and event of theirs this node
//! holds, for the export of their data (in the rooms of people, not the
//! nodes' own logs, without the losing copy of a send taken twice); and
//! the events of a system log that hold a text, to erase those of a
//! deleted account.

use meshchat_shared::Message;
use rusqlite::params;

use super::{Store, StoreError, schema};

impl Store {
    /// Up to `limit` messages and events by `author`, by room, in room order.
    pub async fn by_author(&self, author: &str, limit: usize) -> Result<Vec<Message>, StoreError> {
        let author = author.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {} FROM messages WHERE author = ?1 AND hidden = 0 AND substr(room, 1, 1) <> '!'
                 ORDER BY room, ts, origin, seq LIMIT ?2",
                schema::COLUMNS
            ))?;
            let rows = st.query_map(params![author, limit as i64], schema::message_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// The rooms of people (not the nodes' own logs) where `author` wrote.
    pub async fn rooms_written_in(&self, author: &str) -> Result<Vec<String>, StoreError> {
        let author = author.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT DISTINCT room FROM messages WHERE author = ?1 AND substr(room, 1, 1) <> '!' ORDER BY room",
            )?;
            let rows = st.query_map([author], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .await
    }

    /// `(origin, seq, body)` of the messages of `room` whose body holds
    /// `needle` (a deleted account's id, as its events name it).
    pub async fn holding(&self, room: &str, needle: &str) -> Result<Vec<(String, u64, String)>, StoreError> {
        let (room, needle) = (room.to_owned(), needle.to_owned());
        self.read(move |c| {
            let mut st =
                c.prepare_cached("SELECT origin, seq, body FROM messages WHERE room = ?1 AND instr(body, ?2) > 0")?;
            let rows = st.query_map(params![room, needle], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64, r.get::<_, String>(2)?))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Up to `limit` messages and events of `room`, in room order (the
    /// losing copy of a send taken twice left out).
    pub async fn room_messages(&self, room: &str, limit: usize) -> Result<Vec<Message>, StoreError> {
        let room = room.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {} FROM messages WHERE room = ?1 AND hidden = 0 ORDER BY ts, origin, seq LIMIT ?2",
                schema::COLUMNS
            ))?;
            let rows = st.query_map(params![room, limit as i64], schema::message_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
