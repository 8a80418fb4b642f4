//! Rooms: one actor task per room, and the hub that finds or starts them.
//!
//! A room actor owns everything about its room on this node: the replication
//! core, the recent-message cache, the members and their presence. Sessions,
//! HTTP handlers and (later) the mesh talk to it through a [`RoomHandle`];
//! nothing else touches that state, so there is no lock around it.

mod actor;
pub mod cache;
mod index;
mod members;
mod remote;
mod send;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshchat_shared::{ErrorCode, Message, RoomVector};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

pub use index::RoomIndex;

use crate::conn::{ConnHandle, ConnId};
use crate::mesh::MeshHandle;
use crate::metrics::Metrics;
use crate::store::Store;

/// Tunables of every room.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Messages kept in memory per room for joins and resumes.
    pub cache: usize,
    /// A resume that lacks more than this gets the latest 50 and `gap`.
    pub catchup_limit: u64,
    /// Commands queued per room before senders get `unavailable`.
    pub mailbox: usize,
    /// How long the users of a node that went away still count as online,
    /// so that moving to another node is not seen as leaving and coming back.
    pub grace: Duration,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig { cache: 256, catchup_limit: 1000, mailbox: 4096, grace: Duration::from_secs(5) }
    }
}

/// Where a `send`'s answer goes.
pub enum AckTo {
    /// An `ack` frame on the connection's queue.
    Conn(ConnHandle),
    /// An HTTP `POST` waiting for the stored message.
    Http(oneshot::Sender<Result<Arc<Message>, ErrorCode>>),
}

/// A catch-up: what `since` lacks, for joins and the long poll.
#[derive(Debug, Clone)]
pub struct CatchUp {
    pub messages: Vec<Arc<Message>>,
    /// What the client holds after taking `messages`.
    pub vector: RoomVector,
    pub gap: bool,
}

pub enum RoomCmd {
    Join {
        conn: ConnHandle,
        since: Option<RoomVector>,
    },
    Leave {
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
    CatchUp {
        since: RoomVector,
        reply: oneshot::Sender<CatchUp>,
    },
    /// Messages replicated from a peer.
    Remote {
        from: Arc<str>,
        msgs: Vec<Message>,
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomStatus {
    /// Committed and visible to clients.
    pub vector: RoomVector,
    /// Names online in the room.
    pub online: usize,
}

#[derive(Clone)]
pub struct RoomHandle {
    name: Arc<str>,
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

    /// A receiver that wakes when the room's status changes.
    pub fn watch(&self) -> watch::Receiver<RoomStatus> {
        self.status.clone()
    }

    /// Queues a command, waiting for room in the mailbox (backpressure for
    /// the mesh: a busy room slows only its own stream).
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

/// What every room actor shares.
pub struct RoomCtx {
    pub node: Arc<str>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub config: RoomConfig,
    /// `None` for a node without peers.
    pub mesh: Option<MeshHandle>,
    pub index: Arc<RoomIndex>,
    /// Cancelled when the node stops.
    pub shutdown: CancellationToken,
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

    pub fn ctx(&self) -> &RoomCtx {
        &self.ctx
    }

    /// The room's handle; the name must already be valid.
    pub fn room(&self, name: &str) -> RoomHandle {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = rooms.get(name).filter(|h| h.is_alive()) {
            return h.clone();
        }
        let name: Arc<str> = name.into();
        let handle = actor::spawn(name.clone(), self.ctx.clone());
        rooms.insert(name, handle.clone());
        handle
    }

    /// Handles of the rooms with a running actor.
    pub fn open_rooms(&self) -> Vec<RoomHandle> {
        let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        rooms.values().filter(|h| h.is_alive()).cloned().collect()
    }
}
