//! WAL checkpoints, mostly off the commit path.
//!
//! No automatic checkpoints (`wal_autocheckpoint = 0`): with a full sync one
//! inside a commit stalled it for 60–90 ms here. This thread runs a passive
//! checkpoint twice a second on its own connection, copying pages back while
//! commits go on. Under steady writes it never quite finishes (new frames keep
//! arriving), so the writer completes it between two batches once the WAL is
//! large; the next transaction then starts the WAL over (see `writer`).

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::{StoreError, Sync, schema};

const EVERY: Duration = Duration::from_millis(500);

pub(super) struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    pub fn start(path: &Path, sync: Sync) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        schema::configure(&conn, sync)?;
        let (stop, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(EVERY) {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "checkpoint failed");
                    }
                }
            })
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(Checkpointer { stop, thread })
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}
