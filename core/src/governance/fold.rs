//! The fold itself: the room's state after some prefix of its events in
//! room order, what each event is allowed to do there and what it changes.
//! Its maps are persistent (`imbl`): a clone shares everything unchanged,
//! so snapshots and the published state cost a few pointers.

use std::sync::Arc;

use imbl::{HashMap, HashSet, OrdMap, Vector};
use meshchat_shared::Cursor;
use meshchat_shared::rooms::{RoomEvent, RoomRole};

use super::{Consequence, Key, created_fits};

/// An event as the fold needs it (texts it never reads are dropped).
#[derive(Debug, Clone)]
pub(super) struct Event {
    pub at: Cursor,
    pub author: String,
    pub event: RoomEvent,
    pub admin: bool,
    pub own: bool,
}

impl Event {
    pub fn key(&self) -> Key {
        (self.at.origin.clone(), self.at.seq)
    }

    /// Does applying it change who is in the room or how it is set up
    /// (what the connections in it are shown of the room)?
    pub fn reshapes(&self) -> bool {
        !matches!(
            self.event,
            RoomEvent::Deleted { .. }
                | RoomEvent::Edited { .. }
                | RoomEvent::Reacted { .. }
                | RoomEvent::Read
                | RoomEvent::ReadThread { .. }
                | RoomEvent::Reply { .. }
                | RoomEvent::File { .. }
                | RoomEvent::AuthorErased { .. }
        )
    }
}

/// The fold of the events, in room order.
#[derive(Debug, Clone, Default)]
pub(super) struct State {
    /// The room's name, if it is one held for a direct conversation.
    pub held: Option<Arc<str>>,
    /// Where the room was created; `None`: an open room of protocol 1,
    /// where anyone may post and only admins moderate.
    pub created: Option<Cursor>,
    pub title: String,
    pub topic: String,
    pub private: bool,
    pub dm: Vec<String>,
    pub deleted: bool,
    /// Read-only now: nobody posts, reacts, edits or shares a file.
    pub archived: bool,
    /// The room's own retention in days; 0: the mesh's.
    pub retention_days: u32,
    /// People whose account was deleted with what they wrote: none of
    /// their texts is part of the room any more.
    pub erased_authors: HashSet<String>,
    /// Where the room went into or out of the archive, in room order.
    archive: Vector<(Cursor, bool)>,
    pub members: OrdMap<String, RoomRole>,
    pub banned: OrdMap<String, String>,
    /// Per user, where their right to post changed, in room order.
    posting: HashMap<String, Vector<(Cursor, bool)>>,
    /// Events that were allowed when applied.
    pub applied: HashSet<Key>,
    pub redacted: HashSet<Key>,
    /// Every event folded so far but replies, files and edits: what
    /// happened to the room cannot be deleted, texts can. Texts a delete
    /// may erase are left out: a node holds an erased one without knowing
    /// what it was, so the fold must not depend on having seen it.
    events_seen: HashSet<Key>,
}

impl State {
    pub fn new(held: Option<Arc<str>>) -> State {
        State { held, ..State::default() }
    }

    /// A conversation's name nobody has started the conversation under yet.
    pub fn held_for_dm(&self) -> bool {
        self.held.is_some() && self.created.is_none()
    }

    fn rank(&self, user: &str, admin: bool) -> u8 {
        if admin {
            return 4;
        }
        match self.members.get(user) {
            Some(RoomRole::Owner) => 3,
            Some(RoomRole::Moderator) => 2,
            Some(RoomRole::Member) => 1,
            None => 0,
        }
    }

