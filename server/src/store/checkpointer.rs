//! WAL checkpoints, mostly off the commit path.
//!
//! No automatic checkpoints (`wal_autocheckpoint = 0`): with a full sync one
//! inside a commit stalled it for 60–90 ms here. This thread runs a passive
//! checkpoint twice a second on its own connection, copying pages back while
//! commits go on. Under steady writes it never quite finishes (new frames keep
//! arriving), so the writer completes it between two batches once the WAL is
//! large; the next transaction then starts the WAL over (see `writer`).
//!
//! After a commit that erased texts (a delete), the old pages that held
//! them are still in the WAL. The writer asks for a truncating checkpoint
//! ([`Checkpointer::erased`]): at its next turn (within [`EVERY`]) this
//! thread copies the WAL back and truncates it to nothing, trying again at
//! each turn while readers hold it back. So erased words leave every file
//! of the data directory within [`ERASED_WITHIN`] unless the node is
//! stopped or its disk fails first (it is done again at the next start).

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::{StoreError, Sync, schema};

const EVERY: Duration = Duration::from_millis(500);
/// What docs/security.md promises: erased text gone from the WAL within this.
pub const ERASED_WITHIN: Duration = Duration::from_secs(2);

enum Ask {
    Stop,
    Truncate,
}

pub(super) struct Checkpointer {
    ask: mpsc::Sender<Ask>,
    thread: JoinHandle<()>,
}

/// A handle the writer keeps to ask for a truncating checkpoint.
#[derive(Clone)]
pub struct Truncate(mpsc::Sender<Ask>);

impl Truncate {
    pub fn erased(&self) {
        let _ = self.0.send(Ask::Truncate);
    }
}

impl Checkpointer {
    pub fn start(path: &Path, sync: Sync) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        schema::configure(&conn, sync)?;
        // A truncating checkpoint waits this long for readers, then tries again next turn.
        conn.busy_timeout(Duration::from_millis(200))?;
        let (ask, rx) = mpsc::channel::<Ask>();
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || run(&conn, &rx))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(Checkpointer { ask, thread })
    }

    pub fn truncate_handle(&self) -> Truncate {
        Truncate(self.ask.clone())
    }

    pub fn stop(self) {
        let _ = self.ask.send(Ask::Stop);
        let _ = self.thread.join();
    }
}

fn run(conn: &Connection, rx: &mpsc::Receiver<Ask>) {
    let mut truncate = false;
    // Since when erased text waits to leave the WAL, and whether that was said.
    let mut waiting: Option<(std::time::Instant, bool)> = None;
    loop {
        let deadline = std::time::Instant::now() + EVERY;
        // Asks that come meanwhile are gathered: one checkpoint per turn.
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(Ask::Truncate) => {
                    truncate = true;
                    waiting.get_or_insert((std::time::Instant::now(), false));
                }
                Ok(Ask::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
            }
        }
        let mode = if truncate { "TRUNCATE" } else { "PASSIVE" };
        // (busy, frames in the WAL, frames copied back); busy: readers or
        // the writer held it back.
        match conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get::<_, i64>(0)) {
            Ok(0) if truncate => {
                truncate = false;
                waiting = None;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, mode, "checkpoint failed"),
        }
        if let Some((since, said)) = &mut waiting
            && !*said
            && since.elapsed() > ERASED_WITHIN
        {
            *said = true;
            tracing::warn!("erased text is still in the WAL after {ERASED_WITHIN:?}: readers hold it; trying again");
        }
    }
}
