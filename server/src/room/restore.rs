//! The restore's driver: one task owns [`Restore`] (the core's state
//! machine), takes the mesh's answers and the membership's removals over a
//! channel, and publishes the [`Gate`] the rooms read before each local
//! write. No lock is shared: the rooms see a snapshot.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::RoomIndex;
use crate::core::restore::{Gate, Restore};

/// Inputs queued at most; an answer is a few thousand rooms.
const QUEUE: usize = 64;
/// How often a waiting node checks whether its rooms hold their messages.
const CHECK_EVERY: Duration = Duration::from_millis(200);

enum Cmd {
    Answer { peer: String, rooms: Vec<(String, u64)>, last: bool },
    Forget(String),
    Retire,
}

/// A cloneable handle: the rooms read, the mesh and the membership feed.
#[derive(Clone)]
pub struct RestoreGate {
    tx: mpsc::Sender<Cmd>,
    gate: watch::Receiver<Gate>,
}

impl std::fmt::Debug for RestoreGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RestoreGate").field(&*self.gate.borrow()).finish()
    }
}

/// What the driver needs to end the wait.
pub struct Driver {
    pub index: Arc<RoomIndex>,
    /// This node's id: its own seq per room is what the peers gave back.
    pub me: String,
    /// The restore's marker, removed once the wait ends.
    pub marker: PathBuf,
    pub shutdown: CancellationToken,
}

impl RestoreGate {
    /// Starts the driver of `restore`.
    pub fn start(restore: Restore, driver: Driver) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (publish, gate) = watch::channel(restore.gate());
        tokio::spawn(run(restore, rx, publish, driver));
        RestoreGate { tx, gate }
    }

    /// May this node write to `room`, holding `own` of its own messages there?
    pub fn allows(&self, room: &str, own: u64) -> bool {
        self.gate.borrow().allows(room, own)
    }

    pub fn is_restoring(&self) -> bool {
        self.gate.borrow().is_restoring()
    }

    pub fn waiting_for(&self) -> Vec<String> {
        self.gate.borrow().waiting_for().to_vec()
    }

    /// Part of a peer's answer (waits for room in the queue: the restored
    /// node needs every part).
    pub async fn on_answer(&self, peer: &str, rooms: Vec<(String, u64)>, last: bool) {
        let _ = self.tx.send(Cmd::Answer { peer: peer.to_owned(), rooms, last }).await;
    }

    pub async fn forget(&self, peer: &str) {
        let _ = self.tx.send(Cmd::Forget(peer.to_owned())).await;
    }

    pub async fn retire(&self) {
        let _ = self.tx.send(Cmd::Retire).await;
    }

    /// A gate that never changes, without a driver (unit tests).
    #[cfg(test)]
    pub fn fixed(gate: Gate) -> Self {
        let (tx, _) = mpsc::channel(1);
        RestoreGate { tx, gate: watch::channel(gate).1 }
    }
}

async fn run(mut restore: Restore, mut rx: mpsc::Receiver<Cmd>, publish: watch::Sender<Gate>, d: Driver) {
    if restore.is_restoring() {
        tracing::warn!("restored from a backup: writes wait until every peer has given back this node's messages");
    }
    let mut every = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            _ = d.shutdown.cancelled() => return,
            cmd = rx.recv() => match cmd {
                None => return,
                Some(Cmd::Answer { peer, rooms, last }) => {
                    restore.on_answer(&peer, rooms, last);
                    if last {
                        let waiting_for = restore.gate().waiting_for().to_vec();
                        tracing::info!(%peer, ?waiting_for, "a peer said which of this node's messages it holds");
                    }
                }
                Some(Cmd::Forget(peer)) => restore.forget(&peer),
                Some(Cmd::Retire) => restore.retire(),
            },
            _ = every.tick(), if restore.is_restoring() => {
                let own = |room: &str| d.index.vector(room).map_or(0, |v| v.get(&d.me));
                if restore.try_finish(own) {
                    let _ = std::fs::remove_file(&d.marker);
                    tracing::warn!("caught up after the restore: taking writes again");
                }
            }
        }
        publish.send_if_modified(|g| {
            let now = restore.gate();
            let changed = *g != now;
            *g = now;
            changed
        });
    }
}
