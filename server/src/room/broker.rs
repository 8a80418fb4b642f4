//! What a room tells the other nodes, through a narrow interface the room
//! side owns (Centrifuge's Broker): the mesh implements it, and rooms know
//! nothing else of the mesh. Replies come back to rooms through their
//! [`RoomHandle`](super::RoomHandle), so there is no cycle between the two.

use std::sync::Arc;

use meshchat_shared::Message;

use crate::core::{Proof, Range, Signed};

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
