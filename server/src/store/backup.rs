//! Backups of a running node's database, and restoring one.
//!
//! `backup` copies the database with SQLite's online backup in one step: a
//! read transaction, so in WAL mode the node goes on committing while the
//! copy is taken, and the copy is one consistent moment of it. `restore`
//! puts a copy in place of a node's database and leaves a marker, so that
//! the node, when it starts, takes no write until its peers have given back
//! what it wrote after the backup ([`crate::core::restore`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// The database file in a node's data directory.
pub fn db_path(data: &Path) -> PathBuf {
    data.join("meshchat.db")
}

/// Present from a restore until the node has caught up with its peers.
pub fn marker_path(data: &Path) -> PathBuf {
    data.join("restored")
}

pub fn was_restored(data: &Path) -> bool {
    marker_path(data).exists()
}

/// What a backup or restore holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub bytes: u64,
    pub rooms: u64,
    pub messages: u64,
}

fn summary(path: &Path) -> Result<Summary, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let ok: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if ok != "ok" {
        return Err(StoreError::Io(format!("{}: the copy is damaged: {ok}", path.display())));
    }
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map(|n| n.max(0) as u64);
    let messages = count("SELECT count(*) FROM messages")?;
    let rooms = count("SELECT count(DISTINCT room) FROM messages")?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(Summary { bytes, rooms, messages })
}

/// Copies `from` into a new database at `to`, all pages in one step:
/// written beside it, checked, then renamed into place.
fn copy(from: &Connection, to: &Path) -> Result<Summary, StoreError> {
    let partial = to.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    write_copy(from, &partial)?;
    let s = summary(&partial)?;
    std::fs::rename(&partial, to).map_err(|e| StoreError::Io(format!("{}: {e}", to.display())))?;
    Ok(s)
}

fn write_copy(from: &Connection, to: &Path) -> Result<(), StoreError> {
    // It holds password hashes and private messages: 0600 from the start.
    super::private::create(to).map_err(|e| StoreError::Io(format!("{}: {e}", to.display())))?;
    let mut dst = Connection::open(to)?;
    let backup = rusqlite::backup::Backup::new(from, &mut dst)?;
    // -1: every page in one step, under one read transaction, so the copy
    // is one moment of the source however busy it is.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match backup.step(-1)? {
            rusqlite::backup::StepResult::Done => break,
            _ if std::time::Instant::now() > deadline => {
                return Err(StoreError::Io("the database stayed locked for 30 s".into()));
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    drop(backup);
    // A single file: no WAL to carry around.
    dst.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
    Ok(())
}

/// `meshchat backup`: the database of the node in `data` (running or not)
/// to `out`, which must not exist.
pub fn backup(data: &Path, out: &Path) -> Result<Summary, StoreError> {
    let src_path = db_path(data);
    if !src_path.exists() {
        return Err(StoreError::Io(format!("no database at {}", src_path.display())));
    }
    if out.exists() {
        return Err(StoreError::Io(format!("{} exists already", out.display())));
    }
    let src = Connection::open_with_flags(&src_path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    // Wait for the node's commits rather than fail on a busy moment.
    src.busy_timeout(Duration::from_secs(10))?;
    copy(&src, out)
}

/// `meshchat restore`: `from` becomes the database of the node in `data`
/// (stopped). A directory with a database needs `force`.
pub fn restore(from: &Path, data: &Path, force: bool) -> Result<Summary, StoreError> {
    summary(from)?;
    let db = db_path(data);
    if db.exists() && !force {
        return Err(StoreError::Io(format!("{} holds a database; pass --force to replace it", data.display())));
    }
    super::private::dir(data).map_err(|e| StoreError::Io(format!("{}: {e}", data.display())))?;
    // Not under a running node: it would go on with the files replaced.
    let _lock = super::private::lock(data)
        .map_err(|e| StoreError::Io(format!("{}: {e}", data.display())))?
        .ok_or_else(|| StoreError::Io(format!("a node is running on {}: stop it first", data.display())))?;
    // The marker first: a restore cut short still holds writes back.
    super::private::create(&marker_path(data))
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(b"restored from a backup; removed once the peers gave back this node's messages\n")
        })
        .map_err(|e| StoreError::Io(e.to_string()))?;
    for stale in ["meshchat.db-wal", "meshchat.db-shm"] {
        let _ = std::fs::remove_file(data.join(stale));
    }
    let src = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    copy(&src, &db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_restores_into_a_fresh_directory_with_a_marker() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("n1");
        std::fs::create_dir_all(&data).unwrap();
        let conn = Connection::open(db_path(&data)).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE messages(room TEXT, body TEXT);
             INSERT INTO messages VALUES ('a','x'),('a','y'),('b','z');",
        )
        .unwrap();
        let out = dir.path().join("n1.backup");
        let s = backup(&data, &out).unwrap();
        assert_eq!((s.rooms, s.messages), (2, 3));
        assert!(backup(&data, &out).is_err(), "never overwrites a backup");
        let fresh = dir.path().join("fresh");
        assert_eq!(restore(&out, &fresh, false).unwrap().messages, 3);
        assert!(was_restored(&fresh));
        assert!(restore(&out, &fresh, false).is_err(), "a database is there");
        restore(&out, &fresh, true).unwrap();
        assert!(restore(&dir.path().join("nothing"), &dir.path().join("x"), false).is_err());
    }
}
