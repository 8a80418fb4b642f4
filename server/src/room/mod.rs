//! Rooms: one actor task per room, and the hub that finds or starts them.
//!
//! A room actor is a thin shell around the sans-IO
//! [`RoomState`](crate::core::RoomState): it turns commands into inputs and
//! carries out the effects (store appends and reads, frames to connections,
//! events for the mesh). Sessions, HTTP handlers and the mesh talk to it
//! through a [`RoomHandle`]; nothing else touches its state, so there is no
//! lock around it. An idle room stops and loads again on demand.
//!
//! Rooms reach the other nodes only through a [`Broker`], which the mesh
//! implements; the mesh reaches rooms through the hub and their handles.

mod actor;
mod broker;
mod index;
pub mod lag;
pub mod restore;
pub mod retention;
pub mod system_log;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshchat_shared::{ErrorCode, Message, RoomVector};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

pub use broker::{Broker, PeerEvent, RoomEvents, RoomStopped, Rooms, Sign, with_vectors};
pub use index::{RoomIndex, RoomMeta};

pub use crate::core::CatchUp;
pub use crate::core::governance::Governance;
use crate::edge::conn::{ConnHandle, ConnId};
use crate::infra::metrics::Metrics;
use crate::store::Store;

/// Tunables of every room.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub core: crate::core::Config,
    /// Commands queued per room before senders get `unavailable`.
    pub mailbox: usize,
    /// A room with nothing going on stops after this long (and loads
    /// again from the store when next needed).
    pub idle_after: Duration,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig { core: crate::core::Config::default(), mailbox: 4096, idle_after: Duration::from_secs(30) }
    }
}

/// Where a `send`'s answer goes.
pub enum AckTo {
    /// An `ack` frame on the connection's queue.
    Conn(ConnHandle),
    /// An HTTP `POST` waiting for the stored message.
    Http(oneshot::Sender<Result<Arc<Message>, ErrorCode>>),
}

pub enum RoomCmd {
    Join {
        conn: ConnHandle,
        since: Option<RoomVector>,
    },
    Leave {
        conn: ConnId,
    },
    /// The connection ended without leaving (its name lingers for the
    /// presence grace).
    Gone {
        conn: ConnId,
    },
    Send {
        to: AckTo,
        author: Arc<str>,
        id: String,
        body: String,
    },
    Typing {
        conn: ConnId,
    },
    /// A message of an imported history, stamped `ts` (see
    /// [`Input::Import`](crate::core::Input::Import)); answered like an HTTP send.
    Import {
        to: AckTo,
        author: Arc<str>,
        id: String,
        body: String,
        ts: u64,
    },
    CatchUp {
        since: RoomVector,
        reply: oneshot::Sender<CatchUp>,
    },
    /// Messages replicated from a peer.
    Remote {
        from: Arc<str>,
        msgs: Vec<crate::core::Signed>,
    },
    /// Every name online on a peer in this room.
    PeerPresence {
        peer: Arc<str>,
        names: BTreeSet<String>,
    },
    PeerPresenceUpdate {
        peer: Arc<str>,
        name: String,
        online: bool,
    },
    /// The peer went away: its names start their grace period.
    PeerDown {
        peer: Arc<str>,
    },
    PeerTyping {
        name: Arc<str>,
    },
}

/// What a room publishes for pollers and the room list.
#[derive(Debug, Clone, Default)]
pub struct RoomStatus {
    /// Committed and visible to clients.
    pub vector: RoomVector,
    /// Names online in the room.
    pub online: usize,
    /// Who belongs to it; `None` until the room has loaded (so nobody is
    /// shown a private room as open meanwhile).
    pub gov: Option<Arc<Governance>>,
}

#[derive(Clone)]
pub struct RoomHandle {
    name: Arc<str>,
    /// The actor retires only while the hub's is the last sender, so nobody
    /// can be holding a handle to a stopped room.
    tx: mpsc::Sender<RoomCmd>,
    status: watch::Receiver<RoomStatus>,
}

impl RoomHandle {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues a command; a full or stopped room is `unavailable`.
    pub fn send(&self, cmd: RoomCmd) -> Result<(), ErrorCode> {
        self.tx.try_send(cmd).map_err(|_| ErrorCode::Unavailable)
    }

