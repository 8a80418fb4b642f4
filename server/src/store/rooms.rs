//! The rooms this node holds, as lists: their summaries for the room list
//! and the directory, who is a member of which, their sizes and last
//! messages for the admin console.

use rusqlite::params;

use super::{RoomMeta, Store, StoreError};

impl Store {
    /// Every room's summary, for the room index at start.
    pub async fn room_metas(&self) -> Result<Vec<(String, RoomMeta)>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT room, meta FROM room_meta")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (room, meta) = row?;
                if let Ok(m) = serde_json::from_str(&meta) {
                    out.push((room, m));
                }
            }
            Ok(out)
        })
        .await
    }

    /// The stamp of each room's latest message (0: none), in order.
    pub async fn last_ts(&self, rooms: Vec<String>) -> Result<Vec<u64>, StoreError> {
        self.read(move |c| {
            let mut st = c.prepare_cached("SELECT MAX(ts) FROM messages WHERE room = ?1")?;
            let mut out = Vec::with_capacity(rooms.len());
            for room in &rooms {
                let ts: Option<i64> = st.query_row([room], |r| r.get(0))?;
                out.push(ts.unwrap_or(0).max(0) as u64);
            }
            Ok(out)
        })
        .await
    }

    /// The rooms `user` is a member of.
    pub async fn rooms_of(&self, user: &str) -> Result<Vec<String>, StoreError> {
        let user = user.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached("SELECT room FROM room_members WHERE user = ?1 ORDER BY room")?;
            let rows = st.query_map([&user], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// The name of every room, in order.
    pub async fn room_names(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT room FROM rooms ORDER BY room")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// A page of rooms after `after`, in name order, with how many visible
    /// messages each holds.
    pub async fn rooms_page(&self, after: &str, limit: usize) -> Result<Vec<(String, u64)>, StoreError> {
        let after = after.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT room, messages FROM rooms WHERE room > ?1 AND substr(room, 1, 1) <> '!' ORDER BY room LIMIT ?2",
            )?;
            let rows = st.query_map(params![after, limit as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Every room and how many visible messages it holds.
    pub async fn rooms(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT room, messages FROM rooms ORDER BY room")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
