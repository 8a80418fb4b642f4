//! The restore handshake (mesh version 4): a node restored from a backup
//! asks each peer which of its own messages the peer holds, and takes no
//! write until it has them back ([`crate::core::restore`]). The peer's
//! state decides when to ask and answer; here are the frames.

use crate::room::{RoomEvents, with_vectors};

use super::proto::Control;

/// Rooms per `Own` frame: well under the frame cap with the longest names.
const ROOMS_PER_FRAME: usize = 4096;

pub(super) fn cannot_ask(peer: &str, version: u32) {
    tracing::warn!(
        peer,
        version,
        "this node was restored and waits for every peer to say which of its messages it holds; \
         this peer speaks an older mesh version: upgrade it (or remove it) to let writes resume"
    );
}

/// The peer was restored: the highest seq of its own we hold, per room.
pub(super) fn answer(rooms: &dyn RoomEvents, peer: &str) -> Vec<Control> {
    let rooms: Vec<(String, u64)> = with_vectors(rooms, |vi| {
        vi.iter().map(|(room, v)| (room.to_owned(), v.get(peer))).filter(|(_, seq)| *seq > 0).collect()
    });
    let mut frames: Vec<Control> =
        rooms.chunks(ROOMS_PER_FRAME).map(|c| Control::Own { rooms: c.to_vec(), last: false }).collect();
    match frames.last_mut() {
        Some(Control::Own { last, .. }) => *last = true,
        _ => frames.push(Control::Own { rooms: Vec::new(), last: true }),
    }
    frames
}