    /// Queues a command that must not be lost (a leave): waits for room in
    /// the mailbox off the caller's task when it is full.
    pub fn send_reliably(&self, cmd: RoomCmd) {
        if let Err(mpsc::error::TrySendError::Full(cmd)) = self.tx.try_send(cmd) {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(cmd).await;
            });
        }
    }

    pub fn status(&self) -> RoomStatus {
        self.status.borrow().clone()
    }

    /// The room's governance, once it has loaded.
    pub async fn governance(&self) -> Result<Arc<Governance>, ErrorCode> {
        let mut rx = self.status.clone();
        let status = rx.wait_for(|s| s.gov.is_some()).await.map_err(|_| ErrorCode::Unavailable)?;
        status.gov.clone().ok_or(ErrorCode::Unavailable)
    }

    /// A receiver that wakes when the room's status changes.
    pub fn watch(&self) -> watch::Receiver<RoomStatus> {
        self.status.clone()
    }

    /// Queues a command, waiting for room in the mailbox (backpressure for
    /// the mesh: a busy room slows its sender).
    pub async fn send_wait(&self, cmd: RoomCmd) -> Result<(), ErrorCode> {
        self.tx.send(cmd).await.map_err(|_| ErrorCode::Unavailable)
    }

    /// Asks for what `since` lacks.
    pub async fn catch_up(&self, since: RoomVector) -> Result<CatchUp, ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(RoomCmd::CatchUp { since, reply })?;
        rx.await.map_err(|_| ErrorCode::Unavailable)
    }

    fn is_alive(&self) -> bool {
        !self.tx.is_closed()
    }
}

/// What every room actor uses.
/// Told of each message this node accepted, once it is durable here (Web
/// Push hears of them so; rooms name nothing of it).
pub trait OnCommit: Send + Sync {
    fn committed(&self, room: &str, gov: Option<&Arc<Governance>>, msgs: &[Arc<meshchat_shared::Message>]);
}

pub struct RoomCtx {
    pub node: Arc<str>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub config: RoomConfig,
    /// `None` for a node without peers.
    pub broker: Option<Arc<dyn Broker>>,
    /// Signs this node's messages; `None` for a node without peers.
    pub signer: Option<Arc<dyn Sign>>,
    pub index: Arc<RoomIndex>,
    /// Holds this node's writes back after a restore.
    pub gate: restore::RestoreGate,
    /// Refused peer messages, logged once a minute per peer.
    pub refusals: Mutex<crate::infra::logs::EveryKey<Arc<str>>>,
    /// Cancelled when the node stops.
    pub shutdown: CancellationToken,
    pub on_commit: Option<Arc<dyn OnCommit>>,
    /// The mesh's retention policy in days (0: keep everything), as the
    /// account log says; rooms apply it (their own policy wins).
    pub retention: watch::Sender<u32>,
}

/// Finds a room's actor, starting it on first use.
pub struct Hub {
    ctx: Arc<RoomCtx>,
    rooms: Mutex<HashMap<Arc<str>, RoomHandle>>,
}

impl Hub {
    pub fn new(ctx: RoomCtx) -> Arc<Hub> {
        Arc::new(Hub { ctx: Arc::new(ctx), rooms: Mutex::new(HashMap::new()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, RoomHandle>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the mesh's retention policy is set for every room.
    pub fn retention(&self) -> watch::Sender<u32> {
        self.ctx.retention.clone()
    }

    /// The room if it exists here (its actor started if need be).
    pub fn open(self: &Arc<Self>, name: &str) -> Option<RoomHandle> {
        let running = self.lock().get(name).filter(|h| h.is_alive()).cloned();
        running.or_else(|| self.ctx.index.knows(name).then(|| self.room(name)))
    }

    /// The room, created if it does not exist yet and `check` (given how
    /// many rooms exist) allows it. Polls and history never create rooms;
    /// joins and posts do.
    pub fn open_or_create<E>(
        self: &Arc<Self>,
        name: &str,
        check: impl FnOnce(usize) -> Result<(), E>,
    ) -> Result<RoomHandle, E> {
        if let Some(h) = self.open(name) {
            return Ok(h);
        }
        check(self.ctx.index.rooms())?;
        self.ctx.index.add(name);
        Ok(self.room(name))
    }

    /// The room's handle, whether or not it exists yet (replication: a
    /// peer's room exists here once its messages arrive); the name must
    /// already be valid.
    pub fn room(self: &Arc<Self>, name: &str) -> RoomHandle {
        let mut rooms = self.lock();
        if let Some(h) = rooms.get(name).filter(|h| h.is_alive()) {
            return h.clone();
        }
        let name: Arc<str> = name.into();
        let handle = actor::spawn(name.clone(), self.ctx.clone(), Arc::downgrade(self));
        rooms.insert(name, handle.clone());
        handle
    }

    /// Every room's vector and this node's names online, for the mesh.
    pub fn index(&self) -> &RoomIndex {
        &self.ctx.index
    }

    /// Handles of the rooms with a running actor.
    pub fn open_rooms(&self) -> Vec<RoomHandle> {
        self.lock().values().filter(|h| h.is_alive()).cloned().collect()
    }

    /// An idle actor asks to stop: granted (and the room forgotten) only if
    /// nobody but the hub holds a handle to it, so no command can come.
    fn retire(&self, name: &str, may_stop: impl FnOnce() -> bool) -> bool {
        let mut rooms = self.lock();
        let unheld = rooms.get(name).is_some_and(|h| h.tx.strong_count() == 1);
        if unheld && may_stop() {
            rooms.remove(name);
            return true;
        }
        false
    }
}
