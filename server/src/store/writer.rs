//! The one thread that writes: group commit.
//!
//! Rooms hand it messages and wait for a completion. It takes everything
//! queued at once into one transaction, so a single WAL sync covers all the
//! messages that arrived while the previous sync was running: the sync cost is
//! paid per batch, not per message, and throughput grows with load.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};

use super::{StoreError, Stored};
use crate::infra::metrics::Metrics;

/// Upper bound of messages in one transaction, so that one huge batch does
/// not hold every waiting completion behind it.
const MAX_BATCH: usize = 4096;

pub enum WriteOp {
    /// Store messages; `done` fires after the commit that holds them.
    Append { msgs: Vec<Stored>, done: oneshot::Sender<Result<(), StoreError>> },
    /// Mark a stored message as the hidden copy of a duplicate.
    Hide { room: String, origin: String, seq: u64 },
    /// Record that a room exists (someone joined it).
    Touch { room: String },
    /// Erase the texts of these messages and authors.
    Redact { room: String, erasing: super::Erasing },
    /// Take what is stamped before `before` out of the room (retention).
    Expire { room: String, before: u64 },
    /// What the room list and the directory show of a room, and its
    /// members (a member's rooms are listed from these).
    RoomMeta { room: String, meta: String, members: Vec<(String, String)> },
    /// Keep another node's certificate.
    NodeCert { node: String, der: Vec<u8> },
    /// Keep an acceptor's state for a claim; `done` fires once durable.
    Claim { key: String, state: String, done: oneshot::Sender<Result<(), StoreError>> },
    /// Fires once everything queued before it is committed.
    Barrier { done: oneshot::Sender<()> },
    /// The room reloaded from what is stored: its appends are taken again.
    Resume { room: String },
    /// Ops committed in one transaction (an append and the erasing its
    /// deletes ask for: a crash cannot come between the delete's ack and
    /// its erasing). Flattened as it is taken off the queue.
    Group(Vec<WriteOp>),
}

/// Past this size the writer completes a checkpoint between two batches, so
/// that SQLite starts the WAL over instead of growing it. (A checkpoint from
/// another connection never completes under steady writes, and appending to a
/// growing file costs the kernel a zeroed block per frame: measured as the
/// writer's largest cost.) The background checkpointer has copied most pages
/// by then, so this pause is short.
const WAL_RESTART_BYTES: u64 = 4 << 20;

/// Under load (the last batch held this many messages or more) the writer
/// waits this long before the next commit, so that one sync carries more
/// messages: a commit's cost is mostly per commit, not per message (4 per
/// commit cost 72 µs each here, 500 per commit 5 µs each). At light load
/// batches are single messages and nothing waits; nor does it when a batch's
/// worth is already queued (`GATHERED` writes or more).
const BUSY_BATCH: usize = 4;
const BUSY_GATHER: std::time::Duration = std::time::Duration::from_micros(700);
const GATHERED: usize = 64;

/// What the writer thread holds besides its connection.
pub struct Writer {
    /// The WAL file, whose size says when to restart it.
    pub wal: std::path::PathBuf,
    /// Shared files, removed once no message refers to them.
    pub files: Arc<crate::store::files::FileStore>,
    /// Asks for the WAL to be emptied after a commit that erased texts.
    pub truncate: super::checkpointer::Truncate,
}

