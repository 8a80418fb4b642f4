//! The mesh's members as this node links to them: one entry per peer, with
//! the queue its link task reads and the way to stop it. Peers come and go
//! while the node runs (a node joined with a token, one removed for good),
//! so the table is shared by the handle, the accept loop and the links.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock, RwLock, Weak};

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::link::Link;
use super::proto::Established;
use super::{MeshCtx, PEER_QUEUE, PeerAddr, PeerCmd};

pub(super) struct Slot {
    pub addr: PeerAddr,
    pub cmds: mpsc::Sender<(Instant, PeerCmd)>,
    /// Connections the accept loop verified, for the link to adopt.
    pub accepted: mpsc::Sender<Established>,
    /// Cancelled when the peer is removed (a child of the node's shutdown).
    pub stop: CancellationToken,
}

/// What a link task needs that exists only once the mesh runs.
pub(super) struct Runner {
    pub endpoint: quinn::Endpoint,
    pub client: quinn::ClientConfig,
    /// Weak: the context holds this table, and the table must not keep it.
    pub ctx: Weak<MeshCtx>,
}

#[derive(Default)]
pub(crate) struct Peers {
    slots: RwLock<BTreeMap<String, Slot>>,
    /// Removed for good: never linked to again, their connections refused.
    /// Removed nodes, each with the CA's signed removal (told to it when it
    /// dials, so that it knows to stop taking writes).
    removed: RwLock<BTreeMap<String, String>>,
    runner: OnceLock<Runner>,
    /// Links of peers added before the mesh ran, started with it.
    pending: Mutex<Vec<Parked>>,
    pub(super) tasks: TaskTracker,
}

impl Peers {
    fn slots(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Slot>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn ids(&self) -> Vec<String> {
        self.slots().keys().cloned().collect()
    }

    pub(super) fn addrs(&self) -> Vec<PeerAddr> {
        self.slots().values().map(|s| s.addr.clone()).collect()
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        self.slots().contains_key(id)
    }

    pub(super) fn is_removed(&self, id: &str) -> bool {
        self.removed.read().unwrap_or_else(|p| p.into_inner()).contains_key(id)
    }

    /// The signed removal of `id`, if it was removed.
    pub(super) fn removal(&self, id: &str) -> Option<String> {
        self.removed.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Queues `cmd` for `peer`; false if it has no link or its queue is full.
    pub(super) fn push(&self, peer: &str, cmd: PeerCmd) -> bool {
        self.slots().get(peer).is_some_and(|s| s.cmds.try_send((Instant::now(), cmd)).is_ok())
    }

    pub(super) fn accepted(&self, peer: &str) -> Option<mpsc::Sender<Established>> {
        self.slots().get(peer).map(|s| s.accepted.clone())
    }

    /// Adds a peer and starts its link (now, or when the mesh starts).
    /// Returns false if it is known, or removed for good.
    pub(super) fn add(&self, addr: PeerAddr, shutdown: &CancellationToken) -> bool {
        if self.is_removed(&addr.id) {
            return false;
        }
        let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
        if slots.contains_key(&addr.id) {
            return false;
        }
        let (cmds, cmds_rx) = mpsc::channel(PEER_QUEUE);
        let (accepted, accepted_rx) = mpsc::channel(4);
        let stop = shutdown.child_token();
        let parked = Parked { addr: addr.clone(), cmds: cmds_rx, accepted: accepted_rx, stop: stop.clone() };
        match self.runner.get() {
            Some(r) => self.spawn(r, parked),
            // Its endpoint and context exist once the mesh starts.
            None => self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(parked),
        }
        slots.insert(addr.id.clone(), Slot { addr, cmds, accepted, stop });
        true
    }

    fn spawn(&self, r: &Runner, p: Parked) {
        let Some(ctx) = r.ctx.upgrade() else { return };
        let link = Link {
            peer: p.addr,
            endpoint: r.endpoint.clone(),
            client: r.client.clone(),
            cmds: p.cmds,
            accepted: p.accepted,
            stop: p.stop,
            ctx,
        };
        self.tasks.spawn(link.run());
    }

    /// Removes a peer for good: its link stops and it is refused from now
    /// on, told `proof` (the CA's signed removal).
    pub(super) fn remove(&self, id: &str, proof: String) -> bool {
        self.removed.write().unwrap_or_else(|p| p.into_inner()).insert(id.to_owned(), proof);
        let slot = self.slots.write().unwrap_or_else(|p| p.into_inner()).remove(id);
        slot.map(|s| s.stop.cancel()).is_some()
    }

    /// Starts the links of peers added so far; later ones start at once.
    pub(super) fn start(&self, runner: Runner) {
        // Under the table's lock, as `add` checks for a runner: no peer
        // added meanwhile is left parked.
        let _slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
        let pending: Vec<Parked> = self.pending.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
        for p in pending {
            self.spawn(&runner, p);
        }
        let _ = self.runner.set(runner);
    }
}

/// A link waiting for the mesh to start.
struct Parked {
    addr: PeerAddr,
    cmds: mpsc::Receiver<(Instant, PeerCmd)>,
    accepted: mpsc::Receiver<Established>,
    stop: CancellationToken,
}
