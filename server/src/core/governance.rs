//! Who belongs to a room and what they may do: the room's events folded in
//! room order, the same on every node.
//!
//! Events are messages of the room's own log (ids starting with `§`). Every
//! node applies them in room order `(ts, origin, seq)` and checks each
//! against the state just before it, so an event its author had no right to
//! make is ignored everywhere alike. Which messages count follows from the
//! same order: a message is part of the room only if its author was a
//! member at its place in the order. A ban at stamp 100 on one node and a
//! message from the banned user at stamp 101 on another, sent before that
//! node heard of the ban, end the same everywhere: the message is hidden,
//! because in room order it comes after the ban.
//!
//! Pure state: no clock, no I/O. Events may arrive out of room order (from
//! peers); one that sorts before others already applied makes the fold
//! start over, which is cheap: rooms have few events.

use std::collections::{BTreeMap, HashMap, HashSet};

use meshchat_shared::rooms::{MemberInfo, RoomEvent, RoomInfo, RoomRole, StoredEvent, is_event_id};
use meshchat_shared::{Cursor, Message};

/// What an event changed that clients must be told of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consequence {
    /// Messages of `user` from `from` on are not part of the room.
    Hidden { user: String, from: Cursor },
    /// The message at `origin:seq` was deleted.
    Deleted { origin: String, seq: u64 },
}

#[derive(Debug, Clone)]
struct Event {
    at: Cursor,
    author: String,
    event: RoomEvent,
    admin: bool,
    own: bool,
}

/// The room's governance: its events, and their fold.
#[derive(Debug, Clone, Default)]
pub struct Governance {
    events: Vec<Event>,
    state: State,
}

/// The fold of the events, in room order.
#[derive(Debug, Clone, Default)]
struct State {
    /// Where the room was created; `None`: an open room of protocol 1,
    /// where anyone may post and only admins moderate.
    created: Option<Cursor>,
    title: String,
    topic: String,
    private: bool,
    dm: Vec<String>,
    deleted: bool,
    members: BTreeMap<String, RoomRole>,
    banned: BTreeMap<String, String>,
    /// Per user, where their right to post changed, in room order.
    posting: HashMap<String, Vec<(Cursor, bool)>>,
    /// Events that were allowed when applied, by `(origin, seq)`.
    applied: HashSet<(String, u64)>,
    redacted: HashSet<(String, u64)>,
    /// Every event folded so far but replies: what happened to the room
    /// cannot be deleted (only messages and replies can).
    events_seen: HashSet<(String, u64)>,
}

impl Governance {
    /// The events of a room as stored (any order).
    pub fn load(msgs: impl IntoIterator<Item = Message>) -> Governance {
        let mut g = Governance { events: msgs.into_iter().filter_map(|m| parse(&m)).collect(), ..Default::default() };
        g.events.sort_by(|a, b| a.at.cmp(&b.at));
        g.rebuild(usize::MAX);
        g
    }

    /// Takes in an event message; `None` if nothing changed (not an event,
    /// one seen before, or one its author had no right to), else what
    /// clients must be told.
    pub fn insert(&mut self, msg: &Message) -> Option<Vec<Consequence>> {
        if !is_event_id(&msg.id) || self.events.iter().any(|e| e.at.origin == msg.origin && e.at.seq == msg.seq) {
            return None;
        }
        let event = parse(msg)?;
        let pos = self.events.partition_point(|e| e.at < event.at);
        self.events.insert(pos, event);
        if pos + 1 < self.events.len() {
            return Some(self.rebuild(pos));
        }
        let mut out = Vec::new();
        let applied = self.state.apply(&self.events[pos], &mut out);
        applied.then_some(out)
    }

