//! Durable storage: one SQLite database per node, in WAL mode.
//!
//! Writes go through one writer thread that commits in groups ([`writer`]);
//! reads run on a small pool of read-only connections, which WAL lets proceed
//! while the writer commits. The handle is cheap to clone and is the only way
//! the rest of the node touches SQLite.

pub mod backup;
mod checkpointer;
mod export;
pub mod file_refs;
pub mod files;
pub mod private;
mod retention;
mod rooms;
mod schema;
pub mod search;
mod threads;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use meshchat_shared::{Cursor, Message, RoomVector};
use rusqlite::{Connection, OpenFlags, params};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

pub use retention::Erasing;
pub use schema::Sync;
use writer::WriteOp;

use crate::core::claims::Acceptor;
pub use crate::core::governance::RoomMeta;
use crate::core::{Signed, VectorIndex};
pub use crate::core::{Snapshot as RoomSnapshot, Stored, idem_hash};
use meshchat_shared::rooms::RoomRole;

use crate::infra::metrics::Metrics;

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(String),
    #[error("database is incompatible: {0}")]
    Incompatible(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage has stopped")]
    Closed,
    #[error("cannot create the data directory: {0}")]
    Io(String),
    /// A read ran past its deadline (searches).
    #[error("the read took too long and was stopped")]
    Interrupted,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::OperationInterrupted => {
                StoreError::Interrupted
            }
            e => StoreError::Sqlite(e.to_string()),
        }
    }
}

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// A stored message's event, if it is one: read once per message by the
/// writer for the search index and the file references alike.
fn event_of(m: &Message) -> Option<meshchat_shared::rooms::RoomEvent> {
    meshchat_shared::rooms::is_event_id(&m.id).then(|| serde_json::from_str(&m.body).ok()).flatten()
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` once closed.
    writer: Mutex<Option<mpsc::Sender<WriteOp>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<Option<checkpointer::Checkpointer>>,
    readers: Mutex<Vec<Connection>>,
    /// At most [`READERS`] reads at once: each holds a connection with its
    /// own page cache and a blocking thread, so a burst of room loads must
    /// queue rather than open hundreds of each.
    reading: tokio::sync::Semaphore,
    /// Reads for peers (anti-entropy), [`BACKGROUND`] at once, apart: a
    /// peer catching up never starves this node's own clients.
    background: tokio::sync::Semaphore,
    /// Searches, [`SEARCHERS`] at once, apart likewise.
    searching: tokio::sync::Semaphore,
    path: PathBuf,
    /// Shared files: the writer removes those no message refers to.
    files: Arc<crate::store::files::FileStore>,
    /// `data/lock`, held until the store closes (see [`private::lock`]).
    lock: Mutex<Option<std::fs::File>>,
}

/// Reads for clients and rooms running at once ...
const READERS: usize = 8;
/// ... for peers ...
const BACKGROUND: usize = 2;
/// ... and for searches; read-only connections kept: all three.
const SEARCHERS: usize = 2;

/// Queue depth of the writer: rooms wait (backpressure) beyond it.
const WRITE_QUEUE: usize = 8192;

impl Store {
    /// Opens (creating if needed) `dir/meshchat.db` for node `node`.
    pub fn open(dir: &Path, node: &str, sync: Sync, metrics: Arc<Metrics>) -> Result<Store, StoreError> {
        let io = |e: std::io::Error| StoreError::Io(format!("{}: {e}", dir.display()));
        private::dir(dir).map_err(io)?;
        let path = dir.join("meshchat.db");
        if !path.exists() {
            // SQLite gives its -wal and -shm the database file's mode.
            private::create(&path).map_err(io)?;
        }
        private::tighten(dir).map_err(io)?;
        let lock = private::lock(dir).map_err(io)?.ok_or_else(|| {
            StoreError::Io(format!("another meshchat node runs on {} (one node per data directory)", dir.display()))
        })?;
        let conn = Connection::open(&path)?;
        schema::check_readable(&conn, &path)?;
        schema::configure(&conn, sync)?;
        schema::migrate(&conn, node)?;
        // A WAL left by a crash may hold pages from before an erase.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let wal = dir.join("meshchat.db-wal");
        let files = Arc::new(crate::store::files::FileStore::open(dir).map_err(|e| StoreError::Io(e.to_string()))?);
        let checkpointer = checkpointer::Checkpointer::start(&path, sync)?;
        let writer = writer::Writer { wal, files: files.clone(), truncate: checkpointer.truncate_handle() };
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(conn, rx, metrics))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(Store {
            inner: Arc::new(Inner {
                writer: Mutex::new(Some(tx)),
                writer_thread: Mutex::new(Some(thread)),
                checkpointer: Mutex::new(Some(checkpointer)),
                readers: Mutex::new(Vec::new()),
                reading: tokio::sync::Semaphore::new(READERS),
                background: tokio::sync::Semaphore::new(BACKGROUND),
                searching: tokio::sync::Semaphore::new(SEARCHERS),
                path,
                files,
                lock: Mutex::new(Some(lock)),
            }),
        })
    }

    fn writer(&self) -> Result<mpsc::Sender<WriteOp>, StoreError> {
        let guard = self.inner.writer.lock().map_err(|_| StoreError::Closed)?;
        guard.clone().ok_or(StoreError::Closed)
    }

    /// Queues messages for the next group commit. The receiver fires once
    /// they are durable; only then may anyone be told about them.
    pub async fn append(&self, msgs: Vec<Stored>) -> Result<oneshot::Receiver<Result<(), StoreError>>, StoreError> {
        let (done, rx) = oneshot::channel();
        self.writer()?.send(WriteOp::Append { msgs, done }).await.map_err(|_| StoreError::Closed)?;
        Ok(rx)
    }

    /// [`append`](Self::append), with the erasing the appended events ask
    /// for in `room` (deletes, erased authors) in the same commit.
    pub async fn append_erasing(
        &self,
        msgs: Vec<Stored>,
        room: &str,
        erasing: Erasing,
    ) -> Result<oneshot::Receiver<Result<(), StoreError>>, StoreError> {
        let (done, rx) = oneshot::channel();
        let group = vec![WriteOp::Append { msgs, done }, WriteOp::Redact { room: room.to_owned(), erasing }];
        self.writer()?.send(WriteOp::Group(group)).await.map_err(|_| StoreError::Closed)?;
        Ok(rx)
    }

    /// The room reloaded from what is stored: its appends are taken again
    /// (after one failed, the store refuses the room's later ones).
    pub async fn resume(&self, room: &str) -> Result<(), StoreError> {
        self.writer()?.send(WriteOp::Resume { room: room.to_owned() }).await.map_err(|_| StoreError::Closed)
    }

    /// Marks the losing copy of a duplicated `(author, id)`.
    pub async fn hide(&self, room: &str, origin: &str, seq: u64) -> Result<(), StoreError> {
        let op = WriteOp::Hide { room: room.to_owned(), origin: origin.to_owned(), seq };
        self.writer()?.send(op).await.map_err(|_| StoreError::Closed)
    }

    /// Erases the texts of these messages (a delete) and of these authors
    /// (accounts deleted with what they wrote): each body becomes the
    /// redaction mark and the SHA-256 of what it was, so that its origin's
    /// signature still verifies.
    pub async fn redact(&self, room: &str, erasing: Erasing) -> Result<(), StoreError> {
        let op = WriteOp::Redact { room: room.to_owned(), erasing };
        self.writer()?.send(op).await.map_err(|_| StoreError::Closed)
    }

    /// Takes what is stamped before `before` out of `room` (its retention
    /// policy): texts erased, rows hidden, files freed, the mark moved.
    pub async fn expire(&self, room: &str, before: u64) -> Result<(), StoreError> {
        let op = WriteOp::Expire { room: room.to_owned(), before };
        self.writer()?.send(op).await.map_err(|_| StoreError::Closed)
    }

    /// Records that a room exists, without waiting for the commit.
    pub fn touch(&self, room: &str) {
        if let Ok(w) = self.writer() {
            let _ = w.try_send(WriteOp::Touch { room: room.to_owned() });
        }
    }

    /// Keeps what the room list shows of a room and who its members are
    /// (queued; the room's events are the truth, this is their summary).
    pub fn set_room_meta<'a>(&self, room: &str, meta: &RoomMeta, members: impl Iterator<Item = (&'a str, RoomRole)>) {
        let Ok(w) = self.writer() else { return };
        let members = members.map(|(u, r)| (u.to_owned(), r.as_str().to_owned())).collect();
        let meta = serde_json::to_string(meta).unwrap_or_default();
        let op = WriteOp::RoomMeta { room: room.to_owned(), meta, members };
        if w.try_send(op).is_err() {
            tracing::warn!(%room, "the writer is busy: the room list may be stale until the room changes again");
        }
    }

    /// The shared files of this node.
    pub fn files(&self) -> &Arc<crate::store::files::FileStore> {
        &self.inner.files
    }

    /// The file `hash` as `room` shares it, if a message of the room does.
    pub async fn file_in_room(&self, room: &str, hash: &str) -> Result<Option<file_refs::FileInfo>, StoreError> {
        let (room, hash) = (room.to_owned(), hash.to_owned());
        self.read(move |c| file_refs::lookup(c, &room, &hash)).await
    }

    /// Whether a message of any room shares `hash`.
    pub async fn file_referenced(&self, hash: &str) -> Result<bool, StoreError> {
        let hash = hash.to_owned();
        self.read_for_peer(move |c| file_refs::referenced(c, &hash)).await
    }

    /// Full-text search (see [`search`]); the caller filters by who may
    /// read. In a lane of its own ([`SEARCHERS`] at once), so searches can
    /// never hold the reads of history and catch-ups back.
    pub async fn search(&self, q: search::Query) -> Result<search::Found, StoreError> {
        let _permit = self.inner.searching.acquire().await.map_err(|_| StoreError::Closed)?;
        self.read_now(move |c| search::run(c, &q)).await
    }

    /// The text the search index holds for a message, if any.
    pub async fn indexed_text(&self, room: &str, origin: &str, seq: u64) -> Result<Option<String>, StoreError> {
        let (room, origin) = (room.to_owned(), origin.to_owned());
        self.read(move |c| search::text_of(c, &room, &origin, seq)).await
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (done, rx) = oneshot::channel();
        self.writer()?.send(WriteOp::Barrier { done }).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)
    }

    /// Commits what is queued, stops the writer and checkpoints the WAL.
    pub async fn close(&self) {
        let checkpointer = self.inner.checkpointer.lock().ok().and_then(|mut c| c.take());
        if let Some(c) = checkpointer {
            let _ = tokio::task::spawn_blocking(move || c.stop()).await;
        }
        let sender = self.inner.writer.lock().ok().and_then(|mut w| w.take());
        drop(sender);
        let thread = self.inner.writer_thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        // Everything is flushed: another process may have the directory.
        drop(self.inner.lock.lock().ok().and_then(|mut l| l.take()));
    }

    /// Runs `f` on a pooled read-only connection off the async runtime.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self.inner.reading.acquire().await.map_err(|_| StoreError::Closed)?;
        self.read_now(f).await
    }

    /// [`read`](Self::read) for peers, in its own lane.
    async fn read_for_peer<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self.inner.background.acquire().await.map_err(|_| StoreError::Closed)?;
        self.read_now(f).await
    }

    async fn read_now<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().ok().and_then(|mut p| p.pop());
            let conn = match pooled {
                Some(c) => c,
                None => {
                    let c = Connection::open_with_flags(
                        &inner.path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    c.busy_timeout(std::time::Duration::from_secs(5))?;
                    c
                }
            };
            let mut conn = conn;
            let out = f(&mut conn);
            if let Ok(mut p) = inner.readers.lock()
                && p.len() < READERS + BACKGROUND + SEARCHERS
            {
                p.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Sqlite(format!("reader task failed: {e}")))?
    }

    /// Everything a room actor loads when it starts.
    pub async fn room_snapshot(&self, room: &str, recent: usize) -> Result<RoomSnapshot, StoreError> {
        let room = room.to_owned();
        self.read(move |c| {
            let mut snap = RoomSnapshot::default();
            let mut st =
                c.prepare_cached("SELECT origin, MAX(seq), MAX(ts) FROM messages WHERE room = ?1 GROUP BY origin")?;
            let mut rows = st.query([&room])?;
            while let Some(r) = rows.next()? {
                let origin: String = r.get(0)?;
                snap.vector.set(&origin, r.get::<_, i64>(1)? as u64);
                snap.last_ts = snap.last_ts.max(r.get::<_, i64>(2)? as u64);
            }
            let mut st = c.prepare_cached(&format!(
                "SELECT {} FROM messages WHERE room = ?1 AND hidden = 0
                 ORDER BY ts DESC, origin DESC, seq DESC LIMIT ?2",
                schema::COLUMNS
            ))?;
            snap.recent =
                st.query_map(params![room, recent as i64], schema::message_from_row)?.collect::<Result<Vec<_>, _>>()?;
            snap.recent.reverse();
            let mut st = c.prepare_cached("SELECT idem FROM messages WHERE room = ?1")?;
            let mut rows = st.query([&room])?;
            while let Some(r) = rows.next()? {
                snap.ids.push(r.get::<_, i64>(0)? as u64);
            }
            let mut st = c.prepare_cached(&format!(
                "SELECT {} FROM messages WHERE room = ?1 AND substr(id, 1, 1) = '§' AND hidden = 0",
                schema::COLUMNS
            ))?;
            snap.events = st.query_map([&room], schema::message_from_row)?.collect::<Result<Vec<_>, _>>()?;
            snap.expired_before = retention::mark(c, &room)?;
            Ok(snap)
        })
        .await
    }

    /// Messages of `origin` with `after < seq <= upto`, ascending, with
    /// their signatures, hidden copies too: what a peer is sent (every seq
    /// of every origin must arrive). Read in the peers' lane.
    pub async fn range(&self, room: &str, origin: &str, after: u64, upto: u64) -> Result<Vec<Signed>, StoreError> {
        let (room, origin) = (room.to_owned(), origin.to_owned());
        self.read_for_peer(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {}, sig FROM messages WHERE room = ?1 AND origin = ?2 AND seq > ?3 AND seq <= ?4 ORDER BY seq",
                schema::COLUMNS
            ))?;
            let rows = st.query_map(params![room, origin, after as i64, upto as i64], |r| {
                let sig: Option<Vec<u8>> = r.get(8)?;
                Ok(Signed { msg: schema::message_from_row(r)?, proof: sig.map(Into::into) })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// An acceptor's state for a claim, if this node ever answered for it.
    pub async fn claim(&self, key: &str) -> Result<Option<Acceptor>, StoreError> {
        let key = key.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached("SELECT state FROM claims WHERE key = ?1")?;
            let mut rows = st.query([&key])?;
            match rows.next()? {
                Some(r) => {
                    let text: String = r.get(0)?;
                    serde_json::from_str(&text).map(Some).map_err(|e| StoreError::Corrupt(e.to_string()))
                }
                None => Ok(None),
            }
        })
        .await
    }

    /// Keeps an acceptor's state; returns once it is durable.
    pub async fn save_claim(&self, key: &str, state: &Acceptor) -> Result<(), StoreError> {
        let state = serde_json::to_string(state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (done, rx) = oneshot::channel();
        self.writer()?
            .send(WriteOp::Claim { key: key.to_owned(), state, done })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Certificates of other nodes learned from peers.
    pub async fn node_certs(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT node, der FROM node_certs ORDER BY node")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Keeps a certificate learned from a peer (already checked).
    pub fn keep_node_cert(&self, node: &str, der: &[u8]) {
        if let Ok(w) = self.writer() {
            let _ = w.try_send(WriteOp::NodeCert { node: node.to_owned(), der: der.to_vec() });
        }
    }

    /// The first `limit` visible messages that `since` does not cover and
    /// `upto` does, in room order: a page of a join's or a poll's catch-up.
    /// Per origin, room order is seq order, so the first `limit` of each
    /// origin hold the first `limit` of all.
    pub async fn missing_page(
        &self,
        room: &str,
        since: RoomVector,
        upto: RoomVector,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let room = room.to_owned();
        self.read(move |c| {
            let mut out = Vec::new();
            for (origin, top) in upto.iter() {
                let after = since.get(origin);
                if top > after {
                    out.extend(range_limited(c, &room, origin, after, top, limit)?);
                }
            }
            out.sort_by(Message::order);
            out.truncate(limit);
            Ok(out)
        })
        .await
    }

    /// A page of visible messages before `before` (or the latest), ascending,
    /// and whether older ones exist.
    pub async fn history(
        &self,
        room: &str,
        before: Option<Cursor>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        let room = room.to_owned();
        self.read(move |c| {
            let fetch = i64::from(limit) + 1;
            let mut page = match before {
                Some(b) => {
                    let mut st = c.prepare_cached(&format!(
                        "SELECT {} FROM messages WHERE room = ?1 AND hidden = 0 AND (ts, origin, seq) < (?2, ?3, ?4)
                         ORDER BY ts DESC, origin DESC, seq DESC LIMIT ?5",
                        schema::COLUMNS
                    ))?;
                    st.query_map(params![room, b.ts as i64, b.origin, b.seq as i64, fetch], schema::message_from_row)?
                        .collect::<Result<Vec<_>, _>>()?
                }
                None => {
                    let mut st = c.prepare_cached(&format!(
                        "SELECT {} FROM messages WHERE room = ?1 AND hidden = 0
                         ORDER BY ts DESC, origin DESC, seq DESC LIMIT ?2",
                        schema::COLUMNS
                    ))?;
                    st.query_map(params![room, fetch], schema::message_from_row)?.collect::<Result<Vec<_>, _>>()?
                }
            };
            let more = page.len() > limit as usize;
            page.truncate(limit as usize);
            page.reverse();
            Ok((page, more))
        })
        .await
    }

    /// The visible message with this idempotency key, if stored.
    pub async fn find(&self, room: &str, author: &str, id: &str) -> Result<Option<Message>, StoreError> {
        let (room, author, id) = (room.to_owned(), author.to_owned(), id.to_owned());
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {} FROM messages WHERE room = ?1 AND idem = ?2 AND author = ?3 AND id = ?4
                 ORDER BY hidden, ts, origin, seq LIMIT 1",
                schema::COLUMNS
            ))?;
            let idem = idem_hash(&author, &id) as i64;
            let mut rows = st.query_map(params![room, idem, author, id], schema::message_from_row)?;
            Ok(rows.next().transpose()?)
        })
        .await
    }

    /// The stored vector of every room, straight into the anti-entropy
    /// index (no map of every room on the way).
    pub async fn vectors(&self) -> Result<VectorIndex, StoreError> {
        self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT room, origin, MAX(seq) FROM messages GROUP BY room, origin ORDER BY room")?;
            let mut rows = st.query([])?;
            let mut index = VectorIndex::new();
            let mut current: Option<(String, RoomVector)> = None;
            while let Some(r) = rows.next()? {
                let room: String = r.get(0)?;
                let origin: String = r.get(1)?;
                let seq = r.get::<_, i64>(2)? as u64;
                match &mut current {
                    Some((name, v)) if *name == room => v.set(&origin, seq),
                    _ => {
                        if let Some((name, v)) = current.take() {
                            index.load(&name, &v);
                        }
                        current = Some((room, [(origin, seq)].into_iter().collect()));
                    }
                }
            }
            if let Some((name, v)) = current {
                index.load(&name, &v);
            }
            Ok(index)
        })
        .await
    }
}

fn range_limited(
    c: &Connection,
    room: &str,
    origin: &str,
    after: u64,
    upto: u64,
    limit: usize,
) -> Result<Vec<Message>, StoreError> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {} FROM messages WHERE room = ?1 AND origin = ?2 AND seq > ?3 AND seq <= ?4
         AND hidden = 0 ORDER BY seq LIMIT ?5",
        schema::COLUMNS
    ))?;
    let rows =
        st.query_map(params![room, origin, after as i64, upto as i64, limit as i64], schema::message_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
