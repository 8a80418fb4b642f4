//! The outbox as kept across reloads: what was typed and not yet acknowledged.

use super::room::{Pending, RoomView};
use super::{Chat, OutboxEntry};
use crate::limits;

impl Chat {
    /// Everything not yet acknowledged, to keep across a reload.
    pub fn outbox(&self) -> Vec<OutboxEntry> {
        let mut out = Vec::new();
        for (room, r) in &self.rooms {
            for p in &r.pending {
                out.push(OutboxEntry {
                    room: room.clone(),
                    id: p.id.clone(),
                    body: p.body.clone(),
                    created_ms: p.created_ms,
                    failed: p.failed.clone(),
                    action: p.action.clone(),
                });
            }
        }
        out
    }

    /// Puts a kept outbox back; its messages go out on the next connection.
    pub fn restore_outbox(&mut self, entries: Vec<OutboxEntry>) {
        for e in entries {
            if limits::validate_room(&e.room).is_err() || limits::validate_body(&e.body).is_err() {
                continue;
            }
            let r = self.rooms.entry(e.room.clone()).or_insert_with(|| RoomView::new(&e.room));
            if r.pending.iter().any(|p| p.id == e.id) {
                continue;
            }
            let mut p = Pending::new(&e.id, &e.body, e.created_ms);
            p.failed = e.failed;
            p.action = e.action;
            r.pending.push(p);
        }
    }
}
