//! Retention: messages older than the room's policy, or else the mesh's,
//! leave the room on every node. Each stays in its origin's log as a hidden
//! row without its text (so the log stays gapless and anti-entropy has
//! nothing to fetch again); its files go with it. A peer's message already
//! past the policy is stored that way on arrival: a node back from a long
//! absence cannot bring old texts back to the others.

use std::sync::Arc;

use meshchat_shared::Message;
use meshchat_shared::limits::is_system_room;
use meshchat_shared::rooms::{erasable, expirable};

use super::{Effect, RoomState};
use crate::without_text;

const DAY_MS: u64 = 86_400_000;

/// The one rule of what a room keeps: its own policy (`room_days`), else
/// the mesh's; `None`: everything. The system logs (accounts, the audit)
/// are never expired.
pub fn keep_ms(room: &str, room_days: u32, mesh_days: u32) -> Option<u64> {
    let days = if room_days > 0 { room_days } else { mesh_days };
    (days > 0 && !is_system_room(room)).then(|| u64::from(days) * DAY_MS)
}

/// Past the policy: a message, reply, edit or file (or its tombstone)
/// stamped before `before`. What happened to the room is never expired.
fn expired(m: &Message, before: u64) -> bool {
    m.ts < before && expirable(&m.id, &m.body)
}

impl RoomState {
    /// Time passed, or a policy changed: what is now past the policy leaves
    /// memory, and the store is asked to erase it.
    pub(super) fn on_expire(&mut self, mesh_days: u32, now_ms: u64) {
        let Some(keep) = keep_ms(&self.name, self.gov.retention_days(), mesh_days) else { return };
        let before = now_ms.saturating_sub(keep);
        if before <= self.expired_before {
            return;
        }
        self.expired_before = before;
        self.cache.drop_if(|m| expired(m, before));
        // Not handed to the store yet: it is stored expired, after the
        // store's erasing (effects are carried out in order).
        for b in self.building.iter_mut().filter(|b| expired(&b.msg, before)) {
            b.msg = without_text_once(&b.msg);
            b.hidden = true;
        }
        self.emit(Effect::Expire { before });
    }

    /// Past the policy as this node last applied it.
    pub(super) fn is_expired(&self, m: &Message) -> bool {
        expired(m, self.expired_before)
    }
}

/// Its text erased, unless it is erased already.
pub(super) fn without_text_once(m: &Arc<Message>) -> Arc<Message> {
    if erasable(&m.id, &m.body) { without_text(m) } else { m.clone() }
}
