//! Where rooms and the mesh meet: two narrow interfaces the room side owns
//! (Centrifuge's Broker and BrokerEventHandler). Rooms publish through a
//! [`Broker`], which the mesh implements; the mesh hands what peers say to
//! [`RoomEvents`], which [`Rooms`] implements over the hub, the index and
//! the restore gate. Neither side names the other's types beyond these.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use meshchat_shared::{Message, RoomVector};

use crate::core::{Proof, Range, RoomNote, Signed, VectorIndex};

use super::restore::RestoreGate;
use super::{Hub, RoomCmd, RoomIndex};

/// One room's news for the mesh.
#[derive(Debug, Clone)]
pub enum PeerEvent {
    /// This node's newly committed messages, signed: for every peer.
    Messages(Vec<Signed>),
    /// Ask one peer for messages this node knows it lacks.
    Want { peer: Arc<str>, ranges: Vec<Range> },
    /// A name's first connection here joined the room, or its last one left.
    Presence { name: Arc<str>, online: bool },
    /// Someone here is typing: a hint, sent once.
    Typing { name: Arc<str> },
}

/// Where rooms publish their [`PeerEvent`]s. Never blocks: a broker that
/// cannot keep up drops, and anti-entropy repairs.
pub trait Broker: Send + Sync {
    fn publish(&self, room: &str, event: PeerEvent);
}

/// Signs this node's messages as they are stored, so that peers can pass
/// them on and others check who wrote them. The mesh provides it (with the
/// node's certificate key); a node without peers needs none.
pub trait Sign: Send + Sync {
    fn sign(&self, msg: &Message) -> Proof;
}

/// A room that stopped (the node is shutting down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the room is stopped")]
pub struct RoomStopped;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the mesh tells this node's rooms, and the little it reads of them.
pub trait RoomEvents: Send + Sync {
    /// A peer's messages for a room; resolves once the room took them, so
    /// that a busy room slows the lane that feeds it.
    fn remote(&self, room: &str, from: Arc<str>, msgs: Vec<Signed>) -> BoxFuture<'_, Result<(), RoomStopped>>;
    /// A peer went down, or told who is online: never dropped.
    fn note(&self, room: &str, peer: Arc<str>, note: RoomNote);
    /// Someone on a peer is typing: a hint, dropped if the room is busy.
    fn typing(&self, room: &str, name: Arc<str>);
    /// Every room's vector, for anti-entropy (`f` runs once).
    fn vectors(&self, f: &mut dyn FnMut(&VectorIndex));
    /// A peer holds more of `room` than this node.
    fn behind(&self, room: &str, theirs: RoomVector);
    /// The names online here, per room.
    fn presence(&self) -> Vec<(String, Vec<String>)>;
    /// This node was restored from a backup and waits for its peers.
    fn restoring(&self) -> bool;
    /// A peer's answer to the restore's question.
    fn restore_answer(&self, peer: &str, rooms: Vec<(String, u64)>, last: bool) -> BoxFuture<'_, ()>;
}

/// Runs `f` over every room's vector through [`RoomEvents::vectors`].
pub fn with_vectors<T>(rooms: &dyn RoomEvents, f: impl FnOnce(&VectorIndex) -> T) -> T {
    let mut f = Some(f);
    let mut out = None;
    rooms.vectors(&mut |vi| out = f.take().map(|f| f(vi)));
    out.expect("vectors calls its function once")
}

/// This node's rooms as the mesh sees them.
pub struct Rooms {
    pub hub: Arc<Hub>,
    pub index: Arc<RoomIndex>,
    pub gate: RestoreGate,
}

impl RoomEvents for Rooms {
    fn remote(&self, room: &str, from: Arc<str>, msgs: Vec<Signed>) -> BoxFuture<'_, Result<(), RoomStopped>> {
        let handle = self.hub.room(room);
        Box::pin(async move { handle.send_wait(RoomCmd::Remote { from, msgs }).await.map_err(|_| RoomStopped) })
    }

    fn note(&self, room: &str, peer: Arc<str>, note: RoomNote) {
        let cmd = match note {
            RoomNote::PeerDown => RoomCmd::PeerDown { peer },
            RoomNote::Presence { names } => RoomCmd::PeerPresence { peer, names },
            RoomNote::PresenceUpdate { name, online } => RoomCmd::PeerPresenceUpdate { peer, name, online },
        };
        self.hub.room(room).send_reliably(cmd);
    }

    fn typing(&self, room: &str, name: Arc<str>) {
        let _ = self.hub.room(room).send(RoomCmd::PeerTyping { name });
    }

    fn vectors(&self, f: &mut dyn FnMut(&VectorIndex)) {
        self.index.with_vectors(|vi| f(vi));
    }

    fn behind(&self, room: &str, theirs: RoomVector) {
        self.index.behind(room, theirs);
    }

    fn presence(&self) -> Vec<(String, Vec<String>)> {
        self.index.presence()
    }

    fn restoring(&self) -> bool {
        self.gate.is_restoring()
    }

    fn restore_answer(&self, peer: &str, rooms: Vec<(String, u64)>, last: bool) -> BoxFuture<'_, ()> {
        let peer = peer.to_owned();
        Box::pin(async move { self.gate.on_answer(&peer, rooms, last).await })
    }
}
