//! What one person wrote, for the export of their data: every message and
//! event of theirs this node holds, in the rooms of people (not the nodes'
//! own logs), without the losing copy of a send taken twice.

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
}