    /// Folds every event again; the consequences of those from `from` on.
    fn rebuild(&mut self, from: usize) -> Vec<Consequence> {
        self.state = State::default();
        let mut out = Vec::new();
        let mut ignored = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            let _ = self.state.apply(e, if i >= from { &mut out } else { &mut ignored });
        }
        out
    }

    /// Whether `event` by `author` would be allowed now (the node checks
    /// before accepting a request; every node checks again as it applies).
    pub fn permits(&self, author: &str, event: &RoomEvent, admin: bool) -> bool {
        self.state.permits(author, event, admin, false)
    }

    /// As [`permits`](Self::permits), for an event as stored (with the
    /// origin's marks).
    pub fn permits_stored(&self, author: &str, e: &StoredEvent) -> bool {
        self.state.permits(author, &e.event, e.admin, e.own)
    }

    /// Every deleted message and every edit of one (allowed or not, seen
    /// before or after the delete): what storage must not hold the text
    /// of. A function of the log alone, so every node erases the same.
    pub fn erased(&self) -> HashSet<(String, u64)> {
        let mut out = self.state.redacted.clone();
        for e in &self.events {
            if let RoomEvent::Edited { origin, seq, .. } = &e.event
                && self.state.redacted.contains(&(origin.clone(), *seq))
            {
                out.insert((e.at.origin.clone(), e.at.seq));
            }
        }
        out
    }

    /// Was the message at `origin:seq` deleted?
    pub fn is_redacted(&self, origin: &str, seq: u64) -> bool {
        self.state.redacted.contains(&(origin.to_owned(), seq))
    }

    pub fn is_governed(&self) -> bool {
        self.state.created.is_some()
    }

    pub fn is_private(&self) -> bool {
        self.state.private
    }

    pub fn is_dm(&self) -> bool {
        !self.state.dm.is_empty()
    }

    pub fn is_deleted(&self) -> bool {
        self.state.deleted
    }

    pub fn role(&self, user: &str) -> Option<RoomRole> {
        self.state.members.get(user).copied()
    }

    pub fn members(&self) -> usize {
        self.state.members.len()
    }

    pub fn member_names(&self) -> impl Iterator<Item = (&str, RoomRole)> + '_ {
        self.state.members.iter().map(|(n, r)| (n.as_str(), *r))
    }

    /// May `user` see the room's messages and members?
    pub fn can_read(&self, user: &str) -> bool {
        let s = &self.state;
        if s.deleted || s.banned.contains_key(user) {
            return false;
        }
        !s.private || s.members.contains_key(user)
    }

    /// May `user` post now?
    pub fn can_post(&self, user: &str) -> bool {
        let s = &self.state;
        match s.created {
            None => !s.banned.contains_key(user),
            Some(_) => !s.deleted && s.members.contains_key(user),
        }
    }

    /// Would joining make `user` a member (a public room, not banned)?
    pub fn joins_as_member(&self, user: &str) -> bool {
        self.permits(user, &RoomEvent::Joined, false) && self.is_governed() && self.role(user).is_none()
    }

    /// Is this message part of the room?
    pub fn visible(&self, msg: &Message) -> bool {
        let key = (msg.origin.clone(), msg.seq);
        // A deleted reply or edit is a tombstone like a deleted message:
        // its text (the event) is gone, on every node alike.
        if is_event_id(&msg.id) && !meshchat_shared::rooms::is_redacted(&msg.body) {
            return self.state.applied.contains(&key);
        }
        // A deleted message stays, as a tombstone (its text is erased).
        self.state.posting_at(&msg.author, &msg.cursor())
    }

    /// The room as `user` is shown it.
    pub fn info(&self, room: &str, user: &str) -> RoomInfo {
        let s = &self.state;
        let role = s.members.get(user).copied();
        let moderates = role.is_some_and(|r| r >= RoomRole::Moderator);
        RoomInfo {
            room: room.to_owned(),
            title: if s.title.is_empty() { room.to_owned() } else { s.title.clone() },
            topic: s.topic.clone(),
            private: s.private,
            dm: s.dm.clone(),
            members: s.members.iter().map(|(n, r)| MemberInfo { name: n.clone(), role: *r }).collect(),
            governed: s.created.is_some(),
            role,
            banned: if moderates { s.banned.keys().cloned().collect() } else { Vec::new() },
        }
    }

    /// Title and topic, for the directory.
    pub fn title_topic(&self) -> (&str, &str) {
        (&self.state.title, &self.state.topic)
    }
}

