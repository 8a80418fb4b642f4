//! Read markers: what the user has read of a room, counted and sent.

use super::{Chat, annotate, room, shown_text};
use crate::Message;

impl Chat {
    /// Unread and mentions of `room` after the user's read marker.
    pub(super) fn recount(&mut self, room: &str) {
        let me = self.name.clone();
        let Some(r) = self.rooms.get_mut(room) else { return };
        let Some(marker) = annotate::read_marker(r, &me) else { return };
        let after: Vec<&Message> = r
            .entries_from(Some(&marker))
            .filter_map(|(_, e)| match e {
                room::Entry::Msg(m) => Some(m),
                room::Entry::Presence { .. } => None,
            })
            .filter(|m| m.author != me && crate::rooms::is_chat(m) && !m.is_before(&marker))
            .collect();
        let mentioned = after.iter().filter(|m| crate::rooms::mentions(&shown_text(m), &me)).count();
        let (unread, mentioned) = (after.len() as u32, mentioned as u32);
        r.unread = r.unread.min(unread);
        r.mentioned = r.mentioned.min(mentioned);
    }

    /// The user is looking at `room`: if others wrote past their read
    /// marker, a new marker goes out (through the outbox, one at a time),
    /// so their other tabs, devices and nodes count it read. True if one
    /// was queued.
    pub fn mark_read(&mut self, room: &str, now_ms: u64) -> bool {
        let me = self.name.clone();
        let Some(r) = self.rooms.get(room) else { return false };
        let waiting = r.pending.iter().any(|p| matches!(p.action, Some(crate::rooms::RoomEvent::Read)));
        let latest = r.entries().rev().find_map(|(_, e)| match e {
            room::Entry::Msg(m) if m.author != me && crate::rooms::is_chat(m) => Some(m.cursor()),
            _ => None,
        });
        let marker = annotate::read_marker(r, &me);
        let behind = match (&latest, &marker) {
            (Some(l), Some(m)) => l > m,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if waiting || !behind || !r.synced {
            return false;
        }
        let id = format!("read-{now_ms}");
        self.act(room, &id, crate::rooms::RoomEvent::Read, now_ms).is_ok()
    }
}