impl Writer {
    pub fn run(self, conn: Connection, rx: mpsc::Receiver<WriteOp>, metrics: Arc<Metrics>) {
        run(conn, rx, metrics, self);
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<WriteOp>, metrics: Arc<Metrics>, w: Writer) {
    let Writer { wal, files, truncate } = w;
    let mut batch: Vec<WriteOp> = Vec::with_capacity(256);
    let mut commits_since_check = 0u32;
    let mut last_batch = 0usize;
    // Rooms whose append failed: their later appends fail too until the
    // room reloads (`Resume`). One taken after a failed one would leave a
    // hole in the room's causal log on disk, which a reload reads as held
    // (nemesis seed 4113897867702372566: a full disk freed between two
    // batches of a room; its clients were told of seqs never stored).
    let mut poisoned: HashSet<String> = HashSet::new();
    while let Some(first) = rx.blocking_recv() {
        if last_batch >= BUSY_BATCH && rx.len() < GATHERED {
            std::thread::sleep(BUSY_GATHER);
        }
        let mut msgs = take(&mut batch, first);
        while msgs < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => msgs += take(&mut batch, op),
                Err(_) => break,
            }
        }
        last_batch = msgs;
        refuse_poisoned(&mut batch, &mut poisoned);
        let result = commit(&mut conn, &batch);
        if result.is_err() {
            poisoned.extend(batch.iter().filter_map(room_of_append));
        }
        match &result {
            // Files no message shares any more, once that is durable.
            Ok(orphans) => orphans.iter().for_each(|h| files.remove(h)),
            Err(e) => tracing::error!(error = %e, "commit failed"),
        }
        let result = result.map(drop);
        if result.is_ok() && batch.iter().any(|op| matches!(op, WriteOp::Redact { .. } | WriteOp::Expire { .. })) {
            truncate.erased();
        }
        metrics.store_commits.inc();
        metrics.store_committed_msgs.inc_by(msgs as u64);
        for op in batch.drain(..) {
            match op {
                WriteOp::Append { done, .. } => {
                    let _ = done.send(result.clone());
                }
                WriteOp::Barrier { done } => {
                    let _ = done.send(());
                }
                WriteOp::Claim { done, .. } => {
                    let _ = done.send(result.clone());
                }
                WriteOp::Hide { .. }
                | WriteOp::Expire { .. }
                | WriteOp::Resume { .. }
                | WriteOp::Touch { .. }
                | WriteOp::NodeCert { .. }
                | WriteOp::RoomMeta { .. }
                | WriteOp::Redact { .. }
                | WriteOp::Group(_) => {}
            }
        }
        // After the acks: those waiting on this batch do not wait for this.
        commits_since_check += 1;
        if commits_since_check >= 64 {
            commits_since_check = 0;
            if std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_RESTART_BYTES)
                && let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            {
                tracing::warn!(error = %e, "checkpoint failed");
            }
        }
    }
    // Every sender is gone: the node is stopping and all is committed.
    if let Err(e) = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
        tracing::warn!(error = %e, "checkpoint at shutdown failed");
    }
}

fn room_of_append(op: &WriteOp) -> Option<String> {
    match op {
        WriteOp::Append { msgs, .. } => room_of(msgs).map(str::to_owned),
        _ => None,
    }
}

/// Answers the appends of poisoned rooms with an error, leaving them out
/// of the batch; a `Resume` lifts the poison of its room (in queue order).
fn refuse_poisoned(batch: &mut Vec<WriteOp>, poisoned: &mut HashSet<String>) {
    if poisoned.is_empty() {
        return;
    }
    let mut kept = Vec::with_capacity(batch.len());
    for op in batch.drain(..) {
        match op {
            WriteOp::Resume { room } => {
                poisoned.remove(&room);
            }
            WriteOp::Append { msgs, done } if room_of(&msgs).is_some_and(|r| poisoned.contains(r)) => {
                let _ = done.send(Err(StoreError::Sqlite("an earlier write of this room failed".into())));
            }
            op => kept.push(op),
        }
    }
    *batch = kept;
}

/// The room of an append (a room's batch holds only its messages).
fn room_of(msgs: &[Stored]) -> Option<&str> {
    msgs.first().map(|s| s.msg.room.as_str())
}

fn count(op: &WriteOp) -> usize {
    match op {
        WriteOp::Append { msgs, .. } => msgs.len(),
        WriteOp::Group(ops) => ops.iter().map(count).sum(),
        _ => 1,
    }
}