    pub fn permits(&self, author: &str, event: &RoomEvent, admin: bool, own: bool) -> bool {
        // Even in a deleted room: its texts are on disk still.
        if let RoomEvent::AuthorErased { user } = event {
            return (admin || author == user) && !self.erased_authors.contains(user);
        }
        if self.deleted {
            return false;
        }
        if let RoomEvent::Created { dm, .. } = event {
            return self.created.is_none() && created_fits(self.held.as_deref().unwrap_or_default(), dm);
        }
        if self.held_for_dm() {
            return false;
        }
        let rank = self.rank(author, admin);
        // Open rooms of protocol 1 have no members: anyone not banned posts.
        // In a created room its members do: being the mesh's admin lets one
        // moderate any room, not speak in it (a reply, a reaction, a file).
        let posts = match self.created {
            Some(_) => self.members.contains_key(author) && !self.archived,
            None => !self.banned.contains_key(author),
        };
        let live = |origin: &str, seq: u64| {
            let t = (origin.to_owned(), seq);
            !self.redacted.contains(&t) && !self.events_seen.contains(&t)
        };
        let moderates = rank >= 2;
        let owns = rank >= 3;
        let member = |u: &str| self.members.contains_key(u);
        let outranks = |u: &str| rank > self.rank(u, false);
        match event {
            RoomEvent::Created { .. } => false,
            RoomEvent::Joined => !self.private && !self.banned.contains_key(author),
            RoomEvent::Left => member(author),
            RoomEvent::Invited { user } => {
                self.created.is_some() && moderates && !member(user) && !self.banned.contains_key(user)
            }
            RoomEvent::Kicked { user, .. } => moderates && member(user) && outranks(user),
            RoomEvent::Banned { user, .. } => moderates && outranks(user) && !self.banned.contains_key(user),
            RoomEvent::Unbanned { user } => moderates && self.banned.contains_key(user),
            RoomEvent::Role { user, role } => {
                owns && member(user)
                    && (admin || self.members.get(user) != Some(&RoomRole::Owner) || *role == RoomRole::Owner)
            }
            RoomEvent::Topic { .. } => moderates,
            RoomEvent::Deleted { origin, seq } => live(origin, *seq) && (moderates || (own && posts)),
            RoomEvent::Edited { origin, seq, .. } => live(origin, *seq) && own && posts,
            RoomEvent::Reacted { origin, seq, .. } | RoomEvent::Reply { origin, seq, .. } => {
                live(origin, *seq) && posts
            }
            RoomEvent::Read | RoomEvent::ReadThread { .. } => posts || !self.private,
            RoomEvent::File { thread, .. } => thread.as_ref().is_none_or(|r| live(&r.origin, r.seq)) && posts,
            RoomEvent::Title { .. } | RoomEvent::Visibility { .. } | RoomEvent::RoomDeleted => {
                owns && self.created.is_some()
            }
            RoomEvent::Archived { archived } => owns && self.created.is_some() && self.archived != *archived,
            RoomEvent::Retention { days } => owns && self.created.is_some() && self.retention_days != *days,
            RoomEvent::AuthorErased { .. } => false,
        }
    }

    /// Applies one event if its author was allowed to make it.
    pub fn apply(&mut self, e: &Event, out: &mut Vec<Consequence>) -> bool {
        let allowed = self.permits(&e.author, &e.event, e.admin, e.own) || self.delete_stands(&e.event);
        // Replies, files and edits are texts (erasable): others may answer,
        // react to and delete them, as messages.
        if !matches!(e.event, RoomEvent::Reply { .. } | RoomEvent::File { .. } | RoomEvent::Edited { .. }) {
            self.events_seen.insert(e.key());
        }
        if !allowed {
            return false;
        }
        self.applied.insert(e.key());
        match &e.event {
            RoomEvent::Created { title, topic, private, dm } => {
                self.created = Some(e.at.clone());
                (self.title, self.topic, self.private, self.dm) = (title.clone(), topic.clone(), *private, dm.clone());
                if dm.is_empty() {
                    self.add(&e.author, RoomRole::Owner, &e.at);
                } else {
                    for u in dm {
                        self.add(u, RoomRole::Member, &e.at);
                    }
                }
            }
            RoomEvent::Joined => {
                if self.created.is_some() && !self.members.contains_key(&e.author) {
                    self.add(&e.author, RoomRole::Member, &e.at);
                }
            }
            RoomEvent::Left => self.remove(&e.author, &e.at, out),
            RoomEvent::Invited { user } => self.add(user, RoomRole::Member, &e.at),
            RoomEvent::Kicked { user, .. } => self.remove(user, &e.at, out),
            RoomEvent::Banned { user, reason } => {
                self.banned.insert(user.clone(), reason.clone());
                self.remove(user, &e.at, out);
            }
            RoomEvent::Unbanned { user } => {
                self.banned.remove(user);
                if self.created.is_none() {
                    self.set_posting(user, &e.at, true);
                }
            }
            RoomEvent::Role { user, role } => self.set_role(user, *role),
            RoomEvent::Topic { topic } => self.topic = topic.clone(),
            RoomEvent::Title { title } => self.title = title.clone(),
            RoomEvent::Visibility { private } => self.private = *private,
            RoomEvent::Retention { days } => self.retention_days = *days,
            RoomEvent::AuthorErased { user } => {
                self.erased_authors.insert(user.clone());
                out.push(Consequence::Hidden {
                    user: user.clone(),
                    from: Cursor { ts: 0, origin: String::new(), seq: 0 },
                });
            }
            RoomEvent::Deleted { origin, seq } => {
                self.redacted.insert((origin.clone(), *seq));
                out.push(Consequence::Deleted { origin: origin.clone(), seq: *seq });
            }
            RoomEvent::Edited { .. }
            | RoomEvent::Reacted { .. }
            | RoomEvent::Reply { .. }
            | RoomEvent::File { .. }
            | RoomEvent::Read
            | RoomEvent::ReadThread { .. } => {}
            RoomEvent::Archived { archived } => {
                self.archived = *archived;
                self.archive.push_back((e.at.clone(), *archived));
                // What a member sent that room order puts after it is not
                // part of the room (it was sent before its node heard).
                if *archived {
                    for u in self.members.keys() {
                        out.push(Consequence::Hidden { user: u.clone(), from: e.at.clone() });
                    }
                }
            }
            RoomEvent::RoomDeleted => {
                self.deleted = true;
                let everyone: Vec<String> = self.members.keys().cloned().collect();
                for u in everyone {
                    self.remove(&u, &e.at, out);
                }
            }
        }
        true
    }