/// An event message's event; `None` if its body is not one.
fn parse(msg: &Message) -> Option<Event> {
    let s = serde_json::from_str::<StoredEvent>(&msg.body).ok()?;
    Some(Event { at: msg.cursor(), author: msg.author.clone(), event: s.event, admin: s.admin, own: s.own })
}

impl State {
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

    fn permits(&self, author: &str, event: &RoomEvent, admin: bool, own: bool) -> bool {
        let rank = self.rank(author, admin);
        // Open rooms of protocol 1 have no members: anyone not banned posts.
        let posts = if self.created.is_some() { rank >= 1 } else { !self.banned.contains_key(author) };
        let live = |origin: &str, seq: u64| {
            let t = (origin.to_owned(), seq);
            !self.redacted.contains(&t) && !self.events_seen.contains(&t)
        };
        let moderates = rank >= 2;
        let owns = rank >= 3;
        let member = |u: &str| self.members.contains_key(u);
        let outranks = |u: &str| rank > self.rank(u, false);
        if self.deleted {
            return false;
        }
        match event {
            RoomEvent::Created { .. } => self.created.is_none(),
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
            RoomEvent::Read => posts || !self.private,
            RoomEvent::File { .. } => posts,
            RoomEvent::Title { .. } | RoomEvent::Visibility { .. } | RoomEvent::RoomDeleted => {
                owns && self.created.is_some()
            }
        }
    }

    /// Applies one event if its author was allowed to make it.
    fn apply(&mut self, e: &Event, out: &mut Vec<Consequence>) -> bool {
        let allowed = self.permits(&e.author, &e.event, e.admin, e.own);
        // Replies and files are messages: others may answer, react to and delete them.
        if !matches!(e.event, RoomEvent::Reply { .. } | RoomEvent::File { .. }) {
            self.events_seen.insert((e.at.origin.clone(), e.at.seq));
        }
        if !allowed {
            return false;
        }
        self.applied.insert((e.at.origin.clone(), e.at.seq));
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
            RoomEvent::Role { user, role } => {
                if *role == RoomRole::Owner {
                    for r in self.members.values_mut().filter(|r| **r == RoomRole::Owner) {
                        *r = RoomRole::Moderator;
                    }
                }
                self.members.insert(user.clone(), *role);
            }
            RoomEvent::Topic { topic } => self.topic = topic.clone(),
            RoomEvent::Title { title } => self.title = title.clone(),
            RoomEvent::Visibility { private } => self.private = *private,
            RoomEvent::Deleted { origin, seq } => {
                self.redacted.insert((origin.clone(), *seq));
                out.push(Consequence::Deleted { origin: origin.clone(), seq: *seq });
            }
            RoomEvent::Edited { .. }
            | RoomEvent::Reacted { .. }
            | RoomEvent::Reply { .. }
            | RoomEvent::File { .. }
            | RoomEvent::Read => {}
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
        self.posting.entry(user.to_owned()).or_default().push((at.clone(), allowed));
    }

    /// Was `user` allowed to post at `at`? Before any change of theirs: in
    /// an open room yes; in a created room, messages from before its
    /// creation stay (if it is public), later ones need membership.
    fn posting_at(&self, user: &str, at: &Cursor) -> bool {
        let changes = self.posting.get(user).map(Vec::as_slice).unwrap_or_default();
        let i = changes.partition_point(|(c, _)| c < at);
        if i > 0 {
            return changes[i - 1].1;
        }
        match &self.created {
            None => true,
            Some(c) => at < c && !self.private,
        }
    }
}

#[cfg(test)]
#[path = "governance_tests.rs"]
mod tests;