/// Puts `op` in the batch (a group's ops one by one); how many it counts.
fn take(batch: &mut Vec<WriteOp>, op: WriteOp) -> usize {
    match op {
        WriteOp::Group(ops) => ops.into_iter().map(|op| take(batch, op)).sum(),
        op => {
            let n = count(&op);
            batch.push(op);
            n
        }
    }
}

/// Commits a batch; the files that no message refers to any more.
fn commit(conn: &mut Connection, batch: &[WriteOp]) -> Result<Vec<String>, StoreError> {
    let tx = conn.transaction()?;
    let mut orphans = Vec::new();
    // Message counts change once per room per commit, not once per message.
    let mut counts: HashMap<&str, i64> = HashMap::new();
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO messages (room, id, author, body, origin, seq, ts, vc, hidden, idem, sig)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        let mut count = tx.prepare_cached(
            "INSERT INTO rooms (room, messages) VALUES (?1, ?2)
             ON CONFLICT (room) DO UPDATE SET messages = messages + excluded.messages",
        )?;
        let mut hide = tx.prepare_cached(
            "UPDATE messages SET hidden = 1 WHERE room = ?1 AND origin = ?2 AND seq = ?3 AND hidden = 0",
        )?;
        for op in batch {
            match op {
                WriteOp::Append { msgs, .. } => {
                    for Stored { msg: m, hidden, proof } in msgs {
                        let vc = serde_json::to_string(&m.vc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        let idem = super::idem_hash(&m.author, &m.id) as i64;
                        let added = insert.execute(params![
                            m.room,
                            m.id,
                            m.author,
                            m.body,
                            m.origin,
                            m.seq as i64,
                            m.ts as i64,
                            vc,
                            *hidden,
                            idem,
                            proof.as_deref()
                        ])?;
                        if added == 1 && !hidden {
                            *counts.entry(m.room.as_str()).or_default() += 1;
                            let event = super::event_of(m);
                            super::search::on_append(&tx, tx.last_insert_rowid(), m, event.as_ref())?;
                            super::file_refs::on_append(&tx, m, event.as_ref())?;
                        }
                    }
                }
                WriteOp::Hide { room, origin, seq } => {
                    if hide.execute(params![room, origin, *seq as i64])? == 1 {
                        *counts.entry(room.as_str()).or_default() -= 1;
                        super::search::forget(&tx, room, origin, *seq)?;
                        orphans.extend(super::file_refs::forget(&tx, room, origin, *seq)?);
                    }
                }
                WriteOp::Touch { room } => {
                    counts.entry(room.as_str()).or_default();
                }
                WriteOp::Redact { room, erasing } => orphans.extend(super::retention::redact(&tx, room, erasing)?),
                WriteOp::Expire { room, before } => {
                    let (gone, freed) = super::retention::expire(&tx, room, *before)?;
                    *counts.entry(room.as_str()).or_default() -= gone;
                    orphans.extend(freed);
                }
                WriteOp::RoomMeta { room, meta, members } => {
                    tx.execute("INSERT OR REPLACE INTO room_meta (room, meta) VALUES (?1, ?2)", params![room, meta])?;
                    tx.execute("DELETE FROM room_members WHERE room = ?1", params![room])?;
                    let mut st =
                        tx.prepare_cached("INSERT INTO room_members (user, room, role) VALUES (?1, ?2, ?3)")?;
                    for (user, role) in members {
                        st.execute(params![user, room, role])?;
                    }
                }
                WriteOp::NodeCert { node, der } => {
                    tx.execute("INSERT OR REPLACE INTO node_certs (node, der) VALUES (?1, ?2)", params![node, der])?;
                }
                WriteOp::Claim { key, state, .. } => {
                    tx.execute("INSERT OR REPLACE INTO claims (key, state) VALUES (?1, ?2)", params![key, state])?;
                }
                // Groups are flattened as they are taken (`take`).
                WriteOp::Barrier { .. } | WriteOp::Resume { .. } | WriteOp::Group(_) => {}
            }
        }
        for (room, n) in counts {
            count.execute(params![room, n])?;
        }
    }
    tx.commit()?;
    Ok(orphans)
}
