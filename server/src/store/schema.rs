//! The SQLite schema and the mapping between rows and messages.

use std::path::Path;

use meshchat_shared::{Message, RoomVector};
use rusqlite::{Connection, Row};

use super::StoreError;

/// Bumped when the schema changes; `migrate` upgrades older databases.
const SCHEMA_VERSION: &str = "4";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    room   TEXT NOT NULL,
    origin TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    author TEXT NOT NULL,
    id     TEXT NOT NULL,
    body   TEXT NOT NULL,
    vc     TEXT NOT NULL,
    -- 1 for the losing copy when a crash let two nodes accept one (author, id):
    -- kept so that the origin's seq stays gapless, never shown to clients.
    hidden INTEGER NOT NULL DEFAULT 0,
    -- idem_hash(author, id): a small integer index instead of two text columns.
    idem   INTEGER NOT NULL DEFAULT 0,
    -- The origin's signature, so any node can pass the message on verifiably
    -- (NULL for messages stored before version 3).
    sig    BLOB,
    UNIQUE (room, origin, seq)
);
CREATE INDEX IF NOT EXISTS messages_order ON messages (room, ts, origin, seq);
CREATE TABLE IF NOT EXISTS rooms (
    room     TEXT PRIMARY KEY,
    messages INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS claims (
    key   TEXT PRIMARY KEY,
    state TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS room_meta (
    room TEXT PRIMARY KEY,
    -- JSON: private, deleted, title, topic, members, dm (the room index's RoomMeta).
    meta TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS room_members (
    user TEXT NOT NULL,
    room TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (user, room)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS node_certs (
    node TEXT PRIMARY KEY,
    der  BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
";

/// The columns [`message_from_row`] reads, in order.
pub const COLUMNS: &str = "room, id, author, body, origin, seq, ts, vc";

/// Durability of a commit. `Full` syncs the WAL on every commit (an `ack`
/// survives power loss); `Normal` survives a killed process but not a
/// power cut. Group commit makes `Full` affordable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Sync {
    #[default]
    Full,
    Normal,
}

pub fn configure(conn: &Connection, sync: Sync) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let level = match sync {
        Sync::Full => "FULL",
        Sync::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", level)?;
    // Checkpoints run on their own thread (see `checkpointer`): inside a
    // commit, an automatic one stalls it for tens of milliseconds.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    // Erased texts (deleted messages) are overwritten in the database
    // pages, not only unlinked: FAST does it where it costs no extra I/O.
    conn.pragma_update(None, "secure_delete", "FAST")?;
    // 16 MiB of page cache: the hot index pages of every active room stay in memory.
    conn.pragma_update(None, "cache_size", -16_384)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Creates the tables and checks that this database belongs to `node`: a
/// node that reopened another node's data would reuse its seqs.
pub fn migrate(conn: &Connection, node: &str) -> Result<(), StoreError> {
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(super::search::SCHEMA)?;
    conn.execute_batch(super::file_refs::SCHEMA)?;
    conn.execute_batch(super::retention::SCHEMA)?;
    let get = |key: &str| -> Result<Option<String>, StoreError> {
        let mut st = conn.prepare("SELECT value FROM meta WHERE key = ?1")?;
        let mut rows = st.query([key])?;
        Ok(match rows.next()? {
            Some(r) => Some(r.get(0)?),
            None => None,
        })
    };
    match get("schema")? {
        None => {
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?1)", [SCHEMA_VERSION])?;
        }
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v) if v == "1" => {
            upgrade_from_1(conn)?;
            upgrade_from_2(conn)?;
            upgrade_from_3(conn)?;
        }
        Some(v) if v == "2" => {
            upgrade_from_2(conn)?;
            upgrade_from_3(conn)?;
        }
        Some(v) if v == "3" => upgrade_from_3(conn)?,
        Some(v) => {
            return Err(StoreError::Incompatible(format!(
                "this data directory was written by a newer meshchat (schema version {v}; this one reads up to \
                 {SCHEMA_VERSION}): run that version, or restore a backup made by this one (meshchat restore)"
            )));
        }
    }
    // Older versions indexed the nodes' own rooms too: out, once.
    if get("search_without_system_rooms")?.is_none() {
        let gone = conn.execute("DELETE FROM search WHERE room LIKE '!%'", [])?;
        conn.execute("INSERT INTO meta (key, value) VALUES ('search_without_system_rooms', '1')", [])?;
        if gone > 0 {
            tracing::info!(rows = gone, "the nodes' own rooms taken out of the search index");
        }
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS messages_idem ON messages (room, idem)")?;
    // A room's events (ids starting with §), which it loads whole at start.
    conn.execute_batch("CREATE INDEX IF NOT EXISTS messages_events ON messages (room) WHERE substr(id, 1, 1) = '§'")?;
    match get("node")? {
        None => {
            conn.execute("INSERT INTO meta (key, value) VALUES ('node', ?1)", [node])?;
        }
        Some(owner) if owner == node => {}
        Some(owner) => {
            return Err(StoreError::Incompatible(format!(
                "this data directory belongs to node {owner:?}, not {node:?}"
            )));
        }
    }
    Ok(())
}

/// Version 1 indexed `(room, author, id)` as text; version 2 keeps their hash.
fn upgrade_from_1(conn: &Connection) -> Result<(), StoreError> {
    let has_idem = conn.prepare("SELECT idem FROM messages LIMIT 0").is_ok();
    if !has_idem {
        conn.execute_batch("ALTER TABLE messages ADD COLUMN idem INTEGER NOT NULL DEFAULT 0")?;
    }
    let rows: Vec<(i64, String, String)> = conn
        .prepare("SELECT rowid, author, id FROM messages")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut update = conn.prepare("UPDATE messages SET idem = ?1 WHERE rowid = ?2")?;
    for (rowid, author, id) in rows {
        update.execute(rusqlite::params![super::idem_hash(&author, &id) as i64, rowid])?;
    }
    conn.execute_batch(
        "DROP INDEX IF EXISTS messages_idem;
         UPDATE meta SET value = '2' WHERE key = 'schema';",
    )?;
    Ok(())
}

/// Version 3 keeps each message's signature.
fn upgrade_from_2(conn: &Connection) -> Result<(), StoreError> {
    if conn.prepare("SELECT sig FROM messages LIMIT 0").is_err() {
        conn.execute_batch("ALTER TABLE messages ADD COLUMN sig BLOB")?;
    }
    conn.execute_batch("UPDATE meta SET value = '3' WHERE key = 'schema';")?;
    Ok(())
}

/// Version 4 adds the search index: every message stored so far goes in.
fn upgrade_from_3(conn: &Connection) -> Result<(), StoreError> {
    let n = super::search::backfill(conn)?;
    tracing::info!(messages = n, "search index built");
    conn.execute_batch("UPDATE meta SET value = '4' WHERE key = 'schema';")?;
    Ok(())
}

pub fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    let vc: String = row.get(7)?;
    let vc: RoomVector = serde_json::from_str(&vc)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(Message {
        room: row.get(0)?,
        id: row.get(1)?,
        author: row.get(2)?,
        body: row.get(3)?,
        origin: row.get(4)?,
        seq: row.get::<_, i64>(5)? as u64,
        ts: row.get::<_, i64>(6)? as u64,
        vc,
    })
}

/// A file that is not a database, or a damaged one, is refused with what
/// to do about it, before anything is written to it.
pub(super) fn check_readable(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0)) {
        Err(rusqlite::Error::SqliteFailure(e, _)) if matches!(e.code, NotADatabase | DatabaseCorrupt) => {
            Err(StoreError::Corrupt(format!(
                "{} is not a meshchat database, or it is damaged ({e}): restore it from a backup \
                 (meshchat restore), or move it away to start this node empty and let it catch up from its peers",
                path.display()
            )))
        }
        Err(e) => Err(e.into()),
        Ok(_) => Ok(()),
    }
}
