//! Read markers: what the user has read of a room, counted and sent.

use super::{Chat, annotate, room, shown_text};
use crate::Message;

impl Chat {
    /// Unread and mentions of `room` after the user's read marker.
    pub(super) fn recount(&mut self, room: &str) {
        let me = self.name.clone();
        let Some(r) = self.rooms.get_mut(room) else { return };
        if annotate::read_marker(r, &me).is_none() {
            return;
        }
        let (unread, mentioned) = unread_of(r, &me);
        r.unread = r.unread.min(unread);
        r.mentioned = r.mentioned.min(mentioned);
    }

    /// A room first held (one was added to it, or it is held again after
    /// a start): what others wrote after the read marker is unread, all of
    /// it without one.
    pub(super) fn count_fresh(&mut self, room: &str) {
        let me = self.name.clone();
        let Some(r) = self.rooms.get_mut(room) else { return };
        (r.unread, r.mentioned) = unread_of(r, &me);
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

/// What others wrote in `r` after `me`'s read marker (everything held
/// without one): (messages, of them mentioning `me`).
fn unread_of(r: &room::RoomView, me: &str) -> (u32, u32) {
    let marker = annotate::read_marker(r, me);
    let after: Vec<&Message> = r
        .entries_from(marker.as_ref())
        .filter_map(|(_, e)| match e {
            room::Entry::Msg(m) => Some(m),
            room::Entry::Presence { .. } => None,
        })
        .filter(|m| m.author != me && crate::rooms::is_chat(m) && marker.as_ref().is_none_or(|k| !m.is_before(k)))
        .collect();
    let mentioned = after.iter().filter(|m| crate::rooms::mentions(&shown_text(m), me)).count();
    (after.len() as u32, mentioned as u32)
}