    /// A delete its origin allowed stands even where room order says its
    /// author no longer could (a concurrent demotion, a kick): its text was
    /// erased where it was made and cannot come back, so every node must
    /// erase it too, or nodes would end holding different texts (sim seed
    /// 8001336). Events are never texts: those deletes stay refused.
    fn delete_stands(&self, event: &RoomEvent) -> bool {
        match event {
            RoomEvent::Deleted { origin, seq } => {
                let t = (origin.clone(), *seq);
                !self.deleted && !self.redacted.contains(&t) && !self.events_seen.contains(&t)
            }
            _ => false,
        }
    }

    fn set_role(&mut self, user: &str, role: RoomRole) {
        if role == RoomRole::Owner {
            let owners: Vec<String> =
                self.members.iter().filter(|(_, r)| **r == RoomRole::Owner).map(|(n, _)| n.clone()).collect();
            for o in owners {
                self.members.insert(o, RoomRole::Moderator);
            }
        }
        self.members.insert(user.to_owned(), role);
    }

    fn add(&mut self, user: &str, role: RoomRole, at: &Cursor) {
        self.members.insert(user.to_owned(), role);
        self.set_posting(user, at, true);
    }

    /// Out of the room (left, kicked, banned); in an open room only a ban
    /// stops posting.
    fn remove(&mut self, user: &str, at: &Cursor, out: &mut Vec<Consequence>) {
        self.members.remove(user);
        if self.created.is_some() || self.banned.contains_key(user) {
            self.set_posting(user, at, false);
            out.push(Consequence::Hidden { user: user.to_owned(), from: at.clone() });
        }
    }

    fn set_posting(&mut self, user: &str, at: &Cursor, allowed: bool) {
        self.posting.entry(user.to_owned()).or_default().push_back((at.clone(), allowed));
    }

    /// Was `user` allowed to post at `at`? Before any change of theirs: in
    /// an open room yes (unless its name is held for a conversation); in a
    /// created room, messages from before its creation stay (if it is
    /// public), later ones need membership.
    pub fn posting_at(&self, user: &str, at: &Cursor) -> bool {
        let i = partition_point(&self.archive, |(c, _)| c < at);
        if i > 0 && self.archive[i - 1].1 {
            return false;
        }
        if let Some(changes) = self.posting.get(user) {
            let i = partition_point(changes, |(c, _)| c < at);
            if i > 0 {
                return changes[i - 1].1;
            }
        }
        match &self.created {
            None => self.held.is_none(),
            Some(c) => at < c && !self.private,
        }
    }
}

/// The first index of `v` for which `before` is false (`v` sorted by it).
fn partition_point<T: Clone>(v: &Vector<T>, before: impl Fn(&T) -> bool) -> usize {
    let (mut lo, mut hi) = (0, v.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if before(&v[mid]) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}
