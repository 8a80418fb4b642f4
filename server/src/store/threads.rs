//! A thread as the node reads it: its root and the replies in it, for who
//! follows it (a reply is pushed to them).

use meshchat_shared::Message;
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, schema};

/// Messages after a root looked through for its thread's replies: a bound
/// on what one push costs the store, however old the root.
const SCAN: i64 = 20_000;

impl Store {
    /// The message at `origin:seq` of `room` and the replies in its thread
    /// among the [`SCAN`] messages after it, in room order; `None` when the
    /// root is not held.
    pub async fn thread(
        &self,
        room: &str,
        origin: &str,
        seq: u64,
    ) -> Result<Option<(Message, Vec<Message>)>, StoreError> {
        let (room, origin) = (room.to_owned(), origin.to_owned());
        self.read(move |c| {
            let root = c
                .prepare_cached(&format!(
                    "SELECT {} FROM messages WHERE room = ?1 AND origin = ?2 AND seq = ?3 AND hidden = 0",
                    schema::COLUMNS
                ))?
                .query_row(params![room, origin, seq as i64], schema::message_from_row)
                .optional()?;
            let Some(root) = root else { return Ok(None) };
            // What a node writes for a reply starts so (the fields in their
            // order); the caller checks each one found.
            let prefix = format!(r#"{{"event":"reply","origin":{},"seq":{seq},"#, serde_json::json!(origin));
            let mut st = c.prepare_cached(&format!(
                "SELECT {cols} FROM (SELECT {cols} FROM messages WHERE room = ?1 AND ts >= ?2 AND hidden = 0
                   ORDER BY ts, origin, seq LIMIT ?3)
                 WHERE instr(body, ?4) = 1",
                cols = schema::COLUMNS
            ))?;
            let rows = st.query_map(params![room, root.ts as i64, SCAN, prefix], schema::message_from_row)?;
            let replies = rows.collect::<Result<Vec<_>, _>>()?;
            Ok(Some((root, replies)))
        })
        .await
    }
}
