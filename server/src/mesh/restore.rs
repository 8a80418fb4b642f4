//! The restore handshake (mesh version 4): a node restored from a backup
//! asks each peer which of its own messages the peer holds, and takes no
//! write until it has them back ([`crate::core::restore`]).

use std::sync::Arc;

use meshchat_shared::limits;
use tokio::time::Instant;

use super::proto::{self, Control};
use super::session::Shared;

/// Rooms per `Own` frame: well under the frame cap with the longest names.
const ROOMS_PER_FRAME: usize = 4096;

/// On a new connection: ask, if this node is waiting after a restore.
pub(super) fn ask(shared: &Arc<Shared>) {
    if !shared.ctx.gate.is_restoring() {
        return;
    }
    if shared.version < 4 {
        tracing::warn!(
            peer = %shared.peer,
            version = shared.version,
            "this node was restored and waits for every peer to say which of its messages it holds; \
             this peer speaks an older mesh version: upgrade it (or remove it) to let writes resume"
        );
        return;
    }
    send_all(shared, vec![Control::AskOwn]);
}

/// The peer was restored: tell it the highest seq of its own we hold, per room.
pub(super) fn answer(shared: &Arc<Shared>) {
    let peer = shared.peer.as_str();
    let rooms: Vec<(String, u64)> = shared.ctx.index.with_vectors(|vi| {
        vi.iter().map(|(room, v)| (room.to_owned(), v.get(peer))).filter(|(_, seq)| *seq > 0).collect()
    });
    let mut frames: Vec<Control> =
        rooms.chunks(ROOMS_PER_FRAME).map(|c| Control::Own { rooms: c.to_vec(), last: false }).collect();
    match frames.last_mut() {
        Some(Control::Own { last, .. }) => *last = true,
        _ => frames.push(Control::Own { rooms: Vec::new(), last: true }),
    }
    send_all(shared, frames);
}

/// Part of a peer's answer to our `AskOwn`.
pub(super) async fn on_own(shared: &Arc<Shared>, rooms: Vec<(String, u64)>, last: bool) {
    let valid = rooms.into_iter().filter(|(r, _)| limits::validate_mesh_room(r).is_ok()).collect();
    shared.ctx.gate.on_answer(&shared.peer, valid, last).await;
}

/// Queues frames in order, waiting for room rather than dropping any: the
/// restored node waits for every one of them.
fn send_all(shared: &Arc<Shared>, frames: Vec<Control>) {
    let tx = shared.control.clone();
    let encoded: Vec<_> = frames.iter().filter_map(|f| proto::encode(f).ok()).collect();
    shared.spawn(async move {
        for bytes in encoded {
            if tx.send((Instant::now(), bytes)).await.is_err() {
                return;
            }
        }
    });
}
