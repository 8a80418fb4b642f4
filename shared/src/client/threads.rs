//! The threads a person follows (they wrote its root, replied in it, or
//! were mentioned in it), each with how many replies of others they have
//! not read: those after their `read_thread` marker for it, which their
//! other tabs, devices and every node share.

use std::collections::HashMap;

use super::annotate::{Annotations, Target};
use super::room::RoomView;
use super::{Chat, shown_text};
use crate::rooms::{RoomEvent, mentions};

/// A followed thread, as the Threads view lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followed {
    pub room: String,
    pub root: Target,
    /// Who wrote the root and its text as it stands (edited; empty when
    /// deleted or not held).
    pub author: String,
    pub text: String,
    pub deleted: bool,
    pub replies: usize,
    /// Replies of others after the person's marker in this thread.
    pub unread: usize,
    /// When the last reply came.
    pub last: u64,
}

/// Does `who` follow a thread: they wrote its root or are mentioned in its
/// text, or replied or are mentioned in a reply. One rule for the apps and
/// for the node, which pushes a reply to those who follow its thread.
pub fn follows(root: Option<&crate::Message>, root_text: &str, replies: &[&crate::Message], who: &str) -> bool {
    root.is_some_and(|m| m.author == who)
        || mentions(root_text, who)
        || replies.iter().any(|m| m.author == who || mentions(&shown_text(m), who))
}

/// The threads of `room` that `me` follows, in no particular order.
pub fn followed_in(room: &RoomView, me: &str) -> Vec<Followed> {
    let notes = Annotations::of(room);
    let mut out = Vec::new();
    for (root, thread) in &notes.threads {
        let replies: Vec<_> = thread.replies.iter().filter_map(|(o, s)| room.get(o, *s)).collect();
        let first = room.get(&root.0, root.1);
        let deleted = notes.deleted.contains(root);
        let text = match (first, notes.edits.get(root)) {
            _ if deleted => String::new(),
            (Some(_), Some((edit, _))) => edit.clone(),
            (Some(m), None) => shown_text(m),
            (None, _) => String::new(),
        };
        if !follows(first, &text, &replies, me) {
            continue;
        }
        let unread = unread(&replies, me, notes.read_threads.get(&(me.to_owned(), root.clone())));
        out.push(Followed {
            room: room.name.clone(),
            root: root.clone(),
            author: first.map(|m| m.author.clone()).unwrap_or_default(),
            text,
            deleted,
            replies: replies.len(),
            unread,
            last: thread.last,
        });
    }
    out
}

/// Unread first, then the latest reply first.
fn in_order(all: &mut [Followed]) {
    all.sort_by(|a, b| (b.unread > 0).cmp(&(a.unread > 0)).then(b.last.cmp(&a.last)).then(a.root.cmp(&b.root)));
}

/// [`Chat::followed_threads`] for a view kept on screen: each room folded
/// again only when its threads may have changed (an event reached it), so
/// a busy room's plain messages, and the other rooms, cost nothing.
#[derive(Debug, Default)]
pub struct FollowedCache {
    rooms: HashMap<String, (u64, Vec<Followed>)>,
}

impl FollowedCache {
    pub fn refresh(&mut self, chat: &Chat) -> Vec<Followed> {
        self.rooms.retain(|name, _| chat.rooms.contains_key(name));
        for (name, r) in &chat.rooms {
            let stamp = r.thread_changes();
            if self.rooms.get(name).is_none_or(|(s, _)| *s != stamp) {
                self.rooms.insert(name.clone(), (stamp, followed_in(r, &chat.name)));
            }
        }
        let mut all: Vec<Followed> = self.rooms.values().flat_map(|(_, f)| f.iter().cloned()).collect();
        in_order(&mut all);
        all
    }
}

/// Replies of others after `marker` (all of them without one).
fn unread(replies: &[&crate::Message], me: &str, marker: Option<&crate::Cursor>) -> usize {
    replies.iter().filter(|m| m.author != me && marker.is_none_or(|k| !m.is_before(k))).count()
}

impl Chat {
    /// Every thread the user follows in the rooms held: those with unread
    /// replies first, then the latest reply first.
    pub fn followed_threads(&self) -> Vec<Followed> {
        let mut all: Vec<Followed> = self.rooms.values().flat_map(|r| followed_in(r, &self.name)).collect();
        in_order(&mut all);
        all
    }

    /// The user is looking at the thread of `root` in `room`: if others
    /// replied past their marker in it, a new marker goes out (through the
    /// outbox, one at a time per thread). True if one was queued.
    pub fn read_thread(&mut self, room: &str, root: &Target, now_ms: u64) -> bool {
        let Some(r) = self.rooms.get(room) else { return false };
        let waiting = r.pending.iter().any(
            |p| matches!(&p.action, Some(RoomEvent::ReadThread { origin, seq }) if (origin, seq) == (&root.0, &root.1)),
        );
        // Folded from the root on (its replies and markers come after it);
        // the whole room only when the root is not held.
        let from = r.get(&root.0, root.1).map(|m| m.cursor());
        let notes = Annotations::from(r, from.as_ref());
        let replies: Vec<_> = notes
            .threads
            .get(root)
            .map(|t| t.replies.iter().filter_map(|(o, s)| r.get(o, *s)).collect())
            .unwrap_or_default();
        let behind = unread(&replies, &self.name, notes.read_threads.get(&(self.name.clone(), root.clone()))) > 0;
        if waiting || !behind || !r.synced {
            return false;
        }
        // Unique among the user's ids (one a millisecond per thread).
        let mut id = format!("tr-{now_ms}-{}-{}", root.1, root.0);
        while id.len() > crate::limits::MAX_MSG_ID {
            id.pop();
        }
        let action = RoomEvent::ReadThread { origin: root.0.clone(), seq: root.1 };
        self.act(room, &id, action, now_ms).is_ok()
    }
}

#[cfg(test)]
#[path = "threads_tests.rs"]
mod tests;
