//! Read markers: what the user has read of a room, counted and sent.

use std::collections::HashMap;

use super::annotate::Target;
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
/// without one) that is news to `me` ([`news`]): (messages, of them told
/// as a mention is). The same count as the live messages made.
fn unread_of(r: &room::RoomView, me: &str) -> (u32, u32) {
    let marker = annotate::read_marker(r, me);
    let mut follows = HashMap::new();
    let (mut unread, mut mentioned) = (0, 0);
    for (_, e) in r.entries_from(marker.as_ref()) {
        let room::Entry::Msg(m) = e else { continue };
        if marker.as_ref().is_some_and(|k| m.is_before(k)) {
            continue;
        }
        if let Some(told) = news(r, m, me, &mut follows) {
            unread += 1;
            mentioned += u32::from(told);
        }
    }
    (unread, mentioned)
}

/// Is `msg` news to `me` (counted unread, told): `Some(as a mention)`.
/// Messages and replies of others are, told as a mention when they name
/// `me`; a reply in a thread only to those who followed the thread by then
/// (started it, replied or were named in it, this reply included), told as
/// a mention, or when also sent to the room. `follows`: what is known of
/// threads so far, for a run over a room in order.
pub(super) fn news(r: &room::RoomView, msg: &Message, me: &str, follows: &mut HashMap<Target, bool>) -> Option<bool> {
    let named = crate::rooms::mentions(&shown_text(msg), me);
    let Some((root, also)) = crate::rooms::thread_root(msg) else {
        return (msg.author != me && crate::rooms::is_chat(msg)).then_some(named);
    };
    let state = follows.entry(root.clone()).or_insert_with(|| r.follows_thread(&root, me, &msg.cursor()));
    let follower = *state || named;
    *state = follower || msg.author == me;
    (msg.author != me && (also || follower)).then_some(follower)
}
